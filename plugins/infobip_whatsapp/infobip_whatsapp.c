/*
 * infobip_whatsapp: a channel plugin for WhatsApp through Infobip.
 *
 * WhatsApp allows free text only within 24 hours of the customer's last
 * message (message.wa_window_open); otherwise only an approved template. So,
 * per message:
 *  - window open and text: POST /whatsapp/1/message/text, one request per
 *    message (a single object, answered by a single object), in parallel
 *    through host->http_request_many;
 *  - else a template: POST /whatsapp/1/message/template, one request for all
 *    the chunk's template messages ({"messages":[...]});
 *  - else TD_FAIL, and the engine takes the step's fallback.
 * The text calls and the template call go out together. Each message carries
 * its idempotency key as messageId, its id as callbackData and the engine's
 * callback URL as notifyUrl (delivery and seen reports). The callback route
 * takes those reports, inbound messages (which open the window) and the
 * marketing opt-out; a delivery report with error 7010 (no session), 7009 or
 * 7008 (template problems), 7002, 7030 or 7033 asks for the fallback.
 *
 * Verdicts as for infobip_sms: PENDING is OK with the messageId, REJECTED
 * FAILs naming the status, 429/5xx and transport errors before the request
 * left RETRY, a transport error after it left is UNKNOWN, 401/403 SUSPEND,
 * other 4xx FAIL with Infobip's validation errors.
 *
 * What is guaranteed: Infobip's WhatsApp API has no message logs to ask, and
 * de-duplicates by messageId only where the account has that enabled. So a
 * message whose earlier attempt may have arrived (td_message.outcome_unknown:
 * its answer was lost, or the engine died while it was in flight) is sent
 * again as it was, and may reach the customer twice; at most the messages
 * whose outcome was unknown are doubled. A connection with
 * `unknown_outcome = hold` holds such a message for an operator instead.
 */
#include "infobip.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WA_MAX_BATCH      100
#define WA_MAX_TEXT_CHARS 4096
#define WA_MAX_TEMPLATE   512
#define WA_MAX_LANGUAGE   32
#define WA_MAX_MESSAGE_ID 200
#define WA_MAX_CALLBACK   4000
#define WA_MAX_NOTIFY_URL 2048
#define WA_DIGITS_SIZE    16

struct ib_whatsapp {
    struct ib_conn conn;
    char sender[WA_DIGITS_SIZE]; /* the registered number, digits only */
    char *text_url;              /* {base}/whatsapp/1/message/text */
    char *template_url;          /* {base}/whatsapp/1/message/template */
};

enum wa_route {
    WA_NONE = 0, /* refused before any request */
    WA_TEXT,
    WA_TEMPLATE,
};

static const struct td_config_key wa_keys[] = {
    {.name = "api_key",
     .type = TD_KEY_STRING,
     .required = true,
     .secret = true,
     .help = "the Infobip API key (sent as Authorization: App <key>)"},
    {.name = "base_url",
     .type = TD_KEY_URL,
     .required = true,
     .help = "your personal API address, like https://xxxx.api.infobip.com"},
    {.name = "sender",
     .type = TD_KEY_STRING,
     .required = true,
     .help = "the registered WhatsApp number, like +4930123456789"},
    {.name = "timeout",
     .type = TD_KEY_INT,
     .default_value = "10000",
     .help = "milliseconds a request may take"},
    {.name = "reports",
     .type = TD_KEY_BOOL,
     .default_value = "true",
     .help = "ask for delivery and seen reports at the engine's callback URL (when it has one)"},
};

/* Characters of UTF-8 text as Infobip counts them (UTF-16 units: a code
 * point beyond U+FFFF, like most emoji, counts twice). */
static size_t text_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80)
            n += *p >= 0xF0 ? 2 : 1;
    }
    return n;
}

/* A template name: 1-512 lowercase letters, digits and '_'. */
static bool template_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WA_MAX_TEMPLATE)
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    }
    return true;
}

/* A placeholder as WhatsApp takes it: no line breaks or tabs and no long runs
 * of spaces, so every run of white space becomes one space, trimmed. NULL
 * when out of memory; "" when nothing is left. */
static char *placeholder(const char *s)
{
    char *out = malloc(strlen(s) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    bool space = false;
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = false;
        out[n++] = *p;
    }
    out[n] = '\0';
    return out;
}

