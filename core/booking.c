/* booking: the booking document an integrator posts, parsed and checked. */
#include "booking.h"

#include "config_value.h"
#include "timefmt.h"

#include <errno.h>
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

/* Reads an optional string member; -EINVAL when present with another type. */
static int booking_string(json_t *obj, const char *key, const char **out, char *err, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        snprintf(err, cap, "%s: must be a string", key);
        return -EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

static int booking_time(json_t *obj, const char *key, int64_t *out, char *err, size_t cap)
{
    const char *s;
    *out = -1;
    if (booking_string(obj, key, &s, err, cap) < 0)
        return -EINVAL;
    if (s && td_time_parse(s, out) < 0) {
        snprintf(err, cap, "%s: '%.60s' is not an RFC 3339 time like 2026-12-05T10:00:00+01:00",
                 key, s);
        return -EINVAL;
    }
    return 0;
}

static int booking_customer(json_t *doc, char *err, size_t cap)
{
    json_t *c = json_object_get(doc, "customer");
    if (!c || json_is_null(c))
        return 0;
    if (!json_is_object(c)) {
        snprintf(err, cap, "customer: must be an object");
        return -EINVAL;
    }
    static const char *const fields[] = {"first_name", "last_name", "email", "phone", "locale"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = json_object_get(c, fields[i]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            snprintf(err, cap, "customer.%s: must be a string", fields[i]);
            return -EINVAL;
        }
    }
    json_t *locale = json_object_get(c, "locale");
    if (json_is_string(locale) && strcmp(json_string_value(locale), "de") != 0 &&
        strcmp(json_string_value(locale), "en") != 0) {
        snprintf(err, cap, "customer.locale: '%.20s' is not a supported locale (de, en)",
                 json_string_value(locale));
        return -EINVAL;
    }
    return 0;
}

int td_booking_from_json(json_t *doc, struct td_booking *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(doc)) {
        snprintf(err, errcap, "the booking must be a JSON object");
        return -EINVAL;
    }
    const char *s;
    if (booking_string(doc, "id", &out->id, err, errcap) < 0)
        return -EINVAL;
    if (!out->id || !*out->id || strlen(out->id) > BOOKING_ID_MAX) {
        snprintf(err, errcap, "id: required, a string of 1 to %d characters", BOOKING_ID_MAX);
        return -EINVAL;
    }
    if (booking_string(doc, "status", &out->status, err, errcap) < 0)
        return -EINVAL;
    if (!out->status || !td_booking_status_known(out->status)) {
        snprintf(err, errcap,
                 "status: required, one of pending, confirmed, checked_in, completed, "
                 "cancelled, no_show");
        return -EINVAL;
    }
    if (booking_string(doc, "subtype", &out->subtype, err, errcap) < 0)
        return -EINVAL;
    if (booking_time(doc, "start", &out->start_ms, err, errcap) < 0)
        return -EINVAL;
    if (out->start_ms < 0) {
        snprintf(err, errcap, "start: required, an RFC 3339 time like 2026-12-05T10:00:00+01:00");
        return -EINVAL;
    }
    if (booking_time(doc, "end", &out->end_ms, err, errcap) < 0)
        return -EINVAL;
    if (out->end_ms >= 0 && out->end_ms < out->start_ms) {
        snprintf(err, errcap, "end: is before start");
        return -EINVAL;
    }
    if (booking_time(doc, "updated_at", &out->updated_at_ms, err, errcap) < 0)
        return -EINVAL;
    out->version = -1;
    json_t *version = json_object_get(doc, "version");
    if (version && !json_is_null(version)) {
        if (!json_is_integer(version) || json_integer_value(version) < 0) {
            snprintf(err, errcap, "version: must be a whole number of 0 or more");
            return -EINVAL;
        }
        out->version = json_integer_value(version);
    }
    if (booking_string(doc, "timezone", &out->timezone, err, errcap) < 0)
        return -EINVAL;
    if (out->timezone) {
        char *tz = NULL;
        char why[128];
        if (td_value_normalize(TD_VALUE_TIMEZONE, out->timezone, NULL, 0, 0, &tz, why,
                               sizeof(why)) < 0) {
            snprintf(err, errcap, "timezone: %s", why);
            return -EINVAL;
        }
        free(tz);
    }
    if (booking_string(doc, "name", &s, err, errcap) < 0 ||
        booking_string(doc, "location", &s, err, errcap) < 0)
        return -EINVAL;
    if (booking_customer(doc, err, errcap) < 0)
        return -EINVAL;
    json_t *customer = json_object_get(doc, "customer");
    json_t *cid = json_object_get(customer, "id");
    if (cid && !json_is_null(cid) && !json_is_string(cid)) {
        snprintf(err, errcap, "customer.id: must be a string");
        return -EINVAL;
    }
    out->customer_key = json_is_string(cid) ? json_string_value(cid)
                                            : json_string_value(json_object_get(customer, "email"));
    json_t *data = json_object_get(doc, "data");
    if (data && !json_is_null(data) && !json_is_object(data)) {
        snprintf(err, errcap, "data: must be an object");
        return -EINVAL;
    }
    out->doc = json_incref(doc);
    return 0;
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
