/* legacy_outbox: a channel plugin as an integrator wrote one for ABI 1.1,
 * built against the frozen 1.1 header beside it (and, as current_outbox,
 * against today's header: PLUGIN_NAME names it, so the two can be compared). It writes each message
 * as <dir>/<message id>.txt ("to", then the subject or text) and answers TD_OK; a message to
 * "retry@example.org" is answered TD_RETRY with a zero retry_after_ms, which for a 1.1 plugin still
 * means "try again at once". The engine of today must load it and deliver through it unchanged. */
/* angle brackets: the header of the -I folder the build names, not the one beside this file */
#include <tidings/plugin.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "legacy_outbox"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct legacy {
    char dir[1024];
};

static int legacy_create(const struct td_host *host, const struct td_config *cfg, void **instance,
                         struct td_error *err)
{
    (void)host;
    const char *dir = td_config_get(cfg, "dir");
    struct legacy *l = calloc(1, sizeof(*l));
    if (!l || !dir) {
        free(l);
        snprintf(err->message, sizeof(err->message), "no dir");
        return -EINVAL;
    }
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    *instance = l;
    return 0;
}

static void legacy_destroy(void *instance)
{
    free(instance);
}

static void legacy_deliver(void *instance, const struct td_message *messages, size_t count,
                           struct td_result *results)
{
    struct legacy *l = instance;
    for (size_t i = 0; i < count; i++) {
        const struct td_message *m = &messages[i];
        struct td_result *r = &results[i];
        memset(r, 0, sizeof(*r));
        if (strcmp(m->to, "retry@example.org") == 0) {
            r->status = TD_RETRY;
            snprintf(r->reason, sizeof(r->reason), "legacy says later");
            continue;
        }
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s.txt", l->dir, m->id);
        FILE *f = fopen(path, "w");
        if (!f) {
            r->status = TD_FAIL;
            snprintf(r->reason, sizeof(r->reason), "cannot write %.200s", path);
            continue;
        }
        fprintf(f, "%s\n%s\n", m->to, m->subject ? m->subject : m->text ? m->text : "");
        fclose(f);
        r->status = TD_OK;
        snprintf(r->provider_id, sizeof(r->provider_id), "legacy-%s", m->id);
    }
}

static const struct td_config_key legacy_keys[] = {
    {"dir", TD_KEY_PATH, true, false, NULL, "folder the files go to"},
};
static const struct td_channel_ops legacy_ops = {legacy_create, legacy_destroy, legacy_deliver,
                                                 NULL};
static const char *const legacy_serves[] = {"*", NULL};
static const struct td_plugin legacy_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_CHANNEL, PLUGIN_NAME, "1.1.0", "an ABI 1.1 channel"),
    .config_keys = legacy_keys,
    .config_key_count = 1,
    .serves = legacy_serves,
    .max_batch = 10,
    .channel = &legacy_ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &legacy_plugin;
}
