/* noop_ops: do-nothing operations for the deliberately broken test plugins,
 * so each file shows only the one thing that is wrong with it. */
#ifndef TD_NOOP_OPS_H
#define TD_NOOP_OPS_H

#include "tidings/plugin.h"

static inline int noop_create(const struct td_host *h, const struct td_config *c, void **i,
                              struct td_error *e)
{
    (void)h, (void)c, (void)e;
    *i = NULL;
    return 0;
}

static inline void noop_destroy(void *i)
{
    (void)i;
}

static inline void noop_deliver(void *i, const struct td_message *m, size_t n, struct td_result *r)
{
    (void)i, (void)m, (void)n, (void)r;
}

static inline int noop_start(void *i, struct td_error *e)
{
    (void)i, (void)e;
    return 0;
}

static inline void noop_stop(void *i)
{
    (void)i;
}

#endif
