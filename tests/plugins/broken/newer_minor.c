/* A plugin that claims a minor ABI this engine does not have yet: it may
 * rely on host fields the engine does not fill, so the loader refuses it. */
#include "noop_ops.h"

static const struct td_channel_ops ops = {noop_create, noop_destroy, noop_deliver, NULL};
static const char *const serves[] = {"email", NULL};
static const struct td_plugin plugin = {
    .abi_major = TD_ABI_MAJOR,
    .abi_minor = 9,
    .struct_size = sizeof(struct td_plugin),
    .kind = TD_PLUGIN_CHANNEL,
    .name = "newer_minor",
    .serves = serves,
    .max_batch = 1,
    .channel = &ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
