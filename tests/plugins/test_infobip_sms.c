/* The infobip_sms channel plugin on its own: loaded from infobip_sms.so with
 * a fake host, sending to the fake provider (tests/fake_provider, started
 * here) and checked against what the fake recorded; its callback route is
 * called with synthetic delivery reports and inbound messages. */
#include "check.h"
#include "fake_provider_client.h"

#include <jansson.h>
#include <stdlib.h>

#define CALLBACK_PATH "/v1/callbacks/acme/sms/tok-3f9a"
#define CALLBACK_URL  "https://tidings.example" CALLBACK_PATH

static struct fake_provider fake;

/* How many provider requests the fake received since the last reset. */
static long requests_total(void)
{
    json_t *stats = fake_provider_json(&fake, "/_control/stats");
    long n = 0;
    const char *path;
    json_t *v;
    json_object_foreach(json_object_get(stats, "requests"), path, v) n +=
        (long)json_integer_value(v);
    json_decref(stats);
    return n;
}

static const char *rec_str(const json_t *records, size_t i, const char *field)
{
    return json_string_value(json_object_get(json_array_get(records, i), field));
}

/* Builds an instance; NULL (with err) when create() refuses. */
static void *make(const struct td_plugin *p, const struct td_host *host, const char *key,
                  const char *sender, const char *reports, struct td_error *err)
{
    struct td_setting settings[] = {{"api_key", key},
                                    {"base_url", fake.url},
                                    {"sender", sender},
                                    {"timeout", "5000"},
                                    {"reports", reports}};
    struct td_config cfg = {"acme", "sms", settings, sizeof(settings) / sizeof(settings[0])};
    void *inst = NULL;
    memset(err, 0, sizeof(*err));
    int rc = p->channel->create(host, &cfg, &inst, err);
    CHECK((rc == 0) == (inst != NULL));
    return inst;
}

static struct td_message sms(const char *id, const char *key, const char *to, const char *text)
{
    return (struct td_message){
        .id = id, .idempotency_key = key, .channel = "sms", .to = to, .text = text};
}

static void test_create(const struct td_plugin *p, const struct td_host *host)
{
    struct td_error err;
    CHECK(make(p, host, "ib_test_key", "Segelschule Haff", "true", &err) == NULL);
    CHECK_HAS(err.message, "sender");
    CHECK_HAS(err.message, "3 to 11");
    CHECK(make(p, host, "ib_test_key", "Haff!", "true", &err) == NULL);
    CHECK_HAS(err.message, "letters, digits");
    CHECK(make(p, host, "ib_test_key", "+491701234567890", "true", &err) == NULL);
    CHECK_HAS(err.message, "14 digits");
    CHECK(make(p, host, "ib_test_key", "AB", "true", &err) == NULL);
    int before = fake_host_route.registered;
    void *inst = make(p, host, "ib_test_key", "+4915112345678", "true", &err);
    CHECK(inst != NULL);
    CHECK(fake_host_route.registered == before + 1);
    CHECK_STR(fake_host_route.method, "POST");
    CHECK_STR(fake_host_route.path, CALLBACK_PATH);
    p->channel->destroy(inst);
}

