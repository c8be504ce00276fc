/* The infobip_whatsapp channel plugin on its own: loaded from
 * infobip_whatsapp.so with a fake host, sending to the fake provider
 * (tests/fake_provider, started here): free text inside the 24-hour window,
 * templates outside it, the verdicts, and the callback route with delivery
 * reports (7010 asks for the fallback), seen reports, inbound messages and
 * the marketing opt-out. */
#include "check.h"
#include "fake_provider_client.h"

#include <jansson.h>
#include <stdlib.h>

#define CALLBACK_PATH "/v1/callbacks/acme/whatsapp/tok-77c1"
#define CALLBACK_URL  "https://tidings.example" CALLBACK_PATH
#define TEXT_PATH     "/whatsapp/1/message/text"
#define TEMPLATE_PATH "/whatsapp/1/message/template"

static struct fake_provider fake;

/* Requests the fake received on path since the last reset. */
static long requests_on(const char *path)
{
    json_t *stats = fake_provider_json(&fake, "/_control/stats");
    long n = (long)json_integer_value(json_object_get(json_object_get(stats, "requests"), path));
    json_decref(stats);
    return n;
}

/* The fake's record of the message with this messageId (a new reference), or NULL. */
static json_t *record_of(const char *message_id)
{
    json_t *got = fake_provider_json(&fake, "/_control/messages");
    json_t *found = NULL;
    size_t i;
    json_t *rec;
    json_array_foreach(json_object_get(got, "messages"), i, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "messageId"));
        if (id && strcmp(id, message_id) == 0)
            found = json_incref(rec);
    }
    json_decref(got);
    return found;
}

static const char *str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

/* Builds an instance; NULL (with err) when create() refuses. */
static void *make(const struct td_plugin *p, const struct td_host *host, const char *key,
                  const char *sender, struct td_error *err)
{
    struct td_setting settings[] = {{"api_key", key},
                                    {"base_url", fake.url},
                                    {"sender", sender},
                                    {"timeout", "5000"},
                                    {"reports", "true"}};
    struct td_config cfg = {"acme", "whatsapp", settings, sizeof(settings) / sizeof(settings[0])};
    void *inst = NULL;
    memset(err, 0, sizeof(*err));
    int rc = p->channel->create(host, &cfg, &inst, err);
    CHECK((rc == 0) == (inst != NULL));
    return inst;
}

static const char *const reminder_params[] = {"Frau Müller", "12.05.2026 10:00"};

static struct td_message text_msg(const char *id, const char *key, const char *to, const char *text)
{
    return (struct td_message){.id = id,
                               .idempotency_key = key,
                               .channel = "whatsapp",
                               .to = to,
                               .text = text,
                               .wa_window_open = true};
}

static struct td_message template_msg(const char *id, const char *key, const char *to)
{
    return (struct td_message){.id = id,
                               .idempotency_key = key,
                               .channel = "whatsapp",
                               .to = to,
                               .text = "Erinnerung: Termin morgen",
                               .wa_template = "appointment_reminder",
                               .wa_language = "de",
                               .wa_params = reminder_params,
                               .wa_param_count = 2,
                               .wa_window_open = false};
}

static void test_create(const struct td_plugin *p, const struct td_host *host)
{
    struct td_error err;
    CHECK(make(p, host, "ib_test_key", "4930", &err) == NULL);
    CHECK_HAS(err.message, "sender");
    CHECK(make(p, host, "ib_test_key", "+49-30-123456", &err) == NULL);
    CHECK(make(p, host, "ib_test_key", "WhatsAppName", &err) == NULL);
    void *inst = make(p, host, "ib_test_key", "4930123456789", &err);
    CHECK(inst != NULL);
    CHECK_STR(fake_host_route.path, CALLBACK_PATH);
    p->channel->destroy(inst);
}

