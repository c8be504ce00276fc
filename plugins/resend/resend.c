/*
 * resend: a channel plugin for e-mail through Resend (https://resend.com).
 *
 * One POST /emails per message, several in flight at once (the connection's
 * concurrency), each carrying the message's Idempotency-Key so that a retry
 * after a crash is not sent twice (Resend remembers keys for 24 hours). With
 * `batch = true` it uses POST /emails/batch (up to 100 per request) instead:
 * fewer requests, but a batch that is regrouped after a crash cannot be
 * de-duplicated by Resend, so it is off by default.
 *
 * What is guaranteed: Resend de-duplicates by Idempotency-Key for 24 hours.
 * Every request of a message carries the same key (it carries the database's
 * identity, so no other database repeats it), and a message whose earlier
 * attempt may have arrived is sent again with the same body (the engine
 * hands over what that attempt sent), so Resend answers the first result
 * instead of sending twice. Past 24 hours (a held message an operator retries
 * days later, say) that no longer holds.
 *
 * Verdicts: 200 is OK with Resend's id; 429 (rate limit), 5xx, 409 concurrent
 * requests and transport errors before the request left RETRY (honouring
 * Retry-After); a transport error after it left, and 409 "the key was used
 * with another body", are UNKNOWN (it may have been sent); a 429 that says
 * the daily or monthly quota is used up SUSPENDs the connection until the
 * quota is back (Retry-After, else the next UTC day or month), so fallbacks
 * take over; 401 and 403 SUSPEND it until its configuration changes;
 * validation errors FAIL with Resend's message.
 *
 * With `webhook_secret` set, Resend's webhooks (Svix-signed) arrive at the
 * engine's callback route for this connection: delivered, bounced (a permanent
 * bounce suppresses the address), complained (suppresses it), delivery delayed
 * and failed are reported to the engine (resend_event.c reads the body).
 * Every e-mail carries our message id as the tag tidings_message, which the
 * webhooks echo back.
 */
#include "tidings/json_write.h"
#include "tidings/plugin.h"
#include "tidings/plugin_util.h"
#include "resend_event.h"
#include "webhook_signature.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESEND_USER_AGENT "tidings/0.1 (+resend plugin)"
#define RESEND_MAX_BATCH  100

struct resend {
    const struct td_host *host;
    struct webhook_key webhook_key; /* Svix signing key; len 0: no webhooks */
    char *api_key;
    char *authorization; /* "Bearer <key>" */
    char *from;
    char *reply_to; /* may be NULL */
    char *base_url;
    bool batch;
    long timeout_ms;
};

static const struct td_config_key resend_keys[] = {
    {.name = "api_key",
     .type = TD_KEY_STRING,
     .required = true,
     .secret = true,
     .help = "the Resend API key (re_...)"},
    {.name = "from",
     .type = TD_KEY_STRING,
     .required = true,
     .help = "the sender, like Segelschule <hallo@segelschule.de> (a verified domain)"},
    {.name = "reply_to", .type = TD_KEY_STRING, .help = "where replies go"},
    {.name = "base_url",
     .type = TD_KEY_URL,
     .default_value = "https://api.resend.com",
     .help = "the API's address"},
    {.name = "batch",
     .type = TD_KEY_BOOL,
     .default_value = "false",
     .help = "send up to 100 messages per request through /emails/batch"},
    {.name = "timeout",
     .type = TD_KEY_INT,
     .default_value = "10000",
     .help = "milliseconds a request may take"},
    {.name = "webhook_secret",
     .type = TD_KEY_STRING,
     .secret = true,
     .help = "the signing secret (whsec_...) of the Resend webhook pointing at this connection"},
};

/* Svix: a timestamp more than this far from now is refused. */
#define RESEND_WEBHOOK_TOLERANCE_S 300

/* Appends a Resend tag {"name": name, "value": value}; tag values hold ASCII
 * letters, digits, '_' and '-' only, so anything else becomes '_'. */
static void tag(struct td_json_out *o, const char *name, const char *value)
{
    char clean[128];
    size_t n = 0;
    for (const char *p = value ? value : ""; *p && n < sizeof(clean) - 1; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        clean[n++] = ok ? c : '_';
    }
    clean[n] = '\0';
    td_json_lit(o, "{\"name\":");
    td_json_str(o, name);
    td_json_lit(o, ",\"value\":");
    td_json_str(o, n ? clean : "none");
    td_json_lit(o, "}");
}

