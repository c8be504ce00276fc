/* intake: commits an event and expands it into message rows, in one
 * transaction, before the trigger answers its sender. */
#include "intake/intake.h"

#include "intake/booking.h"
#include "intake/booking_check.h"
#include "util/buf.h"
#include "engine_state.h"
#include "expand/expand.h"
#include "util/log.h"
#include "util/metrics.h"
#include "expand/sequence_cache.h"
#include "store/store.h"
#include "plugin_host/world.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* How long a request may wait for a free database connection. */
#define INTAKE_DB_WAIT_MS 2000

static void transitions_text(const struct td_transitions *t, struct td_buf *b)
{
    for (size_t i = 0; i < t->count; i++)
        td_buf_printf(b, "%s%s", i ? ", " : "", t->names[i]);
}

/* Lifecycle effects on rows already there: sequences that exit on one of the
 * transitions cancel their pending rows; a moved booking re-times its rows. */
static int intake_effects(PGconn *c, const char *org, const char *tz, const struct td_booking *b,
                          int64_t arrival_ms, const struct td_transitions *t,
                          const struct td_sequence_set *set, struct td_buf *summary, char *err,
                          size_t errcap)
{
    json_t *exiting = json_array();
    for (size_t i = 0; i < set->count; i++) {
        if (td_expand_exits(set->items[i], t))
            json_array_append_new(exiting, json_string(set->items[i]->key));
    }
    int rc = 0;
    if (json_array_size(exiting)) {
        struct td_buf reason = {0};
        transitions_text(t, &reason);
        td_buf_puts(&reason, ": the sequence exits on it");
        int n = 0;
        rc = td_store_messages_cancel(c, org, b->id, exiting, td_buf_str(&reason), &n, err, errcap);
        td_buf_reset(&reason);
        if (n)
            td_buf_printf(summary, "; %d cancelled", n);
    }
    json_decref(exiting);
    if (rc == 0 && td_transitions_has(t, "booking.moved")) {
        int retimed = 0, skipped = 0;
        rc = td_store_messages_retime(c, org, b, tz, arrival_ms, &retimed, &skipped, err, errcap);
        if (retimed || skipped)
            td_buf_printf(summary, "; %d re-timed, %d skipped by the move", retimed, skipped);
    }
    return rc;
}

/* What expanding one transaction's events scheduled. */
struct intake_scheduled {
    int count;
    int64_t first_due_ms; /* the earliest of them (epoch ms), when count > 0 */
};

/* Adds what one event scheduled to the transaction's total. */
static void intake_scheduled_add(struct intake_scheduled *total, int count, int64_t first_due_ms)
{
    if (count && (total->count == 0 || first_due_ms < total->first_due_ms))
        total->first_due_ms = first_due_ms;
    total->count += count;
}

/* Expands the booking inside the open transaction; adds what it scheduled to
 * *tx (the dispatchers are woken once per transaction) and sets *scheduled. */
