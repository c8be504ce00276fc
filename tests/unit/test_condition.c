/* Unit tests of the data the admins write: conditions, send windows, fallback
 * chains, template variables and SMS sizes. */
#include "check.h"
#include "expand/condition.h"
#include "expand/sequence.h"
#include "render/sms.h"
#include "render/template.h"

#include <stdlib.h>
#include <string.h>

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fprintf(stderr, "bad test JSON: %s: %s\n", text, e.text);
    return v;
}

static const char *check_error(const char *cond)
{
    static char err[256];
    json_t *c = J(cond);
    err[0] = '\0';
    if (td_condition_check(c, "steps[0].when", err, sizeof(err)) == 0)
        snprintf(err, sizeof(err), "(accepted)");
    json_decref(c);
    return err;
}

static void test_condition_errors(void)
{
    CHECK_STR(check_error("{\"field\":\"data.level\",\"equals\":\"x\"}"), "(accepted)");
    CHECK_HAS(check_error("{\"field\":\"level\",\"equals\":1}"),
              "steps[0].when.field: must be a path starting with booking., customer. or data.");
    CHECK_HAS(check_error("{\"field\":\"data.x\",\"like\":1}"), "steps[0].when.like: unknown");
    CHECK_HAS(check_error("{\"field\":\"data.x\"}"), "a comparison is missing");
    CHECK_HAS(check_error("{\"field\":\"data.x\",\"in\":\"a\"}"),
              "steps[0].when.in: must be an array");
    CHECK_HAS(check_error("{\"field\":\"data.x\",\"gt\":\"soon\"}"),
              "steps[0].when.gt: must be a number or an RFC 3339 time");
    CHECK_HAS(check_error("{\"all\":[{\"field\":\"data.x\",\"exists\":true},{\"any\":[]}]}"),
              "steps[0].when.all[1].any: must be a non-empty array");
    CHECK_HAS(check_error("{\"not\":{\"consent\":5}}"), "steps[0].when.not.consent");
    CHECK_HAS(check_error("{\"other_bookings\":{\"subtypes\":[\"reservation\"]}}"),
              "needs \"exists\"");
    CHECK_HAS(check_error("{\"other_bookings\":{\"kind\":1},\"exists\":false}"),
              "other_bookings.kind: unknown");
    CHECK_HAS(check_error("{\"maybe\":1}"), "expected all, any, not, field, consent");
}

static int fake_other(void *ctx, const struct td_other_bookings_query *q, bool *exists)
{
    (void)q;
    *exists = *(bool *)ctx;
    return 0;
}

static bool eval(const char *cond, json_t *booking, bool other)
{
    json_t *c = J(cond);
    struct td_condition_env env = {booking, fake_other, &other};
    bool holds = false;
    char why[256];
    CHECK(td_condition_check(c, "when", why, sizeof(why)) == 0);
    CHECK(td_condition_eval(c, &env, &holds, why, sizeof(why)) == 0);
    json_decref(c);
    return holds;
}

