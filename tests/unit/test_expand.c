/* Unit tests of booking documents, RFC 3339 times, sequence documents,
 * transitions and the expansion plan. */
#include "intake/booking.h"
#include "check.h"
#include "expand/expand.h"
#include "expand/sequence.h"
#include "util/timefmt.h"

#include <stdlib.h>
#include <string.h>

static void test_times(void)
{
    int64_t ms;
    CHECK(td_time_parse("1970-01-01T00:00:00Z", &ms) == 0 && ms == 0);
    CHECK(td_time_parse("2026-12-05T10:00:00+01:00", &ms) == 0 && ms == 1796461200000LL);
    CHECK(td_time_parse("2026-12-05T09:00Z", &ms) == 0 && ms == 1796461200000LL);
    CHECK(td_time_parse("2026-12-05T09:00:00.250Z", &ms) == 0 && ms == 1796461200250LL);
    CHECK(td_time_parse("2026-12-05 04:00:00-05:00", &ms) == 0 && ms == 1796461200000LL);
    CHECK(td_time_parse("2024-02-29T00:00:00Z", &ms) == 0);
    CHECK(td_time_parse("2026-02-29T00:00:00Z", &ms) < 0); /* not a leap year */
    CHECK(td_time_parse("2026-13-01T00:00:00Z", &ms) < 0);
    CHECK(td_time_parse("2026-12-05T10:00:00", &ms) < 0); /* no zone: ambiguous */
    CHECK(td_time_parse("2026-12-05", &ms) < 0);
    CHECK(td_time_parse("2026-12-05T25:00:00Z", &ms) < 0);
    CHECK(td_time_parse("2026-12-05T10:00:00Zjunk", &ms) < 0);
    char buf[32];
    td_time_format(1796461200250LL, buf, sizeof(buf));
    CHECK_STR(buf, "2026-12-05T09:00:00.250Z");
}

static const char *booking_error(const char *json)
{
    static char err[1024];
    struct td_booking b;
    err[0] = '\0';
    if (td_booking_parse(json, strlen(json), &b, err, sizeof(err)) == 0) {
        td_booking_clear(&b);
        return "(accepted)";
    }
    return err;
}

static void test_bookings(void)
{
    const char *ok =
        "{\"id\":\"B-1\",\"status\":\"confirmed\",\"subtype\":\"class_enrollment\","
        "\"start\":\"2026-12-05T10:00:00+01:00\",\"end\":\"2026-12-05T17:00:00+01:00\","
        "\"timezone\":\"Europe/Berlin\",\"updated_at\":\"2026-11-25T08:00:00Z\","
        "\"customer\":{\"first_name\":\"Anna\",\"locale\":\"en\"},\"data\":{}}";
    struct td_booking b;
    char err[256];
    CHECK(td_booking_parse(ok, strlen(ok), &b, err, sizeof(err)) == 0);
    CHECK_STR(b.id, "B-1");
    CHECK_STR(b.status, "confirmed");
    CHECK_STR(b.subtype, "class_enrollment");
    CHECK_STR(b.timezone, "Europe/Berlin");
    CHECK(b.start_ms == 1796461200000LL);
    CHECK(b.end_ms == 1796461200000LL + 7 * 3600000LL);
    td_booking_clear(&b);

    CHECK_HAS(booking_error("{\"id\":"), "malformed JSON at line 1");
    CHECK_HAS(booking_error("[1,2]"), "booking: must be a JSON object");
    /* every problem, not the first */
    CHECK_HAS(booking_error("{\"status\":\"maybe\",\"data\":[]}"),
              "id: required, a string of 1 to 200 characters; status: required, one of pending");
    CHECK_HAS(
        booking_error("{\"status\":\"maybe\",\"data\":[]}"),
        "; start: required, an RFC 3339 time like 2026-12-05T10:00:00+01:00; data: must be an "
        "object");
    CHECK_HAS(booking_error("{\"id\":\"a\",\"id\":\"b\"}"), "malformed JSON");
    CHECK_HAS(booking_error("{\"status\":\"confirmed\"}"), "id: required");
    CHECK_HAS(booking_error("{\"id\":7}"), "id: must be a string");
    CHECK_HAS(booking_error("{\"id\":\"B\",\"status\":\"maybe\"}"), "status: required, one of");
    CHECK_HAS(booking_error("{\"id\":\"B\",\"status\":\"pending\"}"), "start: required");
    CHECK_HAS(booking_error("{\"id\":\"B\",\"status\":\"pending\",\"start\":\"tomorrow\"}"),
              "start: 'tomorrow' is not an RFC 3339 time");
    CHECK_HAS(booking_error("{\"id\":\"B\",\"status\":\"pending\",\"start\":\"2026-12-05T10:00:"
                            "00Z\",\"end\":\"2026-12-04T10:00:00Z\"}"),
              "end: is before start");
    CHECK_HAS(booking_error("{\"id\":\"B\",\"status\":\"pending\",\"start\":\"2026-12-05T10:00:"
                            "00Z\",\"timezone\":\"Europe/Nowhere\"}"),
              "timezone: 'Europe/Nowhere' is not a known time zone");
    CHECK_HAS(booking_error("{\"id\":\"B\",\"status\":\"pending\",\"start\":\"2026-12-05T10:00:"
                            "00Z\",\"customer\":{\"email\":5}}"),
              "customer.email: must be a string");
    CHECK_HAS(booking_error("{\"id\":\"B\",\"status\":\"pending\",\"start\":\"2026-12-05T10:00:"
                            "00Z\",\"data\":[]}"),
              "data: must be an object");
    /* invalid UTF-8 is refused by the JSON parser */
    CHECK_HAS(booking_error("{\"id\":\"\xff\"}"), "malformed JSON");
}

