/* A plugin whose enum key offers no choices: no value could ever be right,
 * so the loader refuses it rather than every section that uses it. */
#include "noop_ops.h"

static const struct td_channel_ops ops = {noop_create, noop_destroy, noop_deliver, NULL};
static const char *const serves[] = {"email", NULL};
static const struct td_config_key keys[] = {
    {"mode", TD_KEY_ENUM, false, false, NULL, "how"},
};
static const struct td_config_key_limits limits[] = {{0}};
static const struct td_plugin plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "bad_key", "1", "an enum without choices"),
    .config_keys = keys,
    .config_key_count = 1,
    .serves = serves,
    .max_batch = 1,
    .channel = &ops,
    .config_key_limits = limits,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