/* Appends the JSON object of one e-mail, as /emails and /emails/batch take
 * it (written straight out: a jansson tree per message cost more than the
 * rest of the request). */
static void resend_email(const struct resend *rs, const struct td_message *m, struct td_json_out *o)
{
    td_json_lit(o, "{\"from\":");
    td_json_str(o, rs->from);
    td_json_lit(o, ",\"to\":[");
    td_json_str(o, m->to);
    td_json_lit(o, "],\"subject\":");
    td_json_str(o, m->subject ? m->subject : "");
    if (m->text) {
        td_json_lit(o, ",\"text\":");
        td_json_str(o, m->text);
    }
    if (m->html) {
        td_json_lit(o, ",\"html\":");
        td_json_str(o, m->html);
    }
    if (rs->reply_to) {
        td_json_lit(o, ",\"reply_to\":");
        td_json_str(o, rs->reply_to);
    }
    if (m->unsubscribe_url) {
        td_json_lit(o, ",\"headers\":{\"List-Unsubscribe\":\"<");
        /* the URL inside the angle brackets, escaped as the string's middle */
        struct td_json_out url = {0};
        td_json_str(&url, m->unsubscribe_url);
        if (url.len >= 2)
            td_json_raw(o, url.data + 1, url.len - 2);
        o->failed = o->failed || url.failed;
        td_json_out_free(&url);
        td_json_lit(o, ">\",\"List-Unsubscribe-Post\":\"List-Unsubscribe=One-Click\"}");
    }
    td_json_lit(o, ",\"tags\":[");
    tag(o, "sequence", m->sequence_key);
    td_json_lit(o, ",");
    tag(o, "step", m->step_id);
    td_json_lit(o, ",");
    tag(o, "tidings_message", m->id);
    td_json_lit(o, "]}");
}

/* Refuses what Resend would refuse, before any request. NULL when fine. */
static const char *resend_invalid(const struct td_message *m)
{
    if (!td_email_plausible(m->to))
        return "to: not a valid e-mail address";
    if (!td_header_value_ok(m->subject) || !td_header_value_ok(m->to))
        return "line break in a header value (to or subject)";
    if (!m->subject || !*m->subject)
        return "subject: empty";
    if ((!m->text || !*m->text) && (!m->html || !*m->html))
        return "neither text nor html";
    return NULL;
}

/* "resend 422 validation_error: The `to` field is missing." from an error body. */
static void resend_reason(const struct td_http_reply *reply, struct td_result *r)
{
    json_error_t jerr;
    json_t *body = reply->body ? json_loadb(reply->body, reply->body_len, 0, &jerr) : NULL;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *message = json_string_value(json_object_get(body, "message"));
    if (reply->status == 0)
        snprintf(r->reason, sizeof(r->reason), "resend unreachable: %.200s", reply->error);
    else if (name || message)
        snprintf(r->reason, sizeof(r->reason), "resend %d %.60s: %.170s", reply->status,
                 name ? name : "error", message ? message : "");
    else
        snprintf(r->reason, sizeof(r->reason), "resend answered HTTP %d", reply->status);
    json_decref(body);
}

/* Milliseconds from now_ms until the next UTC midnight, or the first of the
 * next month when monthly. */
