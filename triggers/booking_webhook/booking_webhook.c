/*
 * booking_webhook: a trigger plugin that takes bookings over HTTP.
 *
 *   POST /v1/orgs/<org>/bookings
 *   webhook-id: msg_2KWPBgLlAfxdpx2AI54pPJ85f4W
 *   webhook-timestamp: 1764028800
 *   webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=
 *   { "id": "B-1001", "status": "confirmed", ... }
 *
 * Requests are signed the Standard Webhooks way with the organization's
 * secret: unsigned, badly signed or stale requests get 401 and are never
 * parsed. The booking is committed by the engine before the 202 answer, which
 * says how many messages were scheduled. A repeated webhook-id gets the answer
 * of the first delivery; the same webhook-id with another body gets 409 (its
 * body is not stored). Bad bookings get 400 naming every problem; a database
 * that cannot take the event gets 503 with Retry-After.
 */
#include "webhook_signature.h"
#include "tidings/plugin.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct webhook {
    const struct td_host *host;
    struct webhook_key key;
    int64_t tolerance_s;
    char path[160];
};

static const struct td_config_key webhook_keys[] = {
    {.name = "secret",
     .type = TD_KEY_STRING,
     .required = true,
     .secret = true,
     .help = "the Standard Webhooks signing secret, whsec_<base64>"},
    {.name = "tolerance",
     .type = TD_KEY_INT,
     .default_value = "300",
     .help = "seconds a webhook-timestamp may differ from now"},
};

static void respond_json(const struct webhook *wh, struct td_http_response *resp, int status,
                         const char *body)
{
    wh->host->respond(resp, status, "application/json", body, strlen(body));
}

/* {"error": message}, with message made JSON-safe. */
static void respond_error(const struct webhook *wh, struct td_http_response *resp, int status,
                          const char *message)
{
    char body[600];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"error\":\"");
    for (const char *p = message; *p && n < sizeof(body) - 8; p++) {
        if (*p == '"' || *p == '\\') {
            body[n++] = '\\';
            body[n++] = *p;
        } else if ((unsigned char)*p < 0x20) {
            body[n++] = ' ';
        } else {
            body[n++] = *p;
        }
    }
    snprintf(body + n, sizeof(body) - n, "\"}");
    respond_json(wh, resp, status, body);
}

/* 400 {"error": "...", "problems": [{"field", "problem"}, ...]}: every problem. */
static void respond_problems(const struct webhook *wh, struct td_http_response *resp,
                             const struct td_submit_result *out)
{
    json_error_t jerr;
    json_t *problems = out->problems[0] ? json_loads(out->problems, 0, &jerr) : NULL;
    json_t *body = json_pack("{s:s, s:o}", "error", out->error, "problems",
                             problems ? problems : json_array());
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text)
        respond_json(wh, resp, 400, text);
    else
        respond_error(wh, resp, 400, out->error);
    free(text);
}

static void webhook_handle(void *ctx, const struct td_http_request *req,
                           struct td_http_response *resp)
{
    struct webhook *wh = ctx;
    const char *id = req->header(req, "webhook-id");
    const char *ts = req->header(req, "webhook-timestamp");
    const char *sig = req->header(req, "webhook-signature");
    if (!id || !ts || !sig || !*id) {
        respond_error(wh, resp, 401,
                      "missing webhook-id, webhook-timestamp or webhook-signature header");
        return;
    }
    int64_t when;
    int64_t now = wh->host->now_ms(wh->host) / 1000;
    if (webhook_timestamp_parse(ts, &when) < 0 || when < now - wh->tolerance_s ||
        when > now + wh->tolerance_s) {
        respond_error(wh, resp, 401, "webhook-timestamp is missing, malformed or too far from now");
        return;
    }
    if (strlen(id) > 200 || strchr(id, '.') ||
        !webhook_signature_valid(&wh->key, id, ts, req->body, req->body_len, sig)) {
        respond_error(wh, resp, 401, "bad signature");
        return;
    }
    struct td_event ev = {
        .kind = "booking",
        .idempotency_key = id,
        .payload = req->body,
        .payload_len = req->body_len,
    };
    struct td_submit_result out;
    if (wh->host->submit(wh->host, &ev, &out) < 0) {
        respond_error(wh, resp, 500, "internal error");
        return;
    }
    char body[200];
    switch (out.status) {
    case TD_SUBMIT_ACCEPTED:
    case TD_SUBMIT_DUPLICATE:
        /* a repeated delivery gets exactly the first answer */
        snprintf(body, sizeof(body),
                 "{\"status\":\"accepted\",\"event_id\":%" PRId64 ",\"messages_scheduled\":%d}",
                 out.event_id, out.messages_scheduled);
        respond_json(wh, resp, 202, body);
        return;
    case TD_SUBMIT_INVALID: respond_problems(wh, resp, &out); return;
    case TD_SUBMIT_CONFLICT: respond_error(wh, resp, 409, out.error); return;
    case TD_SUBMIT_UNAVAILABLE:
    default:
        wh->host->respond_header(resp, "Retry-After", "5");
        respond_error(wh, resp, 503, "temporarily unable to store the booking; retry later");
        return;
    }
}

static int webhook_create(const struct td_host *host, const struct td_config *cfg, void **instance,
                          struct td_error *err)
{
    *instance = NULL;
    struct webhook *wh = calloc(1, sizeof(*wh));
    if (!wh) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    wh->host = host;
    if (webhook_key_parse(td_config_get(cfg, "secret"), &wh->key) < 0) {
        snprintf(err->message, sizeof(err->message),
                 "secret: must be whsec_ followed by base64 of at least 16 random bytes");
        free(wh);
        return -EINVAL;
    }
    long tolerance = strtol(td_config_get(cfg, "tolerance"), NULL, 10);
    if (tolerance < 1 || tolerance > 86400) {
        snprintf(err->message, sizeof(err->message), "tolerance: must be 1 to 86400 seconds");
        free(wh);
        return -EINVAL;
    }
    wh->tolerance_s = tolerance;
    snprintf(wh->path, sizeof(wh->path), "/v1/orgs/%s/bookings", cfg->org_id);
    *instance = wh;
    return 0;
}

static void webhook_destroy(void *instance)
{
    struct webhook *wh = instance;
    if (wh)
        memset(&wh->key, 0, sizeof(wh->key));
    free(wh);
}

static int webhook_start(void *instance, struct td_error *err)
{
    struct webhook *wh = instance;
    if (wh->host->http_route(wh->host, "POST", wh->path, webhook_handle, wh) < 0) {
        snprintf(err->message, sizeof(err->message), "cannot register POST %s", wh->path);
        return -EEXIST;
    }
    wh->host->log(wh->host, TD_LOG_INFO, "accepting signed bookings at POST %s", wh->path);
    return 0;
}

static void webhook_stop(void *instance)
{
    /* The engine removes this instance's route and waits for running
     * requests; nothing else runs on the plugin's behalf. */
    (void)instance;
}

static const struct td_trigger_ops webhook_ops = {
    .create = webhook_create,
    .destroy = webhook_destroy,
    .start = webhook_start,
    .stop = webhook_stop,
};

static const struct td_plugin webhook_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_TRIGGER, "booking_webhook", "1.0.0",
                     "signed booking webhooks (Standard Webhooks) at POST /v1/orgs/<org>/bookings"),
    .config_keys = webhook_keys,
    .config_key_count = sizeof(webhook_keys) / sizeof(webhook_keys[0]),
    .trigger = &webhook_ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &webhook_plugin;
}
