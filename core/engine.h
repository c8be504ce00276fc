/* engine: the running engine: configuration, plugins and their instances,
 * the database pool, the HTTP server and the dispatcher, wired together. */
#ifndef TD_ENGINE_H
#define TD_ENGINE_H

#include "config.h"
#include "db.h"
#include "http_server.h"
#include "loader.h"
#include "plugin_config.h"
#include "ratelimit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct td_engine;
struct td_dispatcher;
struct td_sequence_cache;
struct td_template_cache;
struct td_metrics;
struct td_inflight;
struct td_peers;
struct td_world;

/* One plugin instance: a [channel.x] or [trigger.x] section brought to life. */
struct td_instance {
    struct td_engine *engine;
    struct td_world *world; /* the configuration it belongs to */
    const struct td_org_config *org;
    const struct td_instance_config *cfg;
    const struct td_loaded_plugin *plugin;
    struct td_instance_settings *settings;
    struct td_host host; /* what this instance sees of the engine */
    void *state;         /* the plugin's instance, from create() */
    bool created;        /* create() succeeded */
    bool started;        /* triggers: start() succeeded */

    /* channels only */
    struct td_bucket bucket;   /* its own rate */
    struct td_bucket *account; /* the shared [account.x] rate, or NULL */
    pthread_mutex_t slots_lock;
    pthread_cond_t slots_free;
    int inflight;                /* provider requests now, at most policy.concurrency */
    atomic_bool suspended;       /* credentials refused or quota used up: claim nothing for it */
    atomic_bool suspended_quota; /* ... for a quota: rows with a fallback take it */
    char fingerprint[20];        /* of plugin + settings: a change resumes it */
    char callback_path[200];     /* "/v1/callbacks/<org>/<name>/<token>", or "" */
    char callback_url[700];      /* public_url + callback_path, or "" */
};

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

/* Checks every instance section of every organization against its plugin
 * (loading plugins through loader). Problems go to diag and are counted
 * against their organization. Returns how many sections had problems. Used
 * by `tidings check`, at start and at a reload. */
int td_engine_check_instances(struct td_conf *conf, struct td_loader *loader, struct td_diag *diag);

/* Creates the instance of section cfg of org in world w (settings built,
 * plugin create() called) into *in. Returns 0, or -EINVAL with diag. */
int td_instance_create(struct td_world *w, const struct td_org_config *org,
                       const struct td_instance_config *cfg, struct td_instance *in,
                       struct td_diag *diag);
/* Starts a trigger instance (a channel: nothing). Returns 0 or -EINVAL with diag. */
int td_instance_start(struct td_instance *in, struct td_diag *diag);
/* Stops a started trigger: no new events after this returns. */
void td_instance_stop(struct td_instance *in);
/* Stops and destroys an instance; one never created is a no-op. */
void td_instance_destroy(struct td_instance *in);

/* Waits for a free provider-request slot of a channel instance (its
 * concurrency), and gives it back. */
void td_instance_slot_acquire(struct td_instance *in);
void td_instance_slot_release(struct td_instance *in);
/* Waits until at least one slot is free and takes up to want of them;
 * returns how many it took. */
size_t td_instance_slots_acquire(struct td_instance *in, size_t want);
void td_instance_slots_release(struct td_instance *in, size_t n);

/* The world running now, with a reference the caller gives back with
 * td_world_release(). */
struct td_world *td_engine_world(struct td_engine *engine);

/* Records the organizations of conf in the database (the SQL way in refuses
 * others). Returns 0 or -EIO (printed). */
int td_engine_register_orgs(struct td_engine *engine, const struct td_conf *conf);

/* Runs the engine with conf until SIGTERM or SIGINT: migrations must be
 * applied. Returns a process exit code. */

int td_engine_run(struct td_conf *conf);

#endif
