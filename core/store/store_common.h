/* store_common: helpers shared by the store_*.c files (not used elsewhere). */
#ifndef TD_STORE_COMMON_H
#define TD_STORE_COMMON_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this thread's last failed store_exec failed for a reason that
 * passes by itself (a deadlock another transaction lost, a serialization
 * failure, a lock not available): the statement can simply be run again. */
bool store_last_error_transient(void);

/* Runs sql with text parameters. Returns the result when its status is
 * COMMAND_OK or TUPLES_OK (caller PQclears), else NULL with err set. */
PGresult *store_exec(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
                     size_t errcap);

/* As store_exec, with parameter lengths and formats (1: binary) for values
 * that are not text, such as the arrays of pg_array.c. */
PGresult *store_exec_formats(PGconn *c, const char *sql, int nparams, const char *const *params,
                             const int *lengths, const int *formats, char *err, size_t errcap);

/* Runs sql, which answers one row with one JSON column, and parses that
 * value into *out (the caller decrefs). Returns 0, -EIO with err, or -ENOMEM. */
int store_json_value(PGconn *c, const char *sql, int nparams, const char *const *params,
                     json_t **out, char *err, size_t errcap);

/* Reads a bigint / integer column value (NULL reads as dflt). */
int64_t store_int64(PGresult *r, int row, int col, int64_t dflt);

/* Writes v as decimal text into buf. */
const char *store_itoa(int64_t v, char *buf, size_t cap);

#endif