static void test_send(const struct td_plugin *p, void *inst)
{
    CHECK(fake_provider_reset(&fake) == 0);
    struct td_message m[3] = {
        sms("m1", "k-sms-1", "+491701234567", "Hallo Anna, bis morgen um 10:00."),
        sms("m2", "k-sms-2", "0171 1234567", "Hallo"),
        sms("m3", "k-sms-3", "+4915112345678", "Grüße aus dem Hafen"),
    };
    struct td_result r[3];
    p->channel->deliver(inst, m, 3, r);
    CHECK(r[0].status == TD_OK);
    CHECK_STR(r[0].provider_id, "k-sms-1");
    CHECK(r[0].http_status == 200);
    CHECK(r[1].status == TD_FAIL);
    CHECK_HAS(r[1].reason, "to: not an E.164 number");
    CHECK(r[1].http_status == 0);
    CHECK(r[2].status == TD_OK);
    CHECK_STR(r[2].provider_id, "k-sms-3");
    CHECK(requests_total() == 1); /* one request for the chunk */

    json_t *got = fake_provider_json(&fake, "/_control/messages");
    json_t *records = json_object_get(got, "messages");
    CHECK(json_array_size(records) == 2);
    CHECK_STR(rec_str(records, 0, "endpoint"), "/sms/3/messages");
    CHECK_STR(rec_str(records, 0, "to"), "491701234567");
    CHECK_STR(rec_str(records, 0, "messageId"), "k-sms-1");
    CHECK_STR(rec_str(records, 0, "sender"), "Segelschule");
    CHECK_STR(rec_str(records, 0, "text"), "Hallo Anna, bis morgen um 10:00.");
    CHECK_STR(rec_str(records, 0, "notifyUrl"), CALLBACK_URL);
    CHECK_STR(rec_str(records, 0, "callbackData"), "m1");
    CHECK_STR(rec_str(records, 1, "to"), "4915112345678");
    CHECK_STR(rec_str(records, 1, "text"), "Grüße aus dem Hafen");
    CHECK_STR(rec_str(records, 1, "callbackData"), "m3");
    json_decref(got);
}

static void test_refused_before_sending(const struct td_plugin *p, void *inst)
{
    CHECK(fake_provider_reset(&fake) == 0);
    char *long_text = malloc(4002);
    memset(long_text, 'x', 4001);
    long_text[4001] = '\0';
    struct td_message m[5] = {
        sms("m1", "k1", "+49170", "too short a number"),
        sms("m2", "k2", "+4917012345678901", "too long a number"),
        sms("m3", "k3", "+491701234567", ""),
        sms("m4", "k4", "+491701234567", long_text),
        sms("m5", "k5", "491701234567", "no plus"),
    };
    struct td_result r[5];
    p->channel->deliver(inst, m, 5, r);
    for (int i = 0; i < 5; i++)
        CHECK(r[i].status == TD_FAIL);
    CHECK_HAS(r[0].reason, "to:");
    CHECK_HAS(r[1].reason, "to:");
    CHECK_HAS(r[2].reason, "text: empty");
    CHECK_HAS(r[3].reason, "text: longer than the 4000 bytes");
    CHECK_HAS(r[4].reason, "to:");
    CHECK(requests_total() == 0);
    /* exactly 4000 bytes is still sent */
    long_text[4000] = '\0';
    p->channel->deliver(inst, &m[3], 1, r);
    CHECK(r[0].status == TD_OK);
    free(long_text);
}

