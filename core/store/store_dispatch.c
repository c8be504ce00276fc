/* store_dispatch: SQL for claiming due messages and writing back verdicts. */
#include "store/store.h"

#include "store/store_common.h"
#include "store/pg_array.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void td_store_claimed_free(struct td_claimed *items, size_t count)
{
    if (!items)
        return;
    for (size_t i = 0; i < count; i++) {
        struct td_claimed *m = &items[i];
        free(m->org_id);
        free(m->channel);
        free(m->template_key);
        free(m->booking_id);
        free(m->sequence_key);
        free(m->step_id);
        json_decref(m->booking);
        json_decref(m->template_body);
        json_decref(m->conditions);
        json_decref(m->fallback);
        free(m->customer_key);
        free(m->deadline_local);
        json_decref(m->rendered_before);
    }
    free(items);
}

static json_t *column_json(PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    json_error_t jerr;
    return json_loads(PQgetvalue(r, row, col), 0, &jerr);
}

/* Reads "YYYY MM DD HH MI D" (D: 1 = Sunday) from to_char. */
static void column_local_time(PGresult *r, int row, int col, struct td_local_time *t)
{
    memset(t, 0, sizeof(*t));
    if (PQgetisnull(r, row, col))
        return;
    int dow = 0;
    if (sscanf(PQgetvalue(r, row, col), "%d %d %d %d %d %d", &t->year, &t->month, &t->day, &t->hour,
               &t->minute, &dow) == 6) {
        t->weekday = dow - 1;
        t->set = true;
    }
}

static char *column_dup(PGresult *r, int row, int col)
{
    return strdup(PQgetvalue(r, row, col));
}

/* What a claim hands the workers of each row c (messages) and its booking
 * b; CLAIM_NOW is the instant "days until the booking" is counted from. */
#define CLAIMED_COLUMNS(CLAIM_NOW)                                                                 \
    "SELECT c.org_id, c.id, c.lease_token, c.attempts, c.channel, c.template_key,"                 \
    "       c.booking_id, c.sequence_key, c.step_id,"                                              \
    "       (extract(epoch FROM c.scheduled_for) * 1000)::bigint,"                                 \
    "       (extract(epoch FROM c.deadline) * 1000)::bigint,"                                      \
    "       b.doc, coalesce(s.objects_version, 0),"                                                \
    "       to_char(b.starts_at AT TIME ZONE b.timezone, 'YYYY MM DD HH24 MI D'),"                 \
    "       to_char(b.ends_at AT TIME ZONE b.timezone, 'YYYY MM DD HH24 MI D'),"                   \
    "       (b.starts_at AT TIME ZONE b.timezone)::date"                                           \
    "         - (" CLAIM_NOW " AT TIME ZONE b.timezone)::date,"                                    \
    "       c.conditions, c.fallback, c.requires_consent, b.customer_key,"                         \
    "       (extract(epoch FROM b.starts_at) * 1000)::bigint,"                                     \
    "       (extract(epoch FROM b.ends_at) * 1000)::bigint,"                                       \
    "       CASE WHEN c.deadline IS NOT NULL"                                                      \
    "            THEN tidings.local_text(c.deadline, coalesce(b.timezone, 'UTC')) END,"            \
    "       c.outcome_unknown, c.unknown_outcomes, c.rendered, c.resend_approved"

