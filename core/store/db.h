/* db: a small pool of libpq connections shared by HTTP and dispatcher
 * threads. Connections are opened on first use and reopened when broken. */
#ifndef TD_DB_H
#define TD_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct td_db_pool;

/* Creates a pool of at most size connections to dsn (copied). Connects
 * nothing yet. Returns NULL on no memory. */
struct td_db_pool *td_db_pool_create(const char *dsn, size_t size);
/* Closes every connection; every acquired connection must be released first. */
void td_db_pool_destroy(struct td_db_pool *pool);

/* Borrows a working connection, waiting up to wait_ms for a free one.
 * Returns NULL when none is free in time or the database cannot be reached;
 * err (may be NULL) then says why. Give it back with td_db_release. */
PGconn *td_db_acquire(struct td_db_pool *pool, int wait_ms, char *err, size_t errcap);
/* Returns conn to the pool; broken: close it instead of keeping it. */
void td_db_release(struct td_db_pool *pool, PGconn *conn, bool broken);

/* Opens one connection outside the pool (the caller PQfinish-es it). Returns
 * NULL with err set when it fails. Sets a short application_name. */
PGconn *td_db_connect(const char *dsn, char *err, size_t errcap);

/* True when res failed because the connection is gone (not a SQL error). */
bool td_db_connection_lost(PGconn *conn);

/* Runs one statement without parameters; 0 or -EIO with err. */
int td_db_exec(PGconn *conn, const char *sql, char *err, size_t errcap);

/* Copies PostgreSQL's error text for conn into err, on one line. */
void td_db_error(PGconn *conn, char *err, size_t errcap);

#endif
