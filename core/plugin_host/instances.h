/* instances: one [channel.x] or [trigger.x] section of an organization
 * brought to life: its plugin instance (create, start, stop, destroy), the
 * settings it was built from, and for channels its rates and request slots.
 * A world (world.h) owns its instances; instances.c makes and unmakes them,
 * slots.c hands out their provider-request slots. */
#ifndef TD_INSTANCES_H
#define TD_INSTANCES_H

#include "config/plugin_config.h"
#include "dispatch/ratelimit.h"
#include "plugin_host/host.h"
#include "plugin_host/loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct td_engine;
struct td_world;
struct td_diag;
struct td_conf;

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

/* slots.c: waits for a free provider-request slot of a channel instance (its
 * concurrency), and gives it back. */
void td_instance_slot_acquire(struct td_instance *in);
void td_instance_slot_release(struct td_instance *in);
/* Waits until at least one slot is free and takes up to want of them;
 * returns how many it took. */
size_t td_instance_slots_acquire(struct td_instance *in, size_t want);
void td_instance_slots_release(struct td_instance *in, size_t n);

#endif