static struct td_sequence *sequence(const char *json, char *err, size_t cap)
{
    json_error_t jerr;
    json_t *doc = json_loads(json, 0, &jerr);
    struct td_sequence *s = NULL;
    err[0] = '\0';
    td_sequence_parse(doc, &s, err, cap);
    json_decref(doc);
    return s;
}

static void test_offsets(void)
{
    int d, m;
    CHECK(td_offset_parse("-7d", &d, &m) == 0 && d == -7 && m == 0);
    CHECK(td_offset_parse("+2h", &d, &m) == 0 && d == 0 && m == 120);
    CHECK(td_offset_parse("30m", &d, &m) == 0 && d == 0 && m == 30);
    CHECK(td_offset_parse("1d12h", &d, &m) == 0 && d == 1 && m == 720);
    CHECK(td_offset_parse("-1d2h30m", &d, &m) == 0 && d == -1 && m == -150);
    CHECK(td_offset_parse("0", &d, &m) == 0 && d == 0 && m == 0);
    CHECK(td_offset_parse("7x", &d, &m) < 0);
    CHECK(td_offset_parse("2h1d", &d, &m) < 0);
    CHECK(td_offset_parse("", &d, &m) < 0);
    CHECK(td_offset_parse("d", &d, &m) < 0);
}

#define SEQ_HEAD                                                                                   \
    "{\"key\":\"s\",\"name\":\"S\",\"status\":\"active\",\"trigger\":{\"on\":\"booking."           \
    "confirmed\"},"

