/* diag: a list of problems found while checking input, one line each. */
#ifndef TD_DIAG_H
#define TD_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct td_diag {
    char **lines;
    size_t count;
    size_t cap;
};

/* Adds one formatted problem line. Out of memory is reported as a line too. */
void td_diag_add(struct td_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes every line, prefixed with prefix (may be ""), to out. */
void td_diag_print(const struct td_diag *d, FILE *out, const char *prefix);
/* Frees all lines; the list can be reused. */
void td_diag_clear(struct td_diag *d);

#endif
