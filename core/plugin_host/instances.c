/* instances: one plugin instance: checking its section, creating, starting,
 * stopping and destroying it. A world (world.c) holds the instances of a
 * configuration; slots.c hands out their request slots. */
#include "plugin_host/instances.h"
#include "util/clock.h"

#include "engine_state.h"

#include "util/digest.h"
#include "plugin_host/host.h"
#include "plugin_host/world.h"
#include "util/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* Loads the plugin of inst; a refusal becomes one line naming the section. */
static const struct td_loaded_plugin *instance_plugin(const struct td_org_config *org,
                                                      const struct td_instance_config *inst,
                                                      struct td_loader *loader,
                                                      struct td_diag *diag)
{
    struct td_diag why = {0};
    const struct td_loaded_plugin *p = td_loader_get(loader, inst->plugin, &why);
    for (size_t i = 0; i < why.count; i++)
        td_diag_add(diag, "%s:%d: [%s] %s", org->path, inst->section->line, inst->section->name,
                    why.lines[i] ? why.lines[i] : "plugin refused");
    td_diag_clear(&why);
    return p;
}

/* A digest of the plugin name and every resolved setting: it changes when
 * the connection's configuration does (and says nothing usable about it). */
static void instance_fingerprint(struct td_instance *in)
{
    struct td_digest d;
    td_digest_begin(&d);
    td_digest_field(&d, in->cfg->plugin);
    for (size_t i = 0; i < in->settings->count; i++) {
        td_digest_field(&d, in->settings->items[i].key);
        td_digest_field(&d, in->settings->items[i].value);
    }
    td_digest_end(&d, in->fingerprint, sizeof(in->fingerprint));
}

static void instance_channel_init(struct td_world *w, struct td_instance *in)
{
    const struct td_channel_policy *p = &in->cfg->policy;
    td_bucket_init(&in->bucket, p->rate_per_s, td_wall_ms());
    in->account = NULL;
    for (size_t a = 0; p->account && a < w->conf->account_count; a++) {
        if (strcmp(w->conf->accounts[a].name, p->account) == 0)
            in->account = &w->accounts[a];
    }
    pthread_mutex_init(&in->slots_lock, NULL);
    pthread_cond_init(&in->slots_free, NULL);
    in->inflight = 0;
    atomic_store(&in->suspended, false);
    atomic_store(&in->suspended_quota, false);
    instance_fingerprint(in);
}

int td_engine_check_instances(struct td_conf *conf, struct td_loader *loader, struct td_diag *diag)
{
    int problems = 0;
    for (size_t o = 0; o < conf->org_count; o++) {
        struct td_org_config *org = &conf->orgs[o];
        size_t org_before = diag->count;
        for (size_t i = 0; i < org->instance_count; i++) {
            const struct td_instance_config *inst = &org->instances[i];
            size_t before = diag->count;
            const struct td_loaded_plugin *p = instance_plugin(org, inst, loader, diag);
            if (!p) {
                problems++;
                continue;
            }
            struct td_instance_settings *s = NULL;
            td_plugin_config_build(org, inst, p->desc, &s, diag);
            td_instance_settings_destroy(s);
            if (diag->count > before)
                problems++;
        }
        td_conf_org_blame(org, diag, org_before);
    }
    return problems;
}

int td_instance_create(struct td_world *w, const struct td_org_config *org,
                       const struct td_instance_config *cfg, struct td_instance *in,
                       struct td_diag *diag)
{
    memset(in, 0, sizeof(*in));
    in->engine = w->engine;
    in->world = w;
    in->org = org;
    in->cfg = cfg;
    in->plugin = instance_plugin(org, cfg, w->engine->loader, diag);
    if (!in->plugin || td_plugin_config_build(org, cfg, in->plugin->desc, &in->settings, diag) < 0)
        return -EINVAL;
    td_host_init(&in->host, in);
    if (cfg->kind == TD_PLUGIN_CHANNEL)
        instance_channel_init(w, in);
    struct td_config pc = {
        .org_id = org->id,
        .instance_name = cfg->name,
        .settings = in->settings->items,
        .setting_count = in->settings->count,
    };
    struct td_error err = {{0}};
    const struct td_plugin *d = in->plugin->desc;
    int rc = d->kind == TD_PLUGIN_CHANNEL ? d->channel->create(&in->host, &pc, &in->state, &err)
                                          : d->trigger->create(&in->host, &pc, &in->state, &err);
    if (rc < 0) {
        td_diag_add(diag, "%s:%d: [%s] plugin %s refused its configuration: %s", org->path,
                    cfg->section->line, cfg->section->name, cfg->plugin,
                    err.message[0] ? err.message : "no reason given");
        if (w->engine->http)
            td_http_routes_remove(w->engine->http, in);
        if (cfg->kind == TD_PLUGIN_CHANNEL) {
            td_bucket_destroy(&in->bucket);
            pthread_mutex_destroy(&in->slots_lock);
            pthread_cond_destroy(&in->slots_free);
        }
        td_instance_settings_destroy(in->settings);
        in->settings = NULL;
        return -EINVAL;
    }
    in->created = true;
    return 0;
}

int td_instance_start(struct td_instance *in, struct td_diag *diag)
{
    const struct td_plugin *d = in->plugin->desc;
    if (d->kind != TD_PLUGIN_TRIGGER || in->started)
        return 0;
    struct td_error err = {{0}};
    if (d->trigger->start(in->state, &err) < 0) {
        td_diag_add(diag, "[%s/%s] trigger %s did not start: %s", in->org->id, in->cfg->name,
                    in->cfg->plugin, err.message[0] ? err.message : "no reason given");
        return -EINVAL;
    }
    in->started = true;
    td_log(TD_LOG_INFO, in->org->id, in->cfg->name, "trigger %s started", in->cfg->plugin);
    return 0;
}

void td_instance_stop(struct td_instance *in)
{
    if (!in->started)
        return;
    /* its routes go first, once their running handlers return: after that
     * nothing reaches the plugin from HTTP */
    if (in->engine->http)
        td_http_routes_remove(in->engine->http, in);
    in->plugin->desc->trigger->stop(in->state);
    in->started = false;
}

void td_instance_destroy(struct td_instance *in)
{
    if (!in->created)
        return;
    td_instance_stop(in);
    const struct td_plugin *d = in->plugin->desc;
    if (in->engine->http)
        td_http_routes_remove(in->engine->http, in);
    if (d->kind == TD_PLUGIN_CHANNEL) {
        d->channel->destroy(in->state);
        td_bucket_destroy(&in->bucket);
        pthread_mutex_destroy(&in->slots_lock);
        pthread_cond_destroy(&in->slots_free);
    } else {
        d->trigger->destroy(in->state);
    }
    td_instance_settings_destroy(in->settings);
    in->settings = NULL;
    in->created = false;
}
