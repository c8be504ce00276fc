/* store_intake: SQL for taking in events and expanding them into messages. */
#include "store.h"

#include "store_common.h"

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
                             "RETURNING id, (extract(epoch FROM received_at) * 1000)::bigint",
                             5, params, err, errcap);
    free(body);
    if (!r)
        return -EIO;
    if (PQntuples(r) == 1) {
        out->id = store_int64(r, 0, 0, 0);
        out->received_ms = store_int64(r, 0, 1, 0);
        PQclear(r);
        return 0;
    }
    PQclear(r);
    r = store_exec(c,
                   "SELECT id, (extract(epoch FROM received_at) * 1000)::bigint, "
                   "messages_scheduled FROM tidings.events WHERE org_id = $1 AND source = $2 "
                   "AND idempotency_key = $3",
                   3, params, err, errcap);
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
    PQclear(r);
    return 0;
}

int td_store_event_done(PGconn *c, const char *org, int64_t event_id, const char *outcome,
                        int messages_scheduled, char *err, size_t errcap)
{
    char id[24], n[16];
    const char *params[] = {org, store_itoa(event_id, id, sizeof(id)), outcome,
                            store_itoa(messages_scheduled, n, sizeof(n))};
    PGresult *r = store_exec(c,
                             "UPDATE tidings.events SET processed_at = now(), outcome = $3, "
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
    char start[32], end[32], id[24];
    snprintf(start, sizeof(start), "%lld", (long long)b->start_ms);
    snprintf(end, sizeof(end), "%lld", (long long)b->end_ms);
    const char *params[] = {org,
                            b->id,
                            b->status,
                            start,
                            b->end_ms >= 0 ? end : NULL,
                            tz,
                            doc,
                            store_itoa(event_id, id, sizeof(id))};
    PGresult *r = store_exec(
        c,
        "INSERT INTO tidings.bookings (org_id, booking_id, status, starts_at, ends_at, timezone, "
        "doc, event_id) VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0), "
        "to_timestamp($5::bigint / 1000.0), $6, $7::jsonb, $8::bigint) "
        "ON CONFLICT (org_id, booking_id) DO UPDATE SET status = EXCLUDED.status, "
        "starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, timezone = "
        "EXCLUDED.timezone, doc = EXCLUDED.doc, event_id = EXCLUDED.event_id, updated_at = now()",
        8, params, err, errcap);
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
            "{s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:i, s:s?}", "sequence_key", p->sequence_key,
            "step_id", p->step_id, "channel", p->channel, "template_key", p->template_key,
            "anchor_ms", (json_int_t)p->anchor_ms, "offset_days", p->offset_days, "offset_minutes",
            p->offset_minutes, "local_minute", p->local_minute, "skip_reason", p->skip_reason);
        if (row && p->deadline_ms >= 0)
            json_object_set_new(row, "deadline_ms", json_integer(p->deadline_ms));
        json_array_append_new(rows, row);
    }
    char *s = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    return s;
}

int td_store_messages_plan(PGconn *c, const char *org, const char *booking_id, const char *tz,
                           int64_t event_id, const struct td_plan *plan, int *scheduled,
                           int *skipped, char *err, size_t errcap)
{
    *scheduled = *skipped = 0;
    if (plan->count == 0)
        return 0;
    char *rows = plan_json(plan);
    if (!rows)
        return -ENOMEM;
    char id[24], grace[16];
    const char *params[] = {org,  booking_id,
                            tz,   store_itoa(event_id, id, sizeof(id)),
                            rows, store_itoa(TD_LATE_GRACE_S, grace, sizeof(grace))};
    PGresult *r = store_exec(
        c,
        "WITH planned AS ("
        "  SELECT p.*, tidings.step_time(to_timestamp(p.anchor_ms / 1000.0), p.offset_days,"
        "         p.offset_minutes, p.local_minute, $3) AS due"
        "    FROM jsonb_to_recordset($5::jsonb) AS p(sequence_key text, step_id text,"
        "         channel text, template_key text, anchor_ms bigint, offset_days integer,"
        "         offset_minutes integer, local_minute integer, skip_reason text,"
        "         deadline_ms bigint)) "
        "INSERT INTO tidings.messages (org_id, booking_id, sequence_key, step_id, channel,"
        "       template_key, status, reason, scheduled_for, deadline, event_id) "
        "SELECT $1, $2, sequence_key, step_id, channel, template_key,"
        "       CASE WHEN skip_reason IS NOT NULL OR due < now() - make_interval(secs => $6)"
        "            THEN 'skipped' ELSE 'scheduled' END,"
        "       coalesce(skip_reason, CASE WHEN due < now() - make_interval(secs => $6)"
        "                THEN 'its time had passed when the booking arrived' END),"
        "       due, to_timestamp(deadline_ms / 1000.0), $4::bigint"
        "  FROM planned "
        "ON CONFLICT (org_id, booking_id, sequence_key, step_id, channel) DO NOTHING "
        "RETURNING status",
        6, params, err, errcap);
    free(rows);
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(PQgetvalue(r, i, 0), "scheduled") == 0)
            (*scheduled)++;
        else
            (*skipped)++;
    }
    PQclear(r);
    if (*scheduled) {
        /* wakes dispatchers when the transaction commits */
        r = store_exec(c, "SELECT pg_notify('tidings_due', '')", 0, NULL, err, errcap);
        if (!r)
            return -EIO;
        PQclear(r);
    }
    return 0;
}

int td_store_sequences_active(PGconn *c, const char *org, json_t **out, char *err, size_t errcap)
{
    *out = NULL;
    const char *params[] = {org};
    PGresult *r = store_exec(c,
                             "SELECT body FROM tidings.current_objects WHERE org_id = $1 AND "
                             "kind = 'sequence' AND body->>'status' = 'active' ORDER BY key",
                             1, params, err, errcap);
    if (!r)
        return -EIO;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++) {
        json_error_t jerr;
        json_t *doc = json_loads(PQgetvalue(r, i, 0), 0, &jerr);
        if (doc)
            json_array_append_new(arr, doc);
    }
    PQclear(r);
    if (!arr)
        return -ENOMEM;
    *out = arr;
    return 0;
}