static void test_sequence_errors(void)
{
    char err[256];
    struct td_sequence *s = sequence(
        SEQ_HEAD "\"steps\":[{\"id\":\"7d\",\"at\":{\"from\":\"start\",\"offset\":\"-7d\","
                 "\"time\":\"09:00\"},\"min_lead\":\"7d\",\"send\":[{\"channel\":\"email\","
                 "\"template\":\"t\"},{\"channel\":\"sms\",\"template\":\"u\"}]}]}",
        err, sizeof(err));
    CHECK(s != NULL);
    if (s) {
        CHECK(s->step_count == 1);
        CHECK(s->steps[0].anchor == TD_ANCHOR_START);
        CHECK(s->steps[0].offset_days == -7);
        CHECK(s->steps[0].local_minute == 540);
        CHECK(s->steps[0].min_lead_minutes == 7 * 1440);
        CHECK(s->steps[0].send_count == 2);
        td_sequence_destroy(s);
    }
    struct {
        const char *json, *want;
    } cases[] = {
        {"{\"name\":\"S\"}", "key: required"},
        {SEQ_HEAD "\"steps\":[]}", "steps: required, a non-empty array"},
        {"{\"key\":\"s\",\"name\":\"S\",\"status\":\"on\"}", "status: 'on' is not active"},
        {"{\"key\":\"s\",\"name\":\"S\",\"status\":\"active\",\"trigger\":{\"on\":\"booking.x\"}}",
         "trigger.on: 'booking.x' is not a booking event"},
        {SEQ_HEAD "\"steps\":[{\"id\":\"a\",\"at\":{\"from\":\"start\",\"offset\":\"7x\"},"
                  "\"send\":[{\"channel\":\"email\",\"template\":\"t\"}]}]}",
         "steps[0].at.offset: '7x' is not an offset"},
        {SEQ_HEAD "\"steps\":[{\"id\":\"a\",\"at\":{\"from\":\"start\"},\"send\":[{\"channel\":"
                  "\"email\",\"template\":\"t\"}]},{\"id\":\"b\",\"at\":{\"from\":\"middle\"},"
                  "\"send\":[]}]}",
         "steps[1].at.from: 'middle' is not start, end or trigger"},
        {SEQ_HEAD "\"steps\":[{\"id\":\"a\",\"at\":{\"from\":\"start\",\"time\":\"25:00\"},"
                  "\"send\":[{\"channel\":\"email\",\"template\":\"t\"}]}]}",
         "steps[0].at.time: '25:00' is not a local time"},
        {SEQ_HEAD "\"steps\":[{\"id\":\"a\",\"at\":{\"from\":\"start\"},\"send\":[{\"channel\":"
                  "\"email\"}]}]}",
         "steps[0].send[0].template: required"},
        {SEQ_HEAD "\"steps\":[{\"id\":\"a\",\"at\":{\"from\":\"start\"},\"send\":[{\"channel\":"
                  "\"email\",\"template\":\"t\"}]},{\"id\":\"a\",\"at\":{\"from\":\"end\"},"
                  "\"send\":[{\"channel\":\"email\",\"template\":\"t\"}]}]}",
         "steps[1].id: 'a' is used by steps[0] too"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s = sequence(cases[i].json, err, sizeof(err));
        CHECK(s == NULL);
        CHECK_HAS(err, cases[i].want);
        td_sequence_destroy(s);
    }
}

static struct td_booking booking(const char *status, const char *start, const char *updated)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"id\":\"B\",\"status\":\"%s\",\"subtype\":\"course\",\"start\":\"%s\"%s%s%s}",
             status, start, updated ? ",\"updated_at\":\"" : "", updated ? updated : "",
             updated ? "\"" : "");
    struct td_booking b;
    char err[128];
    if (td_booking_parse(json, strlen(json), &b, err, sizeof(err)) < 0)
        fprintf(stderr, "bad test booking: %s\n", err);
    return b;
}

static int has_transition(const struct td_transitions *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->names[i], name) == 0)
            return 1;
    }
    return 0;
}

static void test_transitions(void)
{
    struct td_transitions t;
    struct td_booking a = booking("confirmed", "2026-12-05T10:00:00Z", "2026-11-01T00:00:00Z");
    td_expand_transitions(NULL, &a, &t);
    CHECK(t.count == 2 && has_transition(&t, "booking.created") &&
          has_transition(&t, "booking.confirmed"));
    struct td_booking p = booking("pending", "2026-12-05T10:00:00Z", NULL);
    td_expand_transitions(NULL, &p, &t);
    CHECK(t.count == 1 && has_transition(&t, "booking.created"));
    td_expand_transitions(&a, &a, &t);
    CHECK(t.unchanged && t.count == 0);
    struct td_booking older = booking("cancelled", "2026-12-05T10:00:00Z", "2026-10-01T00:00:00Z");
    td_expand_transitions(&a, &older, &t);
    CHECK(t.stale && t.count == 0);
    struct td_booking moved = booking("confirmed", "2026-12-06T10:00:00Z", "2026-11-02T00:00:00Z");
    td_expand_transitions(&a, &moved, &t);
    CHECK(t.count == 1 && has_transition(&t, "booking.moved"));
    struct td_booking cancelled =
        booking("cancelled", "2026-12-05T10:00:00Z", "2026-11-03T00:00:00Z");
    td_expand_transitions(&a, &cancelled, &t);
    CHECK(t.count == 1 && has_transition(&t, "booking.cancelled"));
    td_booking_clear(&a);
    td_booking_clear(&p);
    td_booking_clear(&older);
    td_booking_clear(&moved);
    td_booking_clear(&cancelled);
}

