/* plugin_config: checks one [channel.x] / [trigger.x] section against the
 * key list its plugin declares and builds the resolved settings. */
#include "config/plugin_config.h"

#include "util/buf.h"
#include "config/config_value.h"
#include "config/secret.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(enum td_plugin_kind kind)
{
    return kind == TD_PLUGIN_CHANNEL ? "channel" : "trigger";
}

static bool plugin_serves(const struct td_plugin *plugin, const char *channel)
{
    for (const char *const *s = plugin->serves; s && *s; s++) {
        if (strcmp(*s, "*") == 0 || strcmp(*s, channel) == 0)
            return true;
    }
    return false;
}

static char *plugin_key_list(const struct td_plugin *plugin)
{
    struct td_buf b = {0};
    for (size_t i = 0; i < plugin->config_key_count; i++)
        td_buf_printf(&b, "%s%s", i ? ", " : "", plugin->config_keys[i].name);
    td_buf_puts(&b, "");
    return td_buf_take(&b);
}

static char *plugin_serves_list(const struct td_plugin *plugin)
{
    struct td_buf b = {0};
    for (const char *const *s = plugin->serves; s && *s; s++)
        td_buf_printf(&b, "%s%s", b.len ? ", " : "", *s);
    td_buf_puts(&b, "");
    return td_buf_take(&b);
}

const struct td_config_key_limits *td_plugin_key_limits(const struct td_plugin *plugin, size_t i)
{
    if (plugin->abi_minor < 2 ||
        plugin->struct_size <
            offsetof(struct td_plugin, config_key_limits) + sizeof(plugin->config_key_limits) ||
        !plugin->config_key_limits)
        return NULL;
    return &plugin->config_key_limits[i];
}

/* "500 ms", "30 s", "5 min", "2 h": a duration for a message. */
static void duration_text(long ms, char *out, size_t cap)
{
    if (ms % 3600000 == 0 && ms)
        snprintf(out, cap, "%ldh", ms / 3600000);
    else if (ms % 60000 == 0 && ms)
        snprintf(out, cap, "%ldm", ms / 60000);
    else if (ms % 1000 == 0 && ms)
        snprintf(out, cap, "%lds", ms / 1000);
    else
        snprintf(out, cap, "%ldms", ms);
}

/* Checks and normalizes a value of the ABI 1.2 key types (DURATION, SIZE,
 * ENUM) and the range of INT ones. Returns 0 with *out, -EINVAL with err,
 * or -ENOMEM. */
static int plugin_typed_value(const struct td_config_key *key,
                              const struct td_config_key_limits *lim, const char *raw, char **out,
                              char *err, size_t errcap)
{
    long v = 0;
    bool ranged = lim && lim->has_range;
    long min = ranged ? (long)lim->min : LONG_MIN, max = ranged ? (long)lim->max : LONG_MAX;
    char lo[32], hi[32];
    switch (key->type) {
    case TD_KEY_DURATION:
        if (td_parse_duration_ms(raw, &v) < 0) {
            snprintf(err, errcap, "'%s' is not a duration (like 500ms, 30s, 5m, 2h)", raw);
            return -EINVAL;
        }
        if (v < min || v > max) {
            duration_text(min, lo, sizeof(lo));
            duration_text(max, hi, sizeof(hi));
            snprintf(err, errcap, "'%s' is not from %s to %s", raw, lo, hi);
            return -EINVAL;
        }
        break;
    case TD_KEY_SIZE:
        if (td_parse_size(raw, &v) < 0) {
            snprintf(err, errcap, "'%s' is not a size (like 512, 64k, 10M, 1G)", raw);
            return -EINVAL;
        }
        if (v < min || v > max) {
            snprintf(err, errcap, "'%s' is not from %ld to %ld bytes", raw, min, max);
            return -EINVAL;
        }
        break;
    case TD_KEY_ENUM: {
        for (const char *const *c = lim ? lim->choices : NULL; c && *c; c++) {
            if (strcmp(raw, *c) == 0) {
                *out = strdup(raw);
                return *out ? 0 : -ENOMEM;
            }
        }
        struct td_buf b = {0};
        for (const char *const *c = lim ? lim->choices : NULL; c && *c; c++)
            td_buf_printf(&b, "%s%s", b.len ? ", " : "", *c);
        snprintf(err, errcap, "'%s' is not one of: %s", raw, b.len ? td_buf_str(&b) : "(none)");
        td_buf_reset(&b);
        return -EINVAL;
    }
    default: return td_value_normalize(TD_VALUE_INT, raw, NULL, min, max, out, err, errcap);
    }
    char text[32];
    snprintf(text, sizeof(text), "%ld", v);
    *out = strdup(text);
    return *out ? 0 : -ENOMEM;
}

