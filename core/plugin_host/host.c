/* host: the td_host table each plugin instance gets. */
#include "plugin_host/host.h"
#include "util/clock.h"

#include "engine_state.h"
#include "http/http_client.h"
#include "http/http_result.h"
#include "intake/intake.h"
#include "util/log.h"
#include "dispatch/report.h"
#include "render/sign.h"
#include "plugin_host/world.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>

/* A provider call may take this long unless the plugin says otherwise. */
#define HOST_HTTP_TIMEOUT_MS 10000

static struct td_instance *host_instance(const struct td_host *host)
{
    return host->engine_private;
}

static void host_log(const struct td_host *host, enum td_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void host_log(const struct td_host *host, enum td_log_level level, const char *fmt, ...)
{

    va_list ap;
    va_start(ap, fmt);
    td_vlog(level, host->org_id, host->instance_name, fmt, ap);
    va_end(ap);
}

static int64_t host_now_ms(const struct td_host *host)
{
    (void)host;
    return td_wall_ms();
}

static int host_http_route(const struct td_host *host, const char *method, const char *path,
                           td_http_handler handler, void *ctx)
{
    struct td_instance *in = host_instance(host);
    if (!in->engine->http)
        return 0; /* a check without a server (tidings check --connections): nothing to serve */

    /* a configuration being built registers its routes to be served once it
     * is swapped in (replacing the running configuration's) */
    int rc = td_http_route_add_tagged(in->engine->http, method, path, handler, ctx, in, in->world,
                                      !in->world->live);
    if (rc == 0) {
        char shown[200];
        td_log_path(path, shown, sizeof(shown)); /* a callback path's token is a credential */
        td_log(TD_LOG_DEBUG, host->org_id, host->instance_name, "route %s %s", method, shown);
    }
    return rc;
}

static int host_submit(const struct td_host *host, const struct td_event *ev,
                       struct td_submit_result *out)
{
    /* a plugin built for ABI 1.1 has a shorter result */
    struct td_instance *in = host_instance(host);
    return in->plugin->desc->abi_minor >= 2 ? td_intake_submit(in, ev, out)
                                            : td_intake_submit_1_1(in, ev, out);
}

static int host_http_request(const struct td_host *host, const struct td_http_call *call,
                             struct td_http_reply *reply)
{
    struct td_instance *in = host_instance(host);
    bool channel = in->cfg->kind == TD_PLUGIN_CHANNEL;
    if (channel)
        td_instance_slot_acquire(in);
    int rc = td_http_client_request(call, HOST_HTTP_TIMEOUT_MS, reply);
    if (channel)
        td_instance_slot_release(in);
    return rc;
}

static int host_http_request_many(const struct td_host *host, const struct td_http_call *calls,
                                  struct td_http_reply *replies, size_t n)
{
    struct td_instance *in = host_instance(host);
    if (in->cfg->kind != TD_PLUGIN_CHANNEL)
        return td_http_client_request_many(calls, replies, n, 8, HOST_HTTP_TIMEOUT_MS);
    /* this call's share of the connection's concurrency */
    size_t width = td_instance_slots_acquire(in, n);
    int rc = td_http_client_request_many(calls, replies, n, width, HOST_HTTP_TIMEOUT_MS);
    td_instance_slots_release(in, width);
    return rc;
}

static int host_process_pending(const struct td_host *host, size_t *processed)
{
    return td_intake_process_pending(host_instance(host), processed);
}

static int host_report(const struct td_host *host, const struct td_report *report)
{
    return td_report_apply(host_instance(host), report);
}

int td_host_callback(const struct td_engine_config *cfg, const char *org, const char *channel,
                     char *path, size_t pcap, char *url, size_t ucap)
{
    path[0] = url[0] = '\0';
    if (!cfg->callback_secret)
        return -ENOENT;
    char message[200], token[40];
    snprintf(message, sizeof(message), "callback/%s/%s", org, channel);
    if (td_sign_hex(cfg->callback_secret, message, 32, token, sizeof(token)) < 0)
        return -EINVAL;
    int n = snprintf(path, pcap, "/v1/callbacks/%s/%s/%s", org, channel, token);
    if (n < 0 || (size_t)n >= pcap) {
        path[0] = '\0';
        return -EINVAL;
    }
    if (cfg->public_url) {
        size_t len = strlen(cfg->public_url);
        snprintf(url, ucap, "%.*s%s", (int)(len && cfg->public_url[len - 1] == '/' ? len - 1 : len),
                 cfg->public_url, path);
    }
    return 0;
}

/* A channel's callback route: its path carries a token only the engine's
 * callback_secret can make, so nobody can guess another organization's. */
static void host_callback(struct td_instance *in)
{
    in->callback_path[0] = in->callback_url[0] = '\0';
    if (in->cfg->kind != TD_PLUGIN_CHANNEL)
        return;
    td_host_callback(&in->engine->conf->engine, in->org->id, in->cfg->name, in->callback_path,
                     sizeof(in->callback_path), in->callback_url, sizeof(in->callback_url));
}

void td_host_init(struct td_host *host, struct td_instance *instance)
{
    memset(host, 0, sizeof(*host));
    host->abi_major = TD_ABI_MAJOR;
    host->abi_minor = TD_ABI_MINOR;
    host->struct_size = sizeof(*host);
    host->org_id = instance->org->id;
    host->instance_name = instance->cfg->name;
    host->log = host_log;
    host->now_ms = host_now_ms;
    host->mask = td_log_mask;
    host->http_route = host_http_route;
    host->respond = td_http_respond;
    host->respond_header = td_http_respond_header;
    host->submit = host_submit;
    host->http_request = host_http_request;
    host->http_reply_release = td_http_reply_release;
    host->result_from_http = td_result_from_http;
    host->http_request_many = host_http_request_many;
    host_callback(instance);
    host->callback_path = instance->callback_path[0] ? instance->callback_path : NULL;
    host->callback_url = instance->callback_url[0] ? instance->callback_url : NULL;
    host->report = host_report;
    host->process_pending = host_process_pending;
    host->database_dsn = instance->engine->conf->engine.db_dsn;
    host->http_reply_left = td_http_reply_left;

    host->engine_private = instance;
}
