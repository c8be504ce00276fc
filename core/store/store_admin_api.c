/* store_admin_api: the admin API's reads, each one statement that answers
 * JSON built by PostgreSQL. */
#include "store/store.h"

#include "store/store_common.h"

#include <errno.h>
#include <stdio.h>

int td_store_admin_sequences(PGconn *c, const char *org, json_t **out, char *err, size_t errcap)
{
    const char *params[] = {org};
    return store_json_value(
        c,
        "SELECT coalesce(json_agg(json_build_object("
        "         'key', o.key, 'name', o.body->>'name',"
        "         'status', coalesce(o.body->>'status', 'active'), 'version', o.version,"
        "         'steps', jsonb_array_length(coalesce(o.body->'steps', '[]'::jsonb)),"
        "         'changed_at', to_char(o.created_at AT TIME ZONE 'UTC',"
        "                               'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "         'changed_by', o.created_by) ORDER BY o.key), '[]'::json)"
        "  FROM tidings.current_objects o WHERE o.org_id = $1 AND o.kind = 'sequence'",
        1, params, out, err, errcap);
}

/* A message row as the admin API shows it (m: messages, b: its booking). */
#define ADMIN_MESSAGE_JSON                                                                         \
    "json_build_object('id', m.id, 'booking_id', m.booking_id, 'sequence', m.sequence_key,"        \
    " 'step', m.step_id, 'channel', m.channel, 'status', m.status, 'reason', m.reason,"            \
    " 'provider_id', m.provider_id, 'attempts', m.attempts,"                                       \
    " 'scheduled_for', to_char(m.scheduled_for AT TIME ZONE 'UTC',"                                \
    "                          'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"                                 \
    " 'scheduled_local', tidings.local_text(m.scheduled_for, coalesce(b.timezone, 'UTC')),"        \
    " 'sent_at', to_char(m.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"

int td_store_admin_customer_messages(PGconn *c, const char *org, const char *address, int limit,
                                     json_t **out, char *err, size_t errcap)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *params[] = {org, address, lim};
    /* the address as the bookings give it (e-mail in any case, or the number),
     * or as a message went to: the customer's bookings first (their index),
     * then the messages of those and the ones sent to the address */
    return store_json_value(
        c,
        "WITH bk AS ("
        "  SELECT booking_id FROM tidings.bookings WHERE org_id = $1"
        "     AND (customer_key = lower($2) OR lower(doc->'customer'->>'email') = lower($2)"
        "          OR doc->'customer'->>'phone' = $2)), "
        "ids AS ("
        "  SELECT m.id FROM tidings.messages m JOIN bk ON m.org_id = $1"
        "     AND m.booking_id = bk.booking_id"
        "  UNION SELECT m.id FROM tidings.messages m WHERE m.org_id = $1 AND m.recipient = $2) "
        "SELECT coalesce(json_agg(x.j ORDER BY x.at DESC, x.id DESC), '[]'::json) FROM ("
        "  SELECT " ADMIN_MESSAGE_JSON " AS j, coalesce(m.sent_at, m.scheduled_for) AS at, m.id"
        "    FROM ids JOIN tidings.messages m ON m.org_id = $1 AND m.id = ids.id"
        "    LEFT JOIN tidings.bookings b ON b.org_id = m.org_id AND b.booking_id = m.booking_id"
        "   ORDER BY coalesce(m.sent_at, m.scheduled_for) DESC, m.id DESC"
        "   LIMIT $3::integer) x",
        3, params, out, err, errcap);
}

