/* store: every SQL statement the engine runs, in one module (store_*.c).
 * Functions take a borrowed connection; the caller owns transactions unless a
 * function says otherwise. Errors return -EIO with PostgreSQL's text in err. */
#ifndef TD_STORE_H
#define TD_STORE_H

#include "expand/condition.h"
#include "intake/booking.h"
#include "expand/expand.h"
#include "render/render_context.h"

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
    int64_t objects_version; /* the organization's sequences/templates version */
    bool duplicate;          /* the idempotency key was seen before: nothing inserted */
    bool conflict;           /* ... and its event had another payload */
    int messages_scheduled;  /* for a duplicate: what the first delivery scheduled */
};

/* Inserts an event unless (org, source, idempotency_key) exists. */
int td_store_event_insert(PGconn *c, const char *org, const char *source, const char *idem_key,
                          const char *kind, const char *payload, size_t payload_len,
                          struct td_event_row *out, char *err, size_t errcap);

/* An event committed but not yet expanded, with its booking document. */
struct td_pending_event {
    struct td_event_row row;
    json_t *payload; /* owned: the caller decrefs */
};

/* Takes partition (0 .. partitions-1, by a hash of the booking id) of org's
 * waiting events for the open transaction: *locked is false when another
 * transaction, in any engine, holds it. When held, locks up to cap of its
 * oldest waiting events, leaving out the bookings whose ids are in the JSON
 * array held (NULL: none), and fills out[0..*n), oldest first. One holder per
 * partition keeps each booking's events in order while parallel callers
 * take other partitions. Returns 0 or -EIO. */
/* Sets bit k of *mask for each partition k (0 .. partitions-1, at most 32)
 * of org that has waiting events. */
int td_store_pending_partitions(PGconn *c, const char *org, int partitions, unsigned *mask,
                                char *err, size_t errcap);

int td_store_events_pending(PGconn *c, const char *org, int partition, int partitions,
                            const json_t *held, struct td_pending_event *out, size_t cap, size_t *n,
                            bool *locked, char *err, size_t errcap);

/* Registers the organizations this engine serves (ids and names), so that the
 * SQL way in refuses unknown ones. */
int td_store_organizations(PGconn *c, json_t *orgs, char *err, size_t errcap);

/* Records what expansion made of an event. */

int td_store_event_done(PGconn *c, const char *org, int64_t event_id, const char *outcome,
                        int messages_scheduled, char *err, size_t errcap);

/* Wakes the dispatchers of every engine when the transaction commits: new
 * messages are scheduled, the earliest at due_ms (epoch ms; -1: now or
 * unknown). A dispatcher that would look before due_ms anyway sleeps on. */
int td_store_wake_dispatchers(PGconn *c, int64_t due_ms, char *err, size_t errcap);

/* Serializes work on one booking for the rest of the transaction and reads its
 * stored document into *prev (NULL for a new booking; caller decrefs). */
int td_store_booking_lock(PGconn *c, const char *org, const char *booking_id, json_t **prev,
                          char *err, size_t errcap);

/* Stores b as the booking's latest state. tz is the effective time zone. */
int td_store_booking_save(PGconn *c, const char *org, const struct td_booking *b, const char *tz,
                          int64_t event_id, char *err, size_t errcap);

/* Writes the plan's rows (existing ones are kept: expansion is idempotent),
 * computing local send times in tz. "Past" is judged against arrival_ms, the
 * instant the event arrived (epoch ms), never against the clock now: a row
 * whose time lies before it, even by a second, is written as skipped
 * ("past: ..."); a "before" row whose deadline (the booking's start) has
 * passed by now is written as expired; both name their times in tz. Counts
 * what was newly scheduled and what not. *first_due_ms gets the earliest
 * newly scheduled time (set only when *scheduled > 0); the caller wakes the
 * dispatchers with it, once per transaction. */