static void test_plan(void)
{
    char err[256];
    struct td_sequence *seqs[3];
    seqs[0] = sequence(SEQ_HEAD "\"steps\":["
                                "{\"id\":\"now\",\"at\":{\"from\":\"trigger\"},\"send\":[{"
                                "\"channel\":\"email\",\"template\":\"t\"},{\"channel\":\"sms\","
                                "\"template\":\"u\"}]},"
                                "{\"id\":\"7d\",\"at\":{\"from\":\"start\",\"offset\":\"-7d\"},"
                                "\"min_lead\":\"7d\",\"send\":[{\"channel\":\"email\",\"template\":"
                                "\"t\"}]},"
                                "{\"id\":\"after\",\"at\":{\"from\":\"end\",\"offset\":\"1d\","
                                "\"time\":\"10:00\"},\"send\":[{\"channel\":\"email\","
                                "\"template\":\"t\"}]}]}",
                       err, sizeof(err));
    seqs[1] = sequence("{\"key\":\"other\",\"name\":\"O\",\"status\":\"active\",\"trigger\":{"
                       "\"on\":\"booking.confirmed\",\"subtypes\":[\"house\"]},\"steps\":[{\"id\":"
                       "\"x\",\"at\":{\"from\":\"start\"},\"send\":[{\"channel\":\"email\","
                       "\"template\":\"t\"}]}]}",
                       err, sizeof(err));
    seqs[2] = sequence("{\"key\":\"paused\",\"name\":\"P\",\"status\":\"paused\",\"trigger\":{"
                       "\"on\":\"booking.confirmed\"},\"steps\":[{\"id\":\"x\",\"at\":{\"from\":"
                       "\"start\"},\"send\":[{\"channel\":\"email\",\"template\":\"t\"}]}]}",
                       err, sizeof(err));
    CHECK(seqs[0] && seqs[1] && seqs[2]);
    if (!seqs[0] || !seqs[1] || !seqs[2])
        return;
    struct td_booking b = booking("confirmed", "2026-12-05T10:00:00Z", NULL);
    struct td_transitions t;
    td_expand_transitions(NULL, &b, &t);
    int64_t trigger = b.start_ms - 5LL * 86400000; /* booked 5 days ahead */
    struct td_plan plan = {0};
    struct td_condition_env env = {b.doc, NULL, NULL};
    CHECK(td_expand_plan(&b, trigger, &t, seqs, 3, &env, &plan) == 0);
    /* only the first sequence matches: 2 + 1 + 1 rows */
    CHECK(plan.count == 4);
    if (plan.count == 4) {
        CHECK_STR(plan.items[0].step_id, "now");
        CHECK_STR(plan.items[0].channel, "email");
        CHECK(plan.items[0].anchor_ms == trigger);
        CHECK(plan.items[0].skip_reason == NULL);
        CHECK_STR(plan.items[1].channel, "sms");
        CHECK_STR(plan.items[2].step_id, "7d");
        CHECK_HAS(plan.items[2].skip_reason, "min_lead");
        CHECK(plan.items[2].before_start); /* expires when the booking starts */
        CHECK_STR(json_string_value(json_object_get(plan.items[2].timing, "anchor")), "start");
        CHECK(json_integer_value(json_object_get(plan.items[2].timing, "days")) == -7);
        CHECK_STR(plan.items[3].step_id, "after");
        CHECK(json_integer_value(json_object_get(plan.items[3].timing, "local")) == 600);
        CHECK(!plan.items[3].before_start);
        /* the booking has no end: a step timed from it is skipped, with reason */
        CHECK_HAS(plan.items[3].skip_reason, "the booking has no end");
        CHECK(plan.items[1].requires_consent); /* sms asks for consent by default */
        CHECK(!plan.items[0].requires_consent);
    }
    td_plan_clear(&plan);
    /* booked 10 days ahead: the 7-day step is planned */
    CHECK(td_expand_plan(&b, b.start_ms - 10LL * 86400000, &t, seqs, 3, &env, &plan) == 0);

    CHECK(plan.count == 4 && plan.items[2].skip_reason == NULL);
    td_plan_clear(&plan);
    td_booking_clear(&b);
    for (int i = 0; i < 3; i++)
        td_sequence_destroy(seqs[i]);
}

int main(void)
{
    test_times();
    test_bookings();
    test_offsets();
    test_sequence_errors();
    test_transitions();
    test_plan();
    return check_exit("test_expand");
}
