/* template: a message template document (admin-edited JSON), checked. */
#include "template.h"

#include "config_value.h"
#include "render.h"
#include "render_context.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_is_data_path(const char *name, size_t len)
{
    static const char *const roots[] = {"booking", "customer", "data"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(roots[i]);
        if (len >= n && strncmp(name, roots[i], n) == 0 && (len == n || name[n] == '.'))
            return true;
    }
    return false;
}

static bool name_is_variable(const char *name, size_t len)
{
    for (const char *const *v = td_render_variable_names; *v; v++) {
        if (strlen(*v) == len && strncmp(*v, name, len) == 0)
            return true;
    }
    return false;
}

struct name_check {
    char *bad; /* the first unknown name */
    size_t cap;
};

static int check_name(void *ctx, const char *name, size_t len, const char *section,
                      size_t section_len)
{
    struct name_check *nc = ctx;
    if (name_is_variable(name, len) || name_is_data_path(name, len))
        return 0;
    /* inside a section over booking data, the items' own fields */
    if (section && name_is_data_path(section, section_len))
        return 0;
    snprintf(nc->bad, nc->cap, "%.*s", (int)len, name);
    return 1;
}

/* Checks that text is well-formed and uses only known variables. */
static int template_check_text(const char *text, const char *path, char *err, size_t cap)
{
    char why[200], bad[80] = "";
    struct name_check nc = {bad, sizeof(bad)};
    int rc = td_render_names(text, check_name, &nc, why, sizeof(why));
    if (rc < 0) {
        snprintf(err, cap, "%s: %s", path, why);
        return -EINVAL;
    }
    if (rc > 0) {
        snprintf(err, cap,
                 "%s: unknown variable '%s' (use firstName, lastName, eventName, eventDate, ... "
                 "or booking.*, customer.*, data.*)",
                 path, bad);
        return -EINVAL;
    }
    return 0;
}

/* Reads a text member; checks it is a string and a well-formed template. */
static int template_text(json_t *doc, const char *key, bool required, const char **out, char *err,
                         size_t cap)
{
    json_t *v = json_object_get(doc, key);
    *out = NULL;
    if (!v) {
        if (required) {
            snprintf(err, cap, "%s: required", key);
            return -EINVAL;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        snprintf(err, cap, "%s: must be a string", key);
        return -EINVAL;
    }
    if (template_check_text(json_string_value(v), key, err, cap) < 0)
        return -EINVAL;
    *out = json_string_value(v);
    return 0;
}

/* The approved WhatsApp template a whatsapp template maps to. */
static int template_whatsapp(json_t *doc, struct td_template *t, char *err, size_t cap)
{
    json_t *wa = json_object_get(doc, "whatsapp");
    if (!wa)
        return 0;
    if (strcmp(t->channel, "whatsapp") != 0) {
        snprintf(err, cap, "whatsapp: only whatsapp templates map to an approved template");
        return -EINVAL;
    }
    json_t *name = json_object_get(wa, "name");
    json_t *lang = json_object_get(wa, "language");
    json_t *params = json_object_get(wa, "params");
    if (!json_is_object(wa) || !json_is_string(name) || !*json_string_value(name)) {
        snprintf(err, cap, "whatsapp.name: required, the approved template's name");
        return -EINVAL;
    }
    if (!json_is_string(lang) || !*json_string_value(lang)) {
        snprintf(err, cap, "whatsapp.language: required, like de or en");
        return -EINVAL;
    }
    if (params && !json_is_array(params)) {
        snprintf(err, cap, "whatsapp.params: must be an array, one entry per {{1}}, {{2}}, ...");
        return -EINVAL;
    }
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        char path[48];
        snprintf(path, sizeof(path), "whatsapp.params[%zu]", i);
        if (!json_is_string(p)) {
            snprintf(err, cap, "%s: must be a string", path);
            return -EINVAL;
        }
        if (template_check_text(json_string_value(p), path, err, cap) < 0)
            return -EINVAL;
    }
    t->wa_name = json_string_value(name);
    t->wa_language = json_string_value(lang);
    t->wa_params = params;
    return 0;
}

