/* template_cache: every organization's current templates, read once and
 * shared by the dispatch workers until the organization's objects version
 * (bumped with any change to its sequences or templates) moves, so that a
 * claim does not carry (and parse) the template of every message it takes. */
#ifndef TD_TEMPLATE_CACHE_H
#define TD_TEMPLATE_CACHE_H

#include "store/store.h"

#include <libpq-fe.h>
#include <stddef.h>

struct td_template_cache;

struct td_template_cache *td_template_cache_create(void);
/* Frees the cache (templates handed out stay valid: they are references). */
void td_template_cache_destroy(struct td_template_cache *cache);

/* Sets each item's template_body to a reference to the current template its
 * row names (NULL when there is none), at the objects version the claim
 * read, reading an organization's templates through c when the cache holds
 * an older version. Returns 0, or -EIO / -ENOMEM with err (no item is
 * touched then). */
int td_template_cache_fill(struct td_template_cache *cache, PGconn *c, struct td_claimed *items,
                           size_t count, char *err, size_t errcap);

#endif
