/* buf: a growable byte buffer that always stays NUL-terminated. */
#ifndef TD_BUF_H
#define TD_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct td_buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    int failed; /* set when an allocation failed; later appends do nothing */
};

/* Appends len bytes of s. Returns 0 or -ENOMEM (and marks the buffer failed). */
int td_buf_append(struct td_buf *b, const char *s, size_t len);
/* Appends a NUL-terminated string. Returns 0 or -ENOMEM. */
int td_buf_puts(struct td_buf *b, const char *s);
/* Appends formatted text. Returns 0 or -ENOMEM. */
int td_buf_printf(struct td_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int td_buf_vprintf(struct td_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Returns the text ("" when empty); borrowed from b. */
const char *td_buf_str(const struct td_buf *b);
/* Hands the heap string to the caller (who frees it) and empties b. Returns
 * NULL when the buffer failed. */
char *td_buf_take(struct td_buf *b);
/* Frees the storage; the buffer can be reused afterwards. */
void td_buf_reset(struct td_buf *b);

#endif
