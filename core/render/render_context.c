/* render_context: the variables a template sees. */
#include "render/render_context.h"

#include <stdio.h>
#include <string.h>

const char *const td_render_variable_names[] = {
    "firstName",    "lastName",   "fullName",  "email",        "phone",
    "eventName",    "eventDate",  "eventTime", "eventEndDate", "eventEndTime",
    "locationName", "bookingRef", "daysUntil", "orgName",      NULL,
};

static const char *const months_de[] = {"Januar",    "Februar", "März",     "April",
                                        "Mai",       "Juni",    "Juli",     "August",
                                        "September", "Oktober", "November", "Dezember"};
static const char *const months_en[] = {"January",   "February", "March",    "April",
                                        "May",       "June",     "July",     "August",
                                        "September", "October",  "November", "December"};
static const char *const days_de[] = {"Sonntag",    "Montag",  "Dienstag", "Mittwoch",
                                      "Donnerstag", "Freitag", "Samstag"};
static const char *const days_en[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                      "Thursday", "Friday", "Saturday"};

void td_format_local_date(const struct td_local_time *t, const char *locale, char *buf, size_t cap)
{
    if (!t->set || t->month < 1 || t->month > 12 || t->weekday < 0 || t->weekday > 6) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    if (locale && strcmp(locale, "en") == 0)
        snprintf(buf, cap, "%s, %d %s %d", days_en[t->weekday], t->day, months_en[t->month - 1],
                 t->year);
    else
        snprintf(buf, cap, "%s, %d. %s %d", days_de[t->weekday], t->day, months_de[t->month - 1],
                 t->year);
}

static void format_local_clock(const struct td_local_time *t, char *buf, size_t cap)
{
    if (!t->set)
        snprintf(buf, cap, "%s", "");
    else
        snprintf(buf, cap, "%02d:%02d", t->hour, t->minute);
}

/* Sets key to a copy of a string member of obj, or "" when absent. */
static void set_from(json_t *ctx, const char *key, json_t *obj, const char *member)
{
    json_t *v = obj ? json_object_get(obj, member) : NULL;
    json_object_set_new(ctx, key, json_string(json_is_string(v) ? json_string_value(v) : ""));
}

json_t *td_render_context(const struct td_render_input *in)
{
    json_t *ctx = json_object();
    if (!ctx)
        return NULL;
    json_t *customer = json_object_get(in->booking, "customer");
    json_t *data = json_object_get(in->booking, "data");
    set_from(ctx, "firstName", customer, "first_name");
    set_from(ctx, "lastName", customer, "last_name");
    set_from(ctx, "email", customer, "email");
    set_from(ctx, "phone", customer, "phone");
    set_from(ctx, "eventName", in->booking, "name");
    set_from(ctx, "locationName", in->booking, "location");
    set_from(ctx, "bookingRef", in->booking, "id");
    const char *first = json_string_value(json_object_get(ctx, "firstName"));
    const char *last = json_string_value(json_object_get(ctx, "lastName"));
    char text[160];
    snprintf(text, sizeof(text), "%s%s%s", first, *first && *last ? " " : "", last);
    json_object_set_new(ctx, "fullName", json_string(text));
    td_format_local_date(&in->start, in->locale, text, sizeof(text));
    json_object_set_new(ctx, "eventDate", json_string(text));
    format_local_clock(&in->start, text, sizeof(text));
    json_object_set_new(ctx, "eventTime", json_string(text));
    td_format_local_date(in->end.set ? &in->end : &in->start, in->locale, text, sizeof(text));
    json_object_set_new(ctx, "eventEndDate", json_string(text));
    format_local_clock(in->end.set ? &in->end : &in->start, text, sizeof(text));
    json_object_set_new(ctx, "eventEndTime", json_string(text));
    json_object_set_new(ctx, "daysUntil", json_integer(in->days_until));
    json_object_set_new(ctx, "orgName", json_string(in->org_name ? in->org_name : ""));
    json_object_set(ctx, "booking", in->booking);
    json_object_set_new(ctx, "customer", customer ? json_incref(customer) : json_object());
    json_object_set_new(ctx, "data", data ? json_incref(data) : json_object());
    return ctx;
}