/* The rows of r (CLAIMED_COLUMNS) as claimed messages; frees r. */
static int claimed_parse(PGresult *r, struct td_claimed **out, size_t *count)
{
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return 0;
    }
    struct td_claimed *items = calloc((size_t)n, sizeof(*items));
    if (!items) {
        PQclear(r);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        struct td_claimed *m = &items[i];
        m->org_id = column_dup(r, i, 0);
        m->id = store_int64(r, i, 1, 0);
        m->lease_token = store_int64(r, i, 2, 0);
        m->attempts = (int)store_int64(r, i, 3, 0);
        m->channel = column_dup(r, i, 4);
        m->template_key = column_dup(r, i, 5);
        m->booking_id = column_dup(r, i, 6);
        m->sequence_key = column_dup(r, i, 7);
        m->step_id = column_dup(r, i, 8);
        m->scheduled_ms = store_int64(r, i, 9, 0);
        m->deadline_ms = store_int64(r, i, 10, -1);
        m->booking = column_json(r, i, 11);
        m->objects_version = store_int64(r, i, 12, 0);
        column_local_time(r, i, 13, &m->start);
        column_local_time(r, i, 14, &m->end);
        m->days_until = (int)store_int64(r, i, 15, 0);
        m->conditions = column_json(r, i, 16);
        m->fallback = column_json(r, i, 17);
        m->requires_consent = strcmp(PQgetvalue(r, i, 18), "t") == 0;
        m->customer_key = PQgetisnull(r, i, 19) ? NULL : column_dup(r, i, 19);
        m->start_ms = store_int64(r, i, 20, 0);
        m->end_ms = store_int64(r, i, 21, -1);
        m->deadline_local = PQgetisnull(r, i, 22) ? NULL : column_dup(r, i, 22);
        m->outcome_unknown = strcmp(PQgetvalue(r, i, 23), "t") == 0;
        m->unknown_outcomes = (int)store_int64(r, i, 24, 0);
        m->rendered_before = column_json(r, i, 25);
        m->resend_approved = strcmp(PQgetvalue(r, i, 26), "t") == 0;
    }
    PQclear(r);
    *out = items;
    *count = (size_t)n;
    return 0;
}

int td_store_claim(PGconn *c, const char *owner, const char *quotas, int limit, int lease_s,
                   struct td_claimed **out, size_t *count, char *err, size_t errcap)
{
    *out = NULL;
    *count = 0;
    char lim[16], lease[16];
    const char *params[] = {owner, store_itoa(limit, lim, sizeof(lim)),
                            store_itoa(lease_s, lease, sizeof(lease)), quotas};
    PGresult *r = store_exec(
        c,
        "WITH q AS ("
        "  SELECT * FROM jsonb_to_recordset($4::jsonb) AS q(i integer, org text, channel text,"
        "         lim integer, fallback_only boolean)), "
        "cand AS ("
        "  SELECT d.org_id, d.id, d.scheduled_for,"
        "         row_number() OVER (PARTITION BY q.i ORDER BY d.scheduled_for) AS rank"
        "    FROM q CROSS JOIN LATERAL ("
        "      SELECT m.org_id, m.id, m.scheduled_for FROM tidings.messages m"
        "       WHERE m.org_id = q.org AND m.channel = q.channel AND m.status = 'scheduled'"
        "         AND m.scheduled_for <= now()"
        "         AND (q.fallback_only IS NOT TRUE OR m.fallback IS NOT NULL)"
        "       ORDER BY m.scheduled_for LIMIT q.lim FOR UPDATE SKIP LOCKED) d), "
        "due AS (SELECT org_id, id FROM cand ORDER BY rank, scheduled_for LIMIT $2::integer), "
        "claimed AS ("
        "  UPDATE tidings.messages m SET status = 'sending', attempts = m.attempts + 1,"
        "         lease_owner = $1, lease_token = nextval('tidings.lease_tokens'),"
        "         lease_expires_at = now() + make_interval(secs => $3::integer),"
        "         updated_at = now()"
        "    FROM due WHERE m.org_id = due.org_id AND m.id = due.id"
        "  RETURNING m.org_id, m.id, m.lease_token, m.attempts, m.channel, m.template_key,"
        "            m.booking_id, m.sequence_key, m.step_id, m.scheduled_for, m.deadline,"
        "            m.conditions, m.fallback, m.requires_consent, m.outcome_unknown,"
        "            m.unknown_outcomes, CASE WHEN m.outcome_unknown THEN m.rendered END AS "
        "rendered,"
        "            m.resend_approved) " CLAIMED_COLUMNS(
            "now()") "  FROM claimed c"
                     "  LEFT JOIN tidings.bookings b ON b.org_id = c.org_id AND b.booking_id = "
                     "c.booking_id"
                     "  LEFT JOIN tidings.org_state s ON s.org_id = c.org_id"
                     " ORDER BY c.scheduled_for",
        4, params, err, errcap);
    if (!r)
        return -EIO;
    return claimed_parse(r, out, count);
}

