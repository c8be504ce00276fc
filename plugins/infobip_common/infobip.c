/*
 * infobip: the request basics, verdicts and callback parsing the Infobip SMS
 * and WhatsApp plugins share (see infobip.h). Wire formats: providers.md
 * sections 2 to 4 and Infobip's OpenAPI documents.
 */
#include "infobip.h"
#include "tidings/plugin_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IB_DUPLICATE_MESSAGE_ID 23 /* REJECTED_DUPLICATE_MESSAGE_ID */
#define IB_MAX_VIOLATIONS       3  /* listed in a reason; the rest are counted */

enum ib_group {
    IB_GROUP_ACCEPTED = 0,
    IB_GROUP_PENDING = 1,
    IB_GROUP_UNDELIVERABLE = 2,
    IB_GROUP_DELIVERED = 3,
    IB_GROUP_EXPIRED = 4,
    IB_GROUP_REJECTED = 5,
};

/* Returns "App <key>" (malloc'ed), or NULL when out of memory. */
char *ib_authorization(const char *api_key)
{
    size_t len = strlen(api_key) + sizeof("App ");
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "App %s", api_key);
    return s;
}

/* Returns a copy of url without trailing slashes, or NULL. */
char *ib_conn_url(const struct ib_conn *c, const char *path)
{
    size_t len = strlen(c->base_url) + strlen(path) + 1;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%s", c->base_url, path);
    return s;
}

