/* fake_infobip: the Infobip API as providers.md sections 2 and 3 describe it —
 * POST /sms/3/messages and GET /sms/3/logs (new error format),
 * POST /sms/2/text/advanced, POST /whatsapp/1/message/template,
 * POST /whatsapp/1/message/text (legacy error format) and GET /account/1/balance;
 * "App" key auth, validation with violations / validationErrors, PENDING
 * statuses, SMS segment counts, the REJECTED answer of a "reject" fault and,
 * with the infobip_dedup setting, REJECTED_DUPLICATE_MESSAGE_ID for a messageId
 * accepted before on the same channel (by default, as on a real account, it
 * is accepted again). Every record of a send also gets the whole request body
 * as "request" and its "headers", kept once per request; every accepted SMS
 * (v2 or v3) gets a log entry for GET /sms/3/logs. */
#include "fake_infobip.h"

#include "fake_faults.h"
#include "fake_ids.h"
#include "fake_logs.h"
#include "fake_server.h"
#include "fake_store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SMS_TO     64
#define MAX_MESSAGE_ID 200
#define MAX_WA_FROM    24
#define MAX_WA_TO      150
#define MAX_WA_TEXT    4096
#define MAX_TEMPLATE   512
#define LOGS_LIMIT     50 /* GET /sms/3/logs without limit */
#define LOGS_MAX_LIMIT 1000

/* What became of one message of a send. */
enum verdict {
    ACCEPTED,
    REJECTED_DESTINATION, /* a "reject" fault */
    REJECTED_DUPLICATE,   /* infobip_dedup and a messageId accepted before */
};

/* Validation problems, collected in the format of the endpoint. */
struct problems {
    bool new_format;
    json_t *list; /* new: [{"property","violation"}]; legacy: {"property":["..."]} */
    size_t n;
};

/* Counters of one request, added to the store at the end. */
struct tally {
    long accepted;
    long unique;
    long rejected;
};

typedef void (*infobip_handler)(struct fake_ctx *ctx, const struct fake_request *req,
                                struct fake_reply *rep);

/* Sets an Infobip error reply in the new (E400...) or legacy (requestError) format; details
 * (taken over, may be NULL) are the violations array or the validationErrors object. */
void fake_infobip_error(struct fake_reply *rep, bool new_format, unsigned status, json_t *details)
{
    static const struct {
        unsigned status;
        const char *legacy_id;
        const char *legacy_text;
        const char *description;
        const char *action;
    } known[] = {
        {400, "BAD_REQUEST", "Bad request", "Request cannot be processed.",
         "Check the syntax, violations and adjust the request."},
        {401, "UNAUTHORIZED", "Unauthorized",
         "The request lacks valid authentication credentials for the requested resource.",
         "Check the resources and adjust authentication credentials."},
        {403, "FORBIDDEN", "Forbidden",
         "Insufficient permissions to access the requested resource.",
         "Check the API key scopes and adjust them."},
        {404, "NOT_FOUND", "Not found", "Requested resource not found.", "Check the request URL."},
        {405, "METHOD_NOT_ALLOWED", "Method not allowed",
         "Requested method is not supported for this resource.", "Check the request method."},
        {413, "BAD_REQUEST", "Request entity too large", "Request entity too large.",
         "Send a smaller request."},
        {429, "TOO_MANY_REQUESTS", "Too many requests", "Too many requests sent.",
         "Check request rate limit specified in the API endpoint documentation resource."},
        {500, "GENERAL_ERROR", "Something went wrong. Please contact support.",
         "Something went wrong.", "Contact the support."},
        {503, "SERVICE_UNAVAILABLE", "Service unavailable", "Service is temporarily unavailable.",
         "Try again later."},
    };
    size_t i = 0;
    size_t n = sizeof(known) / sizeof(known[0]);
    while (i < n && known[i].status != status)
        i++;
    const char *legacy_id =
        i < n ? known[i].legacy_id : (status >= 500 ? "GENERAL_ERROR" : "BAD_REQUEST");
    const char *legacy_text =
        i < n ? known[i].legacy_text : (status >= 500 ? "Something went wrong." : "Bad request");
    const char *description = i < n ? known[i].description : "Request failed.";
    const char *action = i < n ? known[i].action : "Contact the support.";
    if (new_format) {
        json_t *resources = json_array();
        if (status == 401)
            json_array_append_new(resources,
                                  json_pack("{s:s,s:s}", "name", "API Authentication", "url",
                                            "https://www.infobip.com/docs/essentials/"
                                            "api-authentication"));
        if (status == 429)
            json_array_append_new(resources, json_pack("{s:s,s:s}", "name",
                                                       "Throttling handling errors", "url",
                                                       "/docs/developer-resources/api-fundamentals/"
                                                       "rate-limits-and-throttling"));
        char code[16];
        snprintf(code, sizeof(code), "E%u", status);
        fake_reply_json(rep, status,
                        json_pack("{s:s,s:s,s:s,s:o,s:o}", "errorCode", code, "description",
                                  description, "action", action, "violations",
                                  details ? details : json_array(), "resources", resources));
        return;
    }
    json_t *exception = json_pack("{s:s,s:s}", "messageId", legacy_id, "text", legacy_text);
    if (exception && details)
        json_object_set_new(exception, "validationErrors", details);
    else
        json_decref(details);
    fake_reply_json(rep, status,
                    json_pack("{s:{s:o}}", "requestError", "serviceException", exception));
}

