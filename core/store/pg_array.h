/* pg_array: one-dimensional PostgreSQL arrays in the binary wire format, to
 * pass many values as one statement parameter without PostgreSQL parsing
 * text for them (the verdicts of a round: UPDATE ... FROM unnest($1, $2, ...)).
 * The caller owns the array and frees it with td_pg_array_free. */
#ifndef TD_PG_ARRAY_H
#define TD_PG_ARRAY_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Element types, by their PostgreSQL type OID. */
enum td_pg_type {
    TD_PG_BOOL = 16,
    TD_PG_INT8 = 20,
    TD_PG_INT4 = 23,
    TD_PG_TEXT = 25,
    TD_PG_JSONB = 3802,
};

struct td_pg_array {
    struct td_buf b;
    enum td_pg_type type;
    uint32_t count;
    bool has_null;
};

/* Starts an empty array of type. */
void td_pg_array_begin(struct td_pg_array *a, enum td_pg_type type);
/* Appends one element (of the array's type); NULL strings are NULL elements. */
void td_pg_array_int8(struct td_pg_array *a, int64_t v);
void td_pg_array_int4(struct td_pg_array *a, int32_t v);
void td_pg_array_bool(struct td_pg_array *a, bool v);
void td_pg_array_text(struct td_pg_array *a, const char *s);
/* jsonb elements are given as JSON text. */
void td_pg_array_jsonb(struct td_pg_array *a, const char *json);
/* The finished parameter value and its length, or NULL when out of memory.
 * Borrowed from a. */
const char *td_pg_array_value(struct td_pg_array *a, int *len);
void td_pg_array_free(struct td_pg_array *a);

#endif