/* Resolves one declared key into *value (NULL when unset). Returns 0, -EINVAL
 * (reported) or -ENOMEM. */
static int plugin_key_value(const struct td_org_config *org, struct td_ini_section *section,
                            const struct td_config_key *key, const struct td_config_key_limits *lim,
                            char **value, struct td_diag *diag)
{
    *value = NULL;
    struct td_ini_entry *e = td_ini_entry_take(section, key->name);
    if (!e) {
        if (key->required) {
            td_diag_add(diag, "%s:%d: [%s] missing required key '%s' (%s)", org->path,
                        section->line, section->name, key->name, key->help ? key->help : "");
            return -EINVAL;
        }
        if (!key->default_value)
            return 0;
    }
    const char *raw = e ? e->value : key->default_value;
    int line = e ? e->line : section->line;
    char err[256] = "";
    int rc;
    if (key->secret) {
        if (!td_secret_is_reference(raw)) {
            td_diag_add(diag,
                        "%s:%d: [%s] %s is a secret: give it as env:NAME or file:PATH, not as "
                        "text in the file",
                        org->path, line, section->name, key->name);
            return -EINVAL;
        }
        rc = td_secret_resolve(raw, org->dir, value, err, sizeof(err));
    } else if (key->type == TD_KEY_DURATION || key->type == TD_KEY_SIZE ||
               key->type == TD_KEY_ENUM || key->type == TD_KEY_INT) {
        rc = plugin_typed_value(key, lim, raw, value, err, sizeof(err));
    } else {
        rc = td_value_normalize((enum td_value_type)key->type, raw, org->dir, LONG_MIN, LONG_MAX,
                                value, err, sizeof(err));
    }
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0) {
        td_diag_add(diag, "%s:%d: [%s] %s: %s", org->path, line, section->name, key->name, err);
        return -EINVAL;
    }
    return 0;
}

int td_plugin_config_build(const struct td_org_config *org, const struct td_instance_config *inst,
                           const struct td_plugin *plugin, struct td_instance_settings **out,
                           struct td_diag *diag)
{
    *out = NULL;
    struct td_ini_section *section = inst->section;
    if (plugin->kind != inst->kind) {
        td_diag_add(diag, "%s:%d: [%s] plugin '%s' is a %s plugin, not a %s plugin", org->path,
                    section->line, section->name, inst->plugin, kind_name(plugin->kind),
                    kind_name(inst->kind));
        return -EINVAL;
    }
    if (inst->kind == TD_PLUGIN_CHANNEL && !plugin_serves(plugin, inst->name)) {
        char *serves = plugin_serves_list(plugin);
        td_diag_add(diag, "%s:%d: [%s] plugin '%s' serves %s, not %s", org->path, section->line,
                    section->name, inst->plugin, serves ? serves : "?", inst->name);
        free(serves);
        return -EINVAL;
    }
    struct td_instance_settings *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    size_t n = plugin->config_key_count;
    s->items = calloc(n ? n : 1, sizeof(*s->items));
    s->owned = calloc(n ? n : 1, sizeof(*s->owned));
    if (!s->items || !s->owned) {
        td_instance_settings_destroy(s);
        return -ENOMEM;
    }
    s->count = n;
    int problems = 0;
    for (size_t i = 0; i < n; i++) {
        const struct td_config_key *key = &plugin->config_keys[i];
        s->items[i].key = key->name;
        int rc = plugin_key_value(org, section, key, td_plugin_key_limits(plugin, i), &s->owned[i],
                                  diag);
        if (rc == -ENOMEM) {
            td_instance_settings_destroy(s);
            return rc;
        }
        if (rc < 0)
            problems++;
        s->items[i].value = s->owned[i];
    }
    for (size_t j = 0; j < section->count; j++) {
        if (section->entries[j].used)
            continue;
        char *known = plugin_key_list(plugin);
        td_diag_add(diag, "%s:%d: [%s] unknown key '%s' (plugin %s knows: %s)", org->path,
                    section->entries[j].line, section->name, section->entries[j].key, inst->plugin,
                    known && *known ? known : "no keys");
        free(known);
        problems++;
    }
    if (problems) {
        td_instance_settings_destroy(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

void td_instance_settings_destroy(struct td_instance_settings *settings)
{
    if (!settings)
        return;
    for (size_t i = 0; i < settings->count; i++) {
        if (settings->owned && settings->owned[i]) {
            /* secrets should not linger in freed memory */
            memset(settings->owned[i], 0, strlen(settings->owned[i]));
            free(settings->owned[i]);
        }
    }
    free(settings->owned);
    free(settings->items);
    free(settings);
}