static void problem(struct problems *p, const char *property, const char *what)
{
    p->n++;
    if (p->new_format) {
        json_array_append_new(p->list,
                              json_pack("{s:s,s:s}", "property", property, "violation", what));
        return;
    }
    json_t *list = json_object_get(p->list, property);
    if (!list) {
        list = json_array();
        json_object_set_new(p->list, property, list);
    }
    json_array_append_new(list, json_string(what));
}

/* Answers 400 when problems were found (and takes over the list); false then. */
static bool problems_ok(struct problems *p, struct fake_reply *rep)
{
    if (p->n == 0) {
        json_decref(p->list);
        p->list = NULL;
        return true;
    }
    fake_infobip_error(rep, p->new_format, 400, p->list);
    p->list = NULL;
    return false;
}

/* A required string of min..max characters; digits only when digits is set. */
static void check_string(struct problems *p, const char *property, const json_t *v, size_t min,
                         size_t max, bool digits)
{
    char what[96];
    if (!json_is_string(v) || (min > 0 && json_string_length(v) == 0)) {
        problem(p, property, "must not be blank");
        return;
    }
    size_t n = json_string_length(v);
    if (n < min || n > max) {
        snprintf(what, sizeof(what), "size must be between %zu and %zu", min, max);
        problem(p, property, what);
        return;
    }
    const char *s = json_string_value(v);
    for (size_t i = 0; digits && i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            problem(p, property,
                    "must be a phone number in international format: digits only, no '+'");
            return;
        }
    }
}

/* An optional messageId (string, at most 200 characters). */
static void check_message_id(struct problems *p, const char *property, const json_t *v)
{
    if (!v || json_is_null(v))
        return;
    if (!json_is_string(v))
        problem(p, property, "must be a string");
    else if (json_string_length(v) > MAX_MESSAGE_ID)
        problem(p, property, "size must be between 0 and 200");
}

/* Checks the destinations of an SMS message. */
static void check_destinations(struct problems *p, const char *prefix, const json_t *dests)
{
    char property[192];
    if (!json_is_array(dests) || json_array_size(dests) == 0) {
        snprintf(property, sizeof(property), "%s.destinations", prefix);
        problem(p, property, "must not be empty");
        return;
    }
    size_t j;
    const json_t *d;
    json_array_foreach(dests, j, d)
    {
        char item[128];
        snprintf(item, sizeof(item), "%s.destinations[%zu]", prefix, j);
        snprintf(property, sizeof(property), "%s.to", item);
        check_string(p, property, json_object_get(d, "to"), 1, MAX_SMS_TO, true);
        snprintf(property, sizeof(property), "%s.messageId", item);
        check_message_id(p, property, json_object_get(d, "messageId"));
    }
}

/* Checks that "messages" is a non-empty array of objects; false when not (problem added). */
static bool check_messages(struct problems *p, const json_t *messages)
{
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        problem(p, "messages", "must not be empty");
        return false;
    }
    size_t i;
    const json_t *m;
    bool ok = true;
    json_array_foreach(messages, i, m)
    {
        if (!json_is_object(m)) {
            char property[64];
            snprintf(property, sizeof(property), "messages[%zu]", i);
            problem(p, property, "must not be null");
            ok = false;
        }
    }
    return ok;
}

