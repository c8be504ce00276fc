/* deliver: turns claimed rows into verdicts: checks deadline, recipient and
 * channel, renders the template, calls the channel plugin in batches and maps
 * its verdicts to the next state (sent, retry later, failed, ...). */
#ifndef TD_DELIVER_H
#define TD_DELIVER_H

#include "store.h"

#include <stdatomic.h>
#include <stddef.h>

struct td_engine;

/* Counts of what one run of td_deliver_batch decided. */
struct td_deliver_stats {
    size_t sent, retried, failed, skipped, expired, released;
};

/* Works out an outcome for each of the count claimed rows into outcomes[i]
 * (strings in outcomes are owned by *owned, freed with td_deliver_free);
 * conn answers send-time condition lookups.
 * When *stopping becomes true, rows not yet handed to a plugin are released.
 * now_ms is the wall clock at the start. */
int td_deliver_batch(struct td_engine *engine, PGconn *conn, struct td_claimed *items, size_t count,
                     struct td_outcome *outcomes, void **owned, const atomic_bool *stopping,
                     struct td_deliver_stats *stats);
void td_deliver_free(void *owned, size_t count);

/* Counts the written verdicts in the metrics and logs one line per message. */
void td_deliver_count(struct td_engine *engine, const struct td_claimed *items,
                      const struct td_outcome *outcomes, size_t count);

#endif
