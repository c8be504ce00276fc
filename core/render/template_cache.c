/* template_cache: every organization's current templates, by key. */
#include "render/template_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One organization's templates at one objects version. */
struct org_templates {
    char *org;
    int64_t version;
    json_t *by_key; /* {"<key>": body} */
};

struct td_template_cache {
    pthread_mutex_t lock;
    struct org_templates *orgs;
    size_t count;
};

struct td_template_cache *td_template_cache_create(void)
{
    struct td_template_cache *cache = calloc(1, sizeof(*cache));
    if (cache)
        pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void td_template_cache_destroy(struct td_template_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->count; i++) {
        free(cache->orgs[i].org);
        json_decref(cache->orgs[i].by_key);
    }
    free(cache->orgs);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

/* The entry of org at version, or NULL. Called with the lock held. */
static struct org_templates *entry(struct td_template_cache *cache, const char *org,
                                   int64_t version)
{
    for (size_t i = 0; i < cache->count; i++) {
        if (strcmp(cache->orgs[i].org, org) == 0)
            return cache->orgs[i].version >= version ? &cache->orgs[i] : NULL;
    }
    return NULL;
}

/* Reads org's current templates and keeps them at version. */
static int load(struct td_template_cache *cache, PGconn *c, const char *org, int64_t version,
                char *err, size_t errcap)
{
    json_t *docs = NULL;
    if (td_store_objects_current(c, org, "template", &docs, err, errcap) < 0)
        return -EIO;
    json_t *by_key = json_object();
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        const char *key = json_string_value(json_object_get(doc, "key"));
        if (key)
            json_object_set(by_key, key, doc);
    }
    json_decref(docs);
    if (!by_key)
        return -ENOMEM;
    pthread_mutex_lock(&cache->lock);
    size_t slot = cache->count;
    for (size_t k = 0; k < cache->count; k++) {
        if (strcmp(cache->orgs[k].org, org) == 0)
            slot = k;
    }
    if (slot == cache->count) {
        struct org_templates *orgs = realloc(cache->orgs, (cache->count + 1) * sizeof(*orgs));
        char *name = strdup(org);
        if (!orgs || !name) {
            if (orgs)
                cache->orgs = orgs;
            free(name);
            pthread_mutex_unlock(&cache->lock);
            json_decref(by_key);
            return -ENOMEM;
        }
        cache->orgs = orgs;
        cache->orgs[slot] = (struct org_templates){.org = name};
        cache->count++;
    }
    struct org_templates *t = &cache->orgs[slot];
    if (!t->by_key || t->version <= version) {
        json_decref(t->by_key);
        t->by_key = by_key;
        t->version = version;
    } else {
        json_decref(by_key); /* another worker read a newer version meanwhile */
    }
    pthread_mutex_unlock(&cache->lock);
    return 0;
}

int td_template_cache_fill(struct td_template_cache *cache, PGconn *c, struct td_claimed *items,
                           size_t count, char *err, size_t errcap)
{
    /* the organizations whose version moved are read first, without the lock */
    for (size_t i = 0; i < count; i++) {
        pthread_mutex_lock(&cache->lock);
        bool fresh = entry(cache, items[i].org_id, items[i].objects_version) != NULL;
        pthread_mutex_unlock(&cache->lock);
        if (!fresh) {
            int rc = load(cache, c, items[i].org_id, items[i].objects_version, err, errcap);
            if (rc < 0)
                return rc;
        }
    }
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < count; i++) {
        struct org_templates *t = entry(cache, items[i].org_id, items[i].objects_version);
        json_t *body = t ? json_object_get(t->by_key, items[i].template_key) : NULL;
        items[i].template_body = json_incref(body);
    }
    pthread_mutex_unlock(&cache->lock);
    return 0;
}