static int64_t resend_quota_back_ms(int64_t now_ms, bool monthly)
{
    int64_t day = 86400000;
    int64_t next = (now_ms / day + 1) * day;
    if (monthly) {
        time_t t = (time_t)(now_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        tm.tm_mday = 1;
        tm.tm_mon += 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        next = (int64_t)timegm(&tm) * 1000;
    }
    return next - now_ms;
}

/* The verdict on one answer; ids[] gets the e-mail ids of a success. */
static void resend_verdict(const struct resend *rs, const struct td_http_reply *reply,
                           struct td_result *r)
{
    rs->host->result_from_http(reply, r);
    if (r->status == TD_OK)
        return;
    resend_reason(reply, r);
    if (reply->status == 409 && reply->body && strstr(reply->body, "concurrent_idempotent")) {
        r->status = TD_RETRY; /* the first request with this key is still in flight */
    } else if (reply->status == 409) {
        r->status = TD_UNKNOWN; /* the key was used with another body: it may have been sent */
    } else if (reply->status == 429 && reply->body &&
               (strstr(reply->body, "daily_quota_exceeded") ||
                strstr(reply->body, "monthly_quota_exceeded"))) {
        /* no point retrying: the quota is back at the next UTC day (month) */
        r->status = TD_SUSPEND;
        if (r->retry_after_ms <= 0)
            r->retry_after_ms = resend_quota_back_ms(
                rs->host->now_ms(rs->host), strstr(reply->body, "monthly_quota_exceeded") != NULL);
    } else if (reply->status == 429) {
        r->status = TD_THROTTLED; /* rate_limit_exceeded: slow down, no attempt used */
    }
}

static void resend_set_id(struct td_result *r, json_t *id)
{
    if (json_is_string(id))
        snprintf(r->provider_id, sizeof(r->provider_id), "%s", json_string_value(id));
}

/* Fills the request headers shared by every call. */
static void resend_headers(const struct resend *rs, struct td_http_header *h, const char *key)
{
    h[0] = (struct td_http_header){"Authorization", rs->authorization};
    h[1] = (struct td_http_header){"User-Agent", RESEND_USER_AGENT};
    h[2] = (struct td_http_header){"Content-Type", "application/json"};
    h[3] = (struct td_http_header){"Idempotency-Key", key};
}

/* One POST /emails per message, in parallel. */
static void resend_deliver_each(struct resend *rs, const struct td_message *msgs, size_t n,
                                struct td_result *results, const size_t *valid, size_t nvalid)
{
    struct td_http_call *calls = calloc(nvalid, sizeof(*calls));
    struct td_http_reply *replies = calloc(nvalid, sizeof(*replies));
    struct td_http_header(*headers)[4] = calloc(nvalid, sizeof(*headers));
    char *url = NULL;
    size_t url_len = strlen(rs->base_url) + sizeof("/emails");
    url = malloc(url_len);
    if (!calls || !replies || !headers || !url)
        goto out_free;
    snprintf(url, url_len, "%s/emails", rs->base_url);
    for (size_t k = 0; k < nvalid; k++) {
        const struct td_message *m = &msgs[valid[k]];
        struct td_json_out o = {0};
        resend_email(rs, m, &o);
        char *body = td_json_out_take(&o);
        resend_headers(rs, headers[k], m->idempotency_key);
        calls[k] = (struct td_http_call){.method = "POST",
                                         .url = url,
                                         .headers = headers[k],
                                         .header_count = 4,
                                         .body = body,
                                         .body_len = body ? strlen(body) : 0,
                                         .timeout_ms = rs->timeout_ms};
    }
    if (TD_HOST_HAS(rs->host, http_request_many)) {
        rs->host->http_request_many(rs->host, calls, replies, nvalid);
    } else {
        for (size_t k = 0; k < nvalid; k++)
            rs->host->http_request(rs->host, &calls[k], &replies[k]);
    }
    for (size_t k = 0; k < nvalid; k++) {
        struct td_result *r = &results[valid[k]];
        resend_verdict(rs, &replies[k], r);
        if (r->status == TD_OK) {
            json_error_t jerr;
            json_t *ok = json_loadb(replies[k].body, replies[k].body_len, 0, &jerr);
            resend_set_id(r, json_object_get(ok, "id"));
            json_decref(ok);
        }
        rs->host->http_reply_release(&replies[k]);
    }
out_free:
    for (size_t k = 0; calls && k < nvalid; k++)
        free((char *)calls[k].body);
    free(calls);
    free(replies);
    free(headers);
    free(url);
    (void)n;
}

/* One POST /emails/batch for all valid messages. The batch's key joins the
 * messages' keys, so the same batch retried is de-duplicated. */
static void resend_deliver_batch(struct resend *rs, const struct td_message *msgs,
                                 struct td_result *results, const size_t *valid, size_t nvalid)
{
    struct td_json_out o = {0};
    td_json_lit(&o, "[");
    char key[257];
    uint64_t h = TD_FNV1A64_INIT;
    for (size_t k = 0; k < nvalid; k++) {
        if (k > 0)
            td_json_lit(&o, ",");
        resend_email(rs, &msgs[valid[k]], &o);
        const char *key_k = msgs[valid[k]].idempotency_key;
        h = td_fnv1a64_add(h, key_k, strlen(key_k));
        h = td_fnv1a64_add(h, "\x1f", 1); /* a separator: ("ab","c") is not ("a","bc") */
    }
    snprintf(key, sizeof(key), "tidings-batch-%zu-%016llx", nvalid, (unsigned long long)h);
    td_json_lit(&o, "]");
    char *body = td_json_out_take(&o);
    char url[1100];
    snprintf(url, sizeof(url), "%s/emails/batch", rs->base_url);
    struct td_http_header headers[5];
    resend_headers(rs, headers, key);
    headers[4] = (struct td_http_header){"x-batch-validation", "strict"};
    struct td_http_call call = {.method = "POST",
                                .url = url,
                                .headers = headers,
                                .header_count = 5,
                                .body = body,
                                .body_len = body ? strlen(body) : 0,
                                .timeout_ms = rs->timeout_ms};
    struct td_http_reply reply;
    rs->host->http_request(rs->host, &call, &reply);
    struct td_result verdict;
    resend_verdict(rs, &reply, &verdict);
    json_error_t jerr;
    json_t *ok = verdict.status == TD_OK ? json_loadb(reply.body, reply.body_len, 0, &jerr) : NULL;
    json_t *data = json_object_get(ok, "data");
    for (size_t k = 0; k < nvalid; k++) {
        results[valid[k]] = verdict;
        if (verdict.status == TD_OK)
            resend_set_id(&results[valid[k]], json_object_get(json_array_get(data, k), "id"));
    }
    json_decref(ok);
    rs->host->http_reply_release(&reply);
    free(body);
}

static void resend_deliver(void *instance, const struct td_message *msgs, size_t n,
                           struct td_result *results)
{
    struct resend *rs = instance;
    size_t *valid = calloc(n ? n : 1, sizeof(*valid));
    size_t nvalid = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
        const char *why = resend_invalid(&msgs[i]);
        if (why) {
            results[i].status = TD_FAIL;
            snprintf(results[i].reason, sizeof(results[i].reason), "%s", why);
        } else if (valid) {
            valid[nvalid++] = i;
        } else {
            results[i].status = TD_RETRY;
            snprintf(results[i].reason, sizeof(results[i].reason), "out of memory");
        }
    }
    if (nvalid > 1 && rs->batch)
        resend_deliver_batch(rs, msgs, results, valid, nvalid);
    else if (nvalid)
        resend_deliver_each(rs, msgs, n, results, valid, nvalid);
    free(valid);
}

