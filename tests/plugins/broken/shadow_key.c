/* A plugin that declares a key the core owns in every channel section
 * (concurrency): the two would silently share one value, so the loader
 * refuses it. */
#include "noop_ops.h"

static const struct td_channel_ops ops = {noop_create, noop_destroy, noop_deliver, NULL};
static const char *const serves[] = {"email", NULL};
static const struct td_config_key keys[] = {
    {"concurrency", TD_KEY_INT, false, false, "4", "requests at once"},
};
static const struct td_plugin plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "shadow_key", "1", "shadows a core key"),
    .config_keys = keys,
    .config_key_count = 1,
    .serves = serves,
    .max_batch = 1,
    .channel = &ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
