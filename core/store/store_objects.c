/* store_objects: SQL for versioned sequences and templates. */
#include "store/store.h"

#include "store/store_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int td_store_object_put(PGconn *c, const char *org, const char *kind, const char *key, json_t *body,
                        const char *created_by, int *version, bool *changed, char *err,
                        size_t errcap)
{
    *changed = false;
    *version = 0;
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return -ENOMEM;
    const char *params[] = {org, kind, key, text, created_by};
    /* One statement: a new version only when the newest one differs. */
    PGresult *r = store_exec(
        c,
        "WITH cur AS (SELECT version, body FROM tidings.objects WHERE org_id = $1 AND kind = $2 "
        "             AND key = $3 ORDER BY version DESC LIMIT 1 FOR UPDATE), "
        "ins AS (INSERT INTO tidings.objects (org_id, kind, key, version, body, created_by) "
        "        SELECT $1, $2, $3, coalesce((SELECT version FROM cur), 0) + 1, $4::jsonb, $5 "
        "        WHERE NOT EXISTS (SELECT 1 FROM cur WHERE body = $4::jsonb) RETURNING version) "
        "SELECT (SELECT version FROM ins), (SELECT version FROM cur)",
        5, params, err, errcap);
    free(text);
    if (!r)
        return -EIO;
    if (!PQgetisnull(r, 0, 0)) {
        *changed = true;
        *version = (int)store_int64(r, 0, 0, 0);
    } else {
        *version = (int)store_int64(r, 0, 1, 0);
    }
    PQclear(r);
    return 0;
}

int td_store_objects_current(PGconn *c, const char *org, const char *kind, json_t **out, char *err,
                             size_t errcap)
{
    *out = NULL;
    const char *params[] = {org, kind};
    PGresult *r = store_exec(c,
                             "SELECT body FROM tidings.current_objects WHERE org_id = $1 AND "
                             "kind = $2 ORDER BY key",
                             2, params, err, errcap);
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

int td_store_sequences_current(PGconn *c, const char *org, json_t **out, char *err, size_t errcap)
{
    return td_store_objects_current(c, org, "sequence", out, err, errcap);
}

int td_store_objects_touch(PGconn *c, const char *org, char *err, size_t errcap)
{
    const char *params[] = {org};
    PGresult *r = store_exec(c,
                             "INSERT INTO tidings.org_state (org_id, objects_version) VALUES "
                             "($1, 1) ON CONFLICT (org_id) DO UPDATE SET objects_version = "
                             "tidings.org_state.objects_version + 1",
                             1, params, err, errcap);
    if (!r)
        return -EIO;
    PQclear(r);
    return 0;
}

int td_store_sequence_status_changed(PGconn *c, const char *org, const char *seq_key,
                                     const char *status, int *count, char *err, size_t errcap)
{
    *count = 0;
    const char *params[] = {org, seq_key, status};
    /* paused: hold what is pending; active: release what is held; archived
     * (or anything else that is not active): cancel both */
    PGresult *r =
        store_exec(c,
                   "UPDATE tidings.messages SET"
                   "   status = CASE $3 WHEN 'paused' THEN 'paused' WHEN 'active' THEN 'scheduled'"
                   "            ELSE 'cancelled' END,"
                   "   reason = CASE $3 WHEN 'paused' THEN 'held: sequence paused'"
                   "            WHEN 'active' THEN 'released: sequence active again'"
                   "            ELSE 'sequence ' || $3 END,"
                   "   updated_at = now()"
                   " WHERE org_id = $1 AND sequence_key = $2"
                   "   AND status = ANY (CASE $3 WHEN 'paused' THEN ARRAY['scheduled']"
                   "                     WHEN 'active' THEN ARRAY['paused']"
                   "                     ELSE ARRAY['scheduled', 'paused'] END)",
                   3, params, err, errcap);
    if (!r)
        return -EIO;
    *count = (int)strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}
