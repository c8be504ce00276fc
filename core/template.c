/* template: a message template document (admin-edited JSON), checked. */
#include "template.h"

#include "config_value.h"
#include "render.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int no_check(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    (void)name;
    (void)len;
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
    char why[200];
    if (td_render_names(json_string_value(v), no_check, NULL, why, sizeof(why)) < 0) {
        snprintf(err, cap, "%s: %s", key, why);
        return -EINVAL;
    }
    *out = json_string_value(v);
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
    if (template_text(doc, "subject", email, &t->subject, err, errcap) < 0 ||
        template_text(doc, "text", true, &t->text, err, errcap) < 0 ||
        template_text(doc, "html", false, &t->html, err, errcap) < 0)
        goto out_fail;
    *out = t;
    return 0;
out_fail:
    td_template_destroy(t);
    return -EINVAL;
}

void td_template_destroy(struct td_template *t)
{
    if (!t)
        return;
    json_decref(t->doc);
    free(t);
}
