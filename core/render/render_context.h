/* render_context: the variables a template sees, built from the booking,
 * the organization and the booking's local times. */
#ifndef TD_RENDER_CONTEXT_H
#define TD_RENDER_CONTEXT_H

#include <jansson.h>
#include <stdbool.h>

/* A wall-clock time in the booking's time zone (computed by PostgreSQL). */
struct td_local_time {
    bool set;
    int year, month, day; /* month 1-12 */
    int hour, minute;
    int weekday; /* 0 = Sunday */
};

struct td_render_input {
    json_t *booking; /* the booking document (borrowed) */
    const char *org_name;
    const char *locale; /* "de" or "en": the customer's, else the organization's */
    struct td_local_time start;
    struct td_local_time end;
    int days_until; /* calendar days from today to the start, local */
};

/* Builds the context: firstName, lastName, fullName, email, phone, eventName,
 * eventDate, eventTime, eventEndDate, eventEndTime, locationName, bookingRef,
 * daysUntil, orgName, plus booking, customer and data for dotted access.
 * Returns a new reference (caller decrefs) or NULL on no memory. */
json_t *td_render_context(const struct td_render_input *in);

/* The names above, NULL-terminated: what templates may use besides booking.*,
 * customer.* and data.*. */
extern const char *const td_render_variable_names[];

/* Formats a local date in locale into buf: "Samstag, 5. Dezember 2026" or
 * "Saturday, 5 December 2026". */
void td_format_local_date(const struct td_local_time *t, const char *locale, char *buf, size_t cap);

#endif