static void test_condition_eval(void)
{
    json_t *b =
        J("{\"id\":\"B\",\"subtype\":\"class_enrollment\",\"start\":\"2026-06-01T10:00:00Z\","
          "\"customer\":{\"email\":\"a@b.de\",\"consent\":{\"sms\":true}},"
          "\"data\":{\"level\":\"beginner\",\"guests\":3,\"paid\":false}}");
    CHECK(eval("{\"field\":\"data.level\",\"equals\":\"beginner\"}", b, false));
    CHECK(!eval("{\"field\":\"data.level\",\"equals\":\"expert\"}", b, false));
    CHECK(eval("{\"field\":\"data.level\",\"not_equals\":\"expert\"}", b, false));
    CHECK(eval("{\"field\":\"booking.subtype\",\"in\":[\"reservation\",\"class_enrollment\"]}", b,
               false));
    CHECK(eval("{\"field\":\"booking.subtype\",\"not_in\":[\"reservation\"]}", b, false));
    CHECK(eval("{\"field\":\"customer.email\",\"exists\":true}", b, false));
    CHECK(eval("{\"field\":\"customer.phone\",\"exists\":false}", b, false));
    CHECK(eval("{\"field\":\"data.guests\",\"gte\":3}", b, false));
    CHECK(!eval("{\"field\":\"data.guests\",\"gt\":3}", b, false));
    CHECK(eval("{\"field\":\"data.guests\",\"lt\":3.5}", b, false));
    CHECK(!eval("{\"field\":\"data.level\",\"lt\":3}", b, false)); /* not comparable: false */
    CHECK(eval("{\"field\":\"booking.start\",\"before\":\"2026-07-01T00:00:00Z\"}", b, false));
    CHECK(!eval("{\"field\":\"booking.start\",\"after\":\"2026-07-01T00:00:00+02:00\"}", b, false));
    CHECK(eval("{\"field\":\"data.paid\",\"equals\":false}", b, false));
    CHECK(eval("{\"consent\":\"sms\"}", b, false));
    CHECK(!eval("{\"consent\":\"whatsapp\"}", b, false));
    CHECK(eval("{\"not\":{\"consent\":\"whatsapp\"}}", b, false));
    CHECK(eval("{\"any\":[{\"consent\":\"whatsapp\"},{\"consent\":\"sms\"}]}", b, false));
    CHECK(!eval("{\"all\":[{\"consent\":\"whatsapp\"},{\"consent\":\"sms\"}]}", b, false));
    CHECK(eval("{\"other_bookings\":{\"subtypes\":[\"reservation\"],\"overlapping\":true},"
               "\"exists\":false}",
               b, false));
    CHECK(!eval("{\"other_bookings\":{\"subtypes\":[\"reservation\"],\"overlapping\":true},"
                "\"exists\":false}",
                b, true));
    /* the reason names the clause */
    json_t *c =
        J("{\"all\":[{\"consent\":\"sms\"},{\"field\":\"data.level\",\"equals\":\"pro\"}]}");
    struct td_condition_env env = {b, fake_other, NULL};
    bool holds = true;
    char why[256] = "";
    CHECK(td_condition_eval(c, &env, &holds, why, sizeof(why)) == 0);
    CHECK(!holds);
    CHECK_HAS(why, "condition not met: {\"equals\":\"pro\",\"field\":\"data.level\"}");
    json_decref(c);
    json_decref(b);
}

static const char *sequence_error(const char *steps_and_more)
{
    static char err[300];
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"key\":\"s\",\"name\":\"S\",\"status\":\"active\",\"trigger\":{\"on\":"
             "\"booking.confirmed\"},%s}",
             steps_and_more);
    json_t *doc = J(text);
    struct td_sequence *s = NULL;
    err[0] = '\0';
    if (td_sequence_parse(doc, &s, err, sizeof(err)) == 0)
        snprintf(err, sizeof(err), "(accepted)");
    td_sequence_destroy(s);
    json_decref(doc);
    return err;
}

#define STEP(extra, send)                                                                          \
    "\"steps\":[{\"id\":\"a\",\"at\":{\"from\":\"start\"}" extra ",\"send\":[" send "]}]"
#define EMAIL "{\"channel\":\"email\",\"template\":\"t\"}"

