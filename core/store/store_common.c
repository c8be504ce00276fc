/* store_common: helpers shared by the store_*.c files. */
#include "store/store_common.h"

#include "store/db.h"
#include "store/store.h"

#include "tidings/plugin_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The SQLSTATE of this thread's last failed statement ("" when it had none). */
static _Thread_local char last_sqlstate[6];

bool store_last_error_transient(void)
{
    /* deadlock_detected, serialization_failure, lock_not_available */
    return strcmp(last_sqlstate, "40P01") == 0 || strcmp(last_sqlstate, "40001") == 0 ||
           strcmp(last_sqlstate, "55P03") == 0;
}

PGresult *store_exec(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
                     size_t errcap)
{
    return store_exec_formats(c, sql, nparams, params, NULL, NULL, err, errcap);
}

/* The statements each session has prepared, by (connection, backend, text
 * hash). Every statement the store runs is a literal, so there are as many as
 * there are statements (some 60) per session; a session that ends leaves its
 * entries behind, and a full table only means statements go unprepared. */
#define PREPARED_SLOTS 8192
struct prepared_key {
    const PGconn *conn;
    int pid;
    uint64_t hash;
};
static struct prepared_key prepared[PREPARED_SLOTS];
static size_t prepared_used;
static pthread_mutex_t prepared_lock = PTHREAD_MUTEX_INITIALIZER;

/* Finds (or, with add, claims) the slot of key. NULL when absent and not
 * added. Called with prepared_lock held. */
static struct prepared_key *prepared_slot(const struct prepared_key *key, bool add)
{
    uint64_t mix =
        key->hash ^ ((uint64_t)(uintptr_t)key->conn * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)key->pid;
    for (size_t i = 0, at = mix % PREPARED_SLOTS; i < PREPARED_SLOTS;
         i++, at = (at + 1) % PREPARED_SLOTS) {
        struct prepared_key *k = &prepared[at];
        if (!k->conn) {
            if (!add || prepared_used >= PREPARED_SLOTS * 3 / 4)
                return NULL;
            *k = *key;
            prepared_used++;
            return k;
        }
        if (k->conn == key->conn && k->pid == key->pid && k->hash == key->hash)
            return k;
    }
    return NULL;
}

/* Runs sql as a named prepared statement of this session, preparing it the
 * first time: the server parses and analyses each statement once per session
 * instead of at every call (the sessions plan each call afresh, with its
 * parameters: plan_cache_mode = force_custom_plan, see db.c). NULL result
 * with *used false when the statement could not be prepared. */
static PGresult *exec_prepared(PGconn *c, const char *sql, int nparams, const char *const *params,
                               const int *lengths, const int *formats)
{
    struct prepared_key key = {c, PQbackendPID(c), td_fnv1a64(sql, strlen(sql))};
    char name[24];
    snprintf(name, sizeof(name), "td_%016" PRIx64, key.hash);
    pthread_mutex_lock(&prepared_lock);
    bool known = prepared_slot(&key, false) != NULL;
    pthread_mutex_unlock(&prepared_lock);
    if (!known) {
        PGresult *p = PQprepare(c, name, sql, nparams, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK)
            return p; /* the error, as the statement itself would have given it */
        PQclear(p);
        pthread_mutex_lock(&prepared_lock);
        bool kept = prepared_slot(&key, true) != NULL;
        pthread_mutex_unlock(&prepared_lock);
        if (!kept) {
            /* no room to remember it: run it once, then let it go */
            PGresult *r = PQexecPrepared(c, name, nparams, params, lengths, formats, 0);
            char drop[40];
            snprintf(drop, sizeof(drop), "DEALLOCATE %s", name);
            PQclear(PQexec(c, drop));
            return r;
        }
    }
    return PQexecPrepared(c, name, nparams, params, lengths, formats, 0);
}

PGresult *store_exec_formats(PGconn *c, const char *sql, int nparams, const char *const *params,
                             const int *lengths, const int *formats, char *err, size_t errcap)
{
    PGresult *r = exec_prepared(c, sql, nparams, params, lengths, formats);
    ExecStatusType st = PQresultStatus(r);
    last_sqlstate[0] = '\0';
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state)
        snprintf(last_sqlstate, sizeof(last_sqlstate), "%s", state);
    const char *msg = PQresultErrorMessage(r);
    if (msg && *msg) {
        snprintf(err, errcap, "%s", msg);
        for (char *p = err; *p; p++) {
            if (*p == '\n')
                *p = p[1] ? ' ' : '\0';
        }
    } else {
        td_db_error(c, err, errcap);
    }
    PQclear(r);
    return NULL;
}

int store_json_value(PGconn *c, const char *sql, int nparams, const char *const *params,
                     json_t **out, char *err, size_t errcap)
{
    *out = NULL;
    PGresult *r = store_exec(c, sql, nparams, params, err, errcap);
    if (!r)
        return -EIO;
    json_error_t jerr;
    *out = json_loads(PQgetvalue(r, 0, 0), 0, &jerr);
    PQclear(r);
    return *out ? 0 : -ENOMEM;
}

int64_t store_int64(PGresult *r, int row, int col, int64_t dflt)
{
    if (PQgetisnull(r, row, col))
        return dflt;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *store_itoa(int64_t v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%" PRId64, v);
    return buf;
}

int td_store_begin(PGconn *c, char *err, size_t errcap)
{
    return td_db_exec(c, "BEGIN", err, errcap);
}

int td_store_commit(PGconn *c, char *err, size_t errcap)
{
    return td_db_exec(c, "COMMIT", err, errcap);
}

void td_store_rollback(PGconn *c)
{
    td_db_exec(c, "ROLLBACK", NULL, 0);
}