static void test_verdicts(const struct td_plugin *p, void *inst)
{
    struct td_message m[2] = {
        sms("m1", "k-ok", "+491701234567", "Hallo"),
        sms("m2", "k-bad", "+491709999999", "Hallo"),
    };
    struct td_result r[2];

    /* REJECTED for one destination: FAIL with the status; the other is sent */
    CHECK(fake_provider_reset(&fake) == 0);
    CHECK(fake_provider_fault(
              &fake,
              "{\"path\":\"/sms/3/messages\",\"mode\":\"reject\",\"to\":\"491709999999\"}") == 0);
    p->channel->deliver(inst, m, 2, r);
    CHECK(r[0].status == TD_OK);
    CHECK(r[1].status == TD_FAIL);
    CHECK_STR(r[1].reason, "REJECTED_DESTINATION (52): Invalid destination address");
    CHECK_HAS(fake_host_last_log, "refused: REJECTED_DESTINATION");
    CHECK(strstr(fake_host_last_log, "9999999") == NULL); /* numbers are masked in logs */

    /* REJECTED_DUPLICATE_MESSAGE_ID: that messageId was sent before, so it is OK */
    CHECK(fake_provider_reset(&fake) == 0);
    CHECK(fake_provider_fault(
              &fake,
              "{\"path\":\"/sms/3/messages\",\"mode\":\"status\",\"status\":200,\"body\":"
              "{\"bulkId\":\"b1\",\"messages\":[{\"messageId\":\"k-ok\",\"destination\":"
              "\"491701234567\",\"status\":{\"groupId\":5,\"groupName\":\"REJECTED\",\"id\":23,"
              "\"name\":\"REJECTED_DUPLICATE_MESSAGE_ID\",\"description\":\"Duplicate\"}}]}}") ==
          0);
    p->channel->deliver(inst, m, 1, r);
    CHECK(r[0].status == TD_OK);
    CHECK_STR(r[0].provider_id, "k-ok");

    /* 400 in the new format: FAIL naming the violation */
    CHECK(fake_provider_fault(
              &fake, "{\"path\":\"/sms/3/messages\",\"mode\":\"status\",\"status\":400,\"body\":"
                     "{\"errorCode\":\"E400\",\"description\":\"Request cannot be processed.\","
                     "\"violations\":[{\"property\":\"messages[0].sender\",\"violation\":"
                     "\"must be a registered sender\"}],\"resources\":[]}}") == 0);
    p->channel->deliver(inst, m, 2, r);
    CHECK(r[0].status == TD_FAIL && r[1].status == TD_FAIL);
    CHECK(r[0].http_status == 400);
    CHECK_HAS(r[0].reason, "E400");
    CHECK_HAS(r[0].reason, "messages[0].sender must be a registered sender");

    /* 400 in the legacy format: FAIL naming the validation error */
    CHECK(fake_provider_fault(
              &fake,
              "{\"path\":\"/sms/3/messages\",\"mode\":\"status\",\"status\":400,\"body\":"
              "{\"requestError\":{\"serviceException\":{\"messageId\":\"BAD_REQUEST\",\"text\":"
              "\"Bad request\",\"validationErrors\":{\"messages[0].destinations[0].to\":"
              "[\"must not be blank\"]}}}}}") == 0);
    p->channel->deliver(inst, m, 1, r);
    CHECK(r[0].status == TD_FAIL);
    CHECK_HAS(r[0].reason, "BAD_REQUEST");
    CHECK_HAS(r[0].reason, "messages[0].destinations[0].to must not be blank");

    /* 429 with Retry-After: RETRY after that long */
    CHECK(fake_provider_fault(&fake,
                              "{\"path\":\"/sms/3/messages\",\"mode\":\"status\",\"status\":429,"
                              "\"retry_after\":7}") == 0);
    p->channel->deliver(inst, m, 2, r);
    CHECK(r[0].status == TD_RETRY && r[1].status == TD_RETRY);
    CHECK(r[0].retry_after_ms == 7000);
    CHECK(r[0].http_status == 429);
    CHECK_HAS(r[0].reason, "E429");

    /* 500: RETRY, the engine's backoff decides */
    CHECK(fake_provider_fault(
              &fake, "{\"path\":\"/sms/3/messages\",\"mode\":\"status\",\"status\":500}") == 0);
    p->channel->deliver(inst, m, 1, r);
    CHECK(r[0].status == TD_RETRY);
    CHECK(r[0].retry_after_ms == -1);

    /* a dropped connection: RETRY without an HTTP status */
    CHECK(fake_provider_fault(&fake, "{\"path\":\"/sms/3/messages\",\"mode\":\"drop\"}") == 0);
    p->channel->deliver(inst, m, 1, r);
    CHECK(r[0].status == TD_RETRY);
    CHECK(r[0].http_status == 0);
    CHECK_HAS(r[0].reason, "infobip unreachable");

    /* a deadline shortens the call: a slow answer is given up before it */
    CHECK(fake_provider_fault(
              &fake, "{\"path\":\"/sms/3/messages\",\"mode\":\"slow\",\"delay_ms\":3000}") == 0);
    struct td_message late = m[0];
    late.deadline_ms = fake_host_now_ms(NULL) + 400;
    int64_t started = fake_host_now_ms(NULL);
    p->channel->deliver(inst, &late, 1, r);
    CHECK(r[0].status == TD_RETRY);
    CHECK(fake_host_now_ms(NULL) - started < 1500);

    /* after the faults, the same messages go through */
    p->channel->deliver(inst, m, 2, r);
    CHECK(r[0].status == TD_OK && r[1].status == TD_OK);
}

