/* A channel plugin without deliver(): the loader must refuse it. */
#include "tidings/plugin.h"

static int noop_create(const struct td_host *h, const struct td_config *c, void **i,
                       struct td_error *e)
{
    (void)h, (void)c, (void)e;
    *i = NULL;
    return 0;
}
static void noop_destroy(void *i)
{
    (void)i;
}
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