int td_store_messages_plan(PGconn *c, const char *org, const char *booking_id, const char *tz,
                           int64_t event_id, int64_t arrival_ms, const struct td_plan *plan,
                           int *scheduled, int *skipped, int64_t *first_due_ms, char *err,
                           size_t errcap);

/* Cancels the booking's scheduled rows of the sequences in seq_keys (a JSON
 * array of keys), with reason. *count gets how many. */
int td_store_messages_cancel(PGconn *c, const char *org, const char *booking_id, json_t *seq_keys,
                             const char *reason, int *count, char *err, size_t errcap);

/* Re-times the booking's scheduled rows anchored on its start or end to the
 * booking's new times (in tz); rows whose new time lies before arrival_ms
 * (when the move arrived) are skipped, rows whose deadline has passed expire.
 * *retimed and *skipped count them. */
int td_store_messages_retime(PGconn *c, const char *org, const struct td_booking *b, const char *tz,
                             int64_t arrival_ms, int *retimed, int *skipped, char *err,
                             size_t errcap);

/* Whether the customer (customer_key) has other bookings than booking_id in
 * org, not cancelled or no_show, of the given subtypes (NULL: any) and, when
 * overlapping, sharing time with [start_ms, end_ms). */
int td_store_other_bookings(PGconn *c, const char *org, const char *customer_key,
                            const char *booking_id, int64_t start_ms, int64_t end_ms,
                            json_t *subtypes, bool overlapping, bool *exists, char *err,
                            size_t errcap);

/* The booking a condition is evaluated for, as the other-bookings lookup
 * needs it (intake at expansion, dispatch at send time). Borrowed fields. */
/* The admin API's reads (store_admin_api.c): the organization's sequences
 * (key, name, status, version, steps, changed_at/by) and one customer's
 * messages, newest first, at most limit, as JSON arrays. Return 0 with *out
 * (the caller decrefs) or -EIO with err. */
int td_store_admin_sequences(PGconn *c, const char *org, json_t **out, char *err, size_t errcap);
int td_store_admin_customer_messages(PGconn *c, const char *org, const char *address, int limit,
                                     json_t **out, char *err, size_t errcap);

/* One booking's timeline: the booking, its events and every message with
 * its delivery reports, oldest first; JSON null when there is no such
 * booking. */
int td_store_admin_timeline(PGconn *c, const char *org, const char *booking, json_t **out,
                            char *err, size_t errcap);

/* Which messages the admin API's message list shows: every field NULL
 * matches all; from/to are ISO 8601 instants (from inclusive). */
struct td_admin_message_filter {
    const char *state, *channel, *sequence, *step, *from, *to;
    int limit;
};
int td_store_admin_messages(PGconn *c, const char *org, const struct td_admin_message_filter *f,
                            json_t **out, char *err, size_t errcap);

/* Statistics of org's messages scheduled in [from, to) grouped by by
 * (channel, sequence, step, or day in zone tz): counts per state, delivery,
 * bounce and complaint rates of what reached the provider, skips by reason,
 * lateness p50/p99; intake p50/p99 of the events that arrived then; the
 * seed's targets beside them. */
int td_store_admin_stats(PGconn *c, const char *org, const char *by, const char *tz,
                         const char *from, const char *to, json_t **out, char *err, size_t errcap);

/* The rows event_id planned that expansion decided by itself (not
 * 'scheduled': skipped for a past time, ...), as the preview lists them. */
int td_store_preview_decided(PGconn *c, const char *org, int64_t event_id, json_t **out, char *err,
                             size_t errcap);

struct td_store_booking_ref {
    PGconn *conn;
    const char *org;
    const char *customer_key;
    const char *booking_id;
    int64_t start_ms, end_ms;
};

/* The other_bookings callback of struct td_condition_env, with a struct
 * td_store_booking_ref as its ctx. */
int td_store_other_bookings_lookup(void *ref, const struct td_other_bookings_query *q,
                                   bool *exists);

/* ---- objects (store_objects.c) ---- */

/* Reads every current sequence document of org (any status) into *out (a new
 * JSON array; caller decrefs). */