static int resend_check(void *instance, struct td_error *err)
{
    struct resend *rs = instance;
    char url[1100];
    snprintf(url, sizeof(url), "%s/api-keys", rs->base_url);
    struct td_http_header headers[2] = {{"Authorization", rs->authorization},
                                        {"User-Agent", RESEND_USER_AGENT}};
    struct td_http_call call = {.method = "GET",
                                .url = url,
                                .headers = headers,
                                .header_count = 2,
                                .timeout_ms = rs->timeout_ms};
    struct td_http_reply reply;
    rs->host->http_request(rs->host, &call, &reply);
    int rc = 0;
    if (reply.status != 200) {
        struct td_result r;
        resend_reason(&reply, &r);
        snprintf(err->message, sizeof(err->message), "%s", r.reason);
        rc = -EACCES;
    }
    rs->host->http_reply_release(&reply);
    return rc;
}

static void respond_text(const struct resend *rs, struct td_http_response *resp, int status,
                         const char *body)
{
    rs->host->respond(resp, status, "application/json", body, strlen(body));
}

/* POST callback_path: a Resend webhook, verified the Svix way. */
static void resend_webhook(void *ctx, const struct td_http_request *req,
                           struct td_http_response *resp)
{
    struct resend *rs = ctx;
    const char *id = req->header(req, "svix-id");
    const char *ts = req->header(req, "svix-timestamp");
    const char *sig = req->header(req, "svix-signature");
    int64_t when = 0;
    int64_t now = rs->host->now_ms(rs->host) / 1000;
    if (!id || !ts || !sig || webhook_timestamp_parse(ts, &when) < 0 ||
        when < now - RESEND_WEBHOOK_TOLERANCE_S || when > now + RESEND_WEBHOOK_TOLERANCE_S ||
        !webhook_signature_valid(&rs->webhook_key, id, ts, req->body, req->body_len, sig)) {
        respond_text(rs, resp, 401, "{\"error\":\"bad or missing svix signature\"}");
        return;
    }
    struct resend_event ev;
    if (resend_event_parse(req->body, req->body_len, &ev) < 0) {
        resend_event_clear(&ev);
        respond_text(rs, resp, 400, "{\"error\":\"malformed JSON\"}");
        return;
    }
    int verdict = TD_REPORT_APPLIED;
    if (ev.reported) {
        ev.report.event_id = id; /* the same on Resend's retries: a replay changes nothing */
        ev.report.at_ms = when * 1000;
        verdict = rs->host->report(rs->host, &ev.report);
    }
    resend_event_clear(&ev);
    if (verdict == TD_REPORT_APPLIED) {
        respond_text(rs, resp, 200, "{\"ok\":true}");
    } else {
        rs->host->respond_header(resp, "Retry-After", "30");
        respond_text(rs, resp, 503, "{\"error\":\"not yet; retry\"}");
    }
}

