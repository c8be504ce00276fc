/* http_result: the engine's one mapping of a provider's HTTP answer to a
 * delivery verdict, offered to plugins as host->result_from_http. Its own
 * file, with no dependencies, so the plugin tests' fake host uses this same
 * code instead of a copy. */
#include "http/http_result.h"

#include <stdio.h>
#include <string.h>

/* What engine_private of a reply points at when its request left. */
static const char reply_left_marker = 1;

void td_http_reply_mark_left(struct td_http_reply *reply)
{
    reply->engine_private = (void *)&reply_left_marker;
}

bool td_http_reply_left(const struct td_http_reply *reply)
{
    return reply->engine_private == &reply_left_marker;
}

void td_result_from_http(const struct td_http_reply *reply, struct td_result *result)
{
    memset(result, 0, sizeof(*result));
    result->retry_after_ms = reply->retry_after_ms;
    result->http_status = reply->status;
    int s = reply->status;
    if (s == 0) {
        result->status = td_http_reply_left(reply) ? TD_UNKNOWN : TD_RETRY;
        snprintf(result->reason, sizeof(result->reason), "no answer: %.200s", reply->error);
    } else if (s >= 200 && s < 300) {
        result->status = TD_OK;
    } else if (s == 408 || s == 429 || s >= 500) {
        result->status = TD_RETRY;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d", s);
    } else if (s == 401 || s == 403) {
        result->status = TD_SUSPEND;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d: credentials refused", s);
    } else {
        result->status = TD_FAIL;
        snprintf(result->reason, sizeof(result->reason), "HTTP %d", s);
    }
}
