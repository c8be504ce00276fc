/* A plugin built for a future ABI major: the loader must refuse it. */
#include "tidings/plugin.h"

static void noop_deliver(void *i, const struct td_message *m, size_t n, struct td_result *r)
{
    (void)i, (void)m, (void)n, (void)r;
}
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