static void test_routes(const struct td_plugin *p, void *inst)
{
    CHECK(fake_provider_reset(&fake) == 0);
    struct td_message m[6] = {
        text_msg("w1", "k-wa-1", "+491701234567", "Hallo Frank, bis morgen!"),
        template_msg("w2", "k-wa-2", "+491701234568"),
        template_msg("w3", "k-wa-3", "+491701234569"),
        template_msg("w4", "k-wa-4", "+491701234570"),
        text_msg("w5", "k-wa-5", "+49170", "bad number"),
        text_msg("w6", "k-wa-6", "+491701234571", "Zweite Nachricht"),
    };
    /* the window is open, but there is no text: the template goes */
    m[2].wa_window_open = true;
    m[2].text = NULL;
    /* outside the window without a template: nothing can go */
    m[3].wa_template = NULL;
    struct td_result r[6];
    p->channel->deliver(inst, m, 6, r);
    CHECK(r[0].status == TD_OK);
    CHECK_STR(r[0].provider_id, "k-wa-1");
    CHECK(r[1].status == TD_OK);
    CHECK_STR(r[1].provider_id, "k-wa-2");
    CHECK(r[2].status == TD_OK);
    CHECK_STR(r[2].provider_id, "k-wa-3");
    CHECK(r[3].status == TD_FAIL);
    CHECK_STR(r[3].reason, "outside the 24-hour window and no approved template");
    CHECK(r[4].status == TD_FAIL);
    CHECK_HAS(r[4].reason, "to:");
    CHECK(r[5].status == TD_OK);
    /* one request per text message, one for all template messages */
    CHECK(requests_on(TEXT_PATH) == 2);
    CHECK(requests_on(TEMPLATE_PATH) == 1);

    json_t *t = record_of("k-wa-1");
    CHECK_STR(str(t, "endpoint"), TEXT_PATH);
    CHECK_STR(str(t, "from"), "4930123456789");
    CHECK_STR(str(t, "to"), "491701234567");
    CHECK_STR(str(t, "text"), "Hallo Frank, bis morgen!");
    CHECK_STR(str(t, "notifyUrl"), CALLBACK_URL);
    CHECK_STR(str(t, "callbackData"), "w1");
    json_decref(t);
    json_t *tp = record_of("k-wa-2");
    CHECK_STR(str(tp, "endpoint"), TEMPLATE_PATH);
    CHECK_STR(str(tp, "from"), "4930123456789");
    CHECK_STR(str(tp, "to"), "491701234568");
    CHECK_STR(str(tp, "template"), "appointment_reminder");
    CHECK_STR(str(tp, "language"), "de");
    json_t *ph = json_object_get(tp, "placeholders");
    CHECK(json_array_size(ph) == 2);
    CHECK_STR(json_string_value(json_array_get(ph, 0)), "Frau Müller");
    CHECK_STR(json_string_value(json_array_get(ph, 1)), "12.05.2026 10:00");
    CHECK_STR(str(tp, "notifyUrl"), CALLBACK_URL);
    CHECK_STR(str(tp, "callbackData"), "w2");
    CHECK(str(tp, "text") == NULL);
    json_decref(tp);
    json_t *tp3 = record_of("k-wa-3");
    CHECK_STR(str(tp3, "endpoint"), TEMPLATE_PATH);
    json_decref(tp3);
    json_t *none = record_of("k-wa-4");
    CHECK(none == NULL);
    json_decref(none);
}

static void test_refused_before_sending(const struct td_plugin *p, void *inst)
{
    CHECK(fake_provider_reset(&fake) == 0);
    static const char *const with_empty[] = {"Frau Müller", "  \n "};
    static const char *const with_break[] = {"Hafen\nSteg 3", "12.05.\t10:00"};
    char *long_text = malloc(4098);
    memset(long_text, 'x', 4097);
    long_text[4097] = '\0';
    struct td_message m[5] = {
        template_msg("w1", "k1", "+491701234567"), template_msg("w2", "k2", "+491701234567"),
        template_msg("w3", "k3", "+491701234567"), text_msg("w4", "k4", "+491701234567", long_text),
        template_msg("w5", "k5", "+491701234599"),
    };
    m[0].wa_params = with_empty;
    m[1].wa_template = "Appointment-Reminder";
    m[2].wa_language = NULL;
    m[4].wa_params = with_break;
    struct td_result r[5];
    p->channel->deliver(inst, m, 5, r);
    CHECK(r[0].status == TD_FAIL);
    CHECK_HAS(r[0].reason, "wa_params[1]: empty");
    CHECK(r[1].status == TD_FAIL);
    CHECK_HAS(r[1].reason, "wa_template:");
    CHECK(r[2].status == TD_FAIL);
    CHECK_HAS(r[2].reason, "wa_language:");
    CHECK(r[3].status == TD_FAIL);
    CHECK_HAS(r[3].reason, "text: longer than the 4096 characters");
    /* line breaks and tabs, which WhatsApp refuses in placeholders, become spaces */
    CHECK(r[4].status == TD_OK);
    json_t *rec = record_of("k5");
    json_t *ph = json_object_get(rec, "placeholders");
    CHECK_STR(json_string_value(json_array_get(ph, 0)), "Hafen Steg 3");
    CHECK_STR(json_string_value(json_array_get(ph, 1)), "12.05. 10:00");
    json_decref(rec);
    CHECK(requests_on(TEXT_PATH) == 0);
    CHECK(requests_on(TEMPLATE_PATH) == 1);
    /* exactly 4096 characters are still sent */
    long_text[4096] = '\0';
    p->channel->deliver(inst, &m[3], 1, r);
    CHECK(r[0].status == TD_OK);
    free(long_text);
}