/* The placeholders array; NULL with why set when one is empty (or not UTF-8). */
static json_t *placeholders(const struct td_message *m, char *why, size_t cap)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < m->wa_param_count; i++) {
        char *p = m->wa_params[i] ? placeholder(m->wa_params[i]) : NULL;
        json_t *v = p && *p ? json_string(p) : NULL;
        bool empty = !m->wa_params[i] || (p && !*p);
        free(p);
        if (!v || json_array_append_new(list, v) < 0) {
            snprintf(why, cap, "wa_params[%zu]: %s", i,
                     empty ? "empty (WhatsApp refuses empty placeholders)"
                           : "not valid UTF-8 (or out of memory)");
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* Adds callbackData and notifyUrl to a message object. */
static int add_tracking(const struct ib_whatsapp *wa, const struct td_message *m, json_t *msg)
{
    if (m->id && strlen(m->id) <= WA_MAX_CALLBACK &&
        json_object_set_new(msg, "callbackData", json_string(m->id)) < 0)
        return -1;
    if (wa->conn.notify_url &&
        json_object_set_new(msg, "notifyUrl", json_string(wa->conn.notify_url)) < 0)
        return -1;
    return 0;
}

/* The text request of one message, a single object. */
static json_t *text_message(const struct ib_whatsapp *wa, const struct td_message *m,
                            const char *to, char *why, size_t cap)
{
    if (text_chars(m->text) > WA_MAX_TEXT_CHARS) {
        snprintf(why, cap, "text: longer than the 4096 characters WhatsApp takes");
        return NULL;
    }
    json_t *msg = json_pack("{s:s, s:s, s:s, s:{s:s}}", "from", wa->sender, "to", to, "messageId",
                            m->idempotency_key, "content", "text", m->text);
    if (!msg || add_tracking(wa, m, msg) < 0) {
        snprintf(why, cap, "text: not valid UTF-8 (or out of memory)");
        json_decref(msg);
        return NULL;
    }
    return msg;
}

/* One element of the template request's messages. */
static json_t *template_message(const struct ib_whatsapp *wa, const struct td_message *m,
                                const char *to, char *why, size_t cap)
{
    if (!template_name_ok(m->wa_template)) {
        snprintf(why, cap,
                 "wa_template: not a template name (1 to 512 lowercase letters, digits, _)");
        return NULL;
    }
    if (!m->wa_language || !*m->wa_language || strlen(m->wa_language) > WA_MAX_LANGUAGE) {
        snprintf(why, cap, "wa_language: missing (the language the template is registered in)");
        return NULL;
    }
    json_t *params = placeholders(m, why, cap);
    if (!params)
        return NULL;
    json_t *msg =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:{s:{s:o}}, s:s}}", "from", wa->sender, "to", to,
                  "messageId", m->idempotency_key, "content", "templateName", m->wa_template,
                  "templateData", "body", "placeholders", params, "language", m->wa_language);
    if (!msg || add_tracking(wa, m, msg) < 0) {
        snprintf(why, cap, "wa_language: not valid UTF-8 (or out of memory)");
        json_decref(msg);
        return NULL;
    }
    return msg;
}

/* Decides how a message goes and builds its JSON; WA_NONE with why set when
 * it cannot go at all. */
static enum wa_route wa_prepare(const struct ib_whatsapp *wa, const struct td_message *m,
                                json_t **out, char *why, size_t cap)
{
    char to[WA_DIGITS_SIZE];
    *out = NULL;
    if (ib_e164_digits(m->to, to, sizeof(to)) < 0) {
        snprintf(why, cap, "to: not an E.164 number like +491701234567");
        return WA_NONE;
    }
    if (!m->idempotency_key || !*m->idempotency_key ||
        strlen(m->idempotency_key) > WA_MAX_MESSAGE_ID) {
        snprintf(why, cap, "idempotency_key: empty or longer than Infobip's 200 characters");
        return WA_NONE;
    }
    if (m->wa_window_open && m->text && *m->text) {
        *out = text_message(wa, m, to, why, cap);
        return *out ? WA_TEXT : WA_NONE;
    }
    if (m->wa_template && *m->wa_template) {
        *out = template_message(wa, m, to, why, cap);
        return *out ? WA_TEMPLATE : WA_NONE;
    }
    snprintf(why, cap, "outside the 24-hour window and no approved template");
    return WA_NONE;
}

/* The verdict on one message from the item of a 200 answer that is its. */
static void item_verdict(const json_t *item, const char *key, struct td_result *r)
{
    const char *id = json_string_value(json_object_get(item, "messageId"));
    ib_status_verdict(json_object_get(item, "status"), id ? id : key, r);
}

/* The verdict on a text message from its own answer. */
static void text_verdict(const struct ib_whatsapp *wa, const struct td_http_reply *reply,
                         const char *key, struct td_result *r)
{
    ib_http_verdict(wa->conn.host, reply, r);
    if (r->status != TD_OK)
        return;
    json_error_t jerr;
    json_t *body = json_loadb(reply->body, reply->body_len, 0, &jerr);
    item_verdict(body, key, r);
    json_decref(body);
}

