/* sequence_cache: every organization's current sequences, parsed once. */
#include "expand/sequence_cache.h"

#include "util/log.h"
#include "store/store.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct td_sequence_cache {
    pthread_mutex_t lock;
    struct td_sequence_set **sets; /* one per organization seen */
    size_t count;
};

static void set_free(struct td_sequence_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        td_sequence_destroy(set->items[i]);
    free(set->items);
    free(set->org);
    free(set);
}

struct td_sequence_cache *td_sequence_cache_create(void)
{
    struct td_sequence_cache *cache = calloc(1, sizeof(*cache));
    if (cache)
        pthread_mutex_init(&cache->lock, NULL);
    return cache;
}

void td_sequence_cache_destroy(struct td_sequence_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->count; i++) {
        if (--cache->sets[i]->refs == 0)
            set_free(cache->sets[i]);
    }
    free(cache->sets);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

/* Reads and parses org's sequences. A stored document that no longer parses
 * is logged and left out (imports validate, so only a hand edit does that). */
static int set_load(PGconn *c, const char *org, int64_t version, struct td_sequence_set **out,
                    char *err, size_t errcap)
{
    json_t *docs = NULL;
    if (td_store_sequences_current(c, org, &docs, err, errcap) < 0)
        return -EIO;
    struct td_sequence_set *set = calloc(1, sizeof(*set));
    size_t n = json_array_size(docs);
    if (set) {
        set->org = strdup(org);
        set->items = calloc(n ? n : 1, sizeof(*set->items));
    }
    if (!set || !set->org || !set->items) {
        set_free(set);
        json_decref(docs);
        return -ENOMEM;
    }
    set->version = version;
    set->refs = 1;
    for (size_t i = 0; i < n; i++) {
        char why[256];
        if (td_sequence_parse(json_array_get(docs, i), &set->items[set->count], why, sizeof(why)) ==
            0)
            set->count++;
        else
            td_log(TD_LOG_WARN, org, "sequences", "stored sequence ignored: %s", why);
    }
    json_decref(docs);
    *out = set;
    return 0;
}

int td_sequence_cache_get(struct td_sequence_cache *cache, PGconn *c, const char *org,
                          int64_t version, struct td_sequence_set **out, char *err, size_t errcap)
{
    *out = NULL;
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < cache->count; i++) {
        struct td_sequence_set *s = cache->sets[i];
        if (strcmp(s->org, org) == 0 && s->version == version) {
            s->refs++;
            *out = s;
            pthread_mutex_unlock(&cache->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&cache->lock);

    struct td_sequence_set *fresh = NULL;
    int rc = set_load(c, org, version, &fresh, err, errcap);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&cache->lock);
    size_t slot = cache->count;
    for (size_t i = 0; i < cache->count; i++) {
        if (strcmp(cache->sets[i]->org, org) == 0)
            slot = i;
    }
    if (slot == cache->count) {
        struct td_sequence_set **sets = realloc(cache->sets, (cache->count + 1) * sizeof(*sets));
        if (!sets) {
            pthread_mutex_unlock(&cache->lock);
            *out = fresh; /* usable, just not cached */
            return 0;
        }
        cache->sets = sets;
        cache->count++;
    } else if (cache->sets[slot]->version > version) {
        /* a newer set is cached already: keep it, use ours for this transaction */
        pthread_mutex_unlock(&cache->lock);
        *out = fresh;
        return 0;
    } else if (--cache->sets[slot]->refs == 0) {
        set_free(cache->sets[slot]);
    }
    cache->sets[slot] = fresh;
    fresh->refs++; /* the cache's reference and the caller's */
    pthread_mutex_unlock(&cache->lock);
    *out = fresh;
    return 0;
}

void td_sequence_cache_release(struct td_sequence_cache *cache, struct td_sequence_set *set)
{
    if (!set)
        return;
    pthread_mutex_lock(&cache->lock);
    bool last = --set->refs == 0;
    pthread_mutex_unlock(&cache->lock);
    if (last)
        set_free(set);
}
