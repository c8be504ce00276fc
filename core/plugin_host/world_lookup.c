/* world_lookup: finding an organization or a channel instance in a world,
 * and whether the world serves an organization. Reads only: the world's
 * lifecycle is world.c. */
#include "plugin_host/world.h"

#include "plugin_host/instances.h"

#include <stdatomic.h>
#include <string.h>

struct td_instance *td_world_channel(struct td_world *w, const char *org, const char *channel)
{
    for (size_t i = 0; w && i < w->instance_count; i++) {
        struct td_instance *in = &w->instances[i];
        if (in->cfg->kind == TD_PLUGIN_CHANNEL && strcmp(in->org->id, org) == 0 &&
            strcmp(in->cfg->name, channel) == 0)
            return in;
    }
    return NULL;
}

struct td_org_state *td_world_org(struct td_world *w, const char *org)
{
    for (size_t o = 0; w && o < w->conf->org_count; o++) {
        if (strcmp(w->orgs[o].org->id, org) == 0)
            return &w->orgs[o];
    }
    return NULL;
}

bool td_world_serves(struct td_world *w, const char *org)
{
    struct td_org_state *s = td_world_org(w, org);
    return s && !s->disabled && !atomic_load(&s->conflict);
}

size_t td_world_disabled_count(const struct td_world *w)
{
    size_t n = 0;
    for (size_t o = 0; w && o < w->conf->org_count; o++)
        n += w->orgs[o].disabled != NULL;
    return n;
}