/* The verdicts on the template messages from the answer of their request. */
static void template_verdicts(const struct ib_whatsapp *wa, const struct td_message *msgs,
                              const struct td_http_reply *reply, struct td_result *results,
                              const size_t *idx, size_t n)
{
    struct td_result all;
    ib_http_verdict(wa->conn.host, reply, &all);
    json_t *body = NULL;
    const json_t *items = NULL;
    if (all.status == TD_OK) {
        json_error_t jerr;
        body = json_loadb(reply->body, reply->body_len, 0, &jerr);
        items = json_object_get(body, "messages");
    }
    for (size_t k = 0; k < n; k++) {
        struct td_result *r = &results[idx[k]];
        *r = all;
        if (all.status != TD_OK)
            continue;
        const char *key = msgs[idx[k]].idempotency_key;
        const json_t *item = NULL;
        size_t i;
        const json_t *it;
        json_array_foreach(items, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "messageId"));
            if (id && strcmp(id, key) == 0)
                item = it;
        }
        if (!item && !json_object_get(json_array_get(items, k), "messageId"))
            item = json_array_get(items, k);
        item_verdict(item, key, r);
    }
    json_decref(body);
}

/* What one deliver() call sends: per text message a call, plus one call for
 * all template messages. */
struct wa_batch {
    struct td_http_call *calls;
    struct td_http_reply *replies;
    char **bodies;
    size_t *text_idx; /* message index of calls[k], k < ntext */
    size_t ntext;
    size_t *template_idx;
    size_t ntemplate;
    json_t *template_list;
};

static void batch_clear(struct wa_batch *b)
{
    for (size_t k = 0; b->bodies && k < b->ntext + 1; k++)
        free(b->bodies[k]);
    free(b->calls);
    free(b->replies);
    free(b->bodies);
    free(b->text_idx);
    free(b->template_idx);
    json_decref(b->template_list);
}

static void fail_all(struct td_result *results, const size_t *idx, size_t n, const char *why)
{
    for (size_t k = 0; k < n; k++) {
        results[idx[k]].status = TD_RETRY;
        snprintf(results[idx[k]].reason, sizeof(results[idx[k]].reason), "%s", why);
    }
}

static void wa_deliver(void *instance, const struct td_message *msgs, size_t n,
                       struct td_result *results)
{
    struct ib_whatsapp *wa = instance;
    const struct td_host *host = wa->conn.host;
    size_t cap = n ? n : 1;
    struct wa_batch b = {.calls = calloc(cap + 1, sizeof(*b.calls)),
                         .replies = calloc(cap + 1, sizeof(*b.replies)),
                         .bodies = calloc(cap + 1, sizeof(*b.bodies)),
                         .text_idx = calloc(cap, sizeof(size_t)),
                         .template_idx = calloc(cap, sizeof(size_t)),
                         .template_list = json_array()};
    bool nomem =
        !b.calls || !b.replies || !b.bodies || !b.text_idx || !b.template_idx || !b.template_list;
    int64_t deadline = 0;
    for (size_t i = 0; i < n; i++) {
        struct td_result *r = &results[i];
        memset(r, 0, sizeof(*r));
        r->retry_after_ms = -1;
        if (nomem) {
            r->status = TD_RETRY;
            snprintf(r->reason, sizeof(r->reason), "out of memory");
            continue;
        }
        json_t *msg = NULL;
        enum wa_route route = wa_prepare(wa, &msgs[i], &msg, r->reason, sizeof(r->reason));
        if (route == WA_NONE) {
            r->status = TD_FAIL;
            continue;
        }
        if (msgs[i].deadline_ms > 0 && (deadline == 0 || msgs[i].deadline_ms < deadline))
            deadline = msgs[i].deadline_ms;
        if (route == WA_TEMPLATE) {
            json_array_append_new(b.template_list, msg);
            b.template_idx[b.ntemplate++] = i;
            continue;
        }
        b.bodies[b.ntext] = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        b.text_idx[b.ntext++] = i;
    }
    if (nomem || b.ntext + b.ntemplate == 0)
        goto out_batch;
    struct td_http_header headers[4];
    ib_conn_headers(&wa->conn, headers);
    long timeout = ib_conn_timeout(&wa->conn, deadline);
    for (size_t k = 0; k < b.ntext; k++) {
        b.calls[k] = (struct td_http_call){.method = "POST",
                                           .url = wa->text_url,
                                           .headers = headers,
                                           .header_count = 4,
                                           .body = b.bodies[k],
                                           .body_len = b.bodies[k] ? strlen(b.bodies[k]) : 0,
                                           .timeout_ms = timeout};
    }
    size_t ncalls = b.ntext;
    if (b.ntemplate) {
        json_t *envelope = json_pack("{s:O}", "messages", b.template_list);
        b.bodies[ncalls] = envelope ? json_dumps(envelope, JSON_COMPACT) : NULL;
        json_decref(envelope);
        b.calls[ncalls++] =
            (struct td_http_call){.method = "POST",
                                  .url = wa->template_url,
                                  .headers = headers,
                                  .header_count = 4,
                                  .body = b.bodies[b.ntext],
                                  .body_len = b.bodies[b.ntext] ? strlen(b.bodies[b.ntext]) : 0,
                                  .timeout_ms = timeout};
    }
    for (size_t k = 0; k < ncalls; k++) {
        if (!b.bodies[k]) {
            fail_all(results, b.text_idx, b.ntext, "out of memory");
            fail_all(results, b.template_idx, b.ntemplate, "out of memory");
            goto out_batch;
        }
    }
    if (TD_HOST_HAS(host, http_request_many)) {
        host->http_request_many(host, b.calls, b.replies, ncalls);
    } else {
        for (size_t k = 0; k < ncalls; k++)
            host->http_request(host, &b.calls[k], &b.replies[k]);
    }
    for (size_t k = 0; k < b.ntext; k++)
        text_verdict(wa, &b.replies[k], msgs[b.text_idx[k]].idempotency_key,
                     &results[b.text_idx[k]]);
    if (b.ntemplate)
        template_verdicts(wa, msgs, &b.replies[b.ntext], results, b.template_idx, b.ntemplate);
    for (size_t k = 0; k < ncalls; k++)
        host->http_reply_release(&b.replies[k]);
    bool suspended = false;
    for (size_t i = 0; i < n; i++) {
        bool sent = results[i].http_status != 0;
        if (sent && results[i].status == TD_FAIL && results[i].http_status < 300)
            ib_log_refusal(host, &msgs[i], &results[i]);
        if (results[i].status == TD_SUSPEND && !suspended) {
            host->log(host, TD_LOG_WARN, "infobip refused the API key: %s", results[i].reason);
            suspended = true;
        }
    }
out_batch:
    batch_clear(&b);
}