static void test_windows_and_fallbacks(void)
{
    CHECK_STR(sequence_error("\"window\":{\"from\":\"08:00\",\"to\":\"20:00\",\"days\":[\"mon\","
                             "\"sat\"]}," STEP("", EMAIL)),
              "(accepted)");
    CHECK_HAS(sequence_error("\"window\":{\"from\":\"20:00\",\"to\":\"08:00\"}," STEP("", EMAIL)),
              "window: 'from' must be before 'to'");
    CHECK_HAS(sequence_error(STEP(",\"window\":{\"days\":[\"monday\"]}", EMAIL)),
              "steps[0].window.days[0]: must be one of mon, tue");
    CHECK_HAS(sequence_error(STEP(",\"window\":{\"from\":\"8\"}", EMAIL)),
              "steps[0].window.from: must be a local time like 08:00");
    CHECK_HAS(sequence_error(STEP(",\"when\":{\"field\":\"x\"}", EMAIL)), "steps[0].when.field");
    CHECK_HAS(sequence_error("\"colour\":1," STEP("", EMAIL)), "colour: unknown member");
    CHECK_HAS(sequence_error(STEP(",\"later\":1", EMAIL)), "steps[0].later: unknown");
    CHECK_STR(sequence_error(STEP("", "{\"channel\":\"whatsapp\",\"template\":\"w\",\"fallback\":["
                                      "{\"channel\":\"sms\",\"template\":\"s\"}," EMAIL "]}")),
              "(accepted)");
    CHECK_HAS(sequence_error(STEP("", "{\"channel\":\"sms\",\"template\":\"w\",\"fallback\":["
                                      "{\"channel\":\"sms\",\"template\":\"s\"}]}")),
              "steps[0].send[0].fallback[0].channel: 'sms' is already in this chain");
    CHECK_HAS(sequence_error(STEP("", "{\"channel\":\"sms\",\"template\":\"w\",\"fallback\":[]}")),
              "steps[0].send[0].fallback: must be a non-empty array");
    CHECK_HAS(sequence_error(STEP("", "{\"channel\":\"email\",\"template\":\"t\",\"colour\":1}")),
              "steps[0].send[0].colour: unknown");

    json_t *doc = J("{\"key\":\"s\",\"name\":\"S\",\"status\":\"active\",\"trigger\":{\"on\":"
                    "\"booking.confirmed\"},\"window\":{\"from\":\"09:00\"}," STEP(
                        "", "{\"channel\":\"whatsapp\",\"template\":\"w\",\"fallback\":[{"
                            "\"channel\":\"email\",\"template\":\"t\"}]}") "}");
    char err[256];
    struct td_sequence *s = NULL;
    CHECK(td_sequence_parse(doc, &s, err, sizeof(err)) == 0);
    if (s) {
        CHECK(s->steps[0].window == s->window); /* the sequence's window applies */
        CHECK(s->steps[0].sends[0].requires_consent);
        CHECK(json_array_size(s->steps[0].sends[0].fallback) == 1);
        json_t *f = json_array_get(s->steps[0].sends[0].fallback, 0);
        CHECK_STR(json_string_value(json_object_get(f, "channel")), "email");
        CHECK(json_is_false(json_object_get(f, "requires_consent")));
        /* parsing leaves the document as it was written */
        CHECK(json_object_get(
                  json_array_get(
                      json_object_get(json_array_get(json_object_get(doc, "steps"), 0), "send"), 0),
                  "fallback_normalized") == NULL);
    }
    td_sequence_destroy(s);
    json_decref(doc);
}

/* Every problem of a document, in one pass: "line|line|..." of the diag. */
static const char *all_problems(const char *json, bool sequence)
{
    static char out[2048];
    json_t *doc = J(json);
    struct td_diag d = {0};
    struct td_sequence *s = NULL;
    struct td_template *t = NULL;
    int rc = sequence ? td_sequence_parse_all(doc, "sequences[3]", &s, &d)
                      : td_template_parse_all(doc, "templates[1]", &t, &d);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d.count; i++) {
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", i ? "|" : "", d.lines[i]);
        /* each line keeps the path it names */
        CHECK(strncmp(d.lines[i], td_diag_path(&d, i), strlen(td_diag_path(&d, i))) == 0);
    }
    CHECK((rc == 0) == (d.count == 0));
    CHECK((rc == 0) == (s != NULL || t != NULL));
    td_sequence_destroy(s);
    td_template_destroy(t);
    size_t count = d.count;
    td_diag_clear(&d);
    json_decref(doc);
    return count || rc == 0 ? out : "(no problem, but refused)";
}

