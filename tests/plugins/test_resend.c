/* The Resend plugin on its own, with the SDK's fake host answering from a
 * script: the request it builds (URL, headers, the JSON body written
 * without jansson), and the verdict for each answer Resend gives. */
#include "check.h"
#include "tidings/fake_host.h"

#include <jansson.h>

static json_t *body_of(size_t call)
{
    json_error_t jerr;
    return call < fake_host_call_count ? json_loads(fake_host_calls[call].body, 0, &jerr) : NULL;
}

int main(void)
{
    void *handle;
    const struct td_plugin *p = fake_host_load(PLUGIN_DIR "/resend.so", &handle);
    CHECK(p != NULL);
    if (!p)
        return check_exit("test_resend");
    struct td_setting settings[] = {
        {"api_key", "re_test_123"}, {"from", "Schule <hallo@schule.example>"},
        {"reply_to", NULL},         {"base_url", "https://api.resend.test"},
        {"batch", "false"},         {"timeout", "10000"},
        {"webhook_secret", NULL}};
    struct td_config cfg = {"acme", "email", settings, 7};
    struct td_host host = fake_host_make("acme", "email");
    struct td_error err = {{0}};
    void *inst = NULL;
    CHECK(p->channel->create(&host, &cfg, &inst, &err) == 0);
    if (!inst)
        return check_exit("test_resend");

    struct td_message m = {.id = "41",
                           .idempotency_key = "tidings-x-41",
                           .channel = "email",
                           .to = "anna@example.org",
                           .subject = "Grüße \"aus\" dem Hafen",
                           .text = "Hallo Anna,\nbis morgen\t!",
                           .html = "<p>Hallo</p>",
                           .unsubscribe_url = "https://t.example/u/abc",
                           .sequence_key = "welcome",
                           .step_id = "7d before"};
    struct td_result r;

    /* accepted: the id is kept; the request is Resend's, byte for byte what it expects */
    fake_host_script(200, "{\"id\":\"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794\"}");
    p->channel->deliver(inst, &m, 1, &r);
    CHECK(r.status == TD_OK);
    CHECK_STR(r.provider_id, "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794");
    CHECK(fake_host_call_count == 1);
    CHECK_STR(fake_host_calls[0].method, "POST");
    CHECK_STR(fake_host_calls[0].url, "https://api.resend.test/emails");
    CHECK_STR(fake_host_call_header(&fake_host_calls[0], "Authorization"), "Bearer re_test_123");
    CHECK_STR(fake_host_call_header(&fake_host_calls[0], "Idempotency-Key"), "tidings-x-41");
    CHECK_STR(fake_host_call_header(&fake_host_calls[0], "Content-Type"), "application/json");
    json_t *b = body_of(0);
    CHECK(b != NULL);
    CHECK_STR(json_string_value(json_object_get(b, "from")), "Schule <hallo@schule.example>");
    CHECK_STR(json_string_value(json_array_get(json_object_get(b, "to"), 0)), "anna@example.org");
    CHECK_STR(json_string_value(json_object_get(b, "subject")), "Grüße \"aus\" dem Hafen");
    CHECK_STR(json_string_value(json_object_get(b, "text")), "Hallo Anna,\nbis morgen\t!");
    CHECK_STR(json_string_value(json_object_get(json_object_get(b, "headers"), "List-Unsubscribe")),
              "<https://t.example/u/abc>");
    json_t *tags = json_object_get(b, "tags");
    CHECK(json_array_size(tags) == 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(tags, 1), "value")), "7d_before");
    json_decref(b);

    /* slow down: throttled, not a used attempt; Retry-After passed on */
    fake_host_script_answer((struct fake_host_answer){
        429, "{\"name\":\"rate_limit_exceeded\",\"message\":\"Too many requests\"}", 2000, false,
        NULL});
    p->channel->deliver(inst, &m, 1, &r);
    CHECK(r.status == TD_THROTTLED);
    CHECK(r.retry_after_ms == 2000);
    /* the daily quota: the connection pauses until it is back */
    fake_host_script(429, "{\"name\":\"daily_quota_exceeded\",\"message\":\"quota\"}");
    p->channel->deliver(inst, &m, 1, &r);
    CHECK(r.status == TD_SUSPEND);
    CHECK(r.retry_after_ms > 0);
    /* refused content fails with Resend's words; a key in use is tried again */
    fake_host_script(422, "{\"name\":\"validation_error\",\"message\":\"The `to` field is bad.\"}");
    p->channel->deliver(inst, &m, 1, &r);
    CHECK(r.status == TD_FAIL);
    CHECK_HAS(r.reason, "resend 422 validation_error: The `to` field is bad.");
    fake_host_script(409, "{\"name\":\"concurrent_idempotent_requests\",\"message\":\"x\"}");
    p->channel->deliver(inst, &m, 1, &r);
    CHECK(r.status == TD_RETRY);
    /* no answer after the request left: unknown; before it left: retry */
    fake_host_script_answer((struct fake_host_answer){0, NULL, -1, true, "connection reset"});
    p->channel->deliver(inst, &m, 1, &r);
    CHECK(r.status == TD_UNKNOWN);
    fake_host_script_answer((struct fake_host_answer){0, NULL, -1, false, "connection refused"});
    p->channel->deliver(inst, &m, 1, &r);
    CHECK(r.status == TD_RETRY);

    /* a header injection or an implausible address never leaves */
    size_t before = fake_host_call_count;
    struct td_message bad = m;
    bad.subject = "Hallo\r\nBcc: all@example.org";
    p->channel->deliver(inst, &bad, 1, &r);
    CHECK(r.status == TD_FAIL);
    bad = m;
    bad.to = "anna at example.org";
    p->channel->deliver(inst, &bad, 1, &r);
    CHECK(r.status == TD_FAIL);
    CHECK(fake_host_call_count == before);

    p->channel->destroy(inst);
    fake_host_calls_clear();
    return check_exit("test_resend");
}
