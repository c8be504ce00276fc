/* booking: the booking document an integrator posts, parsed and checked. */
#include "intake/booking.h"

#include "config/config_value.h"
#include "util/timefmt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOKING_ID_MAX 200

static const char *const booking_statuses[] = {"pending",   "confirmed", "checked_in",
                                               "completed", "cancelled", "no_show"};

int td_booking_status_known(const char *status)
{
    for (size_t i = 0; i < sizeof(booking_statuses) / sizeof(booking_statuses[0]); i++) {
        if (strcmp(status, booking_statuses[i]) == 0)
            return 1;
    }
    return 0;
}

/* Reads an optional string member; a problem when present with another type. */
static void booking_string(json_t *obj, const char *prefix, const char *key, const char **out,
                           struct td_problems *p)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return;
    if (!json_is_string(v)) {
        char field[80];
        snprintf(field, sizeof(field), "%s%s", prefix, key);
        td_problems_add(p, field, "must be a string");
        return;
    }
    *out = json_string_value(v);
}

/* Reads an optional RFC 3339 member into *out (-1 when absent or bad).
 * Returns false when it is there but bad (a problem added). */
static bool booking_time(json_t *obj, const char *key, int64_t *out, struct td_problems *p)
{
    const char *s;
    size_t before = p->count + p->dropped;
    *out = -1;
    booking_string(obj, "", key, &s, p);
    if (s && td_time_parse(s, out) < 0) {
        *out = -1;
        td_problems_add(p, key, "'%.60s' is not an RFC 3339 time like 2026-12-05T10:00:00+01:00",
                        s);
    }
    return p->count + p->dropped == before;
}

static void booking_customer(json_t *doc, struct td_problems *p)
{
    json_t *c = json_object_get(doc, "customer");
    if (!c || json_is_null(c))
        return;
    if (!json_is_object(c)) {
        td_problems_add(p, "customer", "must be an object");
        return;
    }
    static const char *const fields[] = {"id",    "first_name", "last_name",
                                         "email", "phone",      "locale"};
    const char *s;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        booking_string(c, "customer.", fields[i], &s, p);
    json_t *locale = json_object_get(c, "locale");
    if (json_is_string(locale) && strcmp(json_string_value(locale), "de") != 0 &&
        strcmp(json_string_value(locale), "en") != 0)
        td_problems_add(p, "customer.locale", "'%.20s' is not a supported locale (de, en)",
                        json_string_value(locale));
}

int td_booking_read(json_t *doc, struct td_booking *out, struct td_problems *p)
{
    memset(out, 0, sizeof(*out));
    size_t before = p->count + p->dropped;
    if (!json_is_object(doc)) {
        td_problems_add(p, "booking", "must be a JSON object");
        return -EINVAL;
    }
    const char *s;
    booking_string(doc, "", "id", &out->id, p);
    json_t *id = json_object_get(doc, "id");
    if (!id || json_is_null(id) || (out->id && (!*out->id || strlen(out->id) > BOOKING_ID_MAX)))
        td_problems_add(p, "id", "required, a string of 1 to %d characters", BOOKING_ID_MAX);
    booking_string(doc, "", "status", &out->status, p);
    json_t *status = json_object_get(doc, "status");
    if (!status || json_is_null(status) || (out->status && !td_booking_status_known(out->status)))
        td_problems_add(p, "status",
                        "required, one of pending, confirmed, checked_in, completed, "
                        "cancelled, no_show");
    booking_string(doc, "", "subtype", &out->subtype, p);
    json_t *start = json_object_get(doc, "start");
    bool times_ok = booking_time(doc, "start", &out->start_ms, p);
    if (!start || json_is_null(start))
        td_problems_add(p, "start", "required, an RFC 3339 time like 2026-12-05T10:00:00+01:00");
    times_ok = booking_time(doc, "end", &out->end_ms, p) && times_ok;
    if (times_ok && out->start_ms >= 0 && out->end_ms >= 0 && out->end_ms < out->start_ms)
        td_problems_add(p, "end", "is before start");
    booking_time(doc, "updated_at", &out->updated_at_ms, p);
    out->version = -1;
    json_t *version = json_object_get(doc, "version");
    if (version && !json_is_null(version)) {
        if (!json_is_integer(version) || json_integer_value(version) < 0)
            td_problems_add(p, "version", "must be a whole number of 0 or more");
        else
            out->version = json_integer_value(version);
    }
    booking_string(doc, "", "timezone", &out->timezone, p);
    if (out->timezone) {
        char *tz = NULL;
        char why[128];
        if (td_value_normalize(TD_VALUE_TIMEZONE, out->timezone, NULL, 0, 0, &tz, why,
                               sizeof(why)) < 0)
            td_problems_add(p, "timezone", "%s", why);
        free(tz);
    }
    booking_string(doc, "", "name", &s, p);
    booking_string(doc, "", "location", &s, p);
    booking_customer(doc, p);
    json_t *customer = json_object_get(doc, "customer");
    json_t *cid = json_object_get(customer, "id");
    out->customer_key = json_is_string(cid) ? json_string_value(cid)
                                            : json_string_value(json_object_get(customer, "email"));
    json_t *data = json_object_get(doc, "data");
    if (data && !json_is_null(data) && !json_is_object(data))
        td_problems_add(p, "data", "must be an object");
    if (p->count + p->dropped > before) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    out->doc = json_incref(doc);
    return 0;
}

int td_booking_from_json(json_t *doc, struct td_booking *out, char *err, size_t errcap)
{
    struct td_problems p = {0};
    int rc = td_booking_read(doc, out, &p);
    if (rc < 0)
        td_problems_text(&p, err, errcap);
    return rc;
}

int td_booking_parse(const char *json, size_t len, struct td_booking *out, char *err, size_t errcap)
{
    json_error_t jerr;
    memset(out, 0, sizeof(*out));
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(err, errcap, "malformed JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return -EINVAL;
    }
    int rc = td_booking_from_json(doc, out, err, errcap);
    json_decref(doc);
    return rc;
}

void td_booking_clear(struct td_booking *b)
{
    json_decref(b->doc);
    memset(b, 0, sizeof(*b));
}
