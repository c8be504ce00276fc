/* A channel plugin without deliver(): the loader must refuse it. */
#include "noop_ops.h"

static const struct td_channel_ops ops = {.create = noop_create, .destroy = noop_destroy};
static const char *const serves[] = {"email", NULL};
static const struct td_plugin plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, "missing_op", "1", "has no deliver"),
    .serves = serves,
    .max_batch = 1,
    .channel = &ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
