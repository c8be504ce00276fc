/* world: one configuration brought to life: its organizations, the plugin
 * instances of each (created; triggers started), the shared account rates,
 * and each organization's configuration fingerprint and standing. The
 * engine runs one world at a time; a reload (SIGHUP) builds the next one
 * beside it and swaps it in once it is complete, so a configuration that
 * fails leaves the running one untouched. Whoever works with a world's
 * instances (a dispatch round, a request) holds a reference; the last one
 * out of a replaced world destroys it, so in-flight deliveries finish on the
 * instances they started with. */
#ifndef TD_WORLD_H
#define TD_WORLD_H

#include "config/config.h"
#include "util/diag.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct td_engine;
struct td_instance;
struct td_bucket;

/* What the engine knows of one organization in this world. */
struct td_org_state {
    const struct td_org_config *org;
    char fingerprint[33]; /* of everything that decides what it sends */
    /* another engine on this database runs another configuration of it (the
     * one that started first wins): this engine does not send for it */
    atomic_bool conflict;
    int reported; /* what the log last said: 0 nothing yet, 1 agreed, 2 in conflict */
    /* its configuration is refused (the first reason; owned): nothing of it
     * runs, its webhooks are answered 503, and the others go on */
    char *disabled;
};

struct td_world {
    struct td_engine *engine;
    struct td_conf *conf; /* the organizations' configuration */
    bool owns_conf;
    unsigned generation; /* 1 for the first, +1 per reload */
    struct td_instance *instances;
    size_t instance_count;
    struct td_bucket *accounts; /* one per conf->accounts[i] */
    struct td_org_state *orgs;  /* one per conf->orgs[i] */
    atomic_int refs;
    bool live; /* swapped in: its routes are served */
};

/* How td_world_create treats an organization whose configuration fails. */
enum td_world_mode {
    TD_WORLD_WHOLE,   /* the world is refused (a reload: the running one goes on) */
    TD_WORLD_PER_ORG, /* that organization is disabled, the others are built */
};

/* Builds the world of conf (taking it over when owns_conf): creates every
 * instance (plugin create()), their routes registered but not served until
 * td_world_go_live(); rates carry over from previous (may be NULL) for
 * connections whose rate is unchanged. An organization with problems
 * (org->problems, or a plugin that refuses its section) refuses the whole
 * world, or in TD_WORLD_PER_ORG is disabled alone (its instances undone);
 * diag says why either way. Returns 0 and *out (one reference), or -EINVAL
 * (refused; in TD_WORLD_PER_ORG: every organization disabled) / -ENOMEM. */
int td_world_create(struct td_engine *engine, struct td_conf *conf, bool owns_conf,
                    const struct td_world *previous, enum td_world_mode mode, struct td_world **out,
                    struct td_diag *diag);

/* How many organizations of w are disabled. */
size_t td_world_disabled_count(const struct td_world *w);

/* Makes w's routes served (replacing those of the same paths) and starts its
 * triggers. Returns 0, or -EINVAL with diag when a trigger did not start
 * (the others run). */
int td_world_go_live(struct td_world *w, struct td_diag *diag);

/* Stops w's triggers (no new events after this returns; running requests
 * finish first). */
void td_world_stop_triggers(struct td_world *w);

/* Takes one more reference to w. */
struct td_world *td_world_hold(struct td_world *w);

/* Gives one reference back; the last one destroys the world (its triggers
 * must be stopped). NULL is a no-op. */
void td_world_release(struct td_world *w);

/* The engine's end of a world it no longer runs (main thread, triggers
 * stopped): waits until every other reference is given back (the rounds in
 * flight on its instances are done), then destroys it, so plugins are
 * destroyed on the main thread. NULL is a no-op. */
void td_world_retire(struct td_world *w);

/* The channel instance serving channel for org in w, or NULL. */
struct td_instance *td_world_channel(struct td_world *w, const char *org, const char *channel);

/* The state of org in w, or NULL when w has no such organization. */
struct td_org_state *td_world_org(struct td_world *w, const char *org);

/* Whether w may send for org: configured, not disabled, and not in
 * conflict with the configuration other engines run. */
bool td_world_serves(struct td_world *w, const char *org);

#endif
