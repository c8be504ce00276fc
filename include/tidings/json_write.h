/* tidings/json_write.h: writing JSON text straight into a growable buffer,
 * for the hot paths of the engine and of plugins (a request body per
 * message) where building a jansson tree only to print it costs more than
 * the rest of the work. Header-only: nothing here crosses the plugin ABI.
 *
 *   struct td_json_out o = {0};
 *   td_json_lit(&o, "{\"to\":");
 *   td_json_str(&o, address);          // "anna@example.org", escaped
 *   td_json_lit(&o, ",\"n\":");
 *   td_json_int(&o, 42);
 *   td_json_lit(&o, "}");
 *   if (o.failed) ...                  // out of memory somewhere on the way
 *   send(o.data, o.len); td_json_out_free(&o);
 *
 * Strings must be UTF-8 (they are copied as they are; quotes, backslashes
 * and control characters are escaped). The buffer stays NUL-terminated. */
#ifndef TIDINGS_JSON_WRITE_H
#define TIDINGS_JSON_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct td_json_out {
    char *data; /* NUL-terminated; NULL until the first write */
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed: the text is incomplete */
};

/* Makes room for n more bytes (and the NUL). Returns false when out of memory. */
static inline bool td_json_reserve(struct td_json_out *o, size_t n)
{
    if (o->failed)
        return false;
    if (o->len + n + 1 <= o->cap)
        return true;
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + n + 1)
        cap *= 2;
    char *d = (char *)realloc(o->data, cap);
    if (!d) {
        o->failed = true;
        return false;
    }
    o->data = d;
    o->cap = cap;
    return true;
}

/* Appends n bytes as they are. */
static inline void td_json_raw(struct td_json_out *o, const char *s, size_t n)
{
    if (!td_json_reserve(o, n))
        return;
    memcpy(o->data + o->len, s, n);
    o->len += n;
    o->data[o->len] = '\0';
}

/* Appends JSON text written by the caller (a literal such as ",\"to\":"). */
static inline void td_json_lit(struct td_json_out *o, const char *text)
{
    td_json_raw(o, text, strlen(text));
}

/* Appends s as a JSON string (NULL as null). */
static inline void td_json_str(struct td_json_out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        td_json_raw(o, "null", 4);
        return;
    }
    size_t n = strlen(s);
    /* the worst case: every byte a \u00XX */
    if (!td_json_reserve(o, n * 6 + 2))
        return;
    char *p = o->data + o->len;
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"':
            *p++ = '\\';
            *p++ = '"';
            break;
        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        case '\r':
            *p++ = '\\';
            *p++ = 'r';
            break;
        case '\t':
            *p++ = '\\';
            *p++ = 't';
            break;
        default:
            if (*c < 0x20) {
                memcpy(p, "\\u00", 4);
                p[4] = hex[*c >> 4];
                p[5] = hex[*c & 15];
                p += 6;
            } else {
                *p++ = (char)*c;
            }
        }
    }
    *p++ = '"';
    o->len = (size_t)(p - o->data);
    o->data[o->len] = '\0';
}

/* Appends a whole number. */
static inline void td_json_int(struct td_json_out *o, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)v);
    if (n > 0)
        td_json_raw(o, num, (size_t)n);
}

/* Appends true or false. */
static inline void td_json_bool(struct td_json_out *o, bool v)
{
    td_json_lit(o, v ? "true" : "false");
}

/* Hands the text to the caller (who frees it) and empties o; NULL when an
 * allocation failed. */
static inline char *td_json_out_take(struct td_json_out *o)
{
    char *d = o->failed ? NULL : o->data;
    if (o->failed)
        free(o->data);
    else if (!d)
        d = (char *)calloc(1, 1);
    o->data = NULL;
    o->len = o->cap = 0;
    o->failed = false;
    return d;
}

/* Frees the text; o can be used again. */
static inline void td_json_out_free(struct td_json_out *o)
{
    free(o->data);
    o->data = NULL;
    o->len = o->cap = 0;
    o->failed = false;
}

#endif