int td_store_sequences_current(PGconn *c, const char *org, json_t **out, char *err, size_t errcap);

/* Marks that org's sequences or templates changed (engines drop their cache). */
int td_store_objects_touch(PGconn *c, const char *org, char *err, size_t errcap);

/* A sequence's status changed to status: paused holds its pending messages
 * (state 'paused'), active releases the held ones, archived cancels both.
 * *count says how many moved. */
int td_store_sequence_status_changed(PGconn *c, const char *org, const char *seq_key,
                                     const char *status, int *count, char *err, size_t errcap);

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
    int64_t deadline_ms;     /* -1: none */
    json_t *booking;         /* the booking's document, NULL if gone */
    json_t *template_body;   /* the newest template version, NULL if missing (template_cache.c) */
    int64_t objects_version; /* of the organization's sequences and templates, at the claim */
    json_t *conditions;      /* re-checked now; NULL: none */
    json_t *fallback;        /* the rest of the chain; NULL: none */
    bool requires_consent;
    char *customer_key; /* NULL when unknown */
    int64_t start_ms;
    int64_t end_ms; /* -1: none */
    struct td_local_time start;
    struct td_local_time end;
    int days_until;
    char *deadline_local;    /* the deadline in the booking's zone with its offset, or NULL */
    bool outcome_unknown;    /* the last attempt may have reached the provider */
    int unknown_outcomes;    /* attempts whose outcome was unknown, so far */
    json_t *rendered_before; /* with outcome_unknown: what that attempt sent, or NULL */
    bool resend_approved;    /* an operator retried it from 'held': send it again */
};

/* Claims up to limit due messages for owner: each becomes 'sending' with a
 * new fencing token and a lease of lease_s seconds. The template is not read
 * (template_body stays NULL: template_cache.c fills it). quotas is a JSON array of
 * {"i", "org", "channel", "lim"}: at most lim rows per entry, interleaved
 * across entries so that no organization or channel starves another.
 * Returns 0 and a new array in *out (free with td_store_claimed_free). */
int td_store_claim(PGconn *c, const char *owner, const char *quotas, int limit, int lease_s,
                   struct td_claimed **out, size_t *count, char *err, size_t errcap);
void td_store_claimed_free(struct td_claimed *items, size_t count);

/* The scheduled rows event_id planned, as a claim at each row's own time
 * would hand them to the workers (days until the booking counted from the
 * row's time), without claiming anything: for the preview, inside its
 * rolled-back transaction. */
int td_store_preview_rows(PGconn *c, const char *org, int64_t event_id, struct td_claimed **out,
                          size_t *count, char *err, size_t errcap);

/* The verdict on one claimed message. */
struct td_outcome {
    const char *org_id;
    int64_t id;
    int64_t lease_token;
    const char *status;      /* sent, scheduled (retry or release), failed, skipped, expired */
    const char *reason;      /* NULL for a plain success */
    const char *provider_id; /* may be NULL */
    const char *recipient;   /* may be NULL */
    const char *rendered;    /* what was sent, as JSON text; borrowed; may be NULL */
    int64_t retry_at_ms;     /* for status scheduled */
    int attempt_delta;       /* -1 gives the claim's attempt back (release, throttling) */
    json_t *fallback;        /* borrowed: when set, the first of this chain is inserted as a
                                new row (due at once), carrying the rest */
    bool unknown;            /* this attempt's outcome is unknown: the row says so and counts
                                it; a 'sent' verdict clears what earlier attempts left unknown */
};

/* Writes outcomes in one statement. Only rows that still carry the lease
 * token they were claimed with change (fencing): being sent under it, or
 * reclaimed after it ran out and not claimed again since. *written counts
 * them. Returns 0, -EAGAIN when the database refused the statement for a
 * passing reason (a deadlock it resolved against us: run it again), or -EIO. */
int td_store_outcomes_write(PGconn *c, const struct td_outcome *items, size_t count, int *written,
                            char *err, size_t errcap);

