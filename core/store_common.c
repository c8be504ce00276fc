/* store_common: helpers shared by the store_*.c files. */
#include "store_common.h"

#include "db.h"
#include "store.h"

#include <errno.h>
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

PGresult *store_exec_formats(PGconn *c, const char *sql, int nparams, const char *const *params,
                             const int *lengths, const int *formats, char *err, size_t errcap)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, lengths, formats, 0);
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
