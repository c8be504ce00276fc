/* booking_check: strict checks of an incoming booking document. */
#include "intake/booking_check.h"

#include "intake/address.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const booking_fields[] = {"id",       "status",     "subtype", "start",
                                             "end",      "timezone",   "name",    "location",
                                             "customer", "updated_at", "version", "data"};
static const char *const customer_fields[] = {"id",    "first_name", "last_name", "email",
                                              "phone", "locale",     "consent"};

static bool known(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(key, list[i]) == 0)
            return true;
    }
    return false;
}

/* "id, status, ..." of a list. */
static void list_text(const char *const *list, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", list[i]);
        if (w > 0)
            len += (size_t)w;
    }
}

static void unknown_keys(json_t *obj, const char *prefix, const char *const *list, size_t n,
                         struct td_problems *out)
{
    const char *key;
    json_t *v;
    char names[200];
    list_text(list, n, names, sizeof(names));
    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (known(key, list, n))
            continue;
        char field[80];
        snprintf(field, sizeof(field), "%s%.60s", prefix, key);
        td_problems_add(out, field, "unknown field (known: %s; free-form values go in data)",
                        names);
    }
}

static void check_customer(json_t *c, const char *country, struct td_problems *out)
{
    unknown_keys(c, "customer.", customer_fields,
                 sizeof(customer_fields) / sizeof(customer_fields[0]), out);
    json_t *email = json_object_get(c, "email");
    if (json_is_string(email) && *json_string_value(email) &&
        !td_email_plausible(json_string_value(email)))
        td_problems_add(out, "customer.email", "not a valid e-mail address");
    json_t *phone = json_object_get(c, "phone");
    const char *number = json_string_value(phone);
    char e164[40];
    /* without an organization's calling code only international numbers do */
    const char *lead = number ? number + strspn(number, " \t") : "";
    bool international = lead[0] == '+' || (lead[0] == '0' && lead[1] == '0');
    if (number && *number &&
        ((!country && !international) ||
         td_phone_normalize(number, country ? country : "", e164, sizeof(e164)) < 0))
        td_problems_add(out, "customer.phone", "not a phone number (use +49... %s)",
                        country ? "or a national 0..." : "in international form");
    json_t *consent = json_object_get(c, "consent");
    if (!consent || json_is_null(consent))
        return;
    if (!json_is_object(consent)) {
        td_problems_add(out, "customer.consent",
                        "must be an object like {\"sms\": true, \"whatsapp\": false}");
        return;
    }
    const char *channel;
    json_t *v;
    json_object_foreach(consent, channel, v)
    {
        if (json_is_boolean(v) || json_is_null(v))
            continue;
        char field[80];
        snprintf(field, sizeof(field), "customer.consent.%.40s", channel);
        td_problems_add(out, field, "must be true or false");
    }
}

size_t td_booking_check(json_t *doc, const char *country, struct td_problems *out)
{
    size_t before = out->count + out->dropped;
    if (!json_is_object(doc)) {
        td_problems_add(out, "booking", "must be a JSON object");
        return 1;
    }
    unknown_keys(doc, "", booking_fields, sizeof(booking_fields) / sizeof(booking_fields[0]), out);
    json_t *c = json_object_get(doc, "customer");
    if (json_is_object(c))
        check_customer(c, country, out);
    return out->count + out->dropped - before;
}
