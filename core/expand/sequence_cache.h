/* sequence_cache: every organization's current sequences, parsed once and
 * shared by request threads until the organization's objects version (bumped
 * in the same transaction as any change to its sequences or templates) moves. */
#ifndef TD_SEQUENCE_CACHE_H
#define TD_SEQUENCE_CACHE_H

#include "expand/sequence.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct td_sequence_cache;

/* One organization's sequences (all statuses), at one version. */
struct td_sequence_set {
    int refs; /* guarded by the cache's lock */
    char *org;
    int64_t version;
    struct td_sequence **items;
    size_t count;
};

struct td_sequence_cache *td_sequence_cache_create(void);
/* Frees the cache; sets still held stay valid until released. */
void td_sequence_cache_destroy(struct td_sequence_cache *cache);

/* Returns org's sequences at version, reading them through c when the cache
 * holds an older version. Release with td_sequence_cache_release. Returns 0
 * or -EIO / -ENOMEM with err set. */
int td_sequence_cache_get(struct td_sequence_cache *cache, PGconn *c, const char *org,
                          int64_t version, struct td_sequence_set **out, char *err, size_t errcap);
void td_sequence_cache_release(struct td_sequence_cache *cache, struct td_sequence_set *set);

#endif
