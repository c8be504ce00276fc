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
 * What is guaranteed: Infobip de-duplicates by messageId only when that is
 * enabled for the account (it is not by default). So a message whose earlier
 * attempt may have arrived (td_message.outcome_unknown: its answer was lost,
 * or the engine sending it died) is looked up first in Infobip's message logs
 * by its messageId (GET /sms/3/logs, the last 48 hours): found, it counts as
 * sent and is not sent again; not found, it is sent. The logs are not
 * instant: a message accepted a moment before a crash may not be in them yet
 * (the engine re-sends no sooner than its backoff, seconds later). With
 * de-duplication enabled on the account, that gap closes too: a reused
 * messageId is answered REJECTED_DUPLICATE_MESSAGE_ID, which counts as sent
 * (keys carry the database's identity, so only the same message repeats one).
 *
 * Verdicts: every message is checked first (E.164 number, non-empty text of
 * at most 4000 bytes) and refused without a request when it would be refused
 * anyway. 200 gives each message its own verdict from its status (PENDING is
 * OK with the messageId; REJECTED and UNDELIVERABLE FAIL naming the status);
 * 429, 5xx and transport errors before the request left RETRY (honouring
 * Retry-After), a transport error after it left is UNKNOWN; 401 and 403
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
    char *sender;   /* as Infobip takes it: alphanumeric, or digits without "+" */
    char *url;      /* {base}/sms/3/messages */
    char *logs_url; /* {base}/sms/3/logs */
};

/* The logs take at most this many characters of comma-separated messageIds. */
#define SMS_LOGS_IDS_MAX 2048

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
            /* accepted or not: it cannot be told from this answer */
            all.status = TD_UNKNOWN;
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

/* Appends c to the URL being built, %-encoding what is not unreserved. */
static void url_append(char *url, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const char *p = s; *p && *len + 4 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            url[(*len)++] = (char)c;
        } else {
            url[(*len)++] = '%';
            url[(*len)++] = hex[c >> 4];
            url[(*len)++] = hex[c & 15];
        }
    }
    url[*len] = '\0';
}

/* Asks the message logs whether the messages at index[0..n) were accepted
 * (their earlier attempt's outcome is unknown). A message found is given its
 * verdict (TD_OK: it is not sent again) and found[k] set; when the logs cannot
 * be read every one is given TD_RETRY and found[k] set (sending blind could
 * send it twice). The others are left to be sent. */
static void sms_lookup(const struct ib_sms *s, const struct td_message *msgs, const size_t *index,
                       size_t n, struct td_result *results, bool *found)
{
    size_t k = 0;
    while (k < n) {
        /* as many ids as fit in one query */
        char url[4096];
        size_t len = (size_t)snprintf(url, sizeof(url), "%s?limit=1000&messageId=", s->logs_url);
        size_t first = k, ids = 0;
        for (; k < n; k++) {
            const char *key = msgs[index[k]].idempotency_key;
            if (ids && ids + strlen(key) + 1 > SMS_LOGS_IDS_MAX)
                break;
            if (ids)
                url_append(url, sizeof(url), &len, ",");
            url_append(url, sizeof(url), &len, key);
            ids += strlen(key) + 1;
        }
        struct td_http_header headers[4];
        ib_conn_headers(&s->conn, headers);
        struct td_http_call call = {.method = "GET",
                                    .url = url,
                                    .headers = headers,
                                    .header_count = 4,
                                    .timeout_ms = s->conn.timeout_ms};
        struct td_http_reply reply;
        s->conn.host->http_request(s->conn.host, &call, &reply);
        json_error_t jerr;
        json_t *body =
            reply.status == 200 ? json_loadb(reply.body, reply.body_len, 0, &jerr) : NULL;
        const json_t *logs = json_object_get(body, "results");
        for (size_t j = first; j < k; j++) {
            struct td_result *r = &results[index[j]];
            const char *key = msgs[index[j]].idempotency_key;
            if (!json_is_array(logs)) {
                found[j] = true;
                r->status = TD_RETRY;
                char why[200];
                ib_error_reason(&reply, why, sizeof(why));
                snprintf(r->reason, sizeof(r->reason),
                         "not sent again: an earlier attempt may have arrived, and the message "
                         "logs could not be read (%.150s)",
                         why);
                continue;
            }
            size_t i;
            const json_t *log;
            json_array_foreach(logs, i, log)
            {
                const char *id = json_string_value(json_object_get(log, "messageId"));
                if (!id || strcmp(id, key) != 0)
                    continue;
                struct td_result seen;
                memset(&seen, 0, sizeof(seen));
                ib_status_verdict(json_object_get(log, "status"), id, &seen);
                const char *group =
                    json_string_value(json_object_get(json_object_get(log, "status"), "groupName"));
                /* in the logs and not refused: it was accepted before */
                if (seen.status == TD_OK || (group && strcmp(group, "REJECTED") != 0)) {
                    found[j] = true;
                    r->status = TD_OK;
                    snprintf(r->provider_id, sizeof(r->provider_id), "%s", id);
                    s->conn.host->log(s->conn.host, TD_LOG_INFO,
                                      "message %s: found in the message logs (%s): not sent again",
                                      msgs[index[j]].id, group ? group : "accepted");
                }
                break;
            }
        }
        json_decref(body);
        s->conn.host->http_reply_release(&reply);
    }
}

static void sms_deliver(void *instance, const struct td_message *msgs, size_t n,
                        struct td_result *results)
{
    struct ib_sms *s = instance;
    size_t *sent = calloc(n ? n : 1, sizeof(*sent));
    size_t *unknown = calloc(n ? n : 1, sizeof(*unknown));
    bool *looked_up = calloc(n ? n : 1, sizeof(*looked_up));
    bool *settled = calloc(n ? n : 1, sizeof(*settled));
    json_t *list = json_array();
    size_t nsent = 0, nunknown = 0;
    int64_t deadline = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
        if (msgs[i].outcome_unknown && unknown)
            unknown[nunknown++] = i;
    }
    /* an earlier attempt may have arrived: ask the logs before sending again */
    if (nunknown && looked_up && settled) {
        sms_lookup(s, msgs, unknown, nunknown, results, looked_up);
        for (size_t k = 0; k < nunknown; k++)
            settled[unknown[k]] = looked_up[k];
    }
    for (size_t i = 0; i < n; i++) {
        struct td_result *r = &results[i];
        if (settled && settled[i])
            continue;
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
    free(unknown);
    free(looked_up);
    free(settled);
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
    free(s->logs_url);
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
    s->logs_url = ib_conn_url(&s->conn, "/sms/3/logs");
    if (!s->sender || !s->url || !s->logs_url) {
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
