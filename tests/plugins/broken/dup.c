/* A valid trigger plugin, built into two folders of one plugin path: the
 * loader must refuse the name as a duplicate. */
#include "noop_ops.h"

static const struct td_trigger_ops ops = {noop_create, noop_destroy, noop_start, noop_stop};
static const struct td_plugin plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_TRIGGER, "dup", "1", "present twice"),
    .trigger = &ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &plugin;
}
