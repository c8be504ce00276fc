/* diag: a list of problems found while checking input, one line each. */
#include "util/diag.h"

#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* Appends line (owned; NULL stands for out of memory) and path (copied). */
static void diag_push(struct td_diag *d, char *line, const char *path)
{
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **lines = realloc(d->lines, cap * sizeof(*lines));
        if (lines)
            d->lines = lines;
        char **paths = lines ? realloc(d->paths, cap * sizeof(*paths)) : NULL;
        if (paths)
            d->paths = paths;
        if (!lines || !paths) {
            free(line);
            return;
        }
        d->cap = cap;
    }
    d->lines[d->count] = line;
    d->paths[d->count] = path ? strdup(path) : NULL;
    d->count++;
}

void td_diag_add(struct td_diag *d, const char *fmt, ...)
{
    struct td_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    td_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    diag_push(d, td_buf_take(&b), NULL);
}

void td_diag_vadd_at(struct td_diag *d, const char *path, const char *fmt, va_list ap)
{
    struct td_buf b = {0};
    td_buf_printf(&b, "%s: ", path);
    td_buf_vprintf(&b, fmt, ap);
    diag_push(d, td_buf_take(&b), path);
}

void td_diag_add_at(struct td_diag *d, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    td_diag_vadd_at(d, path, fmt, ap);
    va_end(ap);
}

const char *td_diag_path(const struct td_diag *d, size_t i)
{
    return i < d->count ? d->paths[i] : NULL;
}

void td_diag_print(const struct td_diag *d, FILE *out, const char *prefix)
{
    for (size_t i = 0; i < d->count; i++)
        fprintf(out, "%s%s\n", prefix, d->lines[i] ? d->lines[i] : "(out of memory)");
}

void td_diag_clear(struct td_diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->lines[i]);
        free(d->paths[i]);
    }
    free(d->lines);
    free(d->paths);
    d->lines = d->paths = NULL;
    d->count = d->cap = 0;
}
