/* migrate: brings the database schema up to the version this binary knows. */
#include "store/migrate.h"

#include "config/config_value.h"
#include "store/db.h"
#include "store/migrations.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int td_schema_latest(void)
{
    return td_migration_count ? td_migrations[td_migration_count - 1].version : 0;
}

int td_schema_version(PGconn *conn, int *version, char *err, size_t errcap)
{
    *version = 0;
    PGresult *r = PQexec(conn, "SELECT to_regclass('tidings.schema_version') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        td_db_error(conn, err, errcap);
        PQclear(r);
        return -EIO;
    }
    bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!exists)
        return 0;
    r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM tidings.schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        td_db_error(conn, err, errcap);
        PQclear(r);
        return -EIO;
    }
    long v = 0;
    td_parse_long(PQgetvalue(r, 0, 0), 0, 1000000, &v);
    *version = (int)v;
    PQclear(r);
    return 0;
}

static int migrate_one(PGconn *conn, const struct td_migration *m, char *err, size_t errcap)
{
    if (td_db_exec(conn, "BEGIN", err, errcap) < 0)
        return -EIO;
    if (td_db_exec(conn, "SELECT pg_advisory_xact_lock(hashtext('tidings.migrate'))", err, errcap) <
        0)
        goto out_rollback;
    /* Another engine may have applied it while we waited for the lock. */
    int version;
    if (td_schema_version(conn, &version, err, errcap) < 0)
        goto out_rollback;
    if (version >= m->version) {
        td_db_exec(conn, "ROLLBACK", NULL, 0);
        return 1;
    }
    if (td_db_exec(conn, m->sql, err, errcap) < 0) {
        char inner[400];
        snprintf(inner, sizeof(inner), "%s", err);
        snprintf(err, errcap, "migration %s failed: %s", m->name, inner);
        goto out_rollback;
    }
    char version_text[16];
    snprintf(version_text, sizeof(version_text), "%d", m->version);
    const char *params[] = {version_text, m->name};
    PGresult *r = PQexecParams(conn,
                               "INSERT INTO tidings.schema_version (version, name) VALUES "
                               "($1::integer, $2)",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        td_db_error(conn, err, errcap);
        PQclear(r);
        goto out_rollback;
    }
    PQclear(r);
    return td_db_exec(conn, "COMMIT", err, errcap) < 0 ? -EIO : 0;
out_rollback:
    td_db_exec(conn, "ROLLBACK", NULL, 0);
    return -EIO;
}

int td_migrate(PGconn *conn, FILE *progress, char *err, size_t errcap)
{
    static const char bootstrap[] = "SET client_min_messages = warning;"
                                    "CREATE SCHEMA IF NOT EXISTS tidings;"
                                    "CREATE TABLE IF NOT EXISTS tidings.schema_version ("
                                    "  version integer PRIMARY KEY,"
                                    "  name text NOT NULL,"
                                    "  applied_at timestamptz NOT NULL DEFAULT now())";
    if (td_db_exec(conn, bootstrap, err, errcap) < 0)
        return -EIO;
    int version;
    if (td_schema_version(conn, &version, err, errcap) < 0)
        return -EIO;
    if (version > td_schema_latest()) {
        snprintf(err, errcap,
                 "the database schema is at version %d, newer than this tidings knows (%d); "
                 "run a newer tidings",
                 version, td_schema_latest());
        return -EPROTO;
    }
    int applied = 0;
    for (unsigned i = 0; i < td_migration_count; i++) {
        const struct td_migration *m = &td_migrations[i];
        if (m->version <= version)
            continue;
        int rc = migrate_one(conn, m, err, errcap);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            applied++;
            if (progress)
                fprintf(progress, "applied %s\n", m->name);
        }
    }
    if (progress)
        fprintf(progress, "schema is at version %d%s\n", td_schema_latest(),
                applied ? "" : " (already up to date)");
    return 0;
}
