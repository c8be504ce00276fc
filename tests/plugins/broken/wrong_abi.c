/* A plugin built for a future ABI major: the loader must refuse it. */
#include "noop_ops.h"

static const struct td_channel_ops ops = {noop_create, noop_destroy, noop_deliver, NULL};
static const char *const serves[] = {"email", NULL};
static const struct td_plugin plugin = {
    .abi_major = TD_ABI_MAJOR + 98,
    .abi_minor = 0,
    .struct_size = sizeof(struct td_plugin),
    .kind = TD_PLUGIN_CHANNEL,
    .name = "wrong_abi",
    .serves = serves,
    .max_batch = 1,
    .channel = &ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
