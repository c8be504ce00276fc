/* hash: FNV-1a, 64 bits, for keys that must be the same for the same bytes
 * (statement names, import event keys, batch idempotency keys). Not for
 * anything an attacker chooses to collide. */
#ifndef TD_HASH_H
#define TD_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TD_FNV1A64_INIT 1469598103934665603ULL

/* Folds n bytes of data into h (start with TD_FNV1A64_INIT). */
static inline uint64_t td_fnv1a64_add(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* The FNV-1a hash of n bytes of data. */
static inline uint64_t td_fnv1a64(const void *data, size_t n)
{
    return td_fnv1a64_add(TD_FNV1A64_INIT, data, n);
}

#endif
