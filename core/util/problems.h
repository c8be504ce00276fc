/* problems: every fault found in one piece of input, each naming its field
 * ("customer.email: not a valid e-mail address"), so an answer can list them
 * all instead of the first. Fixed capacity: past it, the rest are counted. */
#ifndef TD_PROBLEMS_H
#define TD_PROBLEMS_H

#include <jansson.h>
#include <stddef.h>

#define TD_PROBLEMS_MAX 16

struct td_problems {
    size_t count;   /* kept in items */
    size_t dropped; /* found past the capacity */
    struct {
        char field[80];
        char problem[200];
    } items[TD_PROBLEMS_MAX];
};

/* Adds a problem of field (printf-style text). */
void td_problems_add(struct td_problems *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "field: problem; field: problem (and 3 more)" into out. */
void td_problems_text(const struct td_problems *p, char *out, size_t cap);

/* One problem: "field: problem"; several: "3 problems: field, field, field"
 * (the list of problems says each). */
void td_problems_summary(const struct td_problems *p, char *out, size_t cap);

/* The problems as a JSON array [{"field", "problem"}] (caller decrefs). */
json_t *td_problems_json(const struct td_problems *p);

#endif