static void test_credentials_and_reports(const struct td_plugin *p, struct td_host *host)
{
    struct td_error err;
    struct td_message m = sms("m1", "k-401", "+491701234567", "Hallo");
    struct td_result r;

    /* a wrong key: SUSPEND, and check() says why */
    void *bad = make(p, host, "wrong_key", "Segelschule", "true", &err);
    p->channel->deliver(bad, &m, 1, &r);
    CHECK(r.status == TD_SUSPEND);
    CHECK(r.http_status == 401);
    CHECK_HAS(r.reason, "E401");
    CHECK(strstr(fake_host_last_log, "wrong_key") == NULL);
    memset(&err, 0, sizeof(err));
    CHECK(p->channel->check(bad, &err) == -EACCES);
    CHECK_HAS(err.message, "infobip 401");
    p->channel->destroy(bad);

    /* check() with the right key reads the balance */
    void *good = make(p, host, "ib_test_key", "Segelschule", "true", &err);
    memset(&err, 0, sizeof(err));
    CHECK(p->channel->check(good, &err) == 0);
    CHECK_STR(err.message, "balance 47.50 EUR");
    p->channel->destroy(good);

    /* reports = false, or no callback URL: no webhooks in the request */
    CHECK(fake_provider_reset(&fake) == 0);
    void *quiet = make(p, host, "ib_test_key", "Segelschule", "false", &err);
    p->channel->deliver(quiet, &m, 1, &r);
    CHECK(r.status == TD_OK);
    p->channel->destroy(quiet);
    host->callback_url = NULL;
    void *nourl = make(p, host, "ib_test_key", "Segelschule", "true", &err);
    p->channel->deliver(nourl, &m, 1, &r);
    CHECK(r.status == TD_OK);
    p->channel->destroy(nourl);
    host->callback_url = CALLBACK_URL;
    json_t *got = fake_provider_json(&fake, "/_control/messages");
    json_t *records = json_object_get(got, "messages");
    CHECK(json_array_size(records) == 2);
    CHECK(rec_str(records, 0, "notifyUrl") == NULL);
    CHECK(rec_str(records, 0, "callbackData") == NULL);
    CHECK(rec_str(records, 1, "notifyUrl") == NULL);
    json_decref(got);
}

