/* intake: commits an event and expands it into message rows, in one
 * transaction, before the trigger answers its sender. */
#include "intake.h"

#include "booking.h"
#include "buf.h"
#include "engine.h"
#include "expand.h"
#include "log.h"
#include "metrics.h"
#include "sequence_cache.h"
#include "store.h"

#include <errno.h>
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

/* What conditions need to look up the customer's other bookings. */
struct intake_lookup {
    PGconn *conn;
    const char *org;
    const struct td_booking *booking;
};

static int intake_other_bookings(void *ctx, const struct td_other_bookings_query *q, bool *exists)
{
    struct intake_lookup *l = ctx;
    char err[256];
    return td_store_other_bookings(l->conn, l->org, l->booking->customer_key, l->booking->id,
                                   l->booking->start_ms, l->booking->end_ms, q->subtypes,
                                   q->overlapping, exists, err, sizeof(err));
}

/* Lifecycle effects on rows already there: sequences that exit on one of the
 * transitions cancel their pending rows; a moved booking re-times its rows. */
static int intake_effects(PGconn *c, const char *org, const char *tz, const struct td_booking *b,
                          const struct td_transitions *t, const struct td_sequence_set *set,
                          struct td_buf *summary, char *err, size_t errcap)
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
        rc = td_store_messages_retime(c, org, b, tz, &retimed, &skipped, err, errcap);
        if (retimed || skipped)
            td_buf_printf(summary, "; %d re-timed, %d skipped by the move", retimed, skipped);
    }
    return rc;
}

/* Expands the booking inside the open transaction. */
static int intake_expand(struct td_engine *e, PGconn *c, const struct td_org_config *org,
                         const struct td_booking *b, const struct td_event_row *ev, int *scheduled,
                         char *err, size_t errcap)
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
    int rc = intake_effects(c, org->id, tz, b, &t, set, &summary, err, errcap);
    struct intake_lookup lookup = {c, org->id, b};
    struct td_condition_env env = {b->doc, intake_other_bookings, &lookup};
    struct td_plan plan = {0};
    if (rc == 0)
        rc = td_expand_plan(b, ev->received_ms, &t, set->items, set->count, &env, &plan);
    int skipped = 0;
    if (rc == 0)
        rc = td_store_messages_plan(c, org->id, b->id, tz, ev->id, &plan, scheduled, &skipped, err,
                                    errcap);
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

/* Counts an event's outcome in the metrics. */
static void intake_count(struct td_instance *source, enum td_submit_status status)
{
    static const char *const names[] = {"accepted", "duplicate", "invalid", "unavailable"};
    char labels[160];
    snprintf(labels, sizeof(labels), "org=\"%s\",outcome=\"%s\"", source->org->id, names[status]);
    td_metrics_add(source->engine->metrics, "tidings_events_total", labels, 1);
}

int td_intake_submit(struct td_instance *source, const struct td_event *ev,
                     struct td_submit_result *out)
{
    if (!ev || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    const char *org = source->org->id;
    if (!ev->kind || strcmp(ev->kind, "booking") != 0) {
        out->status = TD_SUBMIT_INVALID;
        snprintf(out->error, sizeof(out->error), "unknown event kind '%s'",
                 ev->kind ? ev->kind : "");
        return 0;
    }
    struct td_booking b;
    if (td_booking_parse(ev->payload, ev->payload_len, &b, out->error, sizeof(out->error)) < 0) {
        out->status = TD_SUBMIT_INVALID;
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
    int rc = td_store_begin(c, err, sizeof(err));
    if (rc == 0)
        rc = td_store_event_insert(c, org, source->cfg->name, ev->idempotency_key, ev->kind,
                                   ev->payload, ev->payload_len, &row, err, sizeof(err));
    if (rc == 0 && !row.duplicate)
        rc = intake_expand(source->engine, c, source->org, &b, &row, &scheduled, err, sizeof(err));
    if (rc == 0)
        rc = td_store_commit(c, err, sizeof(err));
    if (rc < 0) {
        td_store_rollback(c);
        out->status = TD_SUBMIT_UNAVAILABLE;
        snprintf(out->error, sizeof(out->error), "the event could not be stored");
        td_log(TD_LOG_ERROR, org, source->cfg->name, "event for booking %s not stored: %s", b.id,
               err);
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

/* Claims the oldest unprocessed event of org and expands it, in one
 * transaction. Returns 1 when one was processed, 0 when none was waiting,
 * -EIO on a database error. */
static int intake_one_pending(struct td_instance *source, PGconn *c, char *err, size_t errcap)
{
    const char *org = source->org->id;
    if (td_store_begin(c, err, errcap) < 0)
        return -EIO;
    struct td_event_row row;
    json_t *payload = NULL;
    int rc = td_store_event_pending(c, org, &row, &payload, err, errcap);
    if (rc <= 0) {
        td_store_rollback(c);
        return rc;
    }
    char why[256];
    struct td_booking b;
    int scheduled = 0;
    if (td_booking_from_json(payload, &b, why, sizeof(why)) < 0) {
        /* the SQL function checks, but a trigger's column map may build anything */
        char outcome[300];
        snprintf(outcome, sizeof(outcome), "invalid: %s", why);
        rc = td_store_event_done(c, org, row.id, outcome, 0, err, errcap);
        td_log(TD_LOG_WARN, org, source->cfg->name, "event %lld refused: %s", (long long)row.id,
               why);
    } else {
        rc = intake_expand(source->engine, c, source->org, &b, &row, &scheduled, err, errcap);
        td_booking_clear(&b);
    }
    json_decref(payload);
    if (rc == 0)
        rc = td_store_commit(c, err, errcap);
    if (rc < 0) {
        td_store_rollback(c);
        return -EIO;
    }
    td_log(TD_LOG_INFO, org, source->cfg->name, "event %lld expanded: %d message%s scheduled",
           (long long)row.id, scheduled, scheduled == 1 ? "" : "s");
    return 1;
}

int td_intake_process_pending(struct td_instance *source, size_t *processed)
{
    *processed = 0;
    char err[512] = "";
    PGconn *c = td_db_acquire(source->engine->pool, INTAKE_DB_WAIT_MS, err, sizeof(err));
    if (!c) {
        td_log(TD_LOG_ERROR, source->org->id, source->cfg->name, "cannot read waiting events: %s",
               err);
        return -EIO;
    }
    int rc;
    while ((rc = intake_one_pending(source, c, err, sizeof(err))) == 1)
        (*processed)++;
    if (rc < 0)
        td_log(TD_LOG_ERROR, source->org->id, source->cfg->name, "waiting events: %s", err);
    td_db_release(source->engine->pool, c, td_db_connection_lost(c));
    return rc < 0 ? rc : 0;
}
