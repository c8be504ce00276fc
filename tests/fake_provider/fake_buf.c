/* fake_buf: a small growable byte buffer for building texts. */
#include "fake_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct fake_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

/* Appends n bytes. */
void fake_buf_add(struct fake_buf *b, const void *p, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Appends a NUL-terminated string. */
void fake_buf_str(struct fake_buf *b, const char *s)
{
    fake_buf_add(b, s, strlen(s));
}

/* Appends printf-style formatted text. */
void fake_buf_printf(struct fake_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Hands the text over (malloc'ed, NUL-terminated; NULL after a failure) and empties b. */
char *fake_buf_take(struct fake_buf *b, size_t *len)
{
    char *out = NULL;
    if (!b->failed)
        out = b->data ? b->data : strdup("");
    else
        free(b->data);
    if (len)
        *len = out ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
    return out;
}

/* Frees the buffer's memory. */
void fake_buf_free(struct fake_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