static void test_verdicts(const struct td_plugin *p, void *inst)
{
    struct td_message m[3] = {
        text_msg("w1", "k-text", "+491701234567", "Hallo"),
        template_msg("w2", "k-tpl-ok", "+491701234568"),
        template_msg("w3", "k-tpl-bad", "+491709999999"),
    };
    struct td_result r[3];

    /* REJECTED: the text message, and one of two template messages */
    CHECK(fake_provider_reset(&fake) == 0);
    CHECK(fake_provider_fault(&fake, "[{\"path\":\"" TEXT_PATH "\",\"mode\":\"reject\"},"
                                     "{\"path\":\"" TEMPLATE_PATH
                                     "\",\"mode\":\"reject\",\"to\":\"491709999999\"}]") == 0);
    p->channel->deliver(inst, m, 3, r);
    CHECK(r[0].status == TD_FAIL);
    CHECK_STR(r[0].reason, "REJECTED_DESTINATION (52): Invalid destination address");
    CHECK(r[1].status == TD_OK);
    CHECK_STR(r[1].provider_id, "k-tpl-ok");
    CHECK(r[2].status == TD_FAIL);
    CHECK_HAS(r[2].reason, "REJECTED_DESTINATION (52)");
    CHECK_HAS(fake_host_last_log, "refused: REJECTED_DESTINATION");
    CHECK(strstr(fake_host_last_log, "9999999") == NULL); /* numbers are masked in logs */

    /* 400 in the legacy format on the text endpoint: FAIL naming the field */
    CHECK(fake_provider_fault(
              &fake, "{\"path\":\"" TEXT_PATH "\",\"mode\":\"status\",\"status\":400,\"body\":"
                     "{\"requestError\":{\"serviceException\":{\"messageId\":\"BAD_REQUEST\","
                     "\"text\":\"Bad request\",\"validationErrors\":{\"content.text\":"
                     "[\"size must be between 1 and 4096\",\"must not be blank\"]}}}}}") == 0);
    p->channel->deliver(inst, m, 2, r);
    CHECK(r[0].status == TD_FAIL);
    CHECK(r[0].http_status == 400);
    CHECK_HAS(r[0].reason, "content.text size must be between 1 and 4096, must not be blank");
    CHECK(r[1].status == TD_OK); /* the template request was fine */

    /* 400 in the new format on the template endpoint */
    CHECK(fake_provider_fault(
              &fake, "{\"path\":\"" TEMPLATE_PATH "\",\"mode\":\"status\",\"status\":400,\"body\":"
                     "{\"errorCode\":\"E400\",\"description\":\"Request cannot be processed.\","
                     "\"violations\":[{\"property\":\"messages[0].content.templateName\","
                     "\"violation\":\"template not found\"}]}}") == 0);
    p->channel->deliver(inst, &m[1], 2, r);
    CHECK(r[0].status == TD_FAIL && r[1].status == TD_FAIL);
    CHECK_HAS(r[0].reason, "messages[0].content.templateName template not found");

    /* 429 with Retry-After on the text endpoint; a dropped template request */
    CHECK(fake_provider_fault(&fake,
                              "[{\"path\":\"" TEXT_PATH "\",\"mode\":\"status\",\"status\":429,"
                              "\"retry_after\":3},{\"path\":\"" TEMPLATE_PATH
                              "\",\"mode\":\"drop\"}]") == 0);
    p->channel->deliver(inst, m, 3, r);
    CHECK(r[0].status == TD_RETRY);
    CHECK(r[0].retry_after_ms == 3000);
    CHECK(r[1].status == TD_RETRY && r[2].status == TD_RETRY);
    CHECK(r[1].http_status == 0);

    /* 503 without Retry-After */
    CHECK(fake_provider_fault(&fake, "{\"path\":\"" TEXT_PATH
                                     "\",\"mode\":\"status\",\"status\":503}") == 0);
    p->channel->deliver(inst, m, 1, r);
    CHECK(r[0].status == TD_RETRY);
    CHECK(r[0].retry_after_ms == -1);

    /* a 200 that names REJECTED_DUPLICATE_MESSAGE_ID: sent before, OK */
    CHECK(fake_provider_fault(
              &fake,
              "{\"path\":\"" TEXT_PATH "\",\"mode\":\"status\",\"status\":200,\"body\":"
              "{\"to\":\"491701234567\",\"messageCount\":1,\"messageId\":\"k-text\",\"status\":"
              "{\"groupId\":5,\"groupName\":\"REJECTED\",\"id\":23,\"name\":"
              "\"REJECTED_DUPLICATE_MESSAGE_ID\",\"description\":\"Duplicate\"}}}") == 0);
    p->channel->deliver(inst, m, 1, r);
    CHECK(r[0].status == TD_OK);
    CHECK_STR(r[0].provider_id, "k-text");
}

