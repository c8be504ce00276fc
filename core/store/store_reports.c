/* store_reports: SQL for what providers report after sending (delivery
 * reports, inbound messages) and for suppressed addresses (also the address
 * a one-click unsubscribe link stands for). */
#include "store/store.h"

#include "store/store_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The status a report of kind moves a message in status from to, or NULL
 * when it leaves the status as it is (a late or out-of-order report). */
static const char *report_moves(const char *kind, const char *from)
{
    bool sent = strcmp(from, "sent") == 0;
    bool delivered = strcmp(from, "delivered") == 0;
    if (strcmp(kind, "delivered") == 0)
        return sent ? "delivered" : NULL;
    if (strcmp(kind, "bounced") == 0 || strcmp(kind, "failed") == 0)
        return sent || delivered ? kind : NULL;
    /* a complaint is the last word on a message that went out, also after a
     * temporary bounce (the provider delivered it later) */
    if (strcmp(kind, "complained") == 0)
        return sent || delivered || strcmp(from, "bounced") == 0 ? kind : NULL;
    return NULL;
}

int td_store_report_apply(PGconn *c, const char *org, int64_t id, const char *provider_id,
                          const struct td_report_change *change, struct td_report_effect *effect,
                          char *err, size_t errcap)
{
    memset(effect, 0, sizeof(*effect));
    effect->outcome = "unknown";
    effect->message_id = -1;
    char idtext[24], at[24];
    const char *params[] = {org, id >= 0 ? store_itoa(id, idtext, sizeof(idtext)) : NULL,
                            provider_id};
    if (td_store_begin(c, err, errcap) < 0)
        return -EIO;
    /* the message, locked: a report and a verdict for it never cross */
    PGresult *r = store_exec(c,
                             "SELECT id, status FROM tidings.messages"
                             " WHERE org_id = $1 AND ($2::bigint IS NOT NULL AND id = $2::bigint"
                             "   OR $2::bigint IS NULL AND provider_id = $3::text)"
                             " LIMIT 1 FOR UPDATE",
                             3, params, err, errcap);
    if (!r)
        goto out_rollback;
    if (PQntuples(r) == 0) {
        PQclear(r);
        td_store_rollback(c);
        return 0;
    }
    char mid[24];
    snprintf(mid, sizeof(mid), "%s", PQgetvalue(r, 0, 0));
    snprintf(effect->before, sizeof(effect->before), "%s", PQgetvalue(r, 0, 1));
    effect->message_id = store_int64(r, 0, 0, -1);
    PQclear(r);
    if (strcmp(effect->before, "sending") == 0) {
        td_store_rollback(c);
        effect->outcome = "later";
        return 0;
    }
    snprintf(effect->after, sizeof(effect->after), "%s", effect->before);
    /* a report seen before changes nothing */
    const char *rparams[] = {org,
                             mid,
                             change->kind,
                             change->status,
                             change->detail,
                             change->event_key,
                             change->at_ms > 0 ? store_itoa(change->at_ms, at, sizeof(at)) : NULL};
    r = store_exec(c,
                   "INSERT INTO tidings.message_reports (org_id, message_id, channel, kind, status,"
                   " detail, event_key, happened_at)"
                   " SELECT $1, $2::bigint, channel, $3::text, $4::text, $5::text, $6::text,"
                   " to_timestamp($7::bigint / 1000.0) FROM tidings.messages"
                   " WHERE org_id = $1 AND id = $2::bigint"
                   " ON CONFLICT (org_id, message_id, event_key) DO NOTHING RETURNING 1",
                   7, rparams, err, errcap);
    if (!r)
        goto out_rollback;
    bool fresh = PQntuples(r) == 1;
    PQclear(r);
    if (!fresh) {
        effect->outcome = "replay";
        return td_store_commit(c, err, errcap) < 0 ? -EIO : 0;
    }
    const char *to = report_moves(change->kind, effect->before);
    const char *uparams[] = {org,
                             mid,
                             change->kind,
                             change->detail,
                             to,
                             change->suppress ? "t" : "f",
                             change->take_fallback ? "t" : "f",
                             change->address};
    /* the suppression does not depend on the move: a complaint or a hard
     * bounce suppresses the address whatever state its message is in */
    r = store_exec(
        c,
        "WITH upd AS ("
        "  UPDATE tidings.messages m SET status = $5::text,"
        "         reason = CASE WHEN $5::text = 'delivered' THEN NULL"
        "                  ELSE 'provider reported ' || $3::text || coalesce(': ' || $4::text, '')"
        "                  END,"
        "         updated_at = now()"
        "   WHERE m.org_id = $1 AND m.id = $2::bigint AND $5::text IS NOT NULL"
        "  RETURNING m.*), "
        "addr AS ("
        "  SELECT m.org_id, m.channel, coalesce(lower(m.recipient), $8::text) AS address"
        "    FROM tidings.messages m WHERE m.org_id = $1 AND m.id = $2::bigint AND $6::boolean), "
        "sup AS ("
        "  INSERT INTO tidings.suppressions (org_id, channel, address, reason, created_by)"
        "  SELECT a.org_id, a.channel, a.address, 'provider reported ' || $3::text, 'provider'"
        "    FROM addr a WHERE a.address IS NOT NULL"
        "  ON CONFLICT DO NOTHING RETURNING 1), "
        "fb AS ("
        "  INSERT INTO tidings.messages (org_id, booking_id, sequence_key, step_id, channel,"
        "         template_key, status, reason, scheduled_for, deadline, event_id, timing,"
        "         conditions, fallback, requires_consent)"
        "  SELECT u.org_id, u.booking_id, u.sequence_key, u.step_id, u.fallback->0->>'channel',"
        "         u.fallback->0->>'template', 'scheduled', 'fallback after ' || u.channel || ': '"
        "         || u.reason, now(), u.deadline, u.event_id, u.timing, u.conditions,"
        "         CASE WHEN jsonb_array_length(u.fallback) > 1 THEN u.fallback - 0 END,"
        "         coalesce((u.fallback->0->>'requires_consent')::boolean, false)"
        "    FROM upd u WHERE $7::boolean AND jsonb_typeof(u.fallback) = 'array'"
        "     AND jsonb_array_length(u.fallback) > 0"
        "  ON CONFLICT (org_id, booking_id, sequence_key, step_id, channel) DO NOTHING"
        "  RETURNING 1) "
        "SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM fb),"
        "       (SELECT count(*) FROM addr WHERE address IS NOT NULL), (SELECT count(*) FROM sup)",
        8, uparams, err, errcap);
    if (!r)
        goto out_rollback;
    if (store_int64(r, 0, 0, 0) > 0)
        snprintf(effect->after, sizeof(effect->after), "%s", to);
    bool fallback = store_int64(r, 0, 1, 0) > 0;
    effect->suppressed = store_int64(r, 0, 2, 0) > 0;
    effect->suppression_added = store_int64(r, 0, 3, 0) > 0;
    PQclear(r);
    if (fallback) {
        r = store_exec(c, "SELECT pg_notify('tidings_due', '')", 0, NULL, err, errcap);
        if (!r)
            goto out_rollback;
        PQclear(r);
    }
    effect->outcome = "applied";
    return td_store_commit(c, err, errcap) < 0 ? -EIO : 0;
out_rollback:
    td_store_rollback(c);
    return -EIO;
}

