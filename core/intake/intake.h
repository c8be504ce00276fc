/* intake: takes a trigger's event, commits it to the events table and
 * expands it into message rows in the same transaction, before the trigger
 * answers its sender. */
#ifndef TD_INTAKE_H
#define TD_INTAKE_H

#include "tidings/plugin.h"

#include <libpq-fe.h>
#include <stdint.h>

struct td_instance;
struct td_engine;
struct td_org_config;
struct td_booking;

/* Submits ev for the organization of the trigger instance source. Fills out
 * with ACCEPTED, DUPLICATE, INVALID (nothing stored; out->error says what is
 * wrong) or UNAVAILABLE (the database cannot take it; nothing stored).
 * Every problem of an invalid booking is named (out->error sums them up,
 * out->problems lists them as JSON); an idempotency key used before for
 * another event is CONFLICT. Returns 0, or -EINVAL when ev or out is NULL. */
int td_intake_submit(struct td_instance *source, const struct td_event *ev,
                     struct td_submit_result *out);

/* As td_intake_submit, for a caller whose td_submit_result ends at `error`
 * (a plugin built for ABI 1.1): problems are not written, and CONFLICT is
 * answered as INVALID. */
int td_intake_submit_1_1(struct td_instance *source, const struct td_event *ev,
                         struct td_submit_result *out);

/* Expands every event of source's organization that was committed but not yet
 * expanded (written by an app's SQL call, or while no engine ran), in batches
 * of one transaction each. The events are split by booking id into
 * partitions; callers in this and other engines take different partitions,
 * and each booking's events are expanded in the order they were written. An
 * event whose expansion fails waits, with its booking's later events, for the
 * next call; the others go on. *processed counts what was expanded. Safe to
 * call from several threads. Returns 0, or -EIO when the database could not
 * be read (logged). */
int td_intake_process_pending(struct td_instance *source, size_t *processed);

/* The real expansion of booking b (read and checked; payload its JSON) as
 * an event of org arriving at arrival_ms, inside the caller's open
 * transaction on c, which the caller rolls back: the preview. Returns 0 with
 * *event_id, or -EIO with err. */
int td_intake_expand_uncommitted(struct td_engine *e, PGconn *c, const struct td_org_config *org,
                                 const struct td_booking *b, const char *payload,
                                 int64_t arrival_ms, int64_t *event_id, char *err, size_t errcap);

#endif
