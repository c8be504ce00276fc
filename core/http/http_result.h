/* http_result: the engine's mapping of an HTTP answer to a verdict. */
#ifndef TD_HTTP_RESULT_H
#define TD_HTTP_RESULT_H

#include "tidings/plugin.h"

#include <stdbool.h>

/* A transport error after the request left -> UNKNOWN; one before it left,
 * 408, 429, 5xx -> RETRY (with Retry-After); 401, 403 -> SUSPEND; other 4xx,
 * 3xx -> FAIL; 2xx -> OK. */
void td_result_from_http(const struct td_http_reply *reply, struct td_result *result);

/* Marks a reply without an answer as one whose request left (some of it was
 * sent): the provider may have acted on it. Set by the HTTP client. */
void td_http_reply_mark_left(struct td_http_reply *reply);

/* Whether reply (status 0) is one whose request left. */
bool td_http_reply_left(const struct td_http_reply *reply);

#endif
