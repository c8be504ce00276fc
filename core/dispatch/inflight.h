/* inflight: the engine's claimed messages whose verdicts are not yet in the
 * database. One thread, with a database connection of its own, keeps their
 * leases alive while they are being delivered (however slow the provider),
 * and writes each verdict as soon as a worker hands it over: what several
 * workers hand over at once goes into one statement, and a write that fails
 * on a broken connection is tried again after reconnecting. A verdict lands
 * only where the row still carries the lease token it was claimed with
 * (fencing): the row is still being sent by this engine, or its lease ran out
 * and no engine has claimed it again. */
#ifndef TD_INFLIGHT_H
#define TD_INFLIGHT_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct td_inflight;

/* Starts the thread for the database at dsn; leases are renewed for lease_s
 * seconds at a time. Returns 0 and *out, or a negative errno. */
int td_inflight_start(const char *dsn, long lease_s, struct td_inflight **out);

/* Writes what was handed over (trying for up to grace_ms while the database
 * is unreachable), stops renewing and frees everything. NULL is a no-op. */
void td_inflight_stop(struct td_inflight *f, long grace_ms);

/* Registers claimed rows: their leases are renewed until their verdicts are
 * written. */
void td_inflight_hold(struct td_inflight *f, const struct td_claimed *items, size_t count);

/* Hands over count verdicts (copied: the caller keeps its own) to be written
 * at once. Waits only when very many wait to be written already. */
void td_inflight_record(struct td_inflight *f, const struct td_outcome *outcomes, size_t count);

/* True when the held leases are being renewed: the last renewal started
 * less than half a lease ago, so a lease held now outlasts the next renewal
 * by half a lease at least. A worker hands rows to a provider only then: a
 * lease that may run out mid-call could let another engine send the same
 * message. */
bool td_inflight_leases_ok(const struct td_inflight *f);

/* True when the lease of token was taken over by another claim (found by a
 * renewal): the row must not be sent by this engine. */
bool td_inflight_lost(struct td_inflight *f, int64_t token);

/* Waits until everything handed over so far is written (or given up),
 * for tests and shutdown. */
void td_inflight_flush(struct td_inflight *f);

#endif
