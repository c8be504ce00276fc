/* http_guard: what keeps the HTTP server reachable when clients misbehave.
 * It knows every open connection and closes one whose request headers are
 * not in within header_timeout, or whose whole request is not in within
 * request_timeout, counted from the moment the connection could start that
 * request (accepted, or its previous answer sent): however slowly the bytes
 * trickle in, a connection cannot hold on longer. It also logs each rejected
 * request once, at most a few lines a second, so a flood cannot fill the
 * disk. The server caps connections per client address itself (libmicrohttpd),
 * the guard caps them in total. */
#ifndef TD_HTTP_GUARD_H
#define TD_HTTP_GUARD_H

#include <stdint.h>

struct td_http_guard;
/* One connection as the guard tracks it (the server's socket context). */
struct td_http_guarded;

/* Starts the watch (a thread looking every 100 ms). max_open caps the
 * connections open at once: one more evicts the connection that has waited
 * longest without sending its headers (or, when every one is busy with a
 * request, is closed itself), so a flood from many addresses cannot lock
 * out a client that sends its request promptly. Returns NULL on no memory. */
struct td_http_guard *td_http_guard_create(long header_timeout_ms, long request_timeout_ms,
                                           long max_open);

/* Stops the watch and frees it; every connection must be closed. NULL is a no-op. */
void td_http_guard_destroy(struct td_http_guard *g);

/* A connection was accepted on socket fd: returns its tracker (NULL on no
 * memory: the connection is then not guarded). */
struct td_http_guarded *td_http_guard_open(struct td_http_guard *g, int fd);

/* The connection closes: it is no longer watched, and t is freed. NULL is a no-op. */
void td_http_guard_close(struct td_http_guard *g, struct td_http_guarded *t);

/* The request's headers are in (the first handler call): the header deadline
 * is met. */
void td_http_guard_headers_in(struct td_http_guard *g, struct td_http_guarded *t);

/* The whole request is in (its handler runs next): no deadline until it is
 * answered. */
void td_http_guard_request_in(struct td_http_guard *g, struct td_http_guarded *t);

/* The request is answered: the connection's next request starts its clock now. */
void td_http_guard_answered(struct td_http_guard *g, struct td_http_guarded *t);

/* How many connections the guard has cut off so far. */
uint64_t td_http_guard_cut(const struct td_http_guard *g);

/* Logs one rejected request at info (org may be NULL; route is the path
 * pattern, with secrets masked; reason has no secret and no body), unless
 * more than a few were logged this second: those are counted and summed up
 * in the next line that goes out. */
void td_http_guard_log_rejected(struct td_http_guard *g, const char *org, const char *method,
                                const char *route, int status, const char *reason);

#endif