static int intake_expand(struct td_engine *e, PGconn *c, const struct td_org_config *org,
                         const struct td_booking *b, const struct td_event_row *ev, int *scheduled,
                         struct intake_scheduled *tx, char *err, size_t errcap)
{
    *scheduled = 0;
    json_t *prev_doc = NULL;
    if (td_store_booking_lock(c, org->id, b->id, &prev_doc, err, errcap) < 0)
        return -EIO;
    struct td_booking prev = {0};
    char why[256];
    bool have_prev = prev_doc && td_booking_from_json(prev_doc, &prev, why, sizeof(why)) == 0;
    json_decref(prev_doc);
    struct td_transitions t;
    td_expand_transitions(have_prev ? &prev : NULL, b, &t);
    if (have_prev)
        td_booking_clear(&prev);
    if (t.stale || t.unchanged)
        return td_store_event_done(c, org->id, ev->id, t.stale ? "stale" : "unchanged", 0, err,
                                   errcap);
    const char *tz = b->timezone ? b->timezone : org->timezone;
    if (td_store_booking_save(c, org->id, b, tz, ev->id, err, errcap) < 0)
        return -EIO;
    struct td_sequence_set *set = NULL;
    if (td_sequence_cache_get(e->sequences, c, org->id, ev->objects_version, &set, err, errcap) < 0)
        return -EIO;
    struct td_buf summary = {0};
    int rc = intake_effects(c, org->id, tz, b, ev->received_ms, &t, set, &summary, err, errcap);
    struct td_store_booking_ref lookup = {c,     org->id,     b->customer_key,
                                          b->id, b->start_ms, b->end_ms};
    struct td_condition_env env = {b->doc, td_store_other_bookings_lookup, &lookup};
    struct td_plan plan = {0};
    if (rc == 0)
        rc = td_expand_plan(b, ev->received_ms, &t, set->items, set->count, &env, &plan);
    int skipped = 0;
    int64_t first_due_ms = 0;
    if (rc == 0)
        rc = td_store_messages_plan(c, org->id, b->id, tz, ev->id, ev->received_ms, &plan,
                                    scheduled, &skipped, &first_due_ms, err, errcap);
    if (rc == 0)
        intake_scheduled_add(tx, *scheduled, first_due_ms);
    td_plan_clear(&plan);
    td_sequence_cache_release(e->sequences, set);
    if (rc == 0) {
        struct td_buf outcome = {0};
        td_buf_puts(&outcome, t.count ? "expanded: " : "stored: no transition");
        transitions_text(&t, &outcome);
        if (skipped)
            td_buf_printf(&outcome, "; %d skipped", skipped);
        td_buf_puts(&outcome, td_buf_str(&summary));
        rc = td_store_event_done(c, org->id, ev->id, td_buf_str(&outcome), *scheduled, err, errcap);
        td_buf_reset(&outcome);
    }
    td_buf_reset(&summary);
    return rc;
}

/* Writes one problem (field: text) as out->problems. */
int td_intake_expand_uncommitted(struct td_engine *e, PGconn *c, const struct td_org_config *org,
                                 const struct td_booking *b, const char *payload,
                                 int64_t arrival_ms, int64_t *event_id, char *err, size_t errcap)
{
    struct td_event_row row;
    if (td_store_event_insert(c, org->id, "preview", NULL, "booking", payload, strlen(payload),
                              &row, err, errcap) < 0)
        return -EIO;
    row.received_ms = arrival_ms; /* as if it arrived then */
    *event_id = row.id;
    int scheduled = 0;
    struct intake_scheduled tx = {0};
    return intake_expand(e, c, org, b, &row, &scheduled, &tx, err, errcap);
}

static void intake_problems_json(struct td_submit_result *out, const char *field, const char *text)
{
    json_t *list = json_pack("[{s:s, s:s}]", "field", field, "problem", text);
    char *dumped = list ? json_dumps(list, JSON_COMPACT) : NULL;
    snprintf(out->problems, sizeof(out->problems), "%s", dumped ? dumped : "");
    free(dumped);
    json_decref(list);
}

/* Counts an event's outcome in the metrics. */
static void intake_count(struct td_instance *source, enum td_submit_status status)
{
    static const char *const names[] = {"accepted", "duplicate", "invalid", "unavailable",
                                        "conflict"};
    char labels[160];
    snprintf(labels, sizeof(labels), "org=\"%s\",outcome=\"%s\"", source->org->id, names[status]);
    td_metrics_add(source->engine->metrics, "tidings_events_total", labels, 1);
}