static int wa_check(void *instance, struct td_error *err)
{
    struct ib_whatsapp *wa = instance;
    return ib_check_balance(&wa->conn, err);
}

static void wa_destroy(void *instance)
{
    struct ib_whatsapp *wa = instance;
    if (!wa)
        return;
    ib_conn_clear(&wa->conn);
    free(wa->text_url);
    free(wa->template_url);
    free(wa);
}

/* Writes the digits of a WhatsApp sender ("+4930123456789" or
 * "4930123456789", 8 to 15 digits) into out; -1 when it is not one. */
static int sender_digits(const char *s, char *out, size_t cap)
{
    char e164[WA_DIGITS_SIZE + 1];
    if (!s || strlen(s) > WA_DIGITS_SIZE - 1)
        return -1;
    snprintf(e164, sizeof(e164), "+%s", s[0] == '+' ? s + 1 : s);
    return ib_e164_digits(e164, out, cap);
}

static int wa_create(const struct td_host *host, const struct td_config *cfg, void **instance,
                     struct td_error *err)
{
    *instance = NULL;
    const char *sender = td_config_get(cfg, "sender");
    struct ib_whatsapp *wa = calloc(1, sizeof(*wa));
    if (!wa) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    int rc = -EINVAL;
    if (sender_digits(sender, wa->sender, sizeof(wa->sender)) < 0) {
        snprintf(err->message, sizeof(err->message),
                 "sender: '%.40s' is not a WhatsApp number (8 to 15 digits, like +4930123456789)",
                 sender ? sender : "");
        goto out_instance;
    }
    rc = ib_conn_init(&wa->conn, host, cfg, true, WA_MAX_NOTIFY_URL, err);
    if (rc < 0)
        goto out_instance;
    wa->conn.cb.business_from = wa->sender;
    wa->text_url = ib_conn_url(&wa->conn, "/whatsapp/1/message/text");
    wa->template_url = ib_conn_url(&wa->conn, "/whatsapp/1/message/template");
    if (!wa->text_url || !wa->template_url) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        rc = -ENOMEM;
        goto out_instance;
    }
    rc = ib_conn_route(&wa->conn, err);
    if (rc < 0)
        goto out_instance;
    *instance = wa;
    return 0;
out_instance:
    wa_destroy(wa);
    return rc;
}

static const struct td_channel_ops wa_ops = {
    .create = wa_create,
    .destroy = wa_destroy,
    .deliver = wa_deliver,
    .check = wa_check,
};

static const char *const wa_serves[] = {"whatsapp", NULL};

static const struct td_plugin wa_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "infobip_whatsapp", "1.0.0",
                     "WhatsApp through Infobip: free text in the 24-hour window, else templates"),
    .config_keys = wa_keys,
    .config_key_count = sizeof(wa_keys) / sizeof(wa_keys[0]),
    .serves = wa_serves,
    .max_batch = WA_MAX_BATCH,
    .channel = &wa_ops,
};

/* The plugin's one exported symbol: its descriptor. */
TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &wa_plugin;
}