int td_template_parse(json_t *doc, struct td_template **out, char *err, size_t errcap)
{
    *out = NULL;
    if (!json_is_object(doc)) {
        snprintf(err, errcap, "(template): must be a JSON object");
        return -EINVAL;
    }
    struct td_template *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->doc = json_incref(doc);
    json_t *key = json_object_get(doc, "key");
    json_t *channel = json_object_get(doc, "channel");
    char *checked = NULL;
    char why[160];
    if (!json_is_string(key) || td_value_normalize(TD_VALUE_ID, json_string_value(key), NULL, 0, 0,
                                                   &checked, why, sizeof(why)) < 0) {
        snprintf(err, errcap, "key: required, lower-case letters, digits, '-' and '_'");
        goto out_fail;
    }
    free(checked);
    t->key = json_string_value(key);
    if (!json_is_string(channel) || !*json_string_value(channel)) {
        snprintf(err, errcap, "channel: required, like email, sms or whatsapp");
        goto out_fail;
    }
    t->channel = json_string_value(channel);
    bool email = strcmp(t->channel, "email") == 0;
    bool whatsapp = strcmp(t->channel, "whatsapp") == 0;
    if (template_whatsapp(doc, t, err, errcap) < 0)
        goto out_fail;
    if (template_text(doc, "subject", email, &t->subject, err, errcap) < 0 ||
        template_text(doc, "text", !(whatsapp && t->wa_name), &t->text, err, errcap) < 0 ||
        template_text(doc, "html", false, &t->html, err, errcap) < 0)
        goto out_fail;
    if (!email && (t->subject || t->html)) {
        snprintf(err, errcap, "%s: only e-mail templates have a subject or html",
                 t->subject ? "subject" : "html");
        goto out_fail;
    }
    json_t *sample = json_object_get(doc, "sample");
    if (sample && !json_is_object(sample)) {
        snprintf(err, errcap, "sample: must be a booking object");
        goto out_fail;
    }
    const char *member;
    json_t *mv;
    json_object_foreach(doc, member, mv)
    {
        static const char *const known[] = {"key",  "channel", "name",   "description", "subject",
                                            "text", "html",    "sample", "whatsapp",    "locale"};
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || strcmp(member, known[k]) == 0;
        if (!ok) {
            snprintf(err, errcap,
                     "%s: unknown member (key, channel, name, description, subject, "
                     "text, html, whatsapp, sample, locale)",
                     member);
            goto out_fail;
        }
    }
    *out = t;
    return 0;
out_fail:
    td_template_destroy(t);
    return -EINVAL;
}

/* The booking templates are previewed against when they bring no sample. */
static const char sample_booking[] =
    "{\"id\":\"B-1001\",\"status\":\"confirmed\",\"name\":\"Sportbootführerschein See\","
    "\"location\":\"Hafen Ueckermünde, Steg 3\",\"customer\":{\"first_name\":\"Maximilian\","
    "\"last_name\":\"Schneider-Hoffmann\",\"email\":\"max@example.org\",\"phone\":"
    "\"+491711234567\"},\"data\":{}}";

int td_template_sample(const struct td_template *t, json_t **out, char *err, size_t errcap)
{
    *out = NULL;
    json_t *booking = json_object_get(t->doc, "sample");
    json_error_t jerr;
    json_t *fallback = booking ? NULL : json_loads(sample_booking, 0, &jerr);
    struct td_render_input in = {
        .booking = booking ? booking : fallback,
        .org_name = "Segelschule am Haff",
        .locale = "de",
        .start = {true, 2026, 9, 30, 10, 0, 3},
        .end = {true, 2026, 10, 2, 17, 0, 5},
        .days_until = 7,
    };
    json_t *ctx = td_render_context(&in);
    json_t *result = json_object();
    const char *fields[] = {"subject", "text", "html"};
    const char *texts[] = {t->subject, t->text, t->html};
    int rc = ctx && result ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        char *s = NULL;
        if (texts[i] && (rc = td_render(texts[i], ctx, i == 2, &s, err, errcap)) == 0)
            json_object_set_new(result, fields[i], json_string(s));
        free(s);
    }
    json_decref(ctx);
    json_decref(fallback);
    if (rc < 0) {
        json_decref(result);
        return rc;
    }
    *out = result;
    return 0;
}

void td_template_destroy(struct td_template *t)
{
    if (!t)
        return;
    json_decref(t->doc);
    free(t);
}
