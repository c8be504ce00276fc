/* http_server: the engine's one HTTP server (libmicrohttpd). Routes are exact
 * method + path pairs registered by the core and by plugins; bodies are read
 * whole up to a limit (413 past it) before a handler runs. Every answer is
 * JSON; connections are capped per client and in all, and each request must
 * come in whole within its deadlines (http_guard.c). */
#ifndef TD_HTTP_SERVER_H
#define TD_HTTP_SERVER_H

#include "tidings/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct td_http_server;

/* The response a handler fills (through td_http_respond / host->respond). */
struct td_http_response {
    int status;
    char *content_type;
    char *body;
    size_t body_len;
    char **headers; /* name, value, name, value, ... */
    size_t header_count;
};

/* Why an organization's routes are not served (its configuration is refused),
 * or NULL: a request for it is answered 503 with that reason. */
typedef const char *(*td_http_org_disabled_fn)(void *ctx, const char *org_id);

/* What the server allows a client. */
struct td_http_limits {
    size_t max_body;       /* 413 past it */
    long timeout_s;        /* a whole request (headers and body) within this */
    long header_timeout_s; /* its headers within this */
    long threads;          /* serving threads */
    long max_connections;  /* open at once in all */
    long max_per_client;   /* open at once from one address */
};

/* Creates a server for listen ("host:port"; port 0 picks one). Nothing is
 * bound until start. Returns NULL on no memory. */
struct td_http_server *td_http_server_create(const char *listen,
                                             const struct td_http_limits *limits,
                                             td_http_org_disabled_fn org_disabled, void *org_ctx);
/* Binds and starts serving. Returns 0 or -EADDRINUSE / -EIO with err. */
int td_http_server_start(struct td_http_server *srv, char *err, size_t errcap);
/* The bound port (after start). */
int td_http_server_port(const struct td_http_server *srv);
/* Stops taking connections and waits for running handlers. */
void td_http_server_stop(struct td_http_server *srv);
/* How many connections were cut off for not sending a request in time. */
uint64_t td_http_server_cut(const struct td_http_server *srv);
/* Stops (if needed) and frees; NULL is a no-op. */
void td_http_server_destroy(struct td_http_server *srv);

/* Registers handler for method + path, owned by owner (any pointer that
 * identifies the registrant). A path ending in '*' matches every longer path
 * starting with the rest. Returns 0, or -EEXIST when the pair is taken. */
int td_http_route_add(struct td_http_server *srv, const char *method, const char *path,
                      td_http_handler handler, void *ctx, const void *owner);

/* As td_http_route_add, for a route of a configuration (tag: its world).
 * A pending route is not served until td_http_routes_go_live(tag); then, or
 * at once when not pending, it replaces a route of the same method and path
 * from another configuration (whose running handlers finish; its owner still
 * removes it). Returns -EEXIST when the pair is taken in the same
 * configuration, or by the engine's own routes. */
int td_http_route_add_tagged(struct td_http_server *srv, const char *method, const char *path,
                             td_http_handler handler, void *ctx, const void *owner, const void *tag,
                             bool pending);

/* Serves the pending routes of tag, replacing the routes they supersede. */
void td_http_routes_go_live(struct td_http_server *srv, const void *tag);
/* Removes every route of owner, waiting until none of its handlers runs. */
void td_http_routes_remove(struct td_http_server *srv, const void *owner);

/* Fills a response (copies body). */
void td_http_respond(struct td_http_response *resp, int status, const char *content_type,
                     const char *body, size_t body_len);
/* Adds a header to a response (copies both). */
void td_http_respond_header(struct td_http_response *resp, const char *name, const char *value);
/* Fills a JSON error response {"error": message}. */
void td_http_respond_error(struct td_http_response *resp, int status, const char *message);

#endif