int td_store_admin_timeline(PGconn *c, const char *org, const char *booking, json_t **out,
                            char *err, size_t errcap)
{
    const char *params[] = {org, booking};
    /* no such booking: {}, answered as JSON null */
    int rc = store_json_value(
        c,
        "SELECT coalesce((SELECT json_build_object("
        "  'booking', json_build_object('id', b.booking_id, 'status', b.status,"
        "      'timezone', b.timezone,"
        "      'start', to_char(b.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "      'start_local', tidings.local_text(b.starts_at, coalesce(b.timezone, 'UTC'))),"
        "  'events', (SELECT coalesce(json_agg(json_build_object('id', e.id, 'source', e.source,"
        "                 'received_at', to_char(e.received_at AT TIME ZONE 'UTC',"
        "                                        'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "                 'outcome', e.outcome, 'messages_scheduled', e.messages_scheduled)"
        "                 ORDER BY e.id), '[]'::json)"
        "               FROM tidings.events e WHERE e.org_id = b.org_id"
        "                AND e.payload->>'id' = b.booking_id),"
        "  'messages', (SELECT coalesce(json_agg(jsonb_build_object('reports',"
        "                 (SELECT coalesce(jsonb_agg(jsonb_build_object('kind', r.kind,"
        "                      'status', r.status, 'detail', r.detail,"
        "                      'received_at', to_char(r.received_at AT TIME ZONE 'UTC',"
        "                                             'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"
        "                      ORDER BY r.id), '[]'::jsonb)"
        "                    FROM tidings.message_reports r"
        "                   WHERE r.org_id = m.org_id AND r.message_id = m.id))"
        "                 || " ADMIN_MESSAGE_JSON "::jsonb"
        "                 ORDER BY m.scheduled_for, m.id), '[]'::json)"
        "               FROM tidings.messages m"
        "              WHERE m.org_id = b.org_id AND m.booking_id = b.booking_id))"
        "  FROM tidings.bookings b WHERE b.org_id = $1 AND b.booking_id = $2), '{}'::json)",
        2, params, out, err, errcap);
    if (rc == 0 && json_object_size(*out) == 0) {
        json_decref(*out);
        *out = json_null();
    }
    return rc;
}

int td_store_admin_messages(PGconn *c, const char *org, const struct td_admin_message_filter *f,
                            json_t **out, char *err, size_t errcap)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", f->limit);
    const char *params[] = {org, f->state, f->channel, f->sequence, f->step, f->from, f->to, lim};
    /* an absent filter is NULL and matches every row */
    return store_json_value(
        c,
        "SELECT coalesce(json_agg(x.j ORDER BY x.at DESC, x.id DESC), '[]'::json) FROM ("
        "  SELECT " ADMIN_MESSAGE_JSON " AS j, m.scheduled_for AS at, m.id"
        "    FROM tidings.messages m"
        "    LEFT JOIN tidings.bookings b ON b.org_id = m.org_id AND b.booking_id = m.booking_id"
        "   WHERE m.org_id = $1"
        "     AND ($2::text IS NULL OR m.status = $2) AND ($3::text IS NULL OR m.channel = $3)"
        "     AND ($4::text IS NULL OR m.sequence_key = $4) AND ($5::text IS NULL OR m.step_id = "
        "$5)"
        "     AND ($6::timestamptz IS NULL OR m.scheduled_for >= $6)"
        "     AND ($7::timestamptz IS NULL OR m.scheduled_for < $7)"
        "   ORDER BY m.scheduled_for DESC, m.id DESC LIMIT $8::integer) x",
        8, params, out, err, errcap);
}

