/* world: one configuration brought to life, swapped in whole, freed by its
 * last user. */
#include "plugin_host/world.h"
#include "util/clock.h"

#include "util/digest.h"
#include "engine_state.h"
#include "util/log.h"
#include "dispatch/ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The fingerprint of everything that decides what org sends: its own keys,
 * each section's plugin (and its version), core keys and resolved settings,
 * and the engine keys that shape messages (public URL, callback secret). */
static void org_fingerprint(const struct td_engine *e, const struct td_world *w,
                            const struct td_org_config *org, char *out, size_t cap)
{
    struct td_digest d;
    td_digest_begin(&d);
    const char *fields[] = {org->id,
                            org->name,
                            org->timezone,
                            org->locale,
                            org->country,
                            e->conf->engine.public_url,
                            e->conf->engine.callback_secret};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        td_digest_field(&d, fields[i]);
    for (size_t i = 0; i < w->instance_count; i++) {
        const struct td_instance *in = &w->instances[i];
        if (in->org != org)
            continue;
        const struct td_channel_policy *p = &in->cfg->policy;
        char policy[200];
        snprintf(policy, sizeof(policy), "%d %ld %ld %.6f %d %s %d %ld", p->max_attempts,
                 p->backoff_ms, p->backoff_max_ms, p->rate_per_s, p->concurrency,
                 p->account ? p->account : "-", p->unknown_hold, p->unknown_wait_ms);
        td_digest_field(&d, in->cfg->kind == TD_PLUGIN_CHANNEL ? "channel" : "trigger");
        td_digest_field(&d, in->cfg->name);
        td_digest_field(&d, in->cfg->plugin);
        td_digest_field(&d, in->plugin->desc->version);
        td_digest_field(&d, policy);
        for (size_t k = 0; k < in->settings->count; k++) {
            td_digest_field(&d, in->settings->items[k].key);
            td_digest_field(&d, in->settings->items[k].value);
        }
    }
    td_digest_end(&d, out, cap);
}

/* Takes over the token balance of a bucket of the previous world with the
 * same rate, so a reload does not reset rate limits. */
static void bucket_carry(struct td_bucket *to, struct td_bucket *from)
{
    if (!from || from->rate != to->rate)
        return;
    pthread_mutex_lock(&from->lock);
    double tokens = from->tokens;
    int64_t last = from->last_ms;
    pthread_mutex_unlock(&from->lock);
    pthread_mutex_lock(&to->lock);
    to->tokens = tokens;
    to->last_ms = last;
    pthread_mutex_unlock(&to->lock);
}

static void world_destroy(struct td_world *w)
{
    for (size_t i = w->instance_count; i-- > 0;)
        td_instance_destroy(&w->instances[i]);
    free(w->instances);
    for (size_t a = 0; w->accounts && a < w->conf->account_count; a++)
        td_bucket_destroy(&w->accounts[a]);
    free(w->accounts);
    for (size_t o = 0; w->orgs && o < w->conf->org_count; o++)
        free(w->orgs[o].disabled);
    free(w->orgs);
    if (w->owns_conf)
        td_conf_destroy(w->conf);
    free(w);
}

/* Creates the instances of org into w; on a refusal undoes those made and
 * returns -EINVAL (diag says why). */
static int world_org_instances(struct td_world *w, const struct td_org_config *org,
                               const struct td_world *previous, struct td_diag *diag)
{
    size_t first = w->instance_count;
    for (size_t i = 0; i < org->instance_count; i++) {
        struct td_instance *in = &w->instances[w->instance_count];
        if (td_instance_create(w, org, &org->instances[i], in, diag) < 0) {
            while (w->instance_count > first)
                td_instance_destroy(&w->instances[--w->instance_count]);
            return -EINVAL;
        }
        w->instance_count++;
        if (in->cfg->kind == TD_PLUGIN_CHANNEL && previous) {
            struct td_instance *was =
                td_world_channel((struct td_world *)previous, org->id, in->cfg->name);
            if (was)
                bucket_carry(&in->bucket, &was->bucket);
        }
    }
    return 0;
}

