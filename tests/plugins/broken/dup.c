/* A valid trigger plugin, built into two folders of one plugin path: the
 * loader must refuse the name as a duplicate. */
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
static int noop_start(void *i, struct td_error *e)
{
    (void)i, (void)e;
    return 0;
}
static void noop_stop(void *i)
{
    (void)i;
}
static const struct td_trigger_ops ops = {noop_create, noop_destroy, noop_start, noop_stop};
static const struct td_plugin plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_TRIGGER, "dup", "1", "present twice"),
    .trigger = &ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
