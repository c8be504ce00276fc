/* deliver: turns claimed rows into verdicts: checks deadline, recipient and
 * channel, renders the template, calls the channel plugin in batches and maps
 * its verdicts to the next state (sent, retry later, failed, ...). */
#ifndef TD_DELIVER_H
#define TD_DELIVER_H

#include "store/store.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct td_engine;
struct td_world;

/* Counts of what one run of td_deliver_batch decided. */
struct td_deliver_stats {
    size_t sent, retried, failed, skipped, expired, released, held, unknown;
};

/* Works out an outcome for each of the count claimed rows into outcomes[i]
 * (strings in outcomes are owned by *owned, freed with td_deliver_free) and
 * hands each verdict to the engine's verdict writer (engine->inflight) as
 * soon as it is decided, with world's channel instances (the caller holds a
 * reference): at once for rows decided without the provider, and
 * after each round of provider calls for the others. conn answers send-time
 * lookups. When *stopping becomes true, rows not yet handed to a plugin are
 * released. Returns 0 or -ENOMEM. */
int td_deliver_batch(struct td_engine *engine, struct td_world *world, PGconn *conn,
                     struct td_claimed *items, size_t count, struct td_outcome *outcomes,
                     void **owned, const atomic_bool *stopping, struct td_deliver_stats *stats);
void td_deliver_free(void *owned, size_t count);

struct td_instance;

/* Suspends channel (its organization's connection) in every engine: until
 * the configuration changes or an operator resumes it, or, with until_ms >= 0
 * (a used-up quota), until then. Alerts once. */
void td_deliver_suspend(struct td_instance *channel, PGconn *conn, const char *reason,
                        int64_t until_ms);

#endif