static bool is_gsm_basic(uint32_t cp)
{
    static const uint16_t extra[] = {
        0xA3,  0xA5,  0xE8,  0xE9,  0xF9,  0xEC,  0xF2,  0xC7,  0xD8,  0xF8, 0xC5, 0xE5, 0x394,
        0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6, 0xDF, 0xC9,
        0xA4,  0xA1,  0xC4,  0xD6,  0xD1,  0xDC,  0xA7,  0xBF,  0xE4,  0xF6, 0xF1, 0xFC, 0xE0};
    if (cp == '\n' || cp == '\r')
        return true;
    if (cp >= 0x20 && cp < 0x7F)
        return cp != '`' && !strchr("^{}\\[]~|", (int)cp);
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        if (extra[i] == cp)
            return true;
    }
    return false;
}

/* Septets a code point takes in GSM-7: 1, 2 (escape table) or 0 (not GSM-7). */
static int gsm_width(uint32_t cp)
{
    if (is_gsm_basic(cp))
        return 1;
    if ((cp < 0x7F && strchr("^{}\\[]~|", (int)cp)) || cp == 0x20AC)
        return 2;
    return 0;
}

/* Decodes one UTF-8 sequence (input already valid, jansson checked it); returns its length. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
          ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
}

/* SMS parts a text needs: GSM-7 160 / 153 per part, otherwise UCS-2 70 / 67. */
static long sms_segments(const char *text)
{
    long septets = 0, units = 0;
    bool gsm = true;
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        uint32_t cp;
        s += utf8_next(s, &cp);
        units += cp > 0xFFFF ? 2 : 1;
        int w = gsm ? gsm_width(cp) : 0;
        if (w == 0)
            gsm = false;
        septets += w;
    }
    if (gsm)
        return septets <= 160 ? 1 : (septets + 152) / 153;
    return units <= 70 ? 1 : (units + 66) / 67;
}

static json_t *status_object(enum verdict v, bool whatsapp)
{
    if (v == REJECTED_DESTINATION)
        return json_pack("{s:i,s:s,s:i,s:s,s:s}", "groupId", 5, "groupName", "REJECTED", "id", 52,
                         "name", "REJECTED_DESTINATION", "description",
                         "Invalid destination address");
    if (v == REJECTED_DUPLICATE)
        return json_pack("{s:i,s:s,s:i,s:s,s:s}", "groupId", 5, "groupName", "REJECTED", "id", 23,
                         "name", "REJECTED_DUPLICATE_MESSAGE_ID", "description",
                         "Duplicate message ID");
    if (whatsapp)
        return json_pack("{s:i,s:s,s:i,s:s,s:s}", "groupId", 1, "groupName", "PENDING", "id", 7,
                         "name", "PENDING_ENROUTE", "description", "Message sent to next instance");
    return json_pack("{s:i,s:s,s:i,s:s,s:s}", "groupId", 1, "groupName", "PENDING", "id", 26,
                     "name", "PENDING_ACCEPTED", "description", "Message sent to next instance");
}

/* The "error" object that goes with a REJECTED status. */
static json_t *rejected_error(void)
{
    return json_pack("{s:i,s:s,s:i,s:s,s:s,s:b}", "groupId", 2, "groupName", "USER_ERRORS", "id",
                     351, "name", "EC_INVALID_DESTINATION_ADDRESS", "description",
                     "Invalid destination address", "permanent", 1);
}

/* The "error" object of a log entry: none. */
static json_t *no_error(void)
{
    return json_pack("{s:i,s:s,s:i,s:s,s:s,s:b}", "groupId", 0, "groupName", "OK", "id", 0, "name",
                     "NO_ERROR", "description", "No Error", "permanent", 0);
}

/* A message's status (and error, when its destination was refused) added to an answer item. */
static void add_status(json_t *item, enum verdict v, bool whatsapp)
{
    if (!item)
        return;
    json_object_set_new(item, "status", status_object(v, whatsapp));
    if (v == REJECTED_DESTINATION)
        json_object_set_new(item, "error", rejected_error());
}

static bool is_rejected(const struct fake_request *req, const char *to)
{
    return req->reject && (!req->reject_to || fake_recipient_matches(to, req->reject_to));
}

