/* store_admin: SQL for suspended channels, operators' actions and views of
 * the queue (listing, counts). */
#include "store/store.h"

#include "store/store_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int td_store_channel_suspend(PGconn *c, const char *org, const char *channel, const char *reason,
                             const char *fingerprint, int64_t until_ms, char *err, size_t errcap)
{
    char until[24] = "";
    const char *params[] = {org, channel, reason, fingerprint,
                            until_ms >= 0 ? store_itoa(until_ms, until, sizeof(until)) : NULL};
    PGresult *r = store_exec(c,
                             "INSERT INTO tidings.channel_suspensions (org_id, channel, reason,"
                             " fingerprint, kind, until) VALUES ($1, $2, $3, $4,"
                             " CASE WHEN $5::bigint IS NULL THEN 'credentials' ELSE 'quota' END,"
                             " to_timestamp($5::bigint / 1000.0)) ON CONFLICT DO NOTHING",
                             5, params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

int td_store_channel_suspensions(PGconn *c, json_t **out, char *err, size_t errcap)
{
    /* a quota suspension whose time is up is lifted on the way */
    PGresult *r = store_exec(c,
                             "DELETE FROM tidings.channel_suspensions WHERE kind = 'quota'"
                             " AND until <= now()",
                             0, NULL, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    return store_json_value(c,
                            "SELECT coalesce(json_agg(json_build_object('org', org_id, 'channel',"
                            " channel, 'reason', reason, 'fingerprint', fingerprint, 'since',"
                            " since, 'kind', kind, 'until', until) ORDER BY org_id, channel),"
                            " '[]') FROM tidings.channel_suspensions",
                            0, NULL, out, err, errcap);
}

int td_store_action(PGconn *c, const char *org, const char *subject, const char *action,
                    const char *actor, const char *reason, const char *detail, char *err,
                    size_t errcap)
{
    const char *params[] = {org, subject, action, actor, reason, detail};
    PGresult *r = store_exec(c,
                             "INSERT INTO tidings.actions (org_id, subject, action, actor, reason,"
                             " detail) VALUES ($1, $2, $3, $4, $5, $6)",
                             6, params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

int td_store_channel_resume(PGconn *c, const char *org, const char *channel, const char *actor,
                            const char *reason, bool *lifted, char *err, size_t errcap)
{
    *lifted = false;
    const char *params[] = {org, channel};
    PGresult *r = store_exec(c,
                             "DELETE FROM tidings.channel_suspensions WHERE org_id = $1 AND"
                             " channel = $2 RETURNING reason",
                             2, params, err, errcap);
    if (!r)
        return -EIO;
    *lifted = PQntuples(r) == 1;
    char detail[300];
    snprintf(detail, sizeof(detail), "was suspended: %.250s",
             *lifted ? PQgetvalue(r, 0, 0) : "(it was not)");
    PQclear(r);
    char subject[128];
    snprintf(subject, sizeof(subject), "channel %.100s", channel);
    return td_store_action(c, org, subject, "resume", actor, reason, detail, err, errcap);
}

int td_store_messages_list(PGconn *c, const char *org, const char *state, const char *booking,
                           const char *channel, int limit, json_t **out, char *err, size_t errcap)
{
    char lim[16];
    const char *params[] = {org, state, booking, channel, store_itoa(limit, lim, sizeof(lim))};
    return store_json_value(
        c,
        "SELECT coalesce(json_agg(x ORDER BY x.id DESC), '[]') FROM ("
        "  SELECT m.org_id AS org, m.id, m.booking_id AS booking, m.sequence_key AS sequence,"
        "         m.step_id AS step, m.channel, m.status, m.attempts, m.scheduled_for,"
        "         m.sent_at, m.reason, m.provider_id,"
        "         coalesce(b.timezone, 'UTC') AS timezone,"
        "         tidings.local_text(m.scheduled_for, coalesce(b.timezone, 'UTC'))"
        "           AS scheduled_local"
        "    FROM tidings.messages m LEFT JOIN tidings.bookings b"
        "      ON b.org_id = m.org_id AND b.booking_id = m.booking_id"
        "   WHERE ($1::text IS NULL OR m.org_id = $1) AND ($2::text IS NULL OR m.status = $2)"
        "     AND ($3::text IS NULL OR m.booking_id = $3) AND ($4::text IS NULL OR m.channel = $4)"
        "   ORDER BY m.id DESC LIMIT $5::integer) x",
        5, params, out, err, errcap);
}

/* Moves message id of org from one of the states in `from` to `to`, and
 * records the action in the same statement. */
static int message_transition(PGconn *c, const char *org, int64_t id, const char *action,
                              const char *from, const char *to, const char *actor,
                              const char *reason, bool *changed, char *status, char *err,
                              size_t errcap)
{
    *changed = false;
    status[0] = '\0';
    char idtext[24];
    const char *params[] = {org,   store_itoa(id, idtext, sizeof(idtext)), from, to, actor, reason,
                            action};
    PGresult *r = store_exec(
        c,
        "WITH old AS (SELECT status FROM tidings.messages WHERE org_id = $1 AND id = $2::bigint"
        "              FOR UPDATE), "
        "upd AS (UPDATE tidings.messages m SET status = $4,"
        "        reason = $7 || ' by ' || $5 || ': ' || $6,"
        "        attempts = CASE WHEN $4 = 'scheduled' THEN 0 ELSE m.attempts END,"
        "        resend_approved = ($4 = 'scheduled' AND m.status = 'held'),"
        /* a retry is due now, or at its own time when that is still ahead */
        "        scheduled_for = CASE WHEN $4 = 'scheduled' THEN greatest(now(), m.scheduled_for)"
        "                        ELSE m.scheduled_for END,"
        "        deadline = CASE WHEN $4 = 'scheduled' AND m.deadline < now() THEN NULL"
        "                   ELSE m.deadline END,"
        "        updated_at = now()"
        "   WHERE m.org_id = $1 AND m.id = $2::bigint"
        "     AND m.status IN (SELECT jsonb_array_elements_text($3::jsonb)) RETURNING 1), "
        "act AS (INSERT INTO tidings.actions (org_id, subject, action, actor, reason, detail)"
        "        SELECT $1, 'message ' || $2, $7, $5, $6, old.status || ' -> ' || $4"
        "          FROM old WHERE EXISTS (SELECT 1 FROM upd)) "
        "SELECT (SELECT status FROM old), EXISTS (SELECT 1 FROM upd)",
        7, params, err, errcap);
    if (!r)
        return -EIO;
    if (!PQgetisnull(r, 0, 0))
        snprintf(status, 16, "%s", PQgetvalue(r, 0, 0));
    *changed = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return 0;
}

int td_store_message_retry_guard(PGconn *c, const char *org, int64_t id, char *why, size_t cap,
                                 char *err, size_t errcap)
{
    why[0] = '\0';
    char idtext[24];
    const char *params[] = {org, store_itoa(id, idtext, sizeof(idtext))};
    PGresult *r = store_exec(
        c,
        "SELECT CASE"
        "  WHEN b.status IN ('cancelled', 'no_show')"
        "    THEN 'its booking ' || b.booking_id || ' is ' || b.status"
        "  WHEN m.deadline IS NOT NULL AND m.deadline < now()"
        "    THEN 'its deadline (' || tidings.local_text(m.deadline, coalesce(b.timezone, 'UTC'))"
        "         || ') has passed'"
        "  END"
        "  FROM tidings.messages m"
        "  LEFT JOIN tidings.bookings b ON b.org_id = m.org_id AND b.booking_id = m.booking_id"
        " WHERE m.org_id = $1 AND m.id = $2::bigint",
        2, params, err, errcap);
    if (!r)
        return -EIO;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        snprintf(why, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int td_store_message_retry(PGconn *c, const char *org, int64_t id, const char *actor,
                           const char *reason, bool *changed, char *status, char *err,
                           size_t errcap)
{
    return message_transition(c, org, id, "retry",
                              "[\"failed\", \"expired\", \"skipped\", \"cancelled\", \"held\"]",
                              "scheduled", actor, reason, changed, status, err, errcap);
}

int td_store_message_cancel(PGconn *c, const char *org, int64_t id, const char *actor,
                            const char *reason, bool *changed, char *status, char *err,
                            size_t errcap)
{
    return message_transition(c, org, id, "cancel", "[\"scheduled\", \"held\", \"paused\"]",
                              "cancelled", actor, reason, changed, status, err, errcap);
}

int td_store_message_counts(PGconn *c, json_t **out, char *err, size_t errcap)
{
    return store_json_value(
        c,
        "SELECT json_build_object("
        " 'states', (SELECT coalesce(json_agg(json_build_array(org_id, channel, status, n)), '[]')"
        "            FROM (SELECT org_id, channel, status, count(*) AS n FROM tidings.messages"
        "                   GROUP BY 1, 2, 3) s),"
        " 'due', (SELECT coalesce(json_agg(json_build_array(org_id, n)), '[]')"
        "         FROM (SELECT org_id, count(*) AS n FROM tidings.messages"
        "                WHERE status = 'scheduled' AND scheduled_for <= now() GROUP BY 1) d))",
        0, NULL, out, err, errcap);
}

int td_store_peers_heartbeat(PGconn *c, const char *engine_id, const char *listen, const char *orgs,
                             int alive_s, json_t **agreed, char *err, size_t errcap)
{
    *agreed = NULL;
    char alive[16];
    const char *params[] = {engine_id, listen, orgs, store_itoa(alive_s, alive, sizeof(alive))};
    /* one statement: this engine alive, its fingerprints replaced, and for
     * each of its organizations what the first-started live engine runs */
    return store_json_value(
        c,
        "WITH me AS (INSERT INTO tidings.engines (engine_id, listen) VALUES ($1, $2)"
        "              ON CONFLICT (engine_id) DO UPDATE SET seen_at = now(), listen = $2"
        "            RETURNING engine_id), "
        "mine AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS m(org text, fingerprint text)), "
        "gone AS (DELETE FROM tidings.engine_orgs eo WHERE eo.engine_id = $1"
        "           AND eo.org_id NOT IN (SELECT org FROM mine)), "
        "put AS (INSERT INTO tidings.engine_orgs (engine_id, org_id, fingerprint)"
        "          SELECT (SELECT engine_id FROM me), org, fingerprint FROM mine"
        "        ON CONFLICT (engine_id, org_id) DO UPDATE SET fingerprint = "
        "EXCLUDED.fingerprint), "
        "first AS (SELECT DISTINCT ON (eo.org_id) eo.org_id, eo.fingerprint, e.engine_id"
        "            FROM tidings.engine_orgs eo JOIN tidings.engines e USING (engine_id)"
        "           WHERE e.engine_id <> $1 AND e.seen_at > now() - make_interval(secs => "
        "$4::integer)"
        "             AND eo.org_id IN (SELECT org FROM mine)"
        "             AND e.started_at < (SELECT started_at FROM tidings.engines WHERE engine_id = "
        "$1"
        "                                 UNION ALL SELECT now() LIMIT 1)"
        "           ORDER BY eo.org_id, e.started_at, e.engine_id) "
        "SELECT coalesce(jsonb_object_agg(org_id, jsonb_build_object('fingerprint', fingerprint,"
        "       'engine', engine_id)), '{}') FROM first",
        4, params, agreed, err, errcap);
}

int td_store_peers_leave(PGconn *c, const char *engine_id, char *err, size_t errcap)
{
    const char *params[] = {engine_id};
    PGresult *r =
        store_exec(c, "DELETE FROM tidings.engines WHERE engine_id = $1", 1, params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    /* engines gone for an hour are forgotten */
    r = store_exec(c, "DELETE FROM tidings.engines WHERE seen_at < now() - interval '1 hour'", 0,
                   NULL, err, errcap);
    if (r)
        PQclear(r);
    return 0;
}