static int outcome_order(const void *a, const void *b)
{
    const struct td_outcome *x = *(const struct td_outcome *const *)a;
    const struct td_outcome *y = *(const struct td_outcome *const *)b;
    int c = strcmp(x->org_id, y->org_id);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* The columns every verdict sets; o is the unnest() of the parameters. */
#define VERDICT_SET                                                                                \
    "SET status = o.status, reason = o.reason,"                                                    \
    "    provider_id = coalesce(o.provider_id, m.provider_id),"                                    \
    "    recipient = coalesce(o.recipient, m.recipient),"                                          \
    "    rendered = coalesce(o.rendered, m.rendered),"                                             \
    "    attempts = m.attempts + o.attempt_delta,"                                                 \
    "    scheduled_for = CASE WHEN o.status = 'scheduled' THEN"                                    \
    "        greatest(m.scheduled_for, to_timestamp(o.retry_at_ms / 1000.0))"                      \
    "        ELSE m.scheduled_for END,"                                                            \
    "    sent_at = CASE WHEN o.status = 'sent' THEN now() ELSE m.sent_at END,"                     \
    "    outcome_unknown = CASE WHEN o.unknown THEN true"                                          \
    "        WHEN o.status = 'sent' THEN false ELSE m.outcome_unknown END,"                        \
    "    unknown_outcomes = m.unknown_outcomes + CASE WHEN o.unknown THEN 1 ELSE 0 END,"           \
    "    resend_approved = false,"                                                                 \
    "    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,"                         \
    "    updated_at = now() "
#define VERDICT_FROM                                                                               \
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],"      \
    "            $7::text[], $8::jsonb[], $9::bigint[], $10::integer[], $11::boolean[],"           \
    "            $12::jsonb[])"                                                                    \
    "  AS o(org_id, id, token, status, reason, provider_id, recipient, rendered, retry_at_ms,"     \
    "       attempt_delta, unknown, chain) "                                                       \
    "WHERE m.org_id = o.org_id AND m.id = o.id"                                                    \
    "  AND m.status IN ('sending', 'scheduled') AND m.lease_token = o.token"

/* Fenced by the lease token: only the current holder's verdict lands. */
static const char verdict_sql[] = "UPDATE tidings.messages m " VERDICT_SET VERDICT_FROM;

/* The same, when a verdict takes a fallback: the chain's next row is added,
 * due at once. */
static const char verdict_fallback_sql[] =
    "WITH upd AS (UPDATE tidings.messages m " VERDICT_SET VERDICT_FROM
    "  RETURNING m.org_id, m.booking_id, m.sequence_key, m.step_id, m.channel, m.reason,"
    "            m.deadline, m.event_id, m.timing, m.conditions, o.chain), "
    "ins AS ("
    "  INSERT INTO tidings.messages (org_id, booking_id, sequence_key, step_id, channel,"
    "         template_key, status, reason, scheduled_for, deadline, event_id, timing,"
    "         conditions, fallback, requires_consent)"
    "  SELECT u.org_id, u.booking_id, u.sequence_key, u.step_id, u.chain->0->>'channel',"
    "         u.chain->0->>'template', 'scheduled', 'fallback after ' || u.channel || ': '"
    "         || coalesce(u.reason, ''), now(), u.deadline, u.event_id, u.timing,"
    "         u.conditions, CASE WHEN jsonb_array_length(u.chain) > 1 THEN u.chain - 0 END,"
    "         coalesce((u.chain->0->>'requires_consent')::boolean, false)"
    "    FROM upd u WHERE jsonb_typeof(u.chain) = 'array' AND jsonb_array_length(u.chain) > 0"
    "  ON CONFLICT (org_id, booking_id, sequence_key, step_id, channel) DO NOTHING"
    "  RETURNING 1) "
    "SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM ins)";

/* The verdict columns, one binary array each, in the statements' order. */
enum {
    V_ORG,
    V_ID,
    V_TOKEN,
    V_STATUS,
    V_REASON,
    V_PROVIDER_ID,
    V_RECIPIENT,
    V_RENDERED,
    V_RETRY_AT,
    V_ATTEMPT_DELTA,
    V_UNKNOWN,
    V_CHAIN,
    V_COLUMNS
};

