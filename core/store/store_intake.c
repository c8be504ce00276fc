/* store_intake: SQL for taking in events and expanding them into messages. */
#include "store/store.h"

#include "store/store_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int td_store_event_insert(PGconn *c, const char *org, const char *source, const char *idem_key,
                          const char *kind, const char *payload, size_t payload_len,
                          struct td_event_row *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    char *body = strndup(payload, payload_len);
    if (!body)
        return -ENOMEM;
    const char *params[] = {org, source, idem_key, kind, body};
    PGresult *r = store_exec(c,
                             "INSERT INTO tidings.events (org_id, source, idempotency_key, kind, "
                             "payload) VALUES ($1, $2, $3, $4, $5::jsonb) "
                             "ON CONFLICT (org_id, source, idempotency_key) "
                             "WHERE idempotency_key IS NOT NULL DO NOTHING "
                             "RETURNING id, floor(extract(epoch FROM received_at) * 1000)::bigint, "
                             "(SELECT objects_version FROM tidings.org_state WHERE org_id = $1)",
                             5, params, err, errcap);
    if (!r) {
        free(body);
        return -EIO;
    }
    if (PQntuples(r) == 1) {
        out->id = store_int64(r, 0, 0, 0);
        out->received_ms = store_int64(r, 0, 1, 0);
        out->objects_version = store_int64(r, 0, 2, 0);
        PQclear(r);
        free(body);
        return 0;
    }
    PQclear(r);
    /* the key was used: by the same event (a repeated delivery), or another */
    const char *same_params[] = {org, source, idem_key, body};
    r = store_exec(c,
                   "SELECT id, floor(extract(epoch FROM received_at) * 1000)::bigint, "
                   "messages_scheduled, payload = $4::jsonb FROM tidings.events "
                   "WHERE org_id = $1 AND source = $2 AND idempotency_key = $3",
                   4, same_params, err, errcap);
    free(body);
    if (!r)
        return -EIO;
    if (PQntuples(r) != 1) {
        snprintf(err, errcap, "event key conflict without a stored event");
        PQclear(r);
        return -EIO;
    }
    out->duplicate = true;
    out->id = store_int64(r, 0, 0, 0);
    out->received_ms = store_int64(r, 0, 1, 0);
    out->messages_scheduled = (int)store_int64(r, 0, 2, 0);
    out->conflict = strcmp(PQgetvalue(r, 0, 3), "t") != 0;
    PQclear(r);
    return 0;
}

