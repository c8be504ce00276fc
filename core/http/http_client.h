/* http_client: outgoing HTTP calls for channel plugins (libcurl), with one
 * reused connection cache per calling thread, and the engine's default
 * mapping of HTTP answers to channel verdicts. */
#ifndef TD_HTTP_CLIENT_H
#define TD_HTTP_CLIENT_H

#include "tidings/plugin.h"

/* Call once at start, before any thread exists (curl_global_init). */
int td_http_client_global_init(void);
void td_http_client_global_cleanup(void);

/* Performs call; default_timeout_ms applies when call->timeout_ms is 0.
 * Returns 0 when an answer arrived or a transport error is in reply->error
 * (reply->status 0). Release reply with td_http_reply_release. */
int td_http_client_request(const struct td_http_call *call, long default_timeout_ms,
                           struct td_http_reply *reply);
void td_http_reply_release(struct td_http_reply *reply);

/* Performs n calls concurrently, at most max_parallel at a time, on this
 * thread's reused connections (curl multi). Each reply as for
 * td_http_client_request. Returns 0. */
int td_http_client_request_many(const struct td_http_call *calls, struct td_http_reply *replies,
                                size_t n, size_t max_parallel, long default_timeout_ms);

#endif
