/* diag: a list of problems found while checking input, one line each. A
 * problem in a JSON document may also keep the path it is at, so that a
 * caller can find where in the file that path is. */
#ifndef TD_DIAG_H
#define TD_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct td_diag {
    char **lines;
    char **paths; /* parallel to lines: the JSON path of a problem, or NULL */
    size_t count;
    size_t cap;
};

/* Adds one formatted problem line. Out of memory is reported as a line too. */
void td_diag_add(struct td_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a problem at a JSON path ("steps[1].at.offset"): the line is "path: text",
 * and the path is kept (a copy) for td_diag_path. */
void td_diag_add_at(struct td_diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void td_diag_vadd_at(struct td_diag *d, const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* The path line i was added at, or NULL (added without one). Borrowed from d. */
const char *td_diag_path(const struct td_diag *d, size_t i);
/* Writes every line, prefixed with prefix (may be ""), to out. */
void td_diag_print(const struct td_diag *d, FILE *out, const char *prefix);
/* Frees all lines; the list can be reused. */
void td_diag_clear(struct td_diag *d);

#endif