int td_store_event_done(PGconn *c, const char *org, int64_t event_id, const char *outcome,
                        int messages_scheduled, char *err, size_t errcap)
{
    char id[24], n[16];
    const char *params[] = {org, store_itoa(event_id, id, sizeof(id)), outcome,
                            store_itoa(messages_scheduled, n, sizeof(n))};
    PGresult *r =
        store_exec(c,
                   "UPDATE tidings.events SET processed_at = clock_timestamp(), outcome = $3, "
                   "messages_scheduled = $4::integer WHERE org_id = $1 AND id = "
                   "$2::bigint",
                   4, params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

int td_store_booking_lock(PGconn *c, const char *org, const char *booking_id, json_t **prev,
                          char *err, size_t errcap)
{
    *prev = NULL;
    const char *params[] = {org, booking_id};
    PGresult *r =
        store_exec(c, "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))", 2,
                   params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    r = store_exec(c, "SELECT doc FROM tidings.bookings WHERE org_id = $1 AND booking_id = $2", 2,
                   params, err, errcap);
    if (!r)
        return -EIO;
    if (PQntuples(r) == 1) {
        json_error_t jerr;
        *prev = json_loads(PQgetvalue(r, 0, 0), 0, &jerr);
    }
    PQclear(r);
    return 0;
}

int td_store_booking_save(PGconn *c, const char *org, const struct td_booking *b, const char *tz,
                          int64_t event_id, char *err, size_t errcap)
{
    char *doc = json_dumps(b->doc, JSON_COMPACT);
    if (!doc)
        return -ENOMEM;
    char start[32], end[32], id[24], version[24];
    snprintf(start, sizeof(start), "%lld", (long long)b->start_ms);
    snprintf(end, sizeof(end), "%lld", (long long)b->end_ms);
    const char *params[] = {org,
                            b->id,
                            b->status,
                            start,
                            b->end_ms >= 0 ? end : NULL,
                            tz,
                            doc,
                            store_itoa(event_id, id, sizeof(id)),
                            b->customer_key,
                            b->subtype,
                            b->version >= 0 ? store_itoa(b->version, version, sizeof(version))
                                            : NULL};
    PGresult *r = store_exec(
        c,
        "INSERT INTO tidings.bookings (org_id, booking_id, status, starts_at, ends_at, timezone, "
        "doc, event_id, customer_key, subtype, version) VALUES ($1, $2, $3, "
        "to_timestamp($4::bigint / 1000.0), to_timestamp($5::bigint / 1000.0), $6, $7::jsonb, "
        "$8::bigint, lower($9), $10, $11::bigint) "
        "ON CONFLICT (org_id, booking_id) DO UPDATE SET status = EXCLUDED.status, "
        "starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, timezone = "
        "EXCLUDED.timezone, doc = EXCLUDED.doc, event_id = EXCLUDED.event_id, customer_key = "
        "EXCLUDED.customer_key, subtype = EXCLUDED.subtype, version = EXCLUDED.version, "
        "updated_at = now()",
        11, params, err, errcap);
    free(doc);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

/* The plan as a JSON array for jsonb_to_recordset. */
static char *plan_json(const struct td_plan *plan)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < plan->count; i++) {
        const struct td_planned *p = &plan->items[i];
        json_t *row = json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:O, s:O?, s:O?, s:b, s:b, s:s?}", "sequence_key",
            p->sequence_key, "step_id", p->step_id, "channel", p->channel, "template_key",
            p->template_key, "anchor_ms", (json_int_t)p->anchor_ms, "timing", p->timing,
            "conditions", p->conditions, "fallback", p->fallback, "requires_consent",
            p->requires_consent, "before_start", p->before_start, "skip_reason", p->skip_reason);
        json_array_append_new(rows, row);
    }
    char *s = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    return s;
}

int td_store_messages_plan(PGconn *c, const char *org, const char *booking_id, const char *tz,
                           int64_t event_id, int64_t arrival_ms, const struct td_plan *plan,
                           int *scheduled, int *skipped, int64_t *first_due_ms, char *err,
                           size_t errcap)
{
    *scheduled = *skipped = 0;
    if (plan->count == 0)
        return 0;
    char *rows = plan_json(plan);
    if (!rows)
        return -ENOMEM;
    char id[24], arrival[24];
    const char *params[] = {org,  booking_id,
                            tz,   store_itoa(event_id, id, sizeof(id)),
                            rows, store_itoa(arrival_ms, arrival, sizeof(arrival))};
    /* due: the step's local time, moved into its send window. "Past" is
     * judged against the booking's arrival, not against the clock now: an
     * engine that expands late loses nothing. A "before" message may not be
     * due at or after the booking's start (its deadline); one whose deadline
     * passed before this expansion expires. */
    PGresult *r = store_exec(
        c,
        "WITH planned AS ("
        "  SELECT p.*, to_timestamp(p.anchor_ms / 1000.0) AS anchor,"
        "         tidings.due_time(to_timestamp(p.anchor_ms / 1000.0), p.timing, $3) AS due,"
        "         CASE WHEN p.before_start THEN b.starts_at END AS deadline,"
        "         to_timestamp($6::bigint / 1000.0) AS arrival"
        "    FROM jsonb_to_recordset($5::jsonb) AS p(sequence_key text, step_id text,"
        "         channel text, template_key text, anchor_ms bigint, timing jsonb,"
        "         conditions jsonb, fallback jsonb, requires_consent boolean,"
        "         before_start boolean, skip_reason text)"
        "    JOIN tidings.bookings b ON b.org_id = $1 AND b.booking_id = $2), "
        "judged AS ("
        "  SELECT *, coalesce(skip_reason,"
        "           CASE WHEN due < arrival"
        "                THEN tidings.reason_past(due, arrival, $3)"
        "                WHEN deadline IS NOT NULL AND due >= deadline"
        "                THEN tidings.reason_deadline(anchor, timing, due, deadline, $3)"
        "           END) AS why"
        "    FROM planned) "
        "INSERT INTO tidings.messages (org_id, booking_id, sequence_key, step_id, channel,"
        "       template_key, status, reason, scheduled_for, deadline, event_id, timing,"
        "       conditions, fallback, requires_consent) "
        "SELECT $1, $2, sequence_key, step_id, channel, template_key,"
        "       CASE WHEN why IS NOT NULL THEN 'skipped'"
        "            WHEN deadline <= now() THEN 'expired' ELSE 'scheduled' END,"
        "       coalesce(why, CASE WHEN deadline <= now() THEN tidings.reason_expired(deadline, $3)"
        "                END),"
        "       coalesce(due, now()), deadline, $4::bigint, timing, conditions, fallback,"
        "       requires_consent"
        "  FROM judged "
        "ON CONFLICT (org_id, booking_id, sequence_key, step_id, channel) DO NOTHING "
        "RETURNING status, (extract(epoch FROM scheduled_for) * 1000)::bigint",
        6, params, err, errcap);
    free(rows);
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(PQgetvalue(r, i, 0), "scheduled") == 0) {
            int64_t due = store_int64(r, i, 1, 0);
            if (*scheduled == 0 || due < *first_due_ms)
                *first_due_ms = due;
            (*scheduled)++;
        } else {
            (*skipped)++;
        }
    }
    PQclear(r);
    return 0;
}