/* Decides on one message for recipient to; id is the client's messageId (given) or a
 * generated one. An accepted message is counted under id for GET /_control/accepted; with
 * infobip_dedup, a given messageId accepted before on this channel is refused instead. */
static enum verdict judge(struct fake_ctx *ctx, const struct fake_request *req, const char *to,
                          const char *given, const char *id)
{
    if (is_rejected(req, to))
        return REJECTED_DESTINATION;
    bool dedup = given && atomic_load(&ctx->infobip_dedup);
    if (!fake_store_accept_key(ctx->store, fake_channel_of(req->path), id, dedup))
        return REJECTED_DUPLICATE;
    return ACCEPTED;
}

/* Counts one answered message; a messageId the client chose is checked for duplicates on the
 * request's channel. */
static void tally_message(struct fake_ctx *ctx, const struct fake_request *req, struct tally *t,
                          const char *given_id, enum verdict v)
{
    if (v != ACCEPTED) {
        t->rejected++;
        return;
    }
    t->accepted++;
    if (given_id)
        fake_store_note_message_id(ctx->store, fake_channel_of(req->path), given_id);
    else
        t->unique++;
}

static void set_opt(json_t *rec, const char *name, json_t *value)
{
    if (rec && value && !json_is_null(value))
        json_object_set(rec, name, value);
}

/* Adds what a request's tally says to the store's counters and to the reply. */
static void settle(struct fake_ctx *ctx, const struct tally *t, struct fake_reply *rep)
{
    fake_store_count_messages(ctx->store, t->accepted, t->unique, t->rejected);
    rep->accepted = t->accepted;
}

/* A record with the fields every Infobip message has. */
static json_t *new_record(const struct fake_request *req, const char *message_id, const char *to,
                          const char *bulk_id, enum verdict v, bool whatsapp)
{
    static const char *const rejected[] = {[REJECTED_DESTINATION] = "REJECTED_DESTINATION",
                                           [REJECTED_DUPLICATE] = "REJECTED_DUPLICATE_MESSAGE_ID"};
    const char *status =
        v != ACCEPTED ? rejected[v] : (whatsapp ? "PENDING_ENROUTE" : "PENDING_ACCEPTED");
    return json_pack("{s:s,s:s,s:s,s:s,s:s*,s:s,s:I}", "endpoint", req->path, "key", message_id,
                     "messageId", message_id, "to", to, "bulkId", bulk_id, "status", status,
                     "received_at", (json_int_t)fake_now_ms());
}

/* The request's bulkId, or a generated one written to buf. */
static const char *bulk_id_of(const json_t *given, char buf[static FAKE_NUMERIC_SIZE])
{
    const char *s = json_string_value(given);
    if (s)
        return s;
    fake_numeric_id(buf);
    return buf;
}

/* Logs one accepted SMS for GET /sms/3/logs: a LogResponse item with what the fake knows
 * (sender, platform and campaignReferenceId when the request had them). */
static void log_sms(struct fake_ctx *ctx, const char *id, const char *to, json_t *sender,
                    const char *bulk_id, json_t *text, long count, json_t *platform,
                    json_t *campaign)
{
    char sent_at[FAKE_TIME_SIZE];
    fake_infobip_time(fake_now_ms(), sent_at);
    json_t *entry =
        json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:{s:O}}", "messageId", id, "destination", to,
                  "bulkId", bulk_id, "sentAt", sent_at, "messageCount", (json_int_t)count, "status",
                  status_object(ACCEPTED, false), "error", no_error(), "content", "text", text);
    if (json_is_string(sender))
        set_opt(entry, "sender", sender);
    if (json_is_object(platform))
        set_opt(entry, "platform", platform);
    if (json_is_string(campaign))
        set_opt(entry, "campaignReferenceId", campaign);
    fake_logs_add(ctx->logs, entry);
}

/* {"entityId","applicationId"} from a v2 message's own fields; NULL when it has neither. */
static json_t *platform_v2(const json_t *m)
{
    json_t *entity = json_object_get(m, "entityId");
    json_t *application = json_object_get(m, "applicationId");
    if (!json_is_string(entity) && !json_is_string(application))
        return NULL;
    json_t *platform = json_object();
    if (json_is_string(entity))
        set_opt(platform, "entityId", entity);
    if (json_is_string(application))
        set_opt(platform, "applicationId", application);
    return platform;
}

