/* http_result: host->result_from_http, the engine's mapping of a provider's
 * HTTP answer to a delivery verdict (the mapping itself is td_http_verdict in
 * tidings/plugin_util.h, which the SDK's fake host runs too), and the mark
 * the HTTP client leaves on a reply whose request left. */
#include "http/http_result.h"

#include "tidings/plugin_util.h"

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
    td_http_verdict(reply, td_http_reply_left(reply), result);
}
