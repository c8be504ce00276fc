/* plugin_config: checks one [channel.x] / [trigger.x] section against the
 * key list its plugin declares and builds the resolved settings the plugin's
 * create() receives (defaults applied, secrets read, paths made absolute). */
#ifndef TD_PLUGIN_CONFIG_H
#define TD_PLUGIN_CONFIG_H

#include "config/config.h"
#include "util/diag.h"
#include "tidings/plugin.h"

struct td_instance_settings {
    struct td_setting *items; /* in the order of the plugin's config_keys */
    size_t count;
    char **owned; /* the strings items point to */
};

/* Checks inst (a section of org) against plugin. Every problem (wrong plugin
 * kind, a channel the plugin cannot serve, unknown key, missing required key,
 * bad value, literal secret, unreadable secret) is a line in diag naming file,
 * section and line. Returns 0 with *out set (caller destroys), -EINVAL when
 * problems were found, or -ENOMEM. */
int td_plugin_config_build(const struct td_org_config *org, const struct td_instance_config *inst,
                           const struct td_plugin *plugin, struct td_instance_settings **out,
                           struct td_diag *diag);

/* Frees settings (and wipes secret values); NULL is a no-op. */
void td_instance_settings_destroy(struct td_instance_settings *settings);

/* The limits (range, choices) plugin declares for its key i, or NULL: none
 * declared, or a plugin built before ABI 1.2, whose descriptor has no such
 * field. */
const struct td_config_key_limits *td_plugin_key_limits(const struct td_plugin *plugin, size_t i);

#endif
