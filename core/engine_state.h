/* engine_state: what every stage of a running engine shares: its
 * configuration, loader, database pool, HTTP server, caches, metrics and the
 * world (configuration brought to life) running now. engine.c builds and
 * runs it; the stages (dispatch, intake, reports, peers) take what they need
 * from it and never start or stop any of it. */
#ifndef TD_ENGINE_STATE_H
#define TD_ENGINE_STATE_H

#include "config/config.h"
#include "http/http_server.h"
#include "plugin_host/instances.h"
#include "plugin_host/loader.h"
#include "store/db.h"

#include <pthread.h>

struct td_dispatcher;
struct td_sequence_cache;
struct td_template_cache;
struct td_metrics;
struct td_inflight;
struct td_peers;
struct td_world;

struct td_engine {
    struct td_conf *conf; /* as started: the engine's own settings (the caller's) */
    struct td_loader *loader;
    struct td_db_pool *pool;
    struct td_http_server *http;
    pthread_mutex_t world_lock;
    struct td_world *world; /* the configuration running now (under world_lock) */
    struct td_dispatcher *dispatcher;
    struct td_sequence_cache *sequences; /* parsed sequences per organization */
    struct td_template_cache *templates; /* current templates per organization (dispatch) */
    struct td_peers *peers;              /* the other engines: agreement on configurations */
    struct td_metrics *metrics;
    struct td_inflight *inflight; /* claimed rows: leases kept, verdicts written */
    char owner_id[96];            /* "host:pid", written into leases */
    char installation_id[24];     /* the database's identity, in every idempotency key */
};

/* The world running now, with a reference the caller gives back with
 * td_world_release(). */
struct td_world *td_engine_world(struct td_engine *engine);

#endif
