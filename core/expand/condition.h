/* condition: when a step applies, as data. Checked when a sequence is saved
 * (every bad clause named by its path), evaluated at expansion and again at
 * send time against the booking as it is then.
 *
 *   { "all": [ c, ... ] }   { "any": [ c, ... ] }   { "not": c }
 *   { "field": "data.level", "equals": "beginner" }     also not_equals, in, not_in,
 *   { "field": "customer.email", "exists": true }       gt, gte, lt, lte (numbers, or
 *   { "field": "booking.start", "before": "2026-06-01T00:00:00Z" }   RFC 3339 times;
 *   { "consent": "sms" }                                before/after are lt/gt)
 *   { "other_bookings": { "subtypes": ["reservation"], "overlapping": true }, "exists": false }
 *
 * Field paths start with booking., customer. or data. (customer.x is booking.customer.x).
 * consent: customer.consent.<channel> is true. other_bookings: the same customer's other
 * bookings in this organization, not cancelled or no_show, of those subtypes, and
 * (overlapping) sharing time with this one. */
#ifndef TD_CONDITION_H
#define TD_CONDITION_H

#include "util/diag.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct td_other_bookings_query {
    json_t *subtypes; /* array of strings, or NULL: any */
    bool overlapping;
};

struct td_condition_env {
    json_t *booking; /* the booking document */
    /* Answers whether the customer has other bookings matching q. Returns 0,
     * or a negative value when it cannot tell (the condition then fails). */
    int (*other_bookings)(void *ctx, const struct td_other_bookings_query *q, bool *exists);
    void *ctx;
};

/* Checks cond and adds every problem to diag as "path: what is wrong", each
 * at its path, which starts with prefix ("steps[2].when"). Returns 0 when
 * there is none, else -EINVAL. */
int td_condition_check_all(json_t *cond, const char *prefix, struct td_diag *diag);

/* Like td_condition_check_all, but keeps only the first problem, in err. */
int td_condition_check(json_t *cond, const char *prefix, char *err, size_t errcap);

/* Evaluates a checked condition. *holds gets the verdict; when false, why (may
 * be NULL) names the first clause that failed. Returns 0 or a negative value
 * when a lookup failed. */
int td_condition_eval(json_t *cond, const struct td_condition_env *env, bool *holds, char *why,
                      size_t whycap);

#endif