/* Returns claims whose lease ran out to 'scheduled', their outcome unknown
 * (the engine holding them may have sent them); *count says how many. */
int td_store_reclaim_expired(PGconn *c, int *count, char *err, size_t errcap);

/* Extends by lease_s the leases of rows (a JSON array of {org_id, id, token})
 * still being sent under those tokens. *kept gets a JSON array of the tokens
 * renewed (caller decrefs); a token missing from it was taken over. */
int td_store_leases_renew(PGconn *c, const char *rows, long lease_s, json_t **kept, char *err,
                          size_t errcap);

/* This database's identity (made at migrate time), into out (at least 17
 * bytes). */
int td_store_installation_id(PGconn *c, char *out, size_t cap, char *err, size_t errcap);

/* The earliest scheduled_for of a waiting message in any of the quotas' (org,
 * channel) pairs (their "lim" ignored), unix ms, or -1. */
int td_store_next_due(PGconn *c, const char *quotas, int64_t *ms, char *err, size_t errcap);

/* The channels of org that have scheduled messages (a JSON array of names),
 * read by skipping through the index: cheap however many rows wait. */
int td_store_scheduled_channels(PGconn *c, const char *org, json_t **out, char *err, size_t errcap);

/* ---- provider reports (store_reports.c) ---- */

/* What a delivery report does to its message. */
struct td_report_change {
    const char *kind;      /* delivered, delayed, bounced, complained, failed, seen */
    const char *status;    /* the provider's status name, or NULL */
    const char *detail;    /* or NULL */
    const char *event_key; /* dedupes replays */
    const char *address;   /* the address the provider names, canonical, or NULL */
    int64_t at_ms;         /* 0: unknown */
    bool suppress;         /* suppress the recipient on this channel, whatever the state */
    bool take_fallback;    /* failed: schedule the fallback chain's next send */
};

/* What applying a report did. */
struct td_report_effect {
    const char *outcome;    /* "applied", "replay", "unknown" (no such message), "later" (still
                             * being sent: retry) */
    int64_t message_id;     /* the message matched (by id or provider id), or -1 */
    char before[16];        /* its status before, or "" */
    char after[16];         /* its status after, or "" */
    bool suppressed;        /* the address is suppressed on the message's channel now */
    bool suppression_added; /* ... by this report (not before) */
};

/* Applies a report to message id (or, with id < 0, the message the provider
 * knows as provider_id) of org in one transaction: records it (a replay,
 * same event_key, changes nothing), moves the message's status where the
 * report allows it from the state it is in, and with change->suppress
 * suppresses the message's recipient (else change->address) on its channel
 * whatever that state. Fills *effect. */
int td_store_report_apply(PGconn *c, const char *org, int64_t id, const char *provider_id,
                          const struct td_report_change *change, struct td_report_effect *effect,
                          char *err, size_t errcap);

/* Records an inbound message (the WhatsApp window) and, with stop, suppresses
 * the sender on that channel. */
int td_store_inbound(PGconn *c, const char *org, const char *channel, const char *address,
                     const char *text, int64_t at_ms, bool stop, char *err, size_t errcap);

/* Adds (or keeps) a suppression. *added tells whether it is new. */
int td_store_suppress(PGconn *c, const char *org, const char *channel, const char *address,
                      const char *reason, const char *by, bool *added, char *err, size_t errcap);

/* Removes a suppression; *removed tells whether there was one. */
int td_store_unsuppress(PGconn *c, const char *org, const char *channel, const char *address,
                        bool *removed, char *err, size_t errcap);

/* The channel and address of message id of org, for a one-click unsubscribe:
 * the recipient it went to, or (an e-mail whose sending left no record) its
 * booking's customer e-mail as it is now, as stored (not canonical). *found
 * is false when there is no such message or no address. */
int td_store_message_address(PGconn *c, const char *org, int64_t id, char *channel, size_t ccap,
                             char *address, size_t acap, bool *found, char *err, size_t errcap);