static void send_sms3(struct fake_ctx *ctx, const struct fake_request *req, struct fake_reply *rep)
{
    struct problems p = {.new_format = true, .list = json_array()};
    json_t *messages = json_object_get(req->json, "messages");
    char prefix[64], property[96];
    if (check_messages(&p, messages)) {
        size_t i;
        json_t *m;
        json_array_foreach(messages, i, m)
        {
            snprintf(prefix, sizeof(prefix), "messages[%zu]", i);
            json_t *sender = json_object_get(m, "sender");
            if (sender && !json_is_string(sender)) {
                snprintf(property, sizeof(property), "%s.sender", prefix);
                problem(&p, property, "must be a string");
            }
            check_destinations(&p, prefix, json_object_get(m, "destinations"));
            snprintf(property, sizeof(property), "%s.content.text", prefix);
            check_string(&p, property, json_object_get(json_object_get(m, "content"), "text"), 1,
                         SIZE_MAX, false);
        }
    }
    if (!problems_ok(&p, rep))
        return;
    struct fake_shared *shared = fake_shared_new(fake_req_record_members(req, true));
    char bulk_buf[FAKE_NUMERIC_SIZE];
    json_t *schedule = json_object_get(json_object_get(req->json, "options"), "schedule");
    const char *bulk_id = bulk_id_of(json_object_get(schedule, "bulkId"), bulk_buf);
    json_t *out = json_array();
    struct tally t = {0};
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        json_t *text = json_object_get(json_object_get(m, "content"), "text");
        json_t *webhooks = json_object_get(m, "webhooks");
        long count = sms_segments(json_string_value(text));
        json_t *dests = json_object_get(m, "destinations");
        size_t j;
        json_t *d;
        json_array_foreach(dests, j, d)
        {
            const char *to = json_string_value(json_object_get(d, "to"));
            const char *given = json_string_value(json_object_get(d, "messageId"));
            char generated[FAKE_UUID_SIZE];
            if (!given)
                fake_uuid(generated);
            const char *id = given ? given : generated;
            enum verdict v = judge(ctx, req, to, given, id);
            json_t *item = json_pack("{s:s,s:s,s:{s:I}}", "messageId", id, "destination", to,
                                     "details", "messageCount", (json_int_t)count);
            add_status(item, v, false);
            json_array_append_new(out, item);
            json_t *rec = new_record(req, id, to, bulk_id, v, false);
            set_opt(rec, "from", json_object_get(m, "sender"));
            set_opt(rec, "sender", json_object_get(m, "sender"));
            set_opt(rec, "text", text);
            set_opt(rec, "notifyUrl",
                    json_object_get(json_object_get(webhooks, "delivery"), "url"));
            set_opt(rec, "callbackData", json_object_get(webhooks, "callbackData"));
            json_object_set_new(rec, "messageCount", json_integer(count));
            fake_store_add_record_with(ctx->store, rec, shared);
            tally_message(ctx, req, &t, given, v);
            if (v == ACCEPTED) {
                json_t *options = json_object_get(m, "options");
                log_sms(ctx, id, to, json_object_get(m, "sender"), bulk_id, text, count,
                        json_object_get(options, "platform"),
                        json_object_get(options, "campaignReferenceId"));
            }
        }
    }
    fake_shared_release(shared);
    settle(ctx, &t, rep);
    fake_reply_json(rep, 200, json_pack("{s:s,s:o}", "bulkId", bulk_id, "messages", out));
}

