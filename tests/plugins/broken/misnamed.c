/* misnamed.so declares the name "other": the loader must refuse it. */
#include "noop_ops.h"

static const struct td_trigger_ops ops = {noop_create, noop_destroy, noop_start, noop_stop};
static const struct td_plugin plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_TRIGGER, "other", "1", "name does not match the file"),
    .trigger = &ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