char *ib_base_url(const char *url)
{
    char *s = strdup(url);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

/* Whether s is "+" and 8 to 15 digits, the first not 0. */
bool ib_is_e164(const char *s)
{
    if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p; p++, n++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    return n >= 8 && n <= 15;
}

/* Writes the digits of an E.164 number into out; -1 when s is not one. */
int ib_e164_digits(const char *s, char *out, size_t cap)
{
    if (!ib_is_e164(s) || strlen(s + 1) >= cap)
        return -1;
    snprintf(out, cap, "%s", s + 1);
    return 0;
}

/* Reads exactly n digits at *p; -1 when they are not there. */
static int read_digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parses "2026-05-12T08:00:00.000+0000" into unix ms; 0 when malformed. */
int64_t ib_parse_time(const char *s)
{
    if (!s)
        return 0;
    const char *p = s;
    int y = read_digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return 0;
    int mo = read_digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return 0;
    int d = read_digits(&p, 2);
    if (d < 1 || d > 31 || (*p != 'T' && *p != ' '))
        return 0;
    p++;
    int h = read_digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return 0;
    int mi = read_digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':')
        return 0;
    int sec = read_digits(&p, 2);
    if (sec < 0 || sec > 60)
        return 0;
    int64_t ms = 0;
    if (*p == '.') {
        p++;
        int64_t scale = 100;
        while (*p >= '0' && *p <= '9') {
            ms += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int64_t offset_min = 0;
    if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = read_digits(&p, 2);
        if (*p == ':')
            p++;
        int om = read_digits(&p, 2);
        if (oh < 0 || om < 0)
            return 0;
        offset_min = sign * (oh * 60 + om);
    } else if (*p == 'Z') {
        p++;
    }
    if (*p != '\0')
        return 0;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    return secs * 1000 + ms;
}

/* A bounded string being appended to; never overflows, always terminated. */
struct ib_text {
    char *s;
    size_t cap;
    size_t len;
};

static void text_printf(struct ib_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(struct ib_text *t, const char *fmt, ...)
{
    if (t->len >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = (size_t)n < t->cap - t->len ? t->len + (size_t)n : t->cap - 1;
}

/* The verdict on one message of a 200 answer, from its status object. */
void ib_status_verdict(const json_t *status, const char *message_id, struct td_result *r)
{
    r->provider_id[0] = '\0';
    r->reason[0] = '\0';
    if (!json_is_object(status)) {
        r->status = TD_RETRY;
        snprintf(r->reason, sizeof(r->reason), "infobip answered without a status for it");
        return;
    }
    json_int_t group = json_integer_value(json_object_get(status, "groupId"));
    json_int_t id = json_integer_value(json_object_get(status, "id"));
    const char *name = json_string_value(json_object_get(status, "name"));
    const char *description = json_string_value(json_object_get(status, "description"));
    bool duplicate = id == IB_DUPLICATE_MESSAGE_ID ||
                     (name && strcmp(name, "REJECTED_DUPLICATE_MESSAGE_ID") == 0);
    if (duplicate || group == IB_GROUP_ACCEPTED || group == IB_GROUP_PENDING ||
        group == IB_GROUP_DELIVERED) {
        r->status = TD_OK;
        if (message_id)
            snprintf(r->provider_id, sizeof(r->provider_id), "%s", message_id);
        return;
    }
    if (group == IB_GROUP_REJECTED || group == IB_GROUP_UNDELIVERABLE ||
        group == IB_GROUP_EXPIRED) {
        r->status = TD_FAIL;
        snprintf(r->reason, sizeof(r->reason), "%.60s (%lld): %.160s", name ? name : "REJECTED",
                 (long long)id, description ? description : "refused by Infobip");
        return;
    }
    r->status = TD_RETRY;
    snprintf(r->reason, sizeof(r->reason), "infobip status group %lld (%.60s) is unknown",
             (long long)group, name ? name : "?");
}

/* New format: "E400: property violation; property violation (+2 more)". */
static bool reason_new(const json_t *body, struct ib_text *t)
{
    const char *code = json_string_value(json_object_get(body, "errorCode"));
    const char *description = json_string_value(json_object_get(body, "description"));
    const json_t *violations = json_object_get(body, "violations");
    if (!code && !description)
        return false;
    text_printf(t, " %s:", code ? code : "error");
    size_t n = json_array_size(violations);
    if (n == 0) {
        text_printf(t, " %s", description ? description : "no description");
        return true;
    }
    for (size_t i = 0; i < n && i < IB_MAX_VIOLATIONS; i++) {
        const json_t *v = json_array_get(violations, i);
        const char *property = json_string_value(json_object_get(v, "property"));
        const char *violation = json_string_value(json_object_get(v, "violation"));
        text_printf(t, "%s %s %s", i ? ";" : "", property ? property : "(request)",
                    violation ? violation : "is invalid");
    }
    if (n > IB_MAX_VIOLATIONS)
        text_printf(t, " (+%zu more)", n - IB_MAX_VIOLATIONS);
    return true;
}

/* Legacy format: "BAD_REQUEST: content.text size must be ..., must not be blank". */
static bool reason_legacy(const json_t *body, struct ib_text *t)
{
    const json_t *ex = json_object_get(json_object_get(body, "requestError"), "serviceException");
    if (!json_is_object(ex))
        return false;
    const char *id = json_string_value(json_object_get(ex, "messageId"));
    const char *text = json_string_value(json_object_get(ex, "text"));
    const json_t *errors = json_object_get(ex, "validationErrors");
    text_printf(t, " %s:", id ? id : "error");
    if (json_object_size(errors) == 0) {
        text_printf(t, " %s", text ? text : "no description");
        return true;
    }
    const char *path;
    const json_t *list;
    size_t shown = 0;
    json_object_foreach((json_t *)errors, path, list)
    {
        if (shown == IB_MAX_VIOLATIONS) {
            text_printf(t, " (+%zu more)", json_object_size(errors) - shown);
            break;
        }
        text_printf(t, "%s %s", shown++ ? ";" : "", path);
        if (json_is_string(list)) {
            text_printf(t, " %s", json_string_value(list));
            continue;
        }
        size_t i;
        const json_t *item;
        json_array_foreach(list, i, item)
        {
            text_printf(t, "%s %s", i ? "," : "",
                        json_string_value(item) ? json_string_value(item) : "?");
        }
    }
    return true;
}

/* Writes why an error answer failed, from either error format. */
void ib_error_reason(const struct td_http_reply *reply, char *out, size_t cap)
{
    struct ib_text t = {out, cap, 0};
    out[0] = '\0';
    if (reply->status == 0) {
        text_printf(&t, "infobip unreachable: %.200s", reply->error);
        return;
    }
    json_error_t jerr;
    json_t *body =
        reply->body && reply->body_len ? json_loadb(reply->body, reply->body_len, 0, &jerr) : NULL;
    text_printf(&t, "infobip %d", reply->status);
    if (!json_is_object(body) || (!reason_new(body, &t) && !reason_legacy(body, &t))) {
        t.len = 0;
        text_printf(&t, "infobip answered HTTP %d", reply->status);
    }
    json_decref(body);
}

/* The host's verdict on an answer, with the reason read from its body. */
void ib_http_verdict(const struct td_host *host, const struct td_http_reply *reply,
                     struct td_result *r)
{
    host->result_from_http(reply, r);
    if (r->status != TD_OK)
        ib_error_reason(reply, r->reason, sizeof(r->reason));
}

/* ---- callbacks ---- */

/* Writes a customer's address: "+" before an Infobip number, anything else
 * (a WhatsApp business-scoped user id) as it is. NULL when there is none. */
static const char *address_of(const char *number, char *out, size_t cap)
{
    if (!number || !*number)
        return NULL;
    bool digits = true;
    for (const char *p = number; *p; p++)
        digits = digits && *p >= '0' && *p <= '9';
    snprintf(out, cap, "%s%s", digits ? "+" : "", number);
    return out;
}

/* WhatsApp errors after which the step's fallback (SMS, e-mail) should
 * take over: no session (outside the 24 hours), template problems, not on
 * WhatsApp, template blocked by the user, marketing opt-out. */
static bool wa_fallback_error(json_int_t id)
{
    static const json_int_t ids[] = {7010, 7009, 7008, 7002, 7030, 7033};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        if (ids[i] == id)
            return true;
    }
    return false;
}

static const char *str_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* A delivery report; false when its status group is unknown. */
static bool parse_dlr(const struct ib_callback *cb, const json_t *res, struct ib_report_item *it)
{
    const json_t *status = json_object_get(res, "status");
    const json_t *error = json_object_get(res, "error");
    json_int_t group = json_integer_value(json_object_get(status, "groupId"));
    struct td_report *r = &it->report;
    switch (group) {
    case IB_GROUP_DELIVERED: r->kind = TD_REPORT_DELIVERED; break;
    case IB_GROUP_ACCEPTED:
    case IB_GROUP_PENDING: r->kind = TD_REPORT_DELAYED; break;
    case IB_GROUP_UNDELIVERABLE:
    case IB_GROUP_EXPIRED:
    case IB_GROUP_REJECTED: r->kind = TD_REPORT_FAILED; break;
    default: return false;
    }
    const char *message_id = str_of(res, "messageId");
    r->message_ref = message_id;
    r->provider_id = message_id;
    r->status = str_of(status, "name");
    r->address = address_of(str_of(res, "to"), it->address, sizeof(it->address));
    r->at_ms = ib_parse_time(str_of(res, "doneAt"));
    snprintf(it->event_id, sizeof(it->event_id), "dlr:%.200s:%lld", message_id ? message_id : "",
             (long long)json_integer_value(json_object_get(status, "id")));
    r->event_id = it->event_id;
    if (r->kind != TD_REPORT_FAILED)
        return true;
    json_int_t error_id = json_integer_value(json_object_get(error, "id"));
    const char *error_name = str_of(error, "name");
    if (error_name)
        snprintf(it->detail, sizeof(it->detail), "%.100s: %.100s (%lld)",
                 r->status ? r->status : "FAILED", error_name, (long long)error_id);
    else
        snprintf(it->detail, sizeof(it->detail), "%.100s", r->status ? r->status : "FAILED");
    r->detail = it->detail;
    r->permanent = json_is_true(json_object_get(error, "permanent")) || group == IB_GROUP_REJECTED;
    r->take_fallback = cb->whatsapp && wa_fallback_error(error_id);
    return true;
}

/* A WhatsApp seen report. "from" is the customer by the documentation, but
 * the published example has them the other way round, so the side that is
 * not our own number wins. */
static void parse_seen(const struct ib_callback *cb, const json_t *res, struct ib_report_item *it)
{
    struct td_report *r = &it->report;
    const char *from = str_of(res, "from");
    const char *to = str_of(res, "to");
    const char *customer = from;
    if (cb->business_from && from && strcmp(from, cb->business_from) == 0)
        customer = to;
    r->kind = TD_REPORT_SEEN;
    r->message_ref = str_of(res, "messageId");
    r->provider_id = r->message_ref;
    r->address = address_of(customer, it->address, sizeof(it->address));
    r->at_ms = ib_parse_time(str_of(res, "seenAt"));
    snprintf(it->event_id, sizeof(it->event_id), "seen:%.200s",
             r->message_ref ? r->message_ref : "");
    r->event_id = it->event_id;
}

/* The text of an inbound SMS: "text", or the keyword and the clean text. */
static const char *sms_text(const json_t *res, struct ib_report_item *it)
{
    const char *text = str_of(res, "text");
    if (text && *text)
        return text;
    const char *keyword = str_of(res, "keyword");
    const char *clean = str_of(res, "cleanText");
    if (!keyword || !*keyword)
        return clean;
    if (!clean || !*clean)
        return keyword;
    size_t len = strlen(keyword) + strlen(clean) + 2;
    it->text_owned = malloc(len);
    if (!it->text_owned)
        return keyword;
    snprintf(it->text_owned, len, "%s %s", keyword, clean);
    return it->text_owned;
}

/* The text of an inbound WhatsApp message, when it has one (TEXT, BUTTON,
 * interactive replies, captions of media). */
static const char *wa_text(const json_t *message)
{
    static const char *const keys[] = {"text", "title", "caption"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *s = str_of(message, keys[i]);
        if (s)
            return s;
    }
    return NULL;
}

/* An inbound SMS (MO) or WhatsApp message. */
static void parse_inbound(const json_t *res, struct ib_report_item *it)
{
    struct td_report *r = &it->report;
    const json_t *message = json_object_get(res, "message");
    r->kind = TD_REPORT_INBOUND;
    r->address = address_of(str_of(res, "from"), it->address, sizeof(it->address));
    r->text = json_is_object(message) ? wa_text(message) : sms_text(res, it);
    r->provider_id = str_of(res, "messageId");
    r->at_ms = ib_parse_time(str_of(res, "receivedAt"));
    if (r->provider_id) {
        snprintf(it->event_id, sizeof(it->event_id), "in:%.200s", r->provider_id);
        r->event_id = it->event_id;
    }
}

/* Fills it from one result; false when it is of no known kind. */
static bool parse_result(const struct ib_callback *cb, const json_t *res, struct ib_report_item *it)
{
    if (!json_is_object(res))
        return false;
    if (json_is_object(json_object_get(res, "status")))
        return parse_dlr(cb, res, it);
    if (str_of(res, "seenAt")) {
        parse_seen(cb, res, it);
        return true;
    }
    bool looks_inbound = json_is_object(json_object_get(res, "message")) || str_of(res, "text") ||
                         str_of(res, "cleanText") || str_of(res, "keyword") ||
                         str_of(res, "receivedAt");
    if (str_of(res, "from") && looks_inbound) {
        parse_inbound(res, it);
        return true;
    }
    return false;
}

/* The WhatsApp marketing opt-out: "stop" becomes an inbound "STOP". */
static bool parse_opt_out(const json_t *root, struct ib_report_item *it)
{
    const json_t *content = json_object_get(root, "content");
    const char *what = str_of(content, "notificationMessagesStatus");
    if (!what || strcasecmp(what, "stop") != 0)
        return false;
    struct td_report *r = &it->report;
    const char *from = str_of(content, "from");
    const char *created = str_of(root, "createdAt");
    r->kind = TD_REPORT_INBOUND;
    r->text = "STOP";
    r->status = "MARKETING_STOP";
    r->address = address_of(from, it->address, sizeof(it->address));
    r->at_ms = ib_parse_time(created);
    snprintf(it->event_id, sizeof(it->event_id), "optout:%.100s:%.60s", from ? from : "",
             created ? created : "");
    r->event_id = it->event_id;
    return true;
}

/* Parses a callback body into out; -EINVAL when it is not a JSON object. */
int ib_reports_parse(const struct ib_callback *cb, const char *body, size_t len,
                     struct ib_reports *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = body ? json_loadb(body, len, 0, &jerr) : NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        return -EINVAL;
    }
    out->root = root;
    const json_t *results = json_object_get(root, "results");
    size_t n = json_is_array(results) ? json_array_size(results) : 1;
    out->items = calloc(n ? n : 1, sizeof(*out->items));
    if (!out->items)
        return -ENOMEM;
    if (!json_is_array(results)) {
        if (parse_opt_out(root, &out->items[0]))
            out->count = 1;
        else
            out->skipped = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (parse_result(cb, json_array_get(results, i), &out->items[out->count]))
            out->count++;
        else
            out->skipped++;
    }
    return 0;
}

/* Frees what out holds; a cleared or zeroed set is a no-op. */
void ib_reports_clear(struct ib_reports *out)
{
    if (!out)
        return;
    for (size_t i = 0; out->items && i < out->count; i++)
        free(out->items[i].text_owned);
    free(out->items);
    json_decref(out->root);
    memset(out, 0, sizeof(*out));
}

static void respond_json(const struct td_host *host, struct td_http_response *resp, int status,
                         const char *body)
{
    host->respond(resp, status, "application/json", body, strlen(body));
}

/* Serves one callback request (see infobip.h). */
void ib_callback_serve(const struct ib_callback *cb, const struct td_http_request *req,
                       struct td_http_response *resp)
{
    const struct td_host *host = cb->host;
    struct ib_reports set;
    int rc = ib_reports_parse(cb, req->body, req->body_len, &set);
    if (rc == -ENOMEM) {
        ib_reports_clear(&set);
        host->respond_header(resp, "Retry-After", "30");
        respond_json(host, resp, 503, "{\"error\":\"out of memory\"}");
        return;
    }
    if (rc < 0) {
        ib_reports_clear(&set);
        host->log(host, TD_LOG_WARN, "callback refused: the body is not a JSON object");
        respond_json(host, resp, 400, "{\"error\":\"the body must be a JSON object\"}");
        return;
    }
    if (!TD_HOST_HAS(host, report)) {
        ib_reports_clear(&set);
        host->respond_header(resp, "Retry-After", "30");
        respond_json(host, resp, 503, "{\"error\":\"reports cannot be applied now\"}");
        return;
    }
    size_t applied = 0, later = 0;
    for (size_t i = 0; i < set.count; i++) {
        rc = host->report(host, &set.items[i].report);
        if (rc == TD_REPORT_LATER || rc < 0)
            later++;
        else
            applied++;
    }
    if (set.skipped)
        host->log(host, TD_LOG_INFO, "callback: %zu result(s) of no known kind ignored",
                  set.skipped);
    char body[96];
    if (later) {
        host->log(host, TD_LOG_WARN,
                  "callback: %zu of %zu report(s) not applied yet; answering 503", later,
                  set.count);
        host->respond_header(resp, "Retry-After", "30");
        snprintf(body, sizeof(body), "{\"error\":\"%zu report(s) cannot be applied yet\"}", later);
        respond_json(host, resp, 503, body);
    } else {
        snprintf(body, sizeof(body), "{\"accepted\":%zu}", applied);
        respond_json(host, resp, 200, body);
    }
    ib_reports_clear(&set);
}

/* The route handler registered by ib_conn_route(). */
void ib_callback_handler(void *ctx, const struct td_http_request *req,
                         struct td_http_response *resp)
{
    ib_callback_serve(ctx, req, resp);
}

/* ---- per-instance basics ---- */

#define IB_MIN_TIMEOUT_MS 100

/* Fills c from api_key, base_url, timeout and reports. */
int ib_conn_init(struct ib_conn *c, const struct td_host *host, const struct td_config *cfg,
                 bool whatsapp, size_t max_notify_url, struct td_error *err)
{
    memset(c, 0, sizeof(*c));
    c->host = host;
    c->cb.host = host;
    c->cb.whatsapp = whatsapp;
    const char *key = td_config_get(cfg, "api_key");
    const char *base = td_config_get(cfg, "base_url");
    const char *timeout = td_config_get(cfg, "timeout");
    const char *reports = td_config_get(cfg, "reports");
    if (!key || !*key || !td_header_value_ok(key)) {
        snprintf(err->message, sizeof(err->message), "api_key: empty or holds a line break");
        return -EINVAL;
    }
    if (!base || !*base) {
        snprintf(err->message, sizeof(err->message),
                 "base_url: missing (your personal https://xxxx.api.infobip.com)");
        return -EINVAL;
    }
    char *end = NULL;
    c->timeout_ms = timeout ? strtol(timeout, &end, 10) : 10000;
    if (timeout && (end == timeout || *end != '\0' || c->timeout_ms <= 0)) {
        snprintf(err->message, sizeof(err->message),
                 "timeout: '%.40s' is not a positive number of milliseconds", timeout);
        return -EINVAL;
    }
    if (c->timeout_ms < IB_MIN_TIMEOUT_MS)
        c->timeout_ms = IB_MIN_TIMEOUT_MS;
    c->authorization = ib_authorization(key);
    c->base_url = ib_base_url(base);
    if (!c->authorization || !c->base_url)
        goto out_nomem;
    bool want_reports = !reports || strcmp(reports, "true") == 0;
    const char *url = TD_HOST_HAS(host, callback_url) ? host->callback_url : NULL;
    if (want_reports && url && strlen(url) > max_notify_url) {
        host->log(host, TD_LOG_WARN,
                  "the callback URL is longer than the %zu characters Infobip takes; sending "
                  "without delivery reports",
                  max_notify_url);
    } else if (want_reports && url) {
        c->notify_url = strdup(url);
        if (!c->notify_url)
            goto out_nomem;
    }
    return 0;
out_nomem:
    snprintf(err->message, sizeof(err->message), "out of memory");
    return -ENOMEM;
}

/* Frees what c holds, wiping the key. */
void ib_conn_clear(struct ib_conn *c)
{
    if (!c)
        return;
    if (c->authorization)
        memset(c->authorization, 0, strlen(c->authorization));
    free(c->authorization);
    free(c->base_url);
    free(c->notify_url);
    memset(c, 0, sizeof(*c));
}

/* Registers the callback route when the host offers one. */
int ib_conn_route(struct ib_conn *c, struct td_error *err)
{
    const struct td_host *host = c->host;
    if (!TD_HOST_HAS(host, callback_path) || !TD_HOST_HAS(host, report) || !host->http_route)
        return 0;
    int rc = host->http_route(host, "POST", host->callback_path, ib_callback_handler, &c->cb);
    if (rc < 0) {
        snprintf(err->message, sizeof(err->message),
                 "cannot register the callback route (%d): the path is taken", rc);
        return rc;
    }
    return 0;
}

/* The configured timeout, shortened to end before deadline_ms. */
long ib_conn_timeout(const struct ib_conn *c, int64_t deadline_ms)
{
    if (deadline_ms <= 0)
        return c->timeout_ms;
    int64_t left = deadline_ms - c->host->now_ms(c->host);
    if (left >= c->timeout_ms)
        return c->timeout_ms;
    return left > IB_MIN_TIMEOUT_MS ? (long)left : IB_MIN_TIMEOUT_MS;
}

/* The headers of a JSON request. */
void ib_conn_headers(const struct ib_conn *c, struct td_http_header h[static 4])
{
    h[0] = (struct td_http_header){"Authorization", c->authorization};
    h[1] = (struct td_http_header){"Content-Type", "application/json"};
    h[2] = (struct td_http_header){"Accept", "application/json"};
    h[3] = (struct td_http_header){"User-Agent", IB_USER_AGENT};
}

/* Logs that Infobip refused m, with its number masked. */
void ib_log_refusal(const struct td_host *host, const struct td_message *m,
                    const struct td_result *r)
{
    char masked[64];
    host->mask(m->to, masked, sizeof(masked));
    host->log(host, TD_LOG_INFO, "message %s to %s refused: %s", m->id ? m->id : "?", masked,
              r->reason);
}

/* GET /account/1/balance into err->message; 0 or -EACCES. */
int ib_check_balance(const struct ib_conn *c, struct td_error *err)
{
    const struct td_host *host = c->host;
    size_t len = strlen(c->base_url) + sizeof("/account/1/balance");
    char *url = malloc(len);
    if (!url) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    snprintf(url, len, "%s/account/1/balance", c->base_url);
    struct td_http_header headers[4];
    ib_conn_headers(c, headers);
    struct td_http_call call = {.method = "GET",
                                .url = url,
                                .headers = headers,
                                .header_count = 4,
                                .timeout_ms = c->timeout_ms};
    struct td_http_reply reply;
    host->http_request(host, &call, &reply);
    int rc = -EACCES;
    json_t *body = NULL;
    if (reply.status == 200) {
        json_error_t jerr;
        body = json_loadb(reply.body, reply.body_len, 0, &jerr);
        const json_t *balance = json_object_get(body, "balance");
        const char *currency = str_of(body, "currency");
        if (json_is_number(balance)) {
            snprintf(err->message, sizeof(err->message), "balance %.2f %s",
                     json_number_value(balance), currency ? currency : "");
            rc = 0;
        } else {
            snprintf(err->message, sizeof(err->message), "infobip answered 200 without a balance");
        }
    } else {
        ib_error_reason(&reply, err->message, sizeof(err->message));
    }
    json_decref(body);
    host->http_reply_release(&reply);
    free(url);
    return rc;
}