static void test_every_problem_named(void)
{
    CHECK_STR(
        all_problems("{\"key\":\"s\",\"name\":\"S\",\"status\":\"soon\",\"trigger\":{\"on\":"
                     "\"booking.confirmed\",\"subtypes\":[1]},\"exit\":{\"on\":[\"x\"]},"
                     "\"steps\":[{\"id\":\"a\",\"at\":{\"from\":\"start\",\"offset\":\"-7x\"},"
                     "\"send\":[" EMAIL "]},{\"id\":\"a\",\"at\":{\"from\":\"trigger\"},"
                     "\"min_lead\":\"1d\",\"when\":{\"any\":[{\"field\":\"x\",\"eq\":1}]},"
                     "\"send\":[" EMAIL ",{\"channel\":\"email\"}]},7]}",
                     true),
        "sequences[3].status: 'soon' is not active, paused, archived or draft"
        "|sequences[3].trigger.subtypes[0]: must be a string"
        "|sequences[3].exit.on[0]: 'x' is not a booking event"
        "|sequences[3].steps[0].at.offset: '-7x' is not an offset like -7d, 2h, 30m or 1d12h"
        "|sequences[3].steps[1].id: 'a' is used by steps[0] too"
        "|sequences[3].steps[1].when.any[0].field: must be a path starting with booking., "
        "customer. or data."
        "|sequences[3].steps[1].when.any[0].eq: unknown comparison (equals, not_equals, in, "
        "not_in, exists, gt, gte, lt, lte, before, after)"
        "|sequences[3].steps[1].when.any[0]: a comparison is missing (equals, in, exists, "
        "gt, ...)"
        "|sequences[3].steps[1].min_lead: a step timed from the trigger is always booked "
        "zero time ahead of it, so a min_lead could never hold; time the step from start "
        "or end, or drop min_lead"
        "|sequences[3].steps[1].send[1].template: required"
        "|sequences[3].steps[1].send[1].channel: 'email' is used twice in this step"
        "|sequences[3].steps[2]: must be an object");
    CHECK_STR(all_problems("[1]", true), "sequences[3]: must be a JSON object");
    CHECK_STR(all_problems("{\"steps\":{}}", true),
              "sequences[3].key: required|sequences[3].name: required|sequences[3].status: "
              "required|sequences[3].trigger: required, an object like {\"on\": "
              "\"booking.confirmed\"}|sequences[3].steps: required, a non-empty array");
    CHECK_STR(all_problems("{\"key\":\"T\",\"channel\":\"sms\",\"text\":\"{{x}}\",\"html\":1,"
                           "\"whatsapp\":{},\"size\":2}",
                           false),
              "templates[1].key: required, lower-case letters, digits, '-' and '_'"
              "|templates[1].whatsapp: only whatsapp templates map to an approved template"
              "|templates[1].text: unknown variable 'x' (use firstName, lastName, eventName, "
              "eventDate, ... or booking.*, customer.*, data.*)"
              "|templates[1].html: must be a string"
              "|templates[1].size: unknown member (key, channel, name, description, subject, "
              "text, html, whatsapp, sample, locale)");
    CHECK_STR(all_problems("{\"key\":\"t\",\"channel\":\"whatsapp\",\"whatsapp\":{\"params\":[1,"
                           "\"{{y}}\"]}}",
                           false),
              "templates[1].whatsapp.name: required, the approved template's name"
              "|templates[1].whatsapp.language: required, like de or en"
              "|templates[1].whatsapp.params[0]: must be a string"
              "|templates[1].whatsapp.params[1]: unknown variable 'y' (use firstName, lastName, "
              "eventName, eventDate, ... or booking.*, customer.*, data.*)"
              "|templates[1].text: required");
    CHECK_STR(all_problems("{\"key\":\"t\",\"channel\":\"email\",\"subject\":\"s\",\"text\":\"x\"}",
                           false),
              "");
}

static const char *template_error(const char *json)
{
    static char err[300];
    json_t *doc = J(json);
    struct td_template *t = NULL;
    err[0] = '\0';
    if (td_template_parse(doc, &t, err, sizeof(err)) == 0)
        snprintf(err, sizeof(err), "(accepted)");
    td_template_destroy(t);
    json_decref(doc);
    return err;
}

