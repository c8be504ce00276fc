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

int td_store_admin_customer_messages(PGconn *c, const char *org, const char *address, int limit,
                                     json_t **out, char *err, size_t errcap)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *params[] = {org, address, lim};
    /* the address as the bookings give it (e-mail in any case, or the number),
     * or as a message went to */
    return store_json_value(
        c,
        "SELECT coalesce(json_agg(to_jsonb(x) - 'at' ORDER BY x.at DESC, x.id DESC), '[]'::json)"
        "  FROM ("
        "  SELECT m.id, m.booking_id, m.sequence_key AS sequence, m.step_id AS step, m.channel,"
        "         m.status, m.reason, m.provider_id, m.attempts,"
        "         to_char(m.scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        "           AS scheduled_for,"
        "         tidings.local_text(m.scheduled_for, coalesce(b.timezone, 'UTC'))"
        "           AS scheduled_local,"
        "         to_char(m.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS "
        "sent_at,"
        "         coalesce(m.sent_at, m.scheduled_for) AS at"
        "    FROM tidings.messages m"
        "    JOIN tidings.bookings b ON b.org_id = m.org_id AND b.booking_id = m.booking_id"
        "   WHERE m.org_id = $1"
        "     AND (lower(b.doc->'customer'->>'email') = lower($2)"
        "          OR b.doc->'customer'->>'phone' = $2 OR m.recipient = $2"
        "          OR b.customer_key = lower($2))"
        "   ORDER BY coalesce(m.sent_at, m.scheduled_for) DESC, m.id DESC"
        "   LIMIT $3::integer) x",
        3, params, out, err, errcap);
}