int td_store_admin_stats(PGconn *c, const char *org, const char *by, const char *tz,
                         const char *from, const char *to, json_t **out, char *err, size_t errcap)
{
    const char *params[] = {org, by, tz, from, to};
    /* a message reached the provider when it is sent, delivered, bounced or
     * complained of; rates are of those (null when there are none) */
    return store_json_value(
        c,
        "WITH m AS ("
        "  SELECT CASE $2 WHEN 'channel' THEN channel WHEN 'sequence' THEN sequence_key"
        "                 WHEN 'step' THEN sequence_key || '/' || step_id"
        "                 ELSE to_char(scheduled_for AT TIME ZONE $3, 'YYYY-MM-DD') END AS key,"
        "         status, reason, extract(epoch FROM sent_at - scheduled_for) AS late"
        "    FROM tidings.messages WHERE org_id = $1"
        "     AND scheduled_for >= $4::timestamptz AND scheduled_for < $5::timestamptz), "
        "g AS ("
        "  SELECT key, count(*) AS total,"
        "         count(*) FILTER (WHERE status IN ('sent', 'delivered', 'bounced', 'complained'))"
        "           AS reached,"
        "         count(*) FILTER (WHERE status IN ('delivered', 'complained')) AS delivered,"
        "         count(*) FILTER (WHERE status = 'bounced') AS bounced,"
        "         count(*) FILTER (WHERE status = 'complained') AS complained,"
        "         percentile_cont(0.5) WITHIN GROUP (ORDER BY late) AS late50,"
        "         percentile_cont(0.99) WITHIN GROUP (ORDER BY late) AS late99"
        "    FROM m GROUP BY key), "
        "st AS (SELECT key, json_object_agg(status, n) AS counts"
        "         FROM (SELECT key, status, count(*) AS n FROM m GROUP BY key, status) s"
        "        GROUP BY key), "
        "sk AS (SELECT key, json_object_agg(coalesce(reason, ''), n) AS skips"
        "         FROM (SELECT key, reason, count(*) AS n FROM m WHERE status = 'skipped'"
        "                GROUP BY key, reason) s GROUP BY key), "
        "ev AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50,"
        "              percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS p99, count(*) AS n"
        "         FROM (SELECT extract(epoch FROM processed_at - received_at) AS d"
        "                 FROM tidings.events WHERE org_id = $1 AND processed_at IS NOT NULL"
        "                  AND received_at >= $4::timestamptz AND received_at < $5::timestamptz"
        "                  AND source <> 'preview') e) "
        "SELECT json_build_object("
        "  'from', to_char($4::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "  'to', to_char($5::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "  'by', $2,"
        "  'targets', json_build_object('email_delivery_rate', 0.99, 'sms_delivery_rate', 0.95,"
        "                               'intake_p99_seconds', 1),"
        "  'intake', (SELECT json_build_object('events', n, 'p50_seconds', p50,"
        "                                      'p99_seconds', p99) FROM ev),"
        "  'groups', coalesce((SELECT json_agg(json_build_object("
        "      'key', g.key, 'total', g.total, 'counts', st.counts,"
        "      'reached_provider', g.reached,"
        "      'delivery_rate', CASE WHEN g.reached > 0 THEN round(g.delivered::numeric / "
        "g.reached, 4) END,"
        "      'bounce_rate', CASE WHEN g.reached > 0 THEN round(g.bounced::numeric / g.reached, "
        "4) END,"
        "      'complaint_rate', CASE WHEN g.reached > 0"
        "                        THEN round(g.complained::numeric / g.reached, 4) END,"
        "      'skips', coalesce(sk.skips, '{}'::json),"
        "      'lateness_p50_seconds', g.late50, 'lateness_p99_seconds', g.late99) ORDER BY g.key)"
        "    FROM g JOIN st USING (key) LEFT JOIN sk USING (key)), '[]'::json))",
        5, params, out, err, errcap);
}

int td_store_preview_decided(PGconn *c, const char *org, int64_t event_id, json_t **out, char *err,
                             size_t errcap)
{
    char ev[24];
    snprintf(ev, sizeof(ev), "%lld", (long long)event_id);
    const char *params[] = {org, ev};
    return store_json_value(
        c,
        "SELECT coalesce(json_agg(json_build_object('sequence', sequence_key, 'step', step_id,"
        "  'channel', channel, 'scheduled_ms', (extract(epoch FROM scheduled_for) * 1000)::bigint,"
        "  'outcome', status, 'reason', reason) ORDER BY scheduled_for, id), '[]'::json)"
        "  FROM tidings.messages WHERE org_id = $1 AND event_id = $2::bigint"
        "   AND status <> 'scheduled'",
        2, params, out, err, errcap);
}
