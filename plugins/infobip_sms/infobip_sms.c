/*
 * infobip_sms: a channel plugin for SMS through Infobip (https://www.infobip.com).
 *
 * One POST /sms/3/messages per deliver() call carries the whole chunk (up to
 * 100 messages, one destination each). Each destination's messageId is the
 * message's idempotency key, so a retry after a crash is recognised by
 * Infobip (REJECTED_DUPLICATE_MESSAGE_ID, which counts as sent). Delivery
 * reports are asked for at the engine's callback URL, with the message id as
 * callbackData; the callback route (host->callback_path) takes delivery
 * reports and inbound messages (STOP) and hands them to host->report.
 *
 * Verdicts: every message is checked first (E.164 number, non-empty text of
 * at most 4000 bytes) and refused without a request when it would be refused
 * anyway. 200 gives each message its own verdict from its status (PENDING is
 * OK with the messageId; REJECTED and UNDELIVERABLE FAIL naming the status);
 * 429, 5xx and transport errors RETRY (honouring Retry-After); 401 and 403
 * SUSPEND; other 4xx FAIL with Infobip's violations.
 */
#include "infobip.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMS_MAX_BATCH      100
#define SMS_MAX_TEXT_BYTES 4000 /* more is REJECTED_MESSAGE_TOO_LONG */
#define SMS_MAX_MESSAGE_ID 200
#define SMS_MAX_CALLBACK   4000
#define SMS_ALPHA_MAX      11
#define SMS_NUMERIC_MAX    14
#define SMS_SENDER_MIN     3
#define SMS_DIGITS_SIZE    16

struct ib_sms {
    struct ib_conn conn;
    char *sender; /* as Infobip takes it: alphanumeric, or digits without "+" */
    char *url;    /* {base}/sms/3/messages */
};

static const struct td_config_key sms_keys[] = {
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
     .help = "the sender ID: 3 to 11 letters and digits, or a number of up to 14 digits"},
    {.name = "timeout",
     .type = TD_KEY_INT,
     .default_value = "10000",
     .help = "milliseconds a request may take"},
    {.name = "reports",
     .type = TD_KEY_BOOL,
     .default_value = "true",
     .help = "ask for delivery reports at the engine's callback URL (when it has one)"},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Checks a sender ID and writes the form Infobip takes into out: alphanumeric
 * 3-11 (letters, digits, space, '.', '-', at least one letter), or numeric
 * 3-14 digits (a leading "+" is dropped). NULL when fine, else why not. */
static const char *sender_problem(const char *s, char *out, size_t cap)
{
    const char *p = s[0] == '+' ? s + 1 : s;
    size_t n = strlen(p);
    bool digits = n > 0;
    for (size_t i = 0; i < n; i++)
        digits = digits && is_digit(p[i]);
    if (digits) {
        if (n < SMS_SENDER_MIN || n > SMS_NUMERIC_MAX)
            return "a numeric sender has 3 to 14 digits";
        snprintf(out, cap, "%s", p);
        return NULL;
    }
    if (p != s)
        return "only a numeric sender may start with +";
    bool letter = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!is_alpha(c) && !is_digit(c) && c != ' ' && c != '.' && c != '-')
            return "an alphanumeric sender has only letters, digits, spaces, '.' and '-'";
        letter = letter || is_alpha(c);
    }
    if (n < SMS_SENDER_MIN || n > SMS_ALPHA_MAX)
        return "an alphanumeric sender has 3 to 11 characters";
    if (!letter || s[0] == ' ' || s[n - 1] == ' ')
        return "an alphanumeric sender has a letter and no leading or trailing space";
    snprintf(out, cap, "%s", s);
    return NULL;
}

/* Refuses what Infobip would refuse, before any request; writes the number's
 * digits into digits. NULL when fine. */