static void test_templates(void)
{
    CHECK_STR(
        template_error("{\"key\":\"t\",\"channel\":\"email\",\"subject\":\"Hi {{firstName}}\","
                       "\"text\":\"{{eventName}} {{data.boat}} {{#data.items}}{{name}}"
                       "{{/data.items}} {{customer.email}} {{booking.id}}\"}"),
        "(accepted)");
    CHECK_HAS(template_error("{\"key\":\"t\",\"channel\":\"email\",\"subject\":\"Hi\","
                             "\"text\":\"Hallo {{vorname}}\"}"),
              "text: unknown variable 'vorname'");
    CHECK_HAS(template_error("{\"key\":\"t\",\"channel\":\"email\",\"subject\":\"{{#eventName}}"
                             "{{nope}}{{/eventName}}\",\"text\":\"x\"}"),
              "subject: unknown variable 'nope'");
    CHECK_HAS(template_error("{\"key\":\"t\",\"channel\":\"email\",\"text\":\"x\"}"),
              "subject: required");
    CHECK_HAS(
        template_error("{\"key\":\"t\",\"channel\":\"sms\",\"subject\":\"s\",\"text\":\"x\"}"),
        "subject: only e-mail templates have a subject");
    CHECK_STR(template_error("{\"key\":\"w\",\"channel\":\"whatsapp\",\"whatsapp\":{\"name\":"
                             "\"haff_reminder\",\"language\":\"de\",\"params\":[\"{{firstName}}\","
                             "\"{{daysUntil}}\"]}}"),
              "(accepted)");
    CHECK_HAS(template_error("{\"key\":\"w\",\"channel\":\"whatsapp\",\"whatsapp\":{\"name\":"
                             "\"x\",\"language\":\"de\",\"params\":[\"{{first}}\"]}}"),
              "whatsapp.params[0]: unknown variable 'first'");
    CHECK_HAS(
        template_error("{\"key\":\"w\",\"channel\":\"whatsapp\",\"whatsapp\":{\"name\":\"x\"}}"),
        "whatsapp.language: required");
    CHECK_HAS(template_error("{\"key\":\"w\",\"channel\":\"whatsapp\"}"), "text: required");
    CHECK_HAS(template_error("{\"key\":\"t\",\"channel\":\"sms\",\"text\":\"x\",\"colour\":1}"),
              "colour: unknown member");
}

static void test_sms_sizes(void)
{
    char text[400];
    memset(text, 'a', 160);
    text[160] = '\0';
    struct td_sms_size s = td_sms_measure(text);
    CHECK(s.gsm7 && s.units == 160 && s.segments == 1);
    text[160] = 'a';
    text[161] = '\0';
    s = td_sms_measure(text);
    CHECK(s.gsm7 && s.units == 161 && s.segments == 2);
    memset(text, 'a', 306);
    text[306] = '\0';
    CHECK(td_sms_measure(text).segments == 2); /* 2 x 153 */
    text[306] = 'a';
    text[307] = '\0';
    CHECK(td_sms_measure(text).segments == 3);
    /* German umlauts are GSM-7; the euro sign and brackets take two septets */
    s = td_sms_measure("Grüße aus Ueckermünde: 5 € [heute]");
    CHECK(s.gsm7 && s.units == 37 && s.segments == 1);
    /* one character outside GSM-7 makes it UCS-2: 70 per segment, 67 when split */
    memset(text, 'a', 69);
    snprintf(text + 69, sizeof(text) - 69, "%s", "\xc5\x82"); /* ł */
    s = td_sms_measure(text);
    CHECK(!s.gsm7 && s.units == 70 && s.segments == 1);
    snprintf(text + 69, sizeof(text) - 69, "%s", "\xc5\x82\xc5\x82"); /* 71 units */
    s = td_sms_measure(text);
    CHECK(!s.gsm7 && s.units == 71 && s.segments == 2);
    s = td_sms_measure("Segeln \xf0\x9f\x98\x80"); /* an emoji is two UTF-16 units */
    CHECK(!s.gsm7 && s.units == 9);
}

int main(void)
{
    test_condition_errors();
    test_condition_eval();
    test_windows_and_fallbacks();
    test_templates();
    test_every_problem_named();
    test_sms_sizes();
    return check_exit("test_condition");
}