int td_store_inbound(PGconn *c, const char *org, const char *channel, const char *address,
                     const char *text, int64_t at_ms, bool stop, char *err, size_t errcap)
{
    char at[24];
    const char *params[] = {org,
                            channel,
                            address,
                            text,
                            at_ms > 0 ? store_itoa(at_ms, at, sizeof(at)) : NULL,
                            stop ? "t" : "f"};
    PGresult *r = store_exec(
        c,
        "WITH contact AS ("
        "  INSERT INTO tidings.inbound_contacts (org_id, channel, address, last_inbound_at,"
        "         last_text)"
        "  VALUES ($1, $2, $3, coalesce(to_timestamp($5::bigint / 1000.0), now()), left($4, 200))"
        "  ON CONFLICT (org_id, channel, address) DO UPDATE SET"
        "         last_inbound_at = greatest(tidings.inbound_contacts.last_inbound_at,"
        "                                    EXCLUDED.last_inbound_at),"
        "         last_text = EXCLUDED.last_text"
        "  RETURNING 1) "
        "INSERT INTO tidings.suppressions (org_id, channel, address, reason, created_by)"
        " SELECT $1, $2, $3, 'the customer wrote ' || upper(trim($4)), 'customer'"
        "  WHERE $6::boolean ON CONFLICT DO NOTHING",
        6, params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

int td_store_suppress(PGconn *c, const char *org, const char *channel, const char *address,
                      const char *reason, const char *by, bool *added, char *err, size_t errcap)
{
    const char *params[] = {org, channel, address, reason, by};
    PGresult *r = store_exec(c,
                             "INSERT INTO tidings.suppressions (org_id, channel, address, reason,"
                             " created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
                             " RETURNING 1",
                             5, params, err, errcap);
    if (!r)
        return -EIO;
    *added = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

int td_store_unsuppress(PGconn *c, const char *org, const char *channel, const char *address,
                        bool *removed, char *err, size_t errcap)
{
    const char *params[] = {org, channel, address};
    PGresult *r = store_exec(c,
                             "DELETE FROM tidings.suppressions WHERE org_id = $1 AND channel = $2"
                             " AND address = $3 RETURNING 1",
                             3, params, err, errcap);
    if (!r)
        return -EIO;
    *removed = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

int td_store_message_address(PGconn *c, const char *org, int64_t id, char *channel, size_t ccap,
                             char *address, size_t acap, bool *found, char *err, size_t errcap)
{
    char idtext[24];
    const char *params[] = {org, store_itoa(id, idtext, sizeof(idtext))};
    *found = false;
    PGresult *r = store_exec(c,
                             "SELECT m.channel, coalesce(m.recipient, CASE WHEN m.channel = 'email'"
                             "       THEN b.doc->'customer'->>'email' END)"
                             "  FROM tidings.messages m LEFT JOIN tidings.bookings b"
                             "    ON b.org_id = m.org_id AND b.booking_id = m.booking_id"
                             " WHERE m.org_id = $1 AND m.id = $2::bigint",
                             2, params, err, errcap);
    if (!r)
        return -EIO;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 1) && *PQgetvalue(r, 0, 1)) {
        snprintf(channel, ccap, "%s", PQgetvalue(r, 0, 0));
        snprintf(address, acap, "%s", PQgetvalue(r, 0, 1));
        *found = true;
    }
    PQclear(r);
    return 0;
}

int td_store_suppressions(PGconn *c, const char *org, json_t **out, char *err, size_t errcap)
{
    const char *params[] = {org};
    return store_json_value(c,
                            "SELECT coalesce(json_agg(json_build_object('org', org_id, 'channel',"
                            " channel, 'address', address, 'reason', reason, 'by', created_by,"
                            " 'since', created_at) ORDER BY org_id, channel, address), '[]')"
                            " FROM tidings.suppressions WHERE $1::text IS NULL OR org_id = $1",
                            1, params, out, err, errcap);
}

int td_store_address_facts(PGconn *c, const char *triples, json_t **out, char *err, size_t errcap)
{
    const char *params[] = {triples};
    return store_json_value(
        c,
        "WITH t AS (SELECT (x.ord - 1)::integer AS i, x.v->>0 AS org, x.v->>1 AS channel,"
        "                  x.v->>2 AS address"
        "             FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(v, ord)) "
        "SELECT json_build_object("
        " 'suppressed', (SELECT coalesce(json_agg(t.i), '[]') FROM t WHERE EXISTS ("
        "     SELECT 1 FROM tidings.suppressions s WHERE s.org_id = t.org"
        "        AND s.channel = t.channel AND s.address = t.address)),"
        " 'window', (SELECT coalesce(json_agg(t.i), '[]') FROM t WHERE EXISTS ("
        "     SELECT 1 FROM tidings.inbound_contacts ic WHERE ic.org_id = t.org"
        "        AND ic.channel = t.channel AND ic.address = t.address"
        "        AND ic.last_inbound_at > now() - interval '24 hours')))",
        1, params, out, err, errcap);
}