static const char *sms_invalid(const struct td_message *m, char *digits, size_t cap)
{
    if (ib_e164_digits(m->to, digits, cap) < 0)
        return "to: not an E.164 number like +491701234567";
    if (!m->text || !*m->text)
        return "text: empty";
    if (strlen(m->text) > SMS_MAX_TEXT_BYTES)
        return "text: longer than the 4000 bytes Infobip sends";
    if (!m->idempotency_key || !*m->idempotency_key ||
        strlen(m->idempotency_key) > SMS_MAX_MESSAGE_ID)
        return "idempotency_key: empty or longer than Infobip's 200 characters";
    return NULL;
}

/* The JSON object of one message as /sms/3/messages takes it; NULL when the
 * text is not valid UTF-8 (or out of memory). */
static json_t *sms_message(const struct ib_sms *s, const struct td_message *m, const char *digits)
{
    json_t *msg =
        json_pack("{s:s, s:[{s:s, s:s}], s:{s:s}}", "sender", s->sender, "destinations", "to",
                  digits, "messageId", m->idempotency_key, "content", "text", m->text);
    if (!msg || !s->conn.notify_url)
        return msg;
    json_t *hooks = json_pack("{s:{s:s, s:b}, s:s}", "delivery", "url", s->conn.notify_url,
                              "intermediateReport", 0, "contentType", "application/json");
    if (hooks && m->id && strlen(m->id) <= SMS_MAX_CALLBACK)
        json_object_set_new(hooks, "callbackData", json_string(m->id));
    if (!hooks || json_object_set_new(msg, "webhooks", hooks) < 0) {
        json_decref(msg);
        return NULL;
    }
    return msg;
}

/* The item of a 200 answer that belongs to messageId (by messageId, else at
 * the same position when the answer carries no ids). */
static const json_t *answer_item(const json_t *items, size_t k, const char *message_id)
{
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *id = json_string_value(json_object_get(item, "messageId"));
        if (id && strcmp(id, message_id) == 0)
            return item;
    }
    item = json_array_get(items, k);
    return json_object_get(item, "messageId") ? NULL : item;
}

/* Gives each sent message its verdict from the answer. */
static void sms_verdicts(const struct ib_sms *s, const struct td_message *msgs,
                         const struct td_http_reply *reply, struct td_result *results,
                         const size_t *sent, size_t nsent)
{
    struct td_result all;
    ib_http_verdict(s->conn.host, reply, &all);
    json_t *body = NULL;
    const json_t *items = NULL;
    if (all.status == TD_OK) {
        json_error_t jerr;
        body = json_loadb(reply->body, reply->body_len, 0, &jerr);
        items = json_object_get(body, "messages");
        if (!json_is_array(items)) {
            all.status = TD_RETRY; /* the same messageIds are safe to send again */
            snprintf(all.reason, sizeof(all.reason), "infobip answered %d without a messages list",
                     reply->status);
        }
    }
    for (size_t k = 0; k < nsent; k++) {
        struct td_result *r = &results[sent[k]];
        *r = all;
        if (all.status != TD_OK)
            continue;
        const char *key = msgs[sent[k]].idempotency_key;
        const json_t *item = answer_item(items, k, key);
        const char *id = json_string_value(json_object_get(item, "messageId"));
        ib_status_verdict(json_object_get(item, "status"), id ? id : key, r);
        if (r->status == TD_FAIL)
            ib_log_refusal(s->conn.host, &msgs[sent[k]], r);
    }
    if (all.status == TD_SUSPEND)
        s->conn.host->log(s->conn.host, TD_LOG_WARN, "infobip refused the API key: %s", all.reason);
    json_decref(body);
}

