/* fake_buf: a small growable byte buffer for building texts. */
#ifndef FAKE_BUF_H
#define FAKE_BUF_H

#include <stdbool.h>
#include <stddef.h>

/* Always NUL-terminated once anything was added; failed is sticky after an
 * allocation failure (later additions are ignored). */
struct fake_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

/* Appends n bytes. */
void fake_buf_add(struct fake_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
void fake_buf_str(struct fake_buf *b, const char *s);
/* Appends printf-style formatted text. */
void fake_buf_printf(struct fake_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the text over (malloc'ed, NUL-terminated; NULL after a failure) and empties b. */
char *fake_buf_take(struct fake_buf *b, size_t *len);
/* Frees the buffer's memory. */
void fake_buf_free(struct fake_buf *b);

#endif
