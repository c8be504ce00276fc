/* pg_array: binary one-dimensional arrays for statement parameters. */
#include "store/pg_array.h"

#include <string.h>

/* ndim, flags, element type, then one dimension: size and lower bound */
#define ARRAY_HEADER 20

static void put_u32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

static void append_u32(struct td_buf *b, uint32_t v)
{
    char be[4];
    put_u32(be, v);
    td_buf_append(b, be, 4);
}

void td_pg_array_begin(struct td_pg_array *a, enum td_pg_type type)
{
    memset(a, 0, sizeof(*a));
    a->type = type;
    char header[ARRAY_HEADER] = {0};
    td_buf_append(&a->b, header, sizeof(header));
}

/* An element's length, then its bytes. */
static void element(struct td_pg_array *a, const void *data, uint32_t len)
{
    append_u32(&a->b, len);
    td_buf_append(&a->b, data, len);
    a->count++;
}

static void null_element(struct td_pg_array *a)
{
    append_u32(&a->b, 0xffffffffu);
    a->has_null = true;
    a->count++;
}

void td_pg_array_int8(struct td_pg_array *a, int64_t v)
{
    char be[8];
    put_u32(be, (uint32_t)((uint64_t)v >> 32));
    put_u32(be + 4, (uint32_t)v);
    element(a, be, 8);
}

void td_pg_array_int4(struct td_pg_array *a, int32_t v)
{
    char be[4];
    put_u32(be, (uint32_t)v);
    element(a, be, 4);
}

void td_pg_array_bool(struct td_pg_array *a, bool v)
{
    char b = v ? 1 : 0;
    element(a, &b, 1);
}

void td_pg_array_text(struct td_pg_array *a, const char *s)
{
    if (!s)
        null_element(a);
    else
        element(a, s, (uint32_t)strlen(s));
}

void td_pg_array_jsonb(struct td_pg_array *a, const char *json)
{
    if (!json) {
        null_element(a);
        return;
    }
    /* jsonb's binary form: a version byte (1), then the JSON text */
    size_t n = strlen(json);
    append_u32(&a->b, (uint32_t)n + 1);
    td_buf_append(&a->b, "\1", 1);
    td_buf_append(&a->b, json, n);
    a->count++;
}

const char *td_pg_array_value(struct td_pg_array *a, int *len)
{
    if (a->b.failed || !a->b.data)
        return NULL;
    char *h = a->b.data;
    put_u32(h, 1);
    put_u32(h + 4, a->has_null ? 1 : 0);
    put_u32(h + 8, (uint32_t)a->type);
    put_u32(h + 12, a->count);
    put_u32(h + 16, 1);
    *len = (int)a->b.len;
    return h;
}

void td_pg_array_free(struct td_pg_array *a)
{
    td_buf_reset(&a->b);
}