static void sms_deliver(void *instance, const struct td_message *msgs, size_t n,
                        struct td_result *results)
{
    struct ib_sms *s = instance;
    size_t *sent = calloc(n ? n : 1, sizeof(*sent));
    json_t *list = json_array();
    size_t nsent = 0;
    int64_t deadline = 0;
    for (size_t i = 0; i < n; i++) {
        struct td_result *r = &results[i];
        memset(r, 0, sizeof(*r));
        r->retry_after_ms = -1;
        char digits[SMS_DIGITS_SIZE];
        const char *why = sms_invalid(&msgs[i], digits, sizeof(digits));
        json_t *msg = why ? NULL : sms_message(s, &msgs[i], digits);
        if (!why && !msg)
            why = "text: not valid UTF-8";
        if (why) {
            r->status = TD_FAIL;
            snprintf(r->reason, sizeof(r->reason), "%s", why);
        } else if (!sent || json_array_append_new(list, msg) < 0) {
            if (!sent)
                json_decref(msg); /* json_array_append_new() takes it even when it fails */
            r->status = TD_RETRY;
            snprintf(r->reason, sizeof(r->reason), "out of memory");
        } else {
            sent[nsent++] = i;
            if (msgs[i].deadline_ms > 0 && (deadline == 0 || msgs[i].deadline_ms < deadline))
                deadline = msgs[i].deadline_ms;
        }
    }
    if (nsent == 0)
        goto out_list;
    json_t *envelope = json_pack("{s:O}", "messages", list);
    char *body = envelope ? json_dumps(envelope, JSON_COMPACT) : NULL;
    json_decref(envelope);
    if (!body) {
        for (size_t k = 0; k < nsent; k++) {
            results[sent[k]].status = TD_RETRY;
            snprintf(results[sent[k]].reason, sizeof(results[sent[k]].reason), "out of memory");
        }
        goto out_list;
    }
    struct td_http_header headers[4];
    ib_conn_headers(&s->conn, headers);
    struct td_http_call call = {.method = "POST",
                                .url = s->url,
                                .headers = headers,
                                .header_count = 4,
                                .body = body,
                                .body_len = strlen(body),
                                .timeout_ms = ib_conn_timeout(&s->conn, deadline)};
    struct td_http_reply reply;
    s->conn.host->http_request(s->conn.host, &call, &reply);
    sms_verdicts(s, msgs, &reply, results, sent, nsent);
    s->conn.host->http_reply_release(&reply);
    free(body);
out_list:
    json_decref(list);
    free(sent);
}

static int sms_check(void *instance, struct td_error *err)
{
    struct ib_sms *s = instance;
    return ib_check_balance(&s->conn, err);
}

static void sms_destroy(void *instance)
{
    struct ib_sms *s = instance;
    if (!s)
        return;
    ib_conn_clear(&s->conn);
    free(s->sender);
    free(s->url);
    free(s);
}

static int sms_create(const struct td_host *host, const struct td_config *cfg, void **instance,
                      struct td_error *err)
{
    *instance = NULL;
    const char *sender = td_config_get(cfg, "sender");
    char clean[SMS_DIGITS_SIZE];
    const char *why = sender ? sender_problem(sender, clean, sizeof(clean)) : "missing";
    if (why) {
        snprintf(err->message, sizeof(err->message), "sender: '%.40s' refused: %s",
                 sender ? sender : "", why);
        return -EINVAL;
    }
    struct ib_sms *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    int rc = ib_conn_init(&s->conn, host, cfg, false, SIZE_MAX, err);
    if (rc < 0)
        goto out_instance;
    s->sender = strdup(clean);
    s->url = ib_conn_url(&s->conn, "/sms/3/messages");
    if (!s->sender || !s->url) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        rc = -ENOMEM;
        goto out_instance;
    }
    rc = ib_conn_route(&s->conn, err);
    if (rc < 0)
        goto out_instance;
    *instance = s;
    return 0;
out_instance:
    sms_destroy(s);
    return rc;
}

static const struct td_channel_ops sms_ops = {
    .create = sms_create,
    .destroy = sms_destroy,
    .deliver = sms_deliver,
    .check = sms_check,
};

static const char *const sms_serves[] = {"sms", NULL};

static const struct td_plugin sms_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "infobip_sms", "1.0.0",
                     "SMS through Infobip, with delivery reports and inbound STOP"),
    .config_keys = sms_keys,
    .config_key_count = sizeof(sms_keys) / sizeof(sms_keys[0]),
    .serves = sms_serves,
    .max_batch = SMS_MAX_BATCH,
    .channel = &sms_ops,
};

/* The plugin's one exported symbol: its descriptor. */
TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &sms_plugin;
}