static void send_sms2(struct fake_ctx *ctx, const struct fake_request *req, struct fake_reply *rep)
{
    struct problems p = {.new_format = false, .list = json_object()};
    json_t *messages = json_object_get(req->json, "messages");
    char prefix[64], property[96];
    if (check_messages(&p, messages)) {
        size_t i;
        json_t *m;
        json_array_foreach(messages, i, m)
        {
            snprintf(prefix, sizeof(prefix), "messages[%zu]", i);
            json_t *from = json_object_get(m, "from");
            if (from && !json_is_string(from)) {
                snprintf(property, sizeof(property), "%s.from", prefix);
                problem(&p, property, "must be a string");
            }
            check_destinations(&p, prefix, json_object_get(m, "destinations"));
            snprintf(property, sizeof(property), "%s.text", prefix);
            check_string(&p, property, json_object_get(m, "text"), 1, SIZE_MAX, false);
        }
    }
    if (!problems_ok(&p, rep))
        return;
    struct fake_shared *shared = fake_shared_new(fake_req_record_members(req, true));
    char bulk_buf[FAKE_NUMERIC_SIZE];
    const char *bulk_id = bulk_id_of(json_object_get(req->json, "bulkId"), bulk_buf);
    bool with_count = json_is_true(json_object_get(req->json, "includeSmsCountInResponse"));
    json_t *out = json_array();
    struct tally t = {0};
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        json_t *text = json_object_get(m, "text");
        long count = sms_segments(json_string_value(text));
        json_t *dests = json_object_get(m, "destinations");
        size_t j;
        json_t *d;
        json_array_foreach(dests, j, d)
        {
            const char *to = json_string_value(json_object_get(d, "to"));
            const char *given = json_string_value(json_object_get(d, "messageId"));
            char generated[FAKE_UUID_SIZE];
            if (!given)
                fake_uuid(generated);
            const char *id = given ? given : generated;
            enum verdict v = judge(ctx, req, to, given, id);
            json_t *item = json_pack("{s:s,s:s}", "to", to, "messageId", id);
            add_status(item, v, false);
            if (with_count && item)
                json_object_set_new(item, "smsCount", json_integer(count));
            json_array_append_new(out, item);
            json_t *rec = new_record(req, id, to, bulk_id, v, false);
            set_opt(rec, "from", json_object_get(m, "from"));
            set_opt(rec, "text", text);
            set_opt(rec, "notifyUrl", json_object_get(m, "notifyUrl"));
            set_opt(rec, "callbackData", json_object_get(m, "callbackData"));
            json_object_set_new(rec, "smsCount", json_integer(count));
            fake_store_add_record_with(ctx->store, rec, shared);
            tally_message(ctx, req, &t, given, v);
            if (v == ACCEPTED) {
                json_t *platform = platform_v2(m);
                log_sms(ctx, id, to, json_object_get(m, "from"), bulk_id, text, count, platform,
                        json_object_get(m, "campaignReferenceId"));
                json_decref(platform);
            }
        }
    }
    fake_shared_release(shared);
    settle(ctx, &t, rep);
    fake_reply_json(rep, 200, json_pack("{s:s,s:o}", "bulkId", bulk_id, "messages", out));
}

/* Checks from, to and messageId of a WhatsApp message (prefix "" or "messages[i]."). */
static void check_whatsapp_common(struct problems *p, const char *prefix, const json_t *m)
{
    char property[160];
    snprintf(property, sizeof(property), "%sfrom", prefix);
    check_string(p, property, json_object_get(m, "from"), 1, MAX_WA_FROM, false);
    snprintf(property, sizeof(property), "%sto", prefix);
    check_string(p, property, json_object_get(m, "to"), 1, MAX_WA_TO, false);
    snprintf(property, sizeof(property), "%smessageId", prefix);
    check_message_id(p, property, json_object_get(m, "messageId"));
}

static void check_template(struct problems *p, const char *prefix, const json_t *content)
{
    char property[160];
    snprintf(property, sizeof(property), "%scontent.templateName", prefix);
    const json_t *name = json_object_get(content, "templateName");
    check_string(p, property, name, 1, MAX_TEMPLATE, false);
    for (const char *c = json_string_value(name); c && *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) {
            problem(p, property, "must match \"^[a-z0-9_]+$\"");
            break;
        }
    }
    snprintf(property, sizeof(property), "%scontent.language", prefix);
    check_string(p, property, json_object_get(content, "language"), 1, 32, false);
    snprintf(property, sizeof(property), "%scontent.templateData.body.placeholders", prefix);
    const json_t *placeholders = json_object_get(
        json_object_get(json_object_get(content, "templateData"), "body"), "placeholders");
    if (!json_is_array(placeholders)) {
        problem(p, property, "must not be null");
        return;
    }
    size_t k;
    const json_t *ph;
    json_array_foreach(placeholders, k, ph)
    {
        char item[192];
        snprintf(item, sizeof(item), "%s[%zu]", property, k);
        check_string(p, item, ph, 1, SIZE_MAX, false);
    }
}