/* The submit of both ABI generations: full says out has the 1.2 fields. */
static int intake_submit(struct td_instance *source, const struct td_event *ev,
                         struct td_submit_result *out, bool full)
{
    if (!ev || !out)
        return -EINVAL;
    memset(out, 0, full ? sizeof(*out) : offsetof(struct td_submit_result, problems));
    const char *org = source->org->id;
    if (!ev->kind || strcmp(ev->kind, "booking") != 0) {
        out->status = TD_SUBMIT_INVALID;
        snprintf(out->error, sizeof(out->error), "unknown event kind '%s'",
                 ev->kind ? ev->kind : "");
        return 0;
    }
    if (source->world && !td_world_serves(source->world, org)) {
        out->status = TD_SUBMIT_UNAVAILABLE;
        snprintf(out->error, sizeof(out->error),
                 "this engine's configuration of the organization differs from the other "
                 "engines': it takes no bookings for it");
        intake_count(source, out->status);
        return 0;
    }
    /* every problem at once: the fields parsing needs, unknown fields,
     * addresses, consent */
    struct td_booking b;
    struct td_problems problems = {0};
    json_error_t jerr;
    json_t *doc = json_loadb(ev->payload, ev->payload_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        out->status = TD_SUBMIT_INVALID;
        snprintf(out->error, sizeof(out->error), "malformed JSON at line %d, column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        if (full)
            intake_problems_json(out, "booking", out->error);
        intake_count(source, out->status);
        return 0;
    }
    int parsed = td_booking_read(doc, &b, &problems);
    if (json_is_object(doc))
        td_booking_check(doc, source->org->country, &problems);
    json_decref(doc);
    if (problems.count) {
        out->status = TD_SUBMIT_INVALID;
        if (full) /* the list says each */
            td_problems_summary(&problems, out->error, sizeof(out->error));
        else
            td_problems_text(&problems, out->error, sizeof(out->error));
        if (full) {
            json_t *list = td_problems_json(&problems);
            char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
            snprintf(out->problems, sizeof(out->problems), "%s", text ? text : "");
            free(text);
            json_decref(list);
        }
        if (parsed == 0)
            td_booking_clear(&b);
        intake_count(source, out->status);
        return 0;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[512] = "";
    PGconn *c = td_db_acquire(source->engine->pool, INTAKE_DB_WAIT_MS, err, sizeof(err));
    if (!c) {
        out->status = TD_SUBMIT_UNAVAILABLE;
        snprintf(out->error, sizeof(out->error), "database unavailable");
        td_log(TD_LOG_ERROR, org, source->cfg->name, "cannot store event: %s", err);
        td_booking_clear(&b);
        intake_count(source, out->status);
        return 0;
    }
    struct td_event_row row;
    int scheduled = 0;
    struct intake_scheduled tx = {0};
    int rc = td_store_begin(c, err, sizeof(err));
    if (rc == 0)
        rc = td_store_event_insert(c, org, source->cfg->name, ev->idempotency_key, ev->kind,
                                   ev->payload, ev->payload_len, &row, err, sizeof(err));
    if (rc == 0 && !row.duplicate)
        rc = intake_expand(source->engine, c, source->org, &b, &row, &scheduled, &tx, err,
                           sizeof(err));
    if (rc == 0 && tx.count)
        rc = td_store_wake_dispatchers(c, tx.first_due_ms, err, sizeof(err));
    if (rc == 0)
        rc = td_store_commit(c, err, sizeof(err));
    if (rc < 0) {
        td_store_rollback(c);
        out->status = TD_SUBMIT_UNAVAILABLE;
        snprintf(out->error, sizeof(out->error), "the event could not be stored");
        td_log(TD_LOG_ERROR, org, source->cfg->name, "event for booking %s not stored: %s", b.id,
               err);
    } else if (row.duplicate && row.conflict) {
        out->status = full ? TD_SUBMIT_CONFLICT : TD_SUBMIT_INVALID;
        out->event_id = row.id;
        snprintf(out->error, sizeof(out->error),
                 "this idempotency key (webhook-id) was used before for another booking "
                 "document (event %lld): nothing stored; send a new update under a new key",
                 (long long)row.id);
    } else if (row.duplicate) {
        out->status = TD_SUBMIT_DUPLICATE;
        out->event_id = row.id;
        out->messages_scheduled = row.messages_scheduled;
    } else {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        out->status = TD_SUBMIT_ACCEPTED;
        out->event_id = row.id;
        out->messages_scheduled = scheduled;
        td_metrics_observe(source->engine->metrics, "tidings_intake_seconds", NULL,
                           (double)(t1.tv_sec - t0.tv_sec) +
                               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        td_log(TD_LOG_INFO, org, source->cfg->name,

               "event %lld for booking %s committed: %d message%s scheduled (%.1f ms)",
               (long long)row.id, b.id, scheduled, scheduled == 1 ? "" : "s",
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    }
    td_db_release(source->engine->pool, c, td_db_connection_lost(c));
    td_booking_clear(&b);
    intake_count(source, out->status);
    return 0;
}

int td_intake_submit(struct td_instance *source, const struct td_event *ev,
                     struct td_submit_result *out)
{
    return intake_submit(source, ev, out, true);
}

int td_intake_submit_1_1(struct td_instance *source, const struct td_event *ev,
                         struct td_submit_result *out)
{
    return intake_submit(source, ev, out, false);
}

/* How many waiting events one transaction takes: one commit for the lot. */
#define INTAKE_PENDING_BATCH 64
/* Waiting events are split by booking id into this many partitions, each
 * expanded by one transaction at a time (in any engine): the most callers
 * that can expand one organization's waiting events at once. */
#define INTAKE_PENDING_PARTITIONS 8

/* Expands one claimed event inside the open batch transaction. A payload a
 * trigger's column map built wrongly is recorded as refused, not retried. */
static int intake_one_pending(struct td_instance *source, PGconn *c,
                              const struct td_pending_event *ev, struct intake_scheduled *tx,
                              char *err, size_t errcap)
{
    const char *org = source->org->id;
    char why[256];
    struct td_booking b;
    int scheduled = 0;
    struct td_problems problems = {0};
    int parsed = td_booking_read(ev->payload, &b, &problems);
    if (json_is_object(ev->payload))
        td_booking_check(ev->payload, source->org->country, &problems);
    if (problems.count) {
        td_problems_text(&problems, why, sizeof(why));
        if (parsed == 0)
            td_booking_clear(&b);
        /* the SQL function checks, but a trigger's column map may build anything */
        char outcome[300];
        snprintf(outcome, sizeof(outcome), "invalid: %s", why);
        td_log(TD_LOG_WARN, org, source->cfg->name, "event %lld refused: %s", (long long)ev->row.id,
               why);
        return td_store_event_done(c, org, ev->row.id, outcome, 0, err, errcap);
    }
    int rc =
        intake_expand(source->engine, c, source->org, &b, &ev->row, &scheduled, tx, err, errcap);
    if (rc == 0)
        td_log(TD_LOG_INFO, org, source->cfg->name,
               "event %lld for booking %s expanded: %d message%s scheduled", (long long)ev->row.id,
               b.id, scheduled, scheduled == 1 ? "" : "s");
    td_booking_clear(&b);
    return rc;
}

/* Logs that an event could not be expanded, once per event rather than at
 * every retry. */
static void intake_log_held(struct td_instance *source, int64_t event_id, const char *booking_id,
                            const char *why)
{
    static _Atomic int64_t last_logged = -1;
    bool first = atomic_exchange(&last_logged, event_id) != event_id;
    td_log(first ? TD_LOG_ERROR : TD_LOG_DEBUG, source->org->id, source->cfg->name,
           "event %lld for booking %s not expanded; it and the booking's later events wait for "
           "the next look: %s",
           (long long)event_id, booking_id, why);
}

/* Claims up to limit of the oldest waiting events of one partition of org,
 * leaving out the bookings in held, and expands them in one transaction.
 * *more says the batch was full (more may wait). Returns the number committed
 * (0 also when another transaction holds the partition), or -EIO with err
 * when the batch was rolled back; when it was a batch of one, failed_booking
 * gets that event's booking id. */
static int intake_pending_batch(struct td_instance *source, PGconn *c, int partition, size_t limit,
                                const json_t *held, bool *more, char *failed_booking,
                                size_t failed_cap, char *err, size_t errcap)
{
    const char *org = source->org->id;
    struct td_pending_event batch[INTAKE_PENDING_BATCH];
    size_t n = 0, done = 0;
    bool locked = false;
    int rc;
    struct intake_scheduled tx = {0};
    *more = false;
    failed_booking[0] = '\0';
    if (td_store_begin(c, err, errcap) < 0)
        return -EIO;
    rc = td_store_events_pending(c, org, partition, INTAKE_PENDING_PARTITIONS, held, batch, limit,
                                 &n, &locked, err, errcap);
    for (; rc == 0 && done < n; done++)
        rc = intake_one_pending(source, c, &batch[done], &tx, err, errcap);
    if (rc == 0 && tx.count)
        rc = td_store_wake_dispatchers(c, tx.first_due_ms, err, errcap);
    if (rc == 0 && n)
        rc = td_store_commit(c, err, errcap);
    else if (rc == 0)
        td_store_rollback(c); /* nothing waited: only the partition lock to let go */
    if (rc < 0) {
        td_store_rollback(c);
        if (n == 1) {
            const char *id = json_string_value(json_object_get(batch[0].payload, "id"));
            snprintf(failed_booking, failed_cap, "%s", id ? id : "");
            intake_log_held(source, batch[0].row.id, failed_booking, err);
        }
    }
    for (size_t i = 0; i < n; i++)
        json_decref(batch[i].payload);
    if (rc < 0)
        return -EIO;
    *more = n == limit;
    return (int)n;
}

/* Expands what waits in one partition, batch after batch. When a batch
 * fails, its events are taken again one at a time; an event that fails alone
 * holds back its booking (its later events wait with it, keeping their
 * order) while the partition's other bookings go on (it was logged).
 * Returns the number expanded; *failed (with err) when the partition could
 * not be read at all or the connection was lost. */
static int intake_pending_partition(struct td_instance *source, PGconn *c, int partition,
                                    bool *failed, char *err, size_t errcap)
{
    int total = 0;
    bool more = true;
    size_t singles = 0; /* > 0: taking events one at a time after a failure */
    json_t *held = json_array();
    while (more) {
        char failed_booking[256];
        int rc =
            intake_pending_batch(source, c, partition, singles ? 1 : INTAKE_PENDING_BATCH, held,
                                 &more, failed_booking, sizeof(failed_booking), err, errcap);
        if (rc >= 0) {
            total += rc;
            if (singles) /* past the failed batch's events: batches again */
                singles--;
            continue;
        }
        if (td_db_connection_lost(c) || (singles && !failed_booking[0])) {
            *failed = true;
            break;
        }
        if (singles)
            json_array_append_new(held, json_string(failed_booking));
        singles = INTAKE_PENDING_BATCH;
        more = true;
    }
    json_decref(held);
    return total;
}

int td_intake_process_pending(struct td_instance *source, size_t *processed)
{
    /* callers start at different partitions, so parallel ones rarely meet */
    static atomic_uint next_start;
    *processed = 0;
    if (source->world && !td_world_serves(source->world, source->org->id))
        return 0; /* the engines that agree on its configuration expand its events */
    char err[512] = "";
    PGconn *c = td_db_acquire(source->engine->pool, INTAKE_DB_WAIT_MS, err, sizeof(err));
    if (!c) {
        td_log(TD_LOG_ERROR, source->org->id, source->cfg->name, "cannot read waiting events: %s",
               err);
        return -EIO;
    }
    unsigned start = atomic_fetch_add(&next_start, 1);
    unsigned waiting = 0;
    bool failed = false;
    /* look which partitions have waiting events, expand them, look again,
     * until nothing waits (or what waits is another caller's) */
    while (!failed) {
        if (td_store_pending_partitions(c, source->org->id, INTAKE_PENDING_PARTITIONS, &waiting,
                                        err, sizeof(err)) < 0) {
            failed = true;
            break;
        }
        int round = 0;
        for (int i = 0; i < INTAKE_PENDING_PARTITIONS && !failed; i++) {
            int partition = (int)((start + (unsigned)i) % INTAKE_PENDING_PARTITIONS);
            if (waiting & (1u << partition))
                round += intake_pending_partition(source, c, partition, &failed, err, sizeof(err));
        }
        *processed += (size_t)round;
        if (round == 0)
            break;
    }
    if (failed)
        td_log(TD_LOG_ERROR, source->org->id, source->cfg->name, "waiting events: %s", err);
    td_db_release(source->engine->pool, c, td_db_connection_lost(c));
    return failed ? -EIO : 0;
}
