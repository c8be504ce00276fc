/* problems: faults of one input, by field. */
#include "util/problems.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void td_problems_add(struct td_problems *p, const char *field, const char *fmt, ...)
{
    if (p->count == TD_PROBLEMS_MAX) {
        p->dropped++;
        return;
    }
    snprintf(p->items[p->count].field, sizeof(p->items[p->count].field), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->items[p->count].problem, sizeof(p->items[p->count].problem), fmt, ap);
    va_end(ap);
    p->count++;
}

void td_problems_text(const struct td_problems *p, char *out, size_t cap)
{
    size_t n = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < p->count && n < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s: %s", i ? "; " : "", p->items[i].field,
                         p->items[i].problem);
        if (w < 0)
            return;
        n += (size_t)w;
    }
    if (p->dropped && n < cap)
        snprintf(out + n, cap - n, " (and %zu more)", p->dropped);
}

void td_problems_summary(const struct td_problems *p, char *out, size_t cap)
{
    size_t total = p->count + p->dropped;
    if (total <= 1) {
        td_problems_text(p, out, cap);
        return;
    }
    int w = snprintf(out, cap, "%zu problems:", total);
    size_t n = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < p->count && n < cap; i++) {
        w = snprintf(out + n, cap - n, "%s %s", i ? "," : "", p->items[i].field);
        if (w < 0)
            return;
        n += (size_t)w;
    }
    if (p->dropped && n < cap)
        snprintf(out + n, cap - n, " and %zu more", p->dropped);
}

json_t *td_problems_json(const struct td_problems *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->count; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s}", "field", p->items[i].field, "problem", p->items[i].problem));
    return a;
}