static void test_callbacks(void)
{
    struct td_http_response resp = {0};

    /* a delivered and an undeliverable report in one body */
    fake_host_reports_clear();
    CHECK(fake_host_call_route(
              "{\"results\":[{\"bulkId\":\"b1\",\"messageId\":\"k-sms-1\",\"to\":\"491701234567\","
              "\"sender\":\"Segelschule\",\"sentAt\":\"2026-05-12T08:00:00.000+0000\","
              "\"doneAt\":\"2026-05-12T08:00:05.000+0000\",\"messageCount\":1,"
              "\"callbackData\":\"m1\",\"price\":{\"pricePerMessage\":0.07,\"currency\":\"EUR\"},"
              "\"status\":{\"groupId\":3,\"groupName\":\"DELIVERED\",\"id\":5,\"name\":"
              "\"DELIVERED_TO_HANDSET\",\"description\":\"Message delivered to handset\"},"
              "\"error\":{\"groupId\":0,\"groupName\":\"OK\",\"id\":0,\"name\":\"NO_ERROR\","
              "\"description\":\"No Error\",\"permanent\":false}},"
              "{\"bulkId\":\"b1\",\"messageId\":\"k-sms-3\",\"to\":\"4915112345678\","
              "\"doneAt\":\"2026-05-12T09:00:00.250+0200\",\"status\":{\"groupId\":2,"
              "\"groupName\":\"UNDELIVERABLE\",\"id\":9,\"name\":\"UNDELIVERABLE_NOT_DELIVERED\","
              "\"description\":\"Message sent not delivered\"},\"error\":{\"groupId\":1,"
              "\"groupName\":\"HANDSET_ERRORS\",\"id\":1,\"name\":\"EC_UNKNOWN_SUBSCRIBER\","
              "\"description\":\"Unknown subscriber\",\"permanent\":true}}]}",
              &resp) == 200);
    CHECK_STR(resp.body, "{\"accepted\":2}");
    CHECK(fake_host_report_count == 2);
    struct fake_host_report *d = &fake_host_reports[0];
    CHECK(d->kind == TD_REPORT_DELIVERED);
    CHECK_STR(d->message_ref, "k-sms-1");
    CHECK_STR(d->address, "+491701234567");
    CHECK_STR(d->status, "DELIVERED_TO_HANDSET");
    CHECK(d->detail == NULL);
    CHECK(!d->take_fallback);
    CHECK(d->at_ms == 1778572805000LL);
    struct fake_host_report *f = &fake_host_reports[1];
    CHECK(f->kind == TD_REPORT_FAILED);
    CHECK_STR(f->message_ref, "k-sms-3");
    CHECK_STR(f->address, "+4915112345678");
    CHECK_STR(f->detail, "UNDELIVERABLE_NOT_DELIVERED: EC_UNKNOWN_SUBSCRIBER (1)");
    CHECK(f->permanent);
    CHECK(!f->take_fallback); /* SMS failures do not ask for the fallback */
    CHECK(f->at_ms == 1778569200250LL);
    CHECK(f->event_id && strcmp(f->event_id, d->event_id) != 0);

    /* a pending report is DELAYED; REJECTED is permanent even without the flag */
    fake_host_reports_clear();
    CHECK(fake_host_call_route(
              "{\"results\":[{\"messageId\":\"k1\",\"to\":\"491701234567\",\"status\":"
              "{\"groupId\":1,\"groupName\":\"PENDING\",\"id\":3,\"name\":"
              "\"PENDING_WAITING_DELIVERY\"}},{\"messageId\":\"k2\",\"to\":\"491701234567\","
              "\"status\":{\"groupId\":5,\"groupName\":\"REJECTED\",\"id\":10,\"name\":"
              "\"REJECTED_DND\"},\"error\":{\"id\":2052,\"name\":"
              "\"EC_BLACKLISTED_DESTINATIONADDRESS\",\"permanent\":false}}]}",
              &resp) == 200);
    CHECK(fake_host_report_count == 2);
    CHECK(fake_host_reports[0].kind == TD_REPORT_DELAYED);
    CHECK(fake_host_reports[1].kind == TD_REPORT_FAILED);
    CHECK(fake_host_reports[1].permanent);
    CHECK_STR(fake_host_reports[1].detail,
              "REJECTED_DND: EC_BLACKLISTED_DESTINATIONADDRESS (2052)");

    /* an inbound STOP (MO_JSON_2), and one with only keyword + clean text */
    fake_host_reports_clear();
    CHECK(fake_host_call_route(
              "{\"results\":[{\"messageId\":\"mo-1\",\"from\":\"491701234567\",\"to\":"
              "\"4915199999999\",\"text\":\"STOP\",\"cleanText\":\"\",\"keyword\":\"STOP\","
              "\"receivedAt\":\"2026-05-12T09:00:00.000+0000\",\"smsCount\":1,\"price\":"
              "{\"pricePerMessage\":0,\"currency\":\"EUR\"}},{\"messageId\":\"mo-2\",\"from\":"
              "\"491701234568\",\"keyword\":\"STOPP\",\"cleanText\":\"bitte\",\"receivedAt\":"
              "\"2026-05-12T09:00:00.000+0000\"}],\"messageCount\":2,\"pendingMessageCount\":0}",
              &resp) == 200);
    CHECK_STR(resp.body, "{\"accepted\":2}");
    CHECK(fake_host_report_count == 2);
    CHECK(fake_host_reports[0].kind == TD_REPORT_INBOUND);
    CHECK_STR(fake_host_reports[0].address, "+491701234567");
    CHECK_STR(fake_host_reports[0].text, "STOP");
    CHECK(fake_host_reports[0].at_ms == 1778576400000LL);
    CHECK_STR(fake_host_reports[1].text, "STOPP bitte");

    /* not JSON, or not an object: 400, nothing reported */
    fake_host_reports_clear();
    CHECK(fake_host_call_route("{\"results\":[", &resp) == 400);
    CHECK(fake_host_call_route("[]", &resp) == 400);
    CHECK(fake_host_call_route("", &resp) == 400);
    CHECK(fake_host_report_count == 0);

    /* something of no known kind is acknowledged (Infobip would retry it forever) */
    CHECK(fake_host_call_route("{\"results\":[{\"foo\":1}]}", &resp) == 200);
    CHECK_STR(resp.body, "{\"accepted\":0}");

    /* the engine cannot apply a report yet: 503 with Retry-After, so Infobip retries */
    const char *dlr = "{\"results\":[{\"messageId\":\"k1\",\"to\":\"491701234567\",\"status\":"
                      "{\"groupId\":3,\"groupName\":\"DELIVERED\",\"id\":5,\"name\":"
                      "\"DELIVERED_TO_HANDSET\"}}]}";
    fake_host_report_verdict = TD_REPORT_LATER;
    CHECK(fake_host_call_route(dlr, &resp) == 503);
    CHECK_STR(fake_host_response_header(&resp, "Retry-After"), "30");
    fake_host_report_verdict = -5; /* the database is away */
    CHECK(fake_host_call_route(dlr, &resp) == 503);
    fake_host_reports_clear();
    CHECK(fake_host_call_route(dlr, &resp) == 200);
    CHECK_STR(resp.content_type, "application/json");
    fake_host_reports_clear();
    fake_host_response_clear(&resp);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    void *handle;
    const struct td_plugin *p = fake_host_load(PLUGIN_DIR "/infobip_sms.so", &handle);
    CHECK(p != NULL);
    if (!p)
        return check_exit("test_infobip_sms");
    CHECK_STR(p->name, "infobip_sms");
    CHECK(p->kind == TD_PLUGIN_CHANNEL);
    CHECK_STR(p->serves[0], "sms");
    CHECK(p->max_batch == 100);
    CHECK(p->channel->check != NULL);
    if (fake_provider_start(FAKE_BIN, &fake) < 0) {
        CHECK(!"fake provider started");
        return check_exit("test_infobip_sms");
    }

    struct td_host host = fake_host_make("acme", "sms");
    host.callback_path = CALLBACK_PATH;
    host.callback_url = CALLBACK_URL;
    test_create(p, &host);

    struct td_error err;
    void *inst = make(p, &host, "ib_test_key", "Segelschule", "true", &err);
    CHECK(inst != NULL);
    test_send(p, inst);
    test_refused_before_sending(p, inst);
    test_verdicts(p, inst);
    test_callbacks(); /* the route the last create() registered */
    p->channel->destroy(inst);
    test_credentials_and_reports(p, &host);

    p->channel->destroy(NULL); /* destroy(NULL) is a no-op */
    CHECK(fake_provider_stop(&fake) == 0);
    dlclose(handle);
    curl_global_cleanup();
    return check_exit("test_infobip_sms");
}