static void send_whatsapp_template(struct fake_ctx *ctx, const struct fake_request *req,
                                   struct fake_reply *rep)
{
    struct problems p = {.new_format = false, .list = json_object()};
    json_t *messages = json_object_get(req->json, "messages");
    if (check_messages(&p, messages)) {
        size_t i;
        json_t *m;
        json_array_foreach(messages, i, m)
        {
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "messages[%zu].", i);
            check_whatsapp_common(&p, prefix, m);
            check_template(&p, prefix, json_object_get(m, "content"));
        }
    }
    if (!problems_ok(&p, rep))
        return;
    struct fake_shared *shared = fake_shared_new(fake_req_record_members(req, true));
    char bulk_buf[FAKE_NUMERIC_SIZE];
    const char *bulk_id = bulk_id_of(json_object_get(req->json, "bulkId"), bulk_buf);
    json_t *out = json_array();
    struct tally t = {0};
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        const char *to = json_string_value(json_object_get(m, "to"));
        const char *given = json_string_value(json_object_get(m, "messageId"));
        char generated[FAKE_UUID_SIZE];
        if (!given)
            fake_uuid(generated);
        const char *id = given ? given : generated;
        enum verdict v = judge(ctx, req, to, given, id);
        json_t *item = json_pack("{s:s,s:i,s:s}", "to", to, "messageCount", 1, "messageId", id);
        add_status(item, v, true);
        json_array_append_new(out, item);
        json_t *content = json_object_get(m, "content");
        json_t *rec = new_record(req, id, to, bulk_id, v, true);
        set_opt(rec, "from", json_object_get(m, "from"));
        set_opt(rec, "template", json_object_get(content, "templateName"));
        set_opt(rec, "language", json_object_get(content, "language"));
        set_opt(rec, "placeholders",
                json_object_get(json_object_get(json_object_get(content, "templateData"), "body"),
                                "placeholders"));
        set_opt(rec, "notifyUrl", json_object_get(m, "notifyUrl"));
        set_opt(rec, "callbackData", json_object_get(m, "callbackData"));
        fake_store_add_record_with(ctx->store, rec, shared);
        tally_message(ctx, req, &t, given, v);
    }
    fake_shared_release(shared);
    settle(ctx, &t, rep);
    fake_reply_json(rep, 200, json_pack("{s:o,s:s}", "messages", out, "bulkId", bulk_id));
}

static void send_whatsapp_text(struct fake_ctx *ctx, const struct fake_request *req,
                               struct fake_reply *rep)
{
    struct problems p = {.new_format = false, .list = json_object()};
    json_t *m = req->json;
    check_whatsapp_common(&p, "", m);
    json_t *text = json_object_get(json_object_get(m, "content"), "text");
    check_string(&p, "content.text", text, 1, MAX_WA_TEXT, false);
    if (!problems_ok(&p, rep))
        return;
    struct fake_shared *shared = fake_shared_new(fake_req_record_members(req, true));
    const char *to = json_string_value(json_object_get(m, "to"));
    const char *given = json_string_value(json_object_get(m, "messageId"));
    char generated[FAKE_UUID_SIZE];
    if (!given)
        fake_uuid(generated);
    const char *id = given ? given : generated;
    enum verdict v = judge(ctx, req, to, given, id);
    json_t *rec = new_record(req, id, to, NULL, v, true);
    set_opt(rec, "from", json_object_get(m, "from"));
    set_opt(rec, "text", text);
    set_opt(rec, "notifyUrl", json_object_get(m, "notifyUrl"));
    set_opt(rec, "callbackData", json_object_get(m, "callbackData"));
    fake_store_add_record_with(ctx->store, rec, shared);
    struct tally t = {0};
    tally_message(ctx, req, &t, given, v);
    fake_shared_release(shared);
    settle(ctx, &t, rep);
    json_t *item = json_pack("{s:s,s:i,s:s}", "to", to, "messageCount", 1, "messageId", id);
    add_status(item, v, true);
    fake_reply_json(rep, 200, item);
}

static void get_balance(struct fake_ctx *ctx, const struct fake_request *req,
                        struct fake_reply *rep)
{
    (void)ctx;
    (void)req;
    fake_reply_json(rep, 200, json_pack("{s:f,s:s}", "balance", 47.5, "currency", "EUR"));
}