static void resend_destroy(void *instance)
{
    struct resend *rs = instance;
    if (!rs)
        return;
    if (rs->api_key)
        memset(rs->api_key, 0, strlen(rs->api_key));
    if (rs->authorization)
        memset(rs->authorization, 0, strlen(rs->authorization));
    free(rs->api_key);
    free(rs->authorization);
    free(rs->from);
    free(rs->reply_to);
    free(rs->base_url);
    memset(&rs->webhook_key, 0, sizeof(rs->webhook_key));
    free(rs);
}

static int resend_create(const struct td_host *host, const struct td_config *cfg, void **instance,
                         struct td_error *err)
{
    *instance = NULL;
    const char *key = td_config_get(cfg, "api_key");
    const char *from = td_config_get(cfg, "from");
    const char *reply_to = td_config_get(cfg, "reply_to");
    if (!td_header_value_ok(from) || !td_header_value_ok(reply_to) || !td_header_value_ok(key)) {
        snprintf(err->message, sizeof(err->message),
                 "from, reply_to or api_key holds a line break");
        return -EINVAL;
    }
    if (!strchr(from, '@')) {
        snprintf(err->message, sizeof(err->message),
                 "from: '%.100s' is not an address like Name <hello@example.org>", from);
        return -EINVAL;
    }
    struct resend *rs = calloc(1, sizeof(*rs));
    if (!rs)
        goto out_nomem;
    rs->host = host;
    rs->api_key = strdup(key);
    rs->from = strdup(from);
    rs->reply_to = reply_to ? strdup(reply_to) : NULL;
    rs->base_url = strdup(td_config_get(cfg, "base_url"));
    rs->batch = strcmp(td_config_get(cfg, "batch"), "true") == 0;
    rs->timeout_ms = strtol(td_config_get(cfg, "timeout"), NULL, 10);
    size_t alen = strlen(key) + sizeof("Bearer ");
    rs->authorization = malloc(alen);
    if (!rs->api_key || !rs->from || (reply_to && !rs->reply_to) || !rs->base_url ||
        !rs->authorization)
        goto out_nomem;
    snprintf(rs->authorization, alen, "Bearer %s", key);
    size_t blen = strlen(rs->base_url);
    while (blen && rs->base_url[blen - 1] == '/')
        rs->base_url[--blen] = '\0';
    if (rs->timeout_ms < 100)
        rs->timeout_ms = 100;
    const char *webhook_secret = td_config_get(cfg, "webhook_secret");
    if (webhook_secret) {
        if (webhook_key_parse(webhook_secret, &rs->webhook_key) < 0) {
            snprintf(err->message, sizeof(err->message),
                     "webhook_secret: must be Resend's signing secret, whsec_<base64>");
            resend_destroy(rs);
            return -EINVAL;
        }
        if (!TD_HOST_HAS(host, callback_path)) {
            host->log(host, TD_LOG_WARN,
                      "webhook_secret is set, but the engine has no [http] callback_secret: "
                      "delivery reports cannot be received");
        } else if (host->http_route(host, "POST", host->callback_path, resend_webhook, rs) < 0) {
            snprintf(err->message, sizeof(err->message), "cannot register the webhook route");
            resend_destroy(rs);
            return -EEXIST;
        } else {
            /* not the URL: its last segment is the route's secret token */
            host->log(host, TD_LOG_INFO,
                      "point Resend's webhook at this channel's callback URL "
                      "(tidings check --callbacks prints it)");
        }
    }
    *instance = rs;
    return 0;
out_nomem:
    resend_destroy(rs);
    snprintf(err->message, sizeof(err->message), "out of memory");
    return -ENOMEM;
}

static const struct td_channel_ops resend_ops = {
    .create = resend_create,
    .destroy = resend_destroy,
    .deliver = resend_deliver,
    .check = resend_check,
};

static const char *const resend_serves[] = {"email", NULL};

static const struct td_plugin resend_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "resend", "1.0.0", "e-mail through Resend"),
    .config_keys = resend_keys,
    .config_key_count = sizeof(resend_keys) / sizeof(resend_keys[0]),
    .serves = resend_serves,
    .max_batch = RESEND_MAX_BATCH,
    .channel = &resend_ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &resend_plugin;
}