int td_world_create(struct td_engine *engine, struct td_conf *conf, bool owns_conf,
                    const struct td_world *previous, enum td_world_mode mode, struct td_world **out,
                    struct td_diag *diag)
{
    *out = NULL;
    struct td_world *w = calloc(1, sizeof(*w));
    if (!w) {
        if (owns_conf)
            td_conf_destroy(conf);
        return -ENOMEM;
    }
    w->engine = engine;
    w->conf = conf;
    w->owns_conf = owns_conf;
    w->generation = previous ? previous->generation + 1 : 1;
    atomic_store(&w->refs, 1);
    size_t total = 0;
    for (size_t o = 0; o < conf->org_count; o++)
        total += conf->orgs[o].instance_count;
    w->instances = calloc(total ? total : 1, sizeof(*w->instances));
    w->accounts = calloc(conf->account_count ? conf->account_count : 1, sizeof(*w->accounts));
    w->orgs = calloc(conf->org_count ? conf->org_count : 1, sizeof(*w->orgs));
    if (!w->instances || !w->accounts || !w->orgs) {
        world_destroy(w);
        return -ENOMEM;
    }
    for (size_t a = 0; a < conf->account_count; a++) {
        td_bucket_init(&w->accounts[a], conf->accounts[a].rate_per_s, td_wall_ms());
        for (size_t b = 0; previous && b < previous->conf->account_count; b++) {
            if (strcmp(previous->conf->accounts[b].name, conf->accounts[a].name) == 0)
                bucket_carry(&w->accounts[a], &previous->accounts[b]);
        }
    }
    for (size_t o = 0; o < conf->org_count; o++) {
        struct td_org_config *org = &conf->orgs[o];
        w->orgs[o].org = org;
        size_t before = diag->count;
        if (!org->problems && world_org_instances(w, org, previous, diag) < 0)
            td_conf_org_blame(org, diag, before);
        if (!org->problems)
            continue;
        if (mode == TD_WORLD_WHOLE) {
            world_destroy(w);
            return -EINVAL;
        }
        w->orgs[o].disabled = strdup(org->problem ? org->problem : "its configuration is refused");
        if (!w->orgs[o].disabled) {
            world_destroy(w);
            return -ENOMEM;
        }
    }
    if (conf->org_count && td_world_disabled_count(w) == conf->org_count) {
        world_destroy(w);
        return -EINVAL;
    }
    for (size_t o = 0; o < conf->org_count; o++) {
        org_fingerprint(engine, w, &conf->orgs[o], w->orgs[o].fingerprint,
                        sizeof(w->orgs[o].fingerprint));
        /* not served until compared with the other engines, unless the
         * running world has it as it is */
        struct td_org_state *was = td_world_org((struct td_world *)previous, conf->orgs[o].id);
        bool same = was && strcmp(was->fingerprint, w->orgs[o].fingerprint) == 0;
        atomic_store(&w->orgs[o].conflict, same ? atomic_load(&was->conflict) : true);
        w->orgs[o].reported = was ? was->reported : 0;
    }
    *out = w;
    return 0;
}

int td_world_go_live(struct td_world *w, struct td_diag *diag)
{
    w->live = true;
    if (w->engine->http)
        td_http_routes_go_live(w->engine->http, w);
    int rc = 0;
    for (size_t i = 0; i < w->instance_count; i++) {
        if (td_instance_start(&w->instances[i], diag) < 0)
            rc = -EINVAL;
    }
    return rc;
}

void td_world_stop_triggers(struct td_world *w)
{
    for (size_t i = 0; i < w->instance_count; i++)
        td_instance_stop(&w->instances[i]);
}

struct td_world *td_world_hold(struct td_world *w)
{
    atomic_fetch_add(&w->refs, 1);
    return w;
}

void td_world_release(struct td_world *w)
{
    if (w && atomic_fetch_sub(&w->refs, 1) == 1)
        world_destroy(w);
}

void td_world_retire(struct td_world *w)
{
    if (!w)
        return;
    while (atomic_load(&w->refs) > 1) {
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    td_world_release(w);
}