int td_store_wake_dispatchers(PGconn *c, int64_t due_ms, char *err, size_t errcap)
{
    char due[24] = "";
    if (due_ms >= 0)
        store_itoa(due_ms, due, sizeof(due));
    const char *params[] = {due};
    PGresult *r = store_exec(c, "SELECT pg_notify('tidings_due', $1)", 1, params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

int td_store_messages_cancel(PGconn *c, const char *org, const char *booking_id, json_t *seq_keys,
                             const char *reason, int *count, char *err, size_t errcap)
{
    *count = 0;
    char *keys = json_dumps(seq_keys, JSON_COMPACT);
    if (!keys)
        return -ENOMEM;
    const char *params[] = {org, booking_id, keys, reason};
    PGresult *r = store_exec(c,
                             "UPDATE tidings.messages SET status = 'cancelled', reason = $4,"
                             " updated_at = now() WHERE org_id = $1 AND booking_id = $2 AND"
                             " status IN ('scheduled', 'paused') AND sequence_key IN"
                             " (SELECT jsonb_array_elements_text($3::jsonb))",
                             4, params, err, errcap);
    free(keys);
    if (!r)
        return -EIO;
    *count = (int)strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int td_store_messages_retime(PGconn *c, const char *org, const struct td_booking *b, const char *tz,
                             int64_t arrival_ms, int *retimed, int *skipped, char *err,
                             size_t errcap)
{
    *retimed = *skipped = 0;
    char arrival[24];
    const char *params[] = {org, b->id, tz, store_itoa(arrival_ms, arrival, sizeof(arrival))};
    PGresult *r = store_exec(
        c,
        "WITH b AS (SELECT starts_at, ends_at FROM tidings.bookings"
        "            WHERE org_id = $1 AND booking_id = $2), "
        "moved AS ("
        "  SELECT m.id, tidings.due_time(CASE m.timing->>'anchor' WHEN 'start' THEN b.starts_at"
        "                                ELSE b.ends_at END, m.timing, $3) AS due,"
        "         CASE WHEN m.deadline IS NOT NULL THEN b.starts_at END AS deadline,"
        "         m.timing, CASE m.timing->>'anchor' WHEN 'start' THEN b.starts_at"
        "                   ELSE b.ends_at END AS anchor"
        "    FROM tidings.messages m, b"
        "   WHERE m.org_id = $1 AND m.booking_id = $2 AND m.status IN ('scheduled', 'paused')"
        "     AND m.timing->>'anchor' IN ('start', 'end')), "
        "judged AS ("
        "  SELECT moved.*, CASE WHEN due IS NULL THEN 'booking.moved: the booking has no end now'"
        "         WHEN due < to_timestamp($4::bigint / 1000.0)"
        "         THEN 'booking.moved: ' || tidings.reason_past(due, to_timestamp($4::bigint / "
        "1000.0), $3)"
        "         WHEN due >= deadline"
        "         THEN 'booking.moved: ' || tidings.reason_deadline(anchor, timing, due, deadline, "
        "$3)"
        "         END AS why FROM moved) "
        "UPDATE tidings.messages m SET"
        "       scheduled_for = coalesce(j.due, m.scheduled_for), deadline = j.deadline,"
        "       status = CASE WHEN j.why IS NOT NULL THEN 'skipped'"
        "                     WHEN j.deadline <= now() THEN 'expired' ELSE 'scheduled' END,"
        "       reason = coalesce(j.why, CASE WHEN j.deadline <= now()"
        "                THEN 'booking.moved: ' || tidings.reason_expired(j.deadline, $3) END,"
        "                'booking.moved: re-timed from ' || tidings.local_text(m.scheduled_for, $3)"
        "                || ' to ' || tidings.local_text(j.due, $3)),"
        "       updated_at = now()"
        "  FROM judged j WHERE m.org_id = $1 AND m.id = j.id "
        "RETURNING m.status",
        4, params, err, errcap);
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(PQgetvalue(r, i, 0), "scheduled") == 0)
            (*retimed)++;
        else
            (*skipped)++;
    }
    PQclear(r);
    return *retimed ? td_store_wake_dispatchers(c, -1, err, errcap) : 0;
}

int td_store_other_bookings(PGconn *c, const char *org, const char *customer_key,
                            const char *booking_id, int64_t start_ms, int64_t end_ms,
                            json_t *subtypes, bool overlapping, bool *exists, char *err,
                            size_t errcap)
{
    *exists = false;
    if (!customer_key)
        return 0; /* an unknown customer has no other bookings we could know of */
    char *types = subtypes ? json_dumps(subtypes, JSON_COMPACT) : NULL;
    char start[24], end[24];
    const char *params[] = {org,
                            customer_key,
                            booking_id,
                            types,
                            overlapping ? "t" : "f",
                            store_itoa(start_ms, start, sizeof(start)),
                            store_itoa(end_ms >= 0 ? end_ms : start_ms, end, sizeof(end))};
    PGresult *r = store_exec(
        c,
        "SELECT EXISTS (SELECT 1 FROM tidings.bookings o"
        "  WHERE o.org_id = $1 AND o.customer_key = lower($2) AND o.booking_id <> $3"
        "    AND o.status NOT IN ('cancelled', 'no_show')"
        "    AND ($4::jsonb IS NULL OR o.subtype IN (SELECT jsonb_array_elements_text($4::jsonb)))"
        "    AND (NOT $5::boolean OR (o.starts_at < to_timestamp($7::bigint / 1000.0)"
        "         AND coalesce(o.ends_at, o.starts_at) > to_timestamp($6::bigint / 1000.0))))",
        7, params, err, errcap);
    free(types);
    if (!r)
        return -EIO;
    *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

/* The partition of a waiting event: by its booking id, so that all events of
 * one booking fall into one partition. */
#define STORE_EVENT_PARTITION "(hashtext(payload->>'id') & 2147483647) % $2::integer"

int td_store_pending_partitions(PGconn *c, const char *org, int partitions, unsigned *mask,
                                char *err, size_t errcap)
{
    *mask = 0;
    char parts[24];
    const char *params[] = {org, store_itoa(partitions, parts, sizeof(parts))};
    /* each look walks events_pending in id order and stops at the first hit */
    PGresult *r = store_exec(c,
                             "SELECT k FROM generate_series(0, $2::integer - 1) k WHERE EXISTS"
                             " (SELECT 1 FROM tidings.events WHERE org_id = $1 AND processed_at"
                             " IS NULL AND " STORE_EVENT_PARTITION " = k)",
                             2, params, err, errcap);
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++)
        *mask |= 1u << store_int64(r, i, 0, 0);
    PQclear(r);
    return 0;
}

int td_store_events_pending(PGconn *c, const char *org, int partition, int partitions,
                            const json_t *held, struct td_pending_event *out, size_t cap, size_t *n,
                            bool *locked, char *err, size_t errcap)
{
    *n = 0;
    *locked = false;
    char limit[24], part[24], parts[24];
    char *held_text = held ? json_dumps(held, JSON_COMPACT) : NULL;
    const char *params[] = {org, store_itoa(partitions, parts, sizeof(parts)),
                            store_itoa(partition, part, sizeof(part)),
                            store_itoa((int64_t)cap, limit, sizeof(limit)),
                            held_text ? held_text : "[]"};
    /* The partition lock (two-key advisory space, apart from the booking
     * locks) lets one transaction at a time, in any engine, expand a
     * partition, so a booking's events, all in one partition, stay in order.
     * The scan walks events_pending in id order and stops at the limit. */
    PGresult *r = store_exec(
        c,
        "WITH part AS (SELECT pg_try_advisory_xact_lock(hashtext($1),"
        " $3::integer) AS locked)"
        " SELECT part.locked, e.id,"
        " floor(extract(epoch FROM e.received_at) * 1000)::bigint,"
        " (SELECT objects_version FROM tidings.org_state WHERE org_id = $1),"
        " e.payload FROM part LEFT JOIN LATERAL (SELECT * FROM tidings.events"
        " WHERE part.locked AND org_id = $1 AND processed_at IS NULL AND " STORE_EVENT_PARTITION
        " = $3::integer AND coalesce(payload->>'id',"
        " '') NOT IN (SELECT jsonb_array_elements_text($5::jsonb))"
        " ORDER BY id LIMIT $4::integer FOR UPDATE) e ON true",
        5, params, err, errcap);
    free(held_text);
    if (!r)
        return -EIO;
    *locked = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    for (int i = 0; *locked && i < PQntuples(r); i++) {
        if (PQgetisnull(r, i, 1))
            break; /* locked, nothing waits */
        struct td_pending_event *ev = &out[*n];
        memset(ev, 0, sizeof(*ev));
        ev->row.id = store_int64(r, i, 1, 0);
        ev->row.received_ms = store_int64(r, i, 2, 0);
        ev->row.objects_version = store_int64(r, i, 3, 0);
        json_error_t jerr;
        ev->payload = json_loads(PQgetvalue(r, i, 4), 0, &jerr);
        if (!ev->payload) {
            snprintf(err, errcap, "event %lld: unreadable payload", (long long)ev->row.id);
            for (size_t k = 0; k < *n; k++)
                json_decref(out[k].payload);
            *n = 0;
            PQclear(r);
            return -EIO;
        }
        (*n)++;
    }
    PQclear(r);
    return 0;
}

int td_store_organizations(PGconn *c, json_t *orgs, char *err, size_t errcap)
{
    char *text = json_dumps(orgs, JSON_COMPACT);
    if (!text)
        return -ENOMEM;
    const char *params[] = {text};
    PGresult *r = store_exec(c,
                             "INSERT INTO tidings.organizations (org_id, name)"
                             " SELECT o->>0, o->>1 FROM jsonb_array_elements($1::jsonb) o"
                             " ON CONFLICT (org_id) DO UPDATE SET name = EXCLUDED.name,"
                             " seen_at = now()",
                             1, params, err, errcap);
    free(text);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

int td_store_other_bookings_lookup(void *ref, const struct td_other_bookings_query *q, bool *exists)
{
    const struct td_store_booking_ref *b = ref;
    char err[256];
    return td_store_other_bookings(b->conn, b->org, b->customer_key, b->booking_id, b->start_ms,
                                   b->end_ms, q->subtypes, q->overlapping, exists, err,
                                   sizeof(err));
}
