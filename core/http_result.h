/* http_result: the engine's mapping of an HTTP answer to a verdict. */
#ifndef TD_HTTP_RESULT_H
#define TD_HTTP_RESULT_H

#include "tidings/plugin.h"

/* transport error, 408, 429, 5xx -> RETRY (with Retry-After); 401, 403 ->
 * SUSPEND; other 4xx, 3xx -> FAIL; 2xx -> OK. */
void td_result_from_http(const struct td_http_reply *reply, struct td_result *result);

#endif
