/* store: every SQL statement the engine runs, in one module (store_*.c).
 * Functions take a borrowed connection; the caller owns transactions unless a
 * function says otherwise. Errors return -EIO with PostgreSQL's text in err. */
#ifndef TD_STORE_H
#define TD_STORE_H

#include "booking.h"
#include "expand.h"
#include "render_context.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- transactions ---- */
int td_store_begin(PGconn *c, char *err, size_t errcap);
int td_store_commit(PGconn *c, char *err, size_t errcap);
void td_store_rollback(PGconn *c);

/* ---- intake (store_intake.c) ---- */

struct td_event_row {
    int64_t id;
    int64_t received_ms;
    bool duplicate;         /* the idempotency key was seen before: nothing inserted */
    int messages_scheduled; /* for a duplicate: what the first delivery scheduled */
};

/* Inserts an event unless (org, source, idempotency_key) exists. */
int td_store_event_insert(PGconn *c, const char *org, const char *source, const char *idem_key,
                          const char *kind, const char *payload, size_t payload_len,
                          struct td_event_row *out, char *err, size_t errcap);

/* Records what expansion made of an event. */
int td_store_event_done(PGconn *c, const char *org, int64_t event_id, const char *outcome,
                        int messages_scheduled, char *err, size_t errcap);

/* Serializes work on one booking for the rest of the transaction and reads its
 * stored document into *prev (NULL for a new booking; caller decrefs). */
int td_store_booking_lock(PGconn *c, const char *org, const char *booking_id, json_t **prev,
                          char *err, size_t errcap);

/* Stores b as the booking's latest state. tz is the effective time zone. */
int td_store_booking_save(PGconn *c, const char *org, const struct td_booking *b, const char *tz,
                          int64_t event_id, char *err, size_t errcap);

/* A step whose moment passed less than this long before its booking arrived
 * is still sent (an "at the trigger" step always is); an older one is skipped. */
#define TD_LATE_GRACE_S 900

/* Writes the plan's rows (existing ones are kept: expansion is idempotent),
 * computing local send times in tz. A row whose time passed more than
 * TD_LATE_GRACE_S ago is written as skipped. Counts what was newly scheduled and skipped. */
int td_store_messages_plan(PGconn *c, const char *org, const char *booking_id, const char *tz,
                           int64_t event_id, const struct td_plan *plan, int *scheduled,
                           int *skipped, char *err, size_t errcap);

/* Reads the documents of the organization's active sequences into *out (a
 * new JSON array; caller decrefs). */
int td_store_sequences_active(PGconn *c, const char *org, json_t **out, char *err, size_t errcap);

/* ---- objects (store_objects.c) ---- */

/* Saves body as a new version of (org, kind, key) unless the newest version
 * is equal. *version gets the version now current; *changed whether a new
 * one was written. */
int td_store_object_put(PGconn *c, const char *org, const char *kind, const char *key, json_t *body,
                        const char *created_by, int *version, bool *changed, char *err,
                        size_t errcap);

/* Reads the newest version of every object of kind for org into *out (a new
 * JSON array of bodies, ordered by key; caller decrefs). */
int td_store_objects_current(PGconn *c, const char *org, const char *kind, json_t **out, char *err,
                             size_t errcap);

/* ---- dispatch (store_dispatch.c) ---- */

/* A message claimed for sending, with what rendering needs. */
struct td_claimed {
    char *org_id;
    int64_t id;
    int64_t lease_token;
    int attempts; /* including this one */
    char *channel;
    char *template_key;
    char *booking_id;
    char *sequence_key;
    char *step_id;
    int64_t scheduled_ms;
    int64_t deadline_ms;   /* -1: none */
    json_t *booking;       /* the booking's document, NULL if gone */
    json_t *template_body; /* the newest template version, NULL if missing */
    struct td_local_time start;
    struct td_local_time end;
    int days_until;
};

/* Claims up to limit due messages for owner: each becomes 'sending' with a
 * new fencing token and a lease of lease_s seconds. Returns 0 and a new array
 * in *out (free with td_store_claimed_free). */
int td_store_claim(PGconn *c, const char *owner, int limit, int lease_s, struct td_claimed **out,
                   size_t *count, char *err, size_t errcap);
void td_store_claimed_free(struct td_claimed *items, size_t count);

/* The verdict on one claimed message. */
struct td_outcome {
    const char *org_id;
    int64_t id;
    int64_t lease_token;
    const char *status;      /* sent, scheduled (retry or release), failed, skipped, expired */
    const char *reason;      /* NULL for a plain success */
    const char *provider_id; /* may be NULL */
    const char *recipient;   /* may be NULL */
    json_t *rendered;        /* borrowed; may be NULL */
    int64_t retry_at_ms;     /* for status scheduled */
    int attempt_delta;       /* -1 gives the claim's attempt back (release, throttling) */
};

/* Writes outcomes in one statement. Only rows still held under the given
 * lease token change (fencing): *written counts them. */
int td_store_outcomes_write(PGconn *c, const struct td_outcome *items, size_t count, int *written,
                            char *err, size_t errcap);

/* Returns claims whose lease ran out to 'scheduled'; *count says how many. */
int td_store_reclaim_expired(PGconn *c, int *count, char *err, size_t errcap);

/* The earliest scheduled_for of a waiting message, unix ms, or -1. */
int td_store_next_due(PGconn *c, int64_t *ms, char *err, size_t errcap);

#endif
