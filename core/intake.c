/* intake: commits an event and expands it into message rows, in one
 * transaction, before the trigger answers its sender. */
#include "intake.h"

#include "booking.h"
#include "buf.h"
#include "engine.h"
#include "expand.h"
#include "log.h"
#include "sequence.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* How long a request may wait for a free database connection. */
#define INTAKE_DB_WAIT_MS 2000

/* Parses the active sequences; a document that no longer parses is logged
 * and left out (imports validate, so this means a hand-edited row). */
static size_t intake_sequences(json_t *docs, const char *org, struct td_sequence **out, size_t cap)
{
    size_t n = 0;
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        if (n == cap)
            break;
        char err[256];
        if (td_sequence_parse(doc, &out[n], err, sizeof(err)) == 0)
            n++;
        else
            td_log(TD_LOG_WARN, org, "intake", "sequence ignored: %s", err);
    }
    return n;
}

static void transitions_text(const struct td_transitions *t, struct td_buf *b)
{
    for (size_t i = 0; i < t->count; i++)
        td_buf_printf(b, "%s%s", i ? ", " : "", t->names[i]);
}

/* Expands the booking inside the open transaction. */
static int intake_expand(PGconn *c, const char *org, const char *tz_default,
                         const struct td_booking *b, const struct td_event_row *ev, int *scheduled,
                         char *err, size_t errcap)
{
    *scheduled = 0;
    json_t *prev_doc = NULL;
    if (td_store_booking_lock(c, org, b->id, &prev_doc, err, errcap) < 0)
        return -EIO;
    struct td_booking prev = {0};
    bool have_prev = prev_doc && td_booking_from_json(prev_doc, &prev, err, errcap) == 0;
    json_decref(prev_doc);
    struct td_transitions t;
    td_expand_transitions(have_prev ? &prev : NULL, b, &t);
    if (have_prev)
        td_booking_clear(&prev);
    if (t.stale || t.unchanged)
        return td_store_event_done(c, org, ev->id, t.stale ? "stale" : "unchanged", 0, err, errcap);
    const char *tz = b->timezone ? b->timezone : tz_default;
    if (td_store_booking_save(c, org, b, tz, ev->id, err, errcap) < 0)
        return -EIO;
    json_t *docs = NULL;
    if (td_store_sequences_active(c, org, &docs, err, errcap) < 0)
        return -EIO;
    struct td_sequence *seqs[64];
    size_t nseq = intake_sequences(docs, org, seqs, sizeof(seqs) / sizeof(seqs[0]));
    json_decref(docs);
    struct td_plan plan = {0};
    int rc = td_expand_plan(b, ev->received_ms, &t, seqs, nseq, &plan);
    int skipped = 0;
    if (rc == 0)
        rc = td_store_messages_plan(c, org, b->id, tz, ev->id, &plan, scheduled, &skipped, err,
                                    errcap);
    td_plan_clear(&plan);
    for (size_t i = 0; i < nseq; i++)
        td_sequence_destroy(seqs[i]);
    if (rc < 0)
        return rc;
    struct td_buf outcome = {0};
    td_buf_puts(&outcome, "expanded: ");
    transitions_text(&t, &outcome);
    if (skipped)
        td_buf_printf(&outcome, "; %d skipped", skipped);
    rc = td_store_event_done(c, org, ev->id, td_buf_str(&outcome), *scheduled, err, errcap);
    td_buf_reset(&outcome);
    return rc;
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
        return 0;
    }
    struct td_event_row row;
    int scheduled = 0;
    int rc = td_store_begin(c, err, sizeof(err));
    if (rc == 0)
        rc = td_store_event_insert(c, org, source->cfg->name, ev->idempotency_key, ev->kind,
                                   ev->payload, ev->payload_len, &row, err, sizeof(err));
    if (rc == 0 && !row.duplicate)
        rc = intake_expand(c, org, source->org->timezone, &b, &row, &scheduled, err, sizeof(err));
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
        td_log(TD_LOG_INFO, org, source->cfg->name,
               "event %lld for booking %s committed: %d message%s scheduled (%.1f ms)",
               (long long)row.id, b.id, scheduled, scheduled == 1 ? "" : "s",
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    }
    td_db_release(source->engine->pool, c, td_db_connection_lost(c));
    td_booking_clear(&b);
    return 0;
}
