/* diag: a list of problems found while checking input, one line each. */
#include "diag.h"

#include "buf.h"

#include <stdarg.h>
#include <stdlib.h>

void td_diag_add(struct td_diag *d, const char *fmt, ...)
{
    struct td_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    td_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *line = td_buf_take(&b);
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **p = realloc(d->lines, cap * sizeof(*p));
        if (!p) {
            free(line);
            return;
        }
        d->lines = p;
        d->cap = cap;
    }
    d->lines[d->count++] = line ? line : NULL;
}

void td_diag_print(const struct td_diag *d, FILE *out, const char *prefix)
{
    for (size_t i = 0; i < d->count; i++)
        fprintf(out, "%s%s\n", prefix, d->lines[i] ? d->lines[i] : "(out of memory)");
}

void td_diag_clear(struct td_diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->lines[i]);
    free(d->lines);
    d->lines = NULL;
    d->count = d->cap = 0;
}
