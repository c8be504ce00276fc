/* migrate: brings the database schema up to the version this binary knows. */
#ifndef TD_MIGRATE_H
#define TD_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

/* The newest schema version compiled in. */
int td_schema_latest(void);

/* Reads the database's schema version into *version (0: none yet). Returns 0
 * or -EIO with err. */
int td_schema_version(PGconn *conn, int *version, char *err, size_t errcap);

/* Applies every migration newer than the database's version, each in its own
 * transaction, under an advisory lock so two engines cannot race. Writes one
 * line per applied migration to progress (may be NULL). Refuses (-EPROTO) a
 * database whose schema is newer than this binary knows. Returns 0, -EPROTO or
 * -EIO, with err set on failure. */
int td_migrate(PGconn *conn, FILE *progress, char *err, size_t errcap);

#endif
