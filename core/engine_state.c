/* engine_state: the world running now, shared by the stages. */
#include "engine_state.h"

#include "plugin_host/world.h"

struct td_world *td_engine_world(struct td_engine *e)
{
    pthread_mutex_lock(&e->world_lock);
    struct td_world *w = e->world ? td_world_hold(e->world) : NULL;
    pthread_mutex_unlock(&e->world_lock);
    return w;
}