static void test_credentials(const struct td_plugin *p, const struct td_host *host)
{
    struct td_error err;
    struct td_message m[2] = {
        text_msg("w1", "k-401a", "+491701234567", "Hallo"),
        template_msg("w2", "k-401b", "+491701234568"),
    };
    struct td_result r[2];
    void *bad = make(p, host, "wrong_key", "+4930123456789", &err);
    p->channel->deliver(bad, m, 2, r);
    CHECK(r[0].status == TD_SUSPEND && r[1].status == TD_SUSPEND);
    CHECK(r[0].http_status == 401);
    CHECK_HAS(r[0].reason, "UNAUTHORIZED");
    memset(&err, 0, sizeof(err));
    CHECK(p->channel->check(bad, &err) == -EACCES);
    CHECK_HAS(err.message, "infobip 401");
    p->channel->destroy(bad);
    void *good = make(p, host, "ib_test_key", "+4930123456789", &err);
    memset(&err, 0, sizeof(err));
    CHECK(p->channel->check(good, &err) == 0);
    CHECK_STR(err.message, "balance 47.50 EUR");
    p->channel->destroy(good);
}

static void test_callbacks(void)
{
    struct td_http_response resp = {0};

    /* 7010 (no session) asks for the fallback; a delivered report does not */
    fake_host_reports_clear();
    CHECK(fake_host_call_route(
              "{\"results\":[{\"bulkId\":\"\",\"messageId\":\"k-wa-1\",\"to\":\"491701234567\","
              "\"sentAt\":\"2026-05-12T08:00:00.000+0000\",\"doneAt\":"
              "\"2026-05-12T08:00:05.000+0000\",\"messageCount\":1,\"price\":{\"pricePerMessage\":"
              "0,\"currency\":\"EUR\"},\"status\":{\"groupId\":2,\"groupName\":\"UNDELIVERABLE\","
              "\"id\":9,\"name\":\"UNDELIVERABLE_NOT_DELIVERED\",\"description\":"
              "\"Message sent not delivered\"},\"error\":{\"groupId\":1,\"groupName\":"
              "\"HANDSET_ERRORS\",\"id\":7010,\"name\":\"EC_NO_SESSION\",\"description\":"
              "\"No session\",\"permanent\":true}},"
              "{\"messageId\":\"k-wa-2\",\"to\":\"491701234568\",\"status\":{\"groupId\":5,"
              "\"groupName\":\"REJECTED\",\"id\":6,\"name\":\"REJECTED_NETWORK\"},\"error\":"
              "{\"id\":7009,\"name\":\"EC_INVALID_TEMPLATE\",\"permanent\":false}},"
              "{\"messageId\":\"k-wa-3\",\"to\":\"491701234569\",\"status\":{\"groupId\":2,"
              "\"groupName\":\"UNDELIVERABLE\",\"id\":9,\"name\":\"UNDELIVERABLE_NOT_DELIVERED\"},"
              "\"error\":{\"id\":7003,\"name\":\"EC_BLOCKED_USER\",\"permanent\":true}},"
              "{\"bulkId\":\"\",\"messageId\":\"k-wa-6\",\"to\":\"491701234571\",\"status\":"
              "{\"id\":5,\"groupId\":3,\"groupName\":\"DELIVERED\",\"name\":"
              "\"DELIVERED_TO_HANDSET\",\"description\":\"Message delivered to handset\"},"
              "\"error\":{\"id\":0,\"name\":\"NO_ERROR\",\"groupId\":0,\"groupName\":\"OK\","
              "\"permanent\":false},\"contact\":{\"name\":\"Frank\"}}]}",
              &resp) == 200);
    CHECK_STR(resp.body, "{\"accepted\":4}");
    CHECK(fake_host_report_count == 4);
    struct fake_host_report *nosession = &fake_host_reports[0];
    CHECK(nosession->kind == TD_REPORT_FAILED);
    CHECK_STR(nosession->message_ref, "k-wa-1");
    CHECK_STR(nosession->address, "+491701234567");
    CHECK_STR(nosession->status, "UNDELIVERABLE_NOT_DELIVERED");
    CHECK_STR(nosession->detail, "UNDELIVERABLE_NOT_DELIVERED: EC_NO_SESSION (7010)");
    CHECK(nosession->permanent);
    CHECK(nosession->take_fallback);
    CHECK(nosession->at_ms == 1778572805000LL);
    CHECK(fake_host_reports[1].take_fallback);  /* 7009, an invalid template */
    CHECK(fake_host_reports[1].permanent);      /* REJECTED */
    CHECK(!fake_host_reports[2].take_fallback); /* 7003, blocked: no fallback */
    CHECK(fake_host_reports[3].kind == TD_REPORT_DELIVERED);
    CHECK(!fake_host_reports[3].take_fallback);

    /* seen reports: the customer is the side that is not our number */
    fake_host_reports_clear();
    CHECK(fake_host_call_route(
              "{\"results\":[{\"messageId\":\"k-wa-6\",\"from\":\"491701234571\",\"to\":"
              "\"4930123456789\",\"sentAt\":\"2026-05-12T08:00:00.000+0000\",\"seenAt\":"
              "\"2026-05-12T09:00:00.000+0000\"},{\"messageId\":\"k-wa-7\",\"from\":"
              "\"4930123456789\",\"to\":\"491701234572\",\"seenAt\":"
              "\"2026-05-12T09:00:00.000+0000\"}]}",
              &resp) == 200);
    CHECK(fake_host_report_count == 2);
    CHECK(fake_host_reports[0].kind == TD_REPORT_SEEN);
    CHECK_STR(fake_host_reports[0].message_ref, "k-wa-6");
    CHECK_STR(fake_host_reports[0].address, "+491701234571");
    CHECK(fake_host_reports[0].at_ms == 1778576400000LL);
    CHECK_STR(fake_host_reports[1].address, "+491701234572");

    /* inbound: a text (it opens the window), a button reply, an image */
    fake_host_reports_clear();
    CHECK(fake_host_call_route(
              "{\"results\":[{\"from\":\"491701234567\",\"to\":\"4930123456789\","
              "\"integrationType\":\"WHATSAPP\",\"receivedAt\":\"2026-05-12T09:00:00.000+0000\","
              "\"messageId\":\"wamid.HBgLNDkxNzAxMjM0NTY3FQIAEhggQ0Y=\",\"pairedMessageId\":null,"
              "\"callbackData\":null,\"message\":{\"type\":\"TEXT\",\"text\":\"Ja, gerne!\"},"
              "\"price\":{\"pricePerMessage\":0,\"currency\":\"EUR\"},\"contact\":{\"name\":"
              "\"Frank\"}},{\"from\":\"491701234568\",\"to\":\"4930123456789\","
              "\"integrationType\":\"WHATSAPP\",\"receivedAt\":\"2026-05-12T09:00:00.000+0000\","
              "\"messageId\":\"wamid.2\",\"message\":{\"type\":\"BUTTON\",\"text\":\"STOP\","
              "\"payload\":\"stop\"}},{\"from\":\"491701234569\",\"to\":\"4930123456789\","
              "\"integrationType\":\"WHATSAPP\",\"receivedAt\":\"2026-05-12T09:00:00.000+0000\","
              "\"messageId\":\"wamid.3\",\"message\":{\"type\":\"IMAGE\",\"url\":"
              "\"https://example.org/i.jpg\"}}],\"messageCount\":3,\"pendingMessageCount\":0}",
              &resp) == 200);
    CHECK_STR(resp.body, "{\"accepted\":3}");
    CHECK(fake_host_report_count == 3);
    CHECK(fake_host_reports[0].kind == TD_REPORT_INBOUND);
    CHECK_STR(fake_host_reports[0].address, "+491701234567");
    CHECK_STR(fake_host_reports[0].text, "Ja, gerne!");
    CHECK_STR(fake_host_reports[0].provider_id, "wamid.HBgLNDkxNzAxMjM0NTY3FQIAEhggQ0Y=");
    CHECK(fake_host_reports[0].at_ms == 1778576400000LL);
    CHECK_STR(fake_host_reports[1].text, "STOP");
    CHECK(fake_host_reports[2].kind == TD_REPORT_INBOUND);
    CHECK(fake_host_reports[2].text == NULL);

    /* the marketing opt-out button: an inbound STOP; "resume" is ignored */
    fake_host_reports_clear();
    CHECK(fake_host_call_route(
              "{\"from\":\"4930123456789\",\"content\":{\"sender\":\"4930123456789\",\"from\":"
              "\"385919998888\",\"notificationMessagesStatus\":\"stop\",\"description\":"
              "\"User requested to stop marketing messages\"},\"createdAt\":"
              "\"2026-05-12T09:00:00.000+0000\"}",
              &resp) == 200);
    CHECK_STR(resp.body, "{\"accepted\":1}");
    CHECK(fake_host_report_count == 1);
    CHECK(fake_host_reports[0].kind == TD_REPORT_INBOUND);
    CHECK_STR(fake_host_reports[0].address, "+385919998888");
    CHECK_STR(fake_host_reports[0].text, "STOP");
    CHECK(fake_host_reports[0].at_ms == 1778576400000LL);
    fake_host_reports_clear();
    CHECK(fake_host_call_route("{\"from\":\"4930123456789\",\"content\":{\"from\":\"385919998888\","
                               "\"notificationMessagesStatus\":\"resume\"}}",
                               &resp) == 200);
    CHECK_STR(resp.body, "{\"accepted\":0}");
    CHECK(fake_host_report_count == 0);

    /* malformed JSON: 400 */
    CHECK(fake_host_call_route("results: none", &resp) == 400);
    CHECK(fake_host_report_count == 0);

    /* the engine cannot apply it yet: 503 with Retry-After */
    fake_host_report_verdict = TD_REPORT_LATER;
    CHECK(fake_host_call_route("{\"results\":[{\"messageId\":\"k-wa-6\",\"from\":\"491701234571\","
                               "\"to\":\"4930123456789\",\"seenAt\":"
                               "\"2026-05-12T09:00:00.000+0000\"}]}",
                               &resp) == 503);
    CHECK_STR(fake_host_response_header(&resp, "Retry-After"), "30");
    fake_host_reports_clear();
    fake_host_response_clear(&resp);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    void *handle;
    const struct td_plugin *p = fake_host_load(PLUGIN_DIR "/infobip_whatsapp.so", &handle);
    CHECK(p != NULL);
    if (!p)
        return check_exit("test_infobip_whatsapp");
    CHECK_STR(p->name, "infobip_whatsapp");
    CHECK_STR(p->serves[0], "whatsapp");
    CHECK(p->serves[1] == NULL);
    if (fake_provider_start(FAKE_BIN, &fake) < 0) {
        CHECK(!"fake provider started");
        return check_exit("test_infobip_whatsapp");
    }

    struct td_host host = fake_host_make("acme", "whatsapp");
    host.callback_path = CALLBACK_PATH;
    host.callback_url = CALLBACK_URL;
    test_create(p, &host);

    struct td_error err;
    void *inst = make(p, &host, "ib_test_key", "+4930123456789", &err);
    CHECK(inst != NULL);
    test_routes(p, inst);
    test_refused_before_sending(p, inst);
    test_verdicts(p, inst);
    test_callbacks(); /* the route the last create() registered */
    p->channel->destroy(inst);
    test_credentials(p, &host);

    /* a callback URL longer than Infobip's notifyUrl limit: sent without it */
    char long_url[2200];
    snprintf(long_url, sizeof(long_url), "https://tidings.example/%02090d", 0);
    host.callback_url = long_url;
    CHECK(fake_provider_reset(&fake) == 0);
    void *longer = make(p, &host, "ib_test_key", "+4930123456789", &err);
    CHECK_HAS(fake_host_last_log, "longer than the 2048");
    struct td_message m = text_msg("w9", "k-long", "+491701234567", "Hallo");
    struct td_result r;
    p->channel->deliver(longer, &m, 1, &r);
    CHECK(r.status == TD_OK);
    json_t *rec = record_of("k-long");
    CHECK(rec && str(rec, "notifyUrl") == NULL);
    json_decref(rec);
    p->channel->destroy(longer);

    p->channel->destroy(NULL); /* destroy(NULL) is a no-op */
    CHECK(fake_provider_stop(&fake) == 0);
    dlclose(handle);
    curl_global_cleanup();
    return check_exit("test_infobip_whatsapp");
}
