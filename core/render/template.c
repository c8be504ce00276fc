/* template: a message template document (admin-edited JSON), checked. */
#include "render/template.h"

#include "config/config_value.h"
#include "render/render.h"
#include "render/render_context.h"

#include <errno.h>
#include <stdarg.h>
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

/* Paths of members: "whatsapp.params[1]", under a root such as "templates[0]". */
#define TEMPLATE_PATH_MAX 256

/* Adds a problem at root.key. */
static void problem(struct td_diag *d, const char *root, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct td_diag *d, const char *root, const char *key, const char *fmt, ...)
{
    char path[TEMPLATE_PATH_MAX];
    snprintf(path, sizeof(path), "%s%s%s", root, *root ? "." : "", key);
    va_list ap;
    va_start(ap, fmt);
    td_diag_vadd_at(d, path, fmt, ap);
    va_end(ap);
}

/* Checks that text is well-formed and uses only known variables. */
static int template_check_text(const char *text, const char *root, const char *key,
                               struct td_diag *d)
{
    char why[200], bad[80] = "";
    struct name_check nc = {bad, sizeof(bad)};
    int rc = td_render_names(text, check_name, &nc, why, sizeof(why));
    if (rc < 0) {
        problem(d, root, key, "%s", why);
        return -EINVAL;
    }
    if (rc > 0) {
        problem(d, root, key,
                "unknown variable '%s' (use firstName, lastName, eventName, eventDate, ... "
                "or booking.*, customer.*, data.*)",
                bad);
        return -EINVAL;
    }
    return 0;
}

/* Reads a text member; checks it is a string and a well-formed template. */
static void template_text(json_t *doc, const char *root, const char *key, bool required,
                          const char **out, struct td_diag *d)
{
    json_t *v = json_object_get(doc, key);
    *out = NULL;
    if (!v) {
        if (required)
            problem(d, root, key, "required");
        return;
    }
    if (!json_is_string(v)) {
        problem(d, root, key, "must be a string");
        return;
    }
    template_check_text(json_string_value(v), root, key, d);
    *out = json_string_value(v);
}

/* The approved WhatsApp template a whatsapp template maps to. */
static void template_whatsapp(json_t *doc, const char *root, struct td_template *t,
                              struct td_diag *d)
{
    json_t *wa = json_object_get(doc, "whatsapp");
    if (!wa)
        return;
    if (t->channel && strcmp(t->channel, "whatsapp") != 0) {
        problem(d, root, "whatsapp", "only whatsapp templates map to an approved template");
        return;
    }
    if (!json_is_object(wa)) {
        problem(d, root, "whatsapp",
                "must be an object like {\"name\": \"haff_reminder\", \"language\": \"de\"}");
        return;
    }
    json_t *name = json_object_get(wa, "name");
    json_t *lang = json_object_get(wa, "language");
    json_t *params = json_object_get(wa, "params");
    char path[TEMPLATE_PATH_MAX];
    snprintf(path, sizeof(path), "%s%swhatsapp", root, *root ? "." : "");
    if (!json_is_string(name) || !*json_string_value(name))
        problem(d, path, "name", "required, the approved template's name");
    if (!json_is_string(lang) || !*json_string_value(lang))
        problem(d, path, "language", "required, like de or en");
    if (params && !json_is_array(params))
        problem(d, path, "params", "must be an array, one entry per {{1}}, {{2}}, ...");
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        char key[48];
        snprintf(key, sizeof(key), "params[%zu]", i);
        if (!json_is_string(p))
            problem(d, path, key, "must be a string");
        else
            template_check_text(json_string_value(p), path, key, d);
    }
    t->wa_name = json_string_value(name);
    t->wa_language = json_string_value(lang);
    t->wa_params = json_is_array(params) ? params : NULL;
}

int td_template_parse_all(json_t *doc, const char *root, struct td_template **out,
                          struct td_diag *diag)
{
    *out = NULL;
    if (!json_is_object(doc)) {
        td_diag_add_at(diag, *root ? root : "(template)", "must be a JSON object");
        return -EINVAL;
    }
    struct td_template *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->doc = json_incref(doc);
    size_t before = diag->count;
    json_t *key = json_object_get(doc, "key");
    json_t *channel = json_object_get(doc, "channel");
    char *checked = NULL;
    char why[160];
    if (!json_is_string(key) || td_value_normalize(TD_VALUE_ID, json_string_value(key), NULL, 0, 0,
                                                   &checked, why, sizeof(why)) < 0)
        problem(diag, root, "key", "required, lower-case letters, digits, '-' and '_'");
    free(checked);
    t->key = json_string_value(key);
    if (!json_is_string(channel) || !*json_string_value(channel))
        problem(diag, root, "channel", "required, like email, sms or whatsapp");
    else
        t->channel = json_string_value(channel);
    /* without a channel it is unknown which texts are required */
    bool known = t->channel != NULL;
    bool email = known && strcmp(t->channel, "email") == 0;
    bool whatsapp = known && strcmp(t->channel, "whatsapp") == 0;
    template_whatsapp(doc, root, t, diag);
    template_text(doc, root, "subject", email, &t->subject, diag);
    template_text(doc, root, "text", known && !(whatsapp && t->wa_name), &t->text, diag);
    template_text(doc, root, "html", false, &t->html, diag);
    if (known && !email && (t->subject || t->html))
        problem(diag, root, t->subject ? "subject" : "html",
                "only e-mail templates have a subject or html");
    json_t *sample = json_object_get(doc, "sample");
    if (sample && !json_is_object(sample))
        problem(diag, root, "sample", "must be a booking object");
    const char *member;
    json_t *mv;
    json_object_foreach(doc, member, mv)
    {
        static const char *const members[] = {"key",  "channel", "name",   "description", "subject",
                                              "text", "html",    "sample", "whatsapp",    "locale"};
        bool ok = false;
        for (size_t k = 0; k < sizeof(members) / sizeof(members[0]); k++)
            ok = ok || strcmp(member, members[k]) == 0;
        if (!ok)
            problem(diag, root, member,
                    "unknown member (key, channel, name, description, subject, text, html, "
                    "whatsapp, sample, locale)");
    }
    if (diag->count > before) {
        td_template_destroy(t);
        return -EINVAL;
    }
    *out = t;
    return 0;
}

int td_template_parse(json_t *doc, struct td_template **out, char *err, size_t errcap)
{
    struct td_diag diag = {0};
    int rc = td_template_parse_all(doc, "", out, &diag);
    if (rc < 0 && errcap)
        snprintf(err, errcap, "%s",
                 rc == -EINVAL && diag.count && diag.lines[0] ? diag.lines[0] : "out of memory");
    td_diag_clear(&diag);
    return rc;
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