/* Lists suppressions (org may be NULL) as a JSON array. */
int td_store_suppressions(PGconn *c, const char *org, json_t **out, char *err, size_t errcap);

/* For a batch: which (org, channel, address) triples, given as a JSON array
 * of [org, channel, address], are suppressed, and which WhatsApp numbers are
 * inside their 24-hour window. *out: {"suppressed": [i...], "window": [i...]}
 * with indexes into the input. */
int td_store_address_facts(PGconn *c, const char *triples, json_t **out, char *err, size_t errcap);

/* ---- channels and operators (store_admin.c) ---- */

/* Marks (org, channel) suspended with reason, for the configuration with
 * fingerprint: for its credentials (until_ms -1), or for a used-up quota
 * until until_ms (epoch ms). An existing suspension stays as it is. */
int td_store_channel_suspend(PGconn *c, const char *org, const char *channel, const char *reason,
                             const char *fingerprint, int64_t until_ms, char *err, size_t errcap);

/* Reads every suspension as a JSON array of {org, channel, reason, fingerprint,
 * since, kind, until}, lifting quota suspensions whose time is up. */
int td_store_channel_suspensions(PGconn *c, json_t **out, char *err, size_t errcap);

/* Lifts the suspension of (org, channel) and records who did it and why.
 * *lifted says whether there was one. */
int td_store_channel_resume(PGconn *c, const char *org, const char *channel, const char *actor,
                            const char *reason, bool *lifted, char *err, size_t errcap);

/* Records that engine engine_id (listening at listen) is alive and the
 * configuration fingerprints it runs, orgs being a JSON array of {org,
 * fingerprint}. *agreed gets, for each of those organizations that another
 * engine alive (seen within alive_s) started earlier runs too, the
 * fingerprint of the first-started one: {org: {fingerprint, engine}}
 * (caller decrefs). */
int td_store_peers_heartbeat(PGconn *c, const char *engine_id, const char *listen, const char *orgs,
                             int alive_s, json_t **agreed, char *err, size_t errcap);

/* Removes engine_id's registration (and engines gone for an hour). */
int td_store_peers_leave(PGconn *c, const char *engine_id, char *err, size_t errcap);

/* Records an operator's action on a subject ("message 42"). */
int td_store_action(PGconn *c, const char *org, const char *subject, const char *action,
                    const char *actor, const char *reason, const char *detail, char *err,
                    size_t errcap);

/* Lists messages (newest first) matching the filters (NULL: any) as a JSON
 * array of objects. */
int td_store_messages_list(PGconn *c, const char *org, const char *state, const char *booking,
                           const char *channel, int limit, json_t **out, char *err, size_t errcap);

/* Operator actions on one message of org, each recorded with actor and reason:
 * retry makes a failed, expired, skipped, cancelled or held message due now
 * with fresh attempts (a held one is sent again even where the channel holds
 * unknown outcomes); cancel ends a scheduled or held one. *changed says whether the
 * message was in a state the action applies to; *status gets its state
 * before (at least 16 bytes). */
/* Why a retry of message id would be wrong ("its booking B-1 is cancelled",
 * "its deadline (...) has passed") into why, or "" when nothing speaks
 * against it. Returns 0 or -EIO. */
int td_store_message_retry_guard(PGconn *c, const char *org, int64_t id, char *why, size_t cap,
                                 char *err, size_t errcap);
int td_store_message_retry(PGconn *c, const char *org, int64_t id, const char *actor,
                           const char *reason, bool *changed, char *status, char *err,
                           size_t errcap);
int td_store_message_cancel(PGconn *c, const char *org, int64_t id, const char *actor,
                            const char *reason, bool *changed, char *status, char *err,
                            size_t errcap);

/* Counts messages by org, channel and state, and the due backlog per org:
 * a JSON object {"states": [[org, channel, state, n], ...], "due": [[org, n], ...]}. */
int td_store_message_counts(PGconn *c, json_t **out, char *err, size_t errcap);

#endif