/* The limit of a logs request: 50 when absent, 1..1000; -1 when malformed. */
static long logs_limit(const struct fake_request *req)
{
    const char *s = fake_req_query(req, "limit");
    if (!s)
        return LOGS_LIMIT;
    char *end;
    long v = strtol(s, &end, 10);
    return end == s || *end != '\0' || v < 1 || v > LOGS_MAX_LIMIT ? -1 : v;
}

/* GET /sms/3/logs: the logs of accepted SMS, newest first, filtered by messageId and bulkId
 * (each: repeated or comma-separated), destination, sender and generalStatus (all of the
 * fake's logs are PENDING); other filters are ignored. */
static void get_sms_logs(struct fake_ctx *ctx, const struct fake_request *req,
                         struct fake_reply *rep)
{
    static const char *const groups[] = {"ACCEPTED",  "PENDING", "UNDELIVERABLE",
                                         "DELIVERED", "EXPIRED", "REJECTED"};
    struct problems p = {.new_format = true, .list = json_array()};
    long limit = logs_limit(req);
    if (limit < 0)
        problem(&p, "limit", "must be between 1 and 1000");
    const char *status = fake_req_query(req, "generalStatus");
    size_t g = 0, n = sizeof(groups) / sizeof(groups[0]);
    while (status && g < n && strcmp(groups[g], status) != 0)
        g++;
    if (status && g == n)
        problem(&p, "generalStatus",
                "must be one of ACCEPTED, PENDING, UNDELIVERABLE, DELIVERED, EXPIRED, REJECTED");
    if (!problems_ok(&p, rep))
        return;
    if (status && strcmp(status, "PENDING") != 0) {
        fake_reply_json(rep, 200, json_pack("{s:[]}", "results"));
        return;
    }
    struct fake_query_list ids = {0}, bulks = {0};
    char *text = NULL;
    size_t len = 0;
    if (fake_req_query_list(req, "messageId", &ids) == 0 &&
        fake_req_query_list(req, "bulkId", &bulks) == 0) {
        struct fake_log_query q = {
            .message_ids = ids.items,
            .message_id_count = ids.count,
            .bulk_ids = bulks.items,
            .bulk_id_count = bulks.count,
            .destination = fake_req_query(req, "destination"),
            .sender = fake_req_query(req, "sender"),
            .limit = (size_t)limit,
        };
        text = fake_logs_query(ctx->logs, &q, &len);
    }
    fake_query_list_clear(&ids);
    fake_query_list_clear(&bulks);
    if (text)
        fake_reply_text(rep, 200, "application/json", text, len);
    else
        fake_infobip_error(rep, true, 500, NULL);
    free(text);
}

/* Handles a request on an Infobip path (/sms/..., /whatsapp/..., /account/...). */
void fake_infobip_handle(struct fake_ctx *ctx, const struct fake_request *req,
                         struct fake_reply *rep)
{
    static const struct {
        const char *method;
        const char *path;
        infobip_handler handler;
        bool needs_body;
    } routes[] = {
        {"POST", "/sms/3/messages", send_sms3, true},
        {"POST", "/sms/2/text/advanced", send_sms2, true},
        {"POST", "/whatsapp/1/message/template", send_whatsapp_template, true},
        {"POST", "/whatsapp/1/message/text", send_whatsapp_text, true},
        {"GET", "/sms/3/logs", get_sms_logs, false},
        {"GET", "/account/1/balance", get_balance, false},
    };
    bool new_format = req->family == FAKE_INFOBIP_NEW;
    size_t n = sizeof(routes) / sizeof(routes[0]), i = 0;
    while (i < n && strcmp(routes[i].path, req->path) != 0)
        i++;
    if (i == n) {
        fake_infobip_error(rep, new_format, 404, NULL);
        return;
    }
    if (strcmp(routes[i].method, req->method) != 0) {
        fake_infobip_error(rep, new_format, 405, NULL);
        return;
    }
    const char *auth = fake_req_header(req, "Authorization");
    if (!auth || strncmp(auth, "App ", 4) != 0 || strcmp(auth + 4, ctx->infobip_key) != 0) {
        fake_infobip_error(rep, new_format, 401, NULL);
        return;
    }
    if (routes[i].needs_body && !json_is_object(req->json)) {
        fake_infobip_error(rep, new_format, 400, NULL);
        return;
    }
    routes[i].handler(ctx, req, rep);
}