int td_store_outcomes_write(PGconn *c, const struct td_outcome *items, size_t count, int *written,
                            char *err, size_t errcap)
{
    *written = 0;
    if (count == 0)
        return 0;
    /* in one order, (org, id): writers that run at once lock rows alike */
    const struct td_outcome **sorted = malloc(count * sizeof(*sorted));
    if (!sorted)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        sorted[i] = &items[i];
    qsort(sorted, count, sizeof(*sorted), outcome_order);
    static const enum td_pg_type types[V_COLUMNS] = {
        TD_PG_TEXT, TD_PG_INT8,  TD_PG_INT8, TD_PG_TEXT, TD_PG_TEXT, TD_PG_TEXT,
        TD_PG_TEXT, TD_PG_JSONB, TD_PG_INT8, TD_PG_INT4, TD_PG_BOOL, TD_PG_JSONB};
    struct td_pg_array cols[V_COLUMNS];
    for (int k = 0; k < V_COLUMNS; k++)
        td_pg_array_begin(&cols[k], types[k]);
    bool chains = false;
    for (size_t i = 0; i < count; i++) {
        const struct td_outcome *o = sorted[i];
        td_pg_array_text(&cols[V_ORG], o->org_id);
        td_pg_array_int8(&cols[V_ID], o->id);
        td_pg_array_int8(&cols[V_TOKEN], o->lease_token);
        td_pg_array_text(&cols[V_STATUS], o->status);
        td_pg_array_text(&cols[V_REASON], o->reason);
        td_pg_array_text(&cols[V_PROVIDER_ID], o->provider_id);
        td_pg_array_text(&cols[V_RECIPIENT], o->recipient);
        td_pg_array_jsonb(&cols[V_RENDERED], o->rendered);
        td_pg_array_int8(&cols[V_RETRY_AT], o->retry_at_ms);
        td_pg_array_int4(&cols[V_ATTEMPT_DELTA], o->attempt_delta);
        td_pg_array_bool(&cols[V_UNKNOWN], o->unknown);
        char *chain = o->fallback ? json_dumps(o->fallback, JSON_COMPACT) : NULL;
        td_pg_array_jsonb(&cols[V_CHAIN], chain);
        chains = chains || chain;
        free(chain);
    }
    free(sorted);
    const char *values[V_COLUMNS];
    int lengths[V_COLUMNS], formats[V_COLUMNS];
    int rc = 0;
    for (int k = 0; k < V_COLUMNS; k++) {
        values[k] = td_pg_array_value(&cols[k], &lengths[k]);
        formats[k] = 1;
        if (!values[k])
            rc = -ENOMEM;
    }
    PGresult *r = NULL;
    if (rc == 0)
        r = store_exec_formats(c, chains ? verdict_fallback_sql : verdict_sql, V_COLUMNS, values,
                               lengths, formats, err, errcap);
    for (int k = 0; k < V_COLUMNS; k++)
        td_pg_array_free(&cols[k]);
    if (rc < 0)
        return rc;
    if (!r)
        return store_last_error_transient() ? -EAGAIN : -EIO;
    *written = chains ? (int)store_int64(r, 0, 0, 0) : (int)strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int td_store_reclaim_expired(PGconn *c, int *count, char *err, size_t errcap)
{
    *count = 0;
    /* the lease token stays: a verdict of that engine, only slow, still
     * lands until another claim takes the row */
    PGresult *r = store_exec(
        c,
        "UPDATE tidings.messages SET status = 'scheduled',"
        " reason = 'attempt ' || attempts || ': the lease of ' || coalesce(lease_owner, '?') ||"
        " ' ran out while it was being sent, so its outcome is unknown',"
        " outcome_unknown = true, unknown_outcomes = unknown_outcomes + 1,"
        " lease_owner = NULL, lease_expires_at = NULL, updated_at = now()"
        " WHERE status = 'sending' AND lease_expires_at < now()",
        0, NULL, err, errcap);
    if (!r)
        return -EIO;
    *count = (int)strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int td_store_leases_renew(PGconn *c, const char *rows, long lease_s, json_t **kept, char *err,
                          size_t errcap)
{
    *kept = NULL;
    char lease[24];
    const char *params[] = {rows, store_itoa(lease_s, lease, sizeof(lease))};
    return store_json_value(
        c,
        "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(org_id text, id bigint,"
        "           token bigint)), "
        "u AS (UPDATE tidings.messages m"
        "         SET lease_expires_at = now() + make_interval(secs => $2::integer)"
        "        FROM r WHERE m.org_id = r.org_id AND m.id = r.id AND m.status = 'sending'"
        "         AND m.lease_token = r.token RETURNING m.lease_token) "
        "SELECT coalesce(jsonb_agg(lease_token), '[]') FROM u",
        2, params, kept, err, errcap);
}

int td_store_installation_id(PGconn *c, char *out, size_t cap, char *err, size_t errcap)
{
    out[0] = '\0';
    PGresult *r = store_exec(c, "SELECT id FROM tidings.installation", 0, NULL, err, errcap);
    if (!r)
        return -EIO;
    if (PQntuples(r) != 1) {
        snprintf(err, errcap, "tidings.installation has no identity: run `tidings migrate`");
        PQclear(r);
        return -EIO;
    }
    snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int td_store_next_due(PGconn *c, const char *quotas, int64_t *ms, char *err, size_t errcap)
{
    *ms = -1;
    const char *params[] = {quotas};
    PGresult *r = store_exec(
        c,
        "SELECT (extract(epoch FROM min(d.scheduled_for)) * 1000)::bigint"
        "  FROM jsonb_to_recordset($1::jsonb) AS q(org text, channel text, fallback_only boolean)"
        "  CROSS JOIN LATERAL ("
        "    SELECT m.scheduled_for FROM tidings.messages m"
        "     WHERE m.org_id = q.org AND m.channel = q.channel AND m.status = 'scheduled'"
        "       AND (q.fallback_only IS NOT TRUE OR m.fallback IS NOT NULL)"
        "     ORDER BY m.scheduled_for LIMIT 1) d",
        1, params, err, errcap);
    if (!r)
        return -EIO;
    *ms = store_int64(r, 0, 0, -1);
    PQclear(r);
    return 0;
}

int td_store_scheduled_channels(PGconn *c, const char *org, json_t **out, char *err, size_t errcap)
{
    *out = NULL;
    const char *params[] = {org};
    PGresult *r = store_exec(
        c,
        "WITH RECURSIVE ch(channel) AS ("
        "  (SELECT channel FROM tidings.messages WHERE org_id = $1 AND status = 'scheduled'"
        "    ORDER BY channel LIMIT 1)"
        "  UNION ALL"
        "  SELECT (SELECT m.channel FROM tidings.messages m WHERE m.org_id = $1"
        "           AND m.status = 'scheduled' AND m.channel > ch.channel"
        "          ORDER BY m.channel LIMIT 1)"
        "    FROM ch WHERE ch.channel IS NOT NULL) "
        "SELECT channel FROM ch WHERE channel IS NOT NULL",
        1, params, err, errcap);
    if (!r)
        return -EIO;
    json_t *arr = json_array();
    for (int i = 0; arr && i < PQntuples(r); i++)
        json_array_append_new(arr, json_string(PQgetvalue(r, i, 0)));
    PQclear(r);
    if (!arr)
        return -ENOMEM;
    *out = arr;
    return 0;
}

int td_store_preview_rows(PGconn *c, const char *org, int64_t event_id, struct td_claimed **out,
                          size_t *count, char *err, size_t errcap)
{
    *out = NULL;
    *count = 0;
    char ev[24];
    const char *params[] = {org, store_itoa(event_id, ev, sizeof(ev))};
    /* as a claim at each row's own time would hand them over, changing nothing */
    PGresult *r =
        store_exec(c,
                   "WITH claimed AS (SELECT m.*"
                   "   FROM tidings.messages m WHERE m.org_id = $1"
                   "    AND m.event_id = $2::bigint AND m.status = 'scheduled') " CLAIMED_COLUMNS(
                       "c.scheduled_for") "  FROM claimed c"
                                          "  LEFT JOIN tidings.bookings b ON b.org_id = c.org_id"
                                          "   AND b.booking_id = c.booking_id"
                                          "  LEFT JOIN tidings.org_state s ON s.org_id = c.org_id"
                                          " ORDER BY c.scheduled_for, c.id",
                   2, params, err, errcap);
    if (!r)
        return -EIO;
    return claimed_parse(r, out, count);
}
