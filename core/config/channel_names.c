/* channel_names: the channel names a sequences file may send on. */
#include "config/channel_names.h"

#include "plugin_host/loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool list_has(char *const *list, const char *name)
{
    for (char *const *p = list; p && *p; p++) {
        if (strcmp(*p, name) == 0)
            return true;
    }
    return false;
}

/* Adds a copy of name to the NULL-terminated *list unless it is there. */
static int list_add(char ***list, size_t *count, const char *name)
{
    if (list_has(*list, name))
        return 0;
    char **p = realloc(*list, (*count + 2) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    *list = p;
    p[*count] = strdup(name);
    if (!p[*count])
        return -ENOMEM;
    p[++*count] = NULL;
    return 0;
}

static void list_free(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int td_channel_names_create(const char *plugin_path, const struct td_org_config *org,
                            struct td_channel_names **out)
{
    *out = NULL;
    struct td_channel_names *n = calloc(1, sizeof(*n));
    struct td_loader *loader = td_loader_create(plugin_path);
    struct td_diag refused = {0};
    int rc = n && loader ? 0 : -ENOMEM;
    size_t count = 0;
    if (rc == 0)
        td_loader_scan(loader, &refused);
    for (size_t i = 0; rc == 0 && i < td_loader_count(loader); i++) {
        const struct td_plugin *d = td_loader_plugin(loader, i)->desc;
        for (const char *const *s = d->kind == TD_PLUGIN_CHANNEL ? d->serves : NULL;
             rc == 0 && s && *s; s++)
            rc = list_add(&n->served, &count, *s);
    }
    if (rc == 0 && !n->served)
        rc = (n->served = calloc(1, sizeof(*n->served))) ? 0 : -ENOMEM;
    if (rc == 0)
        qsort(n->served, count, sizeof(*n->served), cmp_names);
    if (rc == 0 && org) {
        size_t configured = 0;
        n->org = strdup(org->id);
        n->org_file = strdup(org->path);
        n->configured = calloc(1, sizeof(*n->configured));
        rc = n->org && n->org_file && n->configured ? 0 : -ENOMEM;
        for (size_t i = 0; rc == 0 && i < org->instance_count; i++) {
            if (org->instances[i].kind == TD_PLUGIN_CHANNEL)
                rc = list_add(&n->configured, &configured, org->instances[i].name);
        }
    }
    td_diag_clear(&refused);
    td_loader_destroy(loader);
    if (rc < 0) {
        td_channel_names_destroy(n);
        return rc;
    }
    *out = n;
    return 0;
}

void td_channel_names_destroy(struct td_channel_names *names)
{
    if (!names)
        return;
    list_free(names->served);
    list_free(names->configured);
    free(names->org);
    free(names->org_file);
    free(names);
}

bool td_channel_names_served(const struct td_channel_names *names, const char *channel)
{
    return list_has(names->served, "*") || list_has(names->served, channel);
}

bool td_channel_names_configured(const struct td_channel_names *names, const char *channel)
{
    return !names->configured || list_has(names->configured, channel);
}
