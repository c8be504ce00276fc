/* expand: works out what a booking change means (its transitions) and which
 * message rows the organization's sequences plan for it. Pure logic: the
 * store turns the plan into rows and computes local send times. */
#ifndef TD_EXPAND_H
#define TD_EXPAND_H

#include "intake/booking.h"
#include "expand/condition.h"
#include "expand/sequence.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TD_MAX_TRANSITIONS 8

struct td_transitions {
    const char *names[TD_MAX_TRANSITIONS]; /* "booking.created", ...; static strings */
    size_t count;
    bool stale;     /* older than what is stored: ignored */
    bool unchanged; /* the same state again: ignored */
};

/* Compares the stored state prev (NULL for a new booking) with next. */
void td_expand_transitions(const struct td_booking *prev, const struct td_booking *next,
                           struct td_transitions *out);

/* One message row to write. Strings and JSON are borrowed from the sequences
 * except timing and conditions, which the plan owns. */
struct td_planned {
    const char *sequence_key;
    const char *step_id;
    const char *channel;
    const char *template_key;
    int64_t anchor_ms;
    json_t *timing;     /* {"anchor", "days", "minutes", "local", "window"}; owned */
    json_t *conditions; /* the sequence's and the step's "when" together, or NULL; owned */
    json_t *fallback;   /* the send's fallback chain, or NULL; borrowed */
    bool requires_consent;
    bool before_start;       /* expires when the booking starts */
    const char *skip_reason; /* NULL: schedule it; else write it as skipped */
    char skip_text[160];     /* storage for a skip reason built here */
};

struct td_plan {
    struct td_planned *items;
    size_t count;
    size_t cap;
};

/* Plans the rows that the transitions t of booking b start, for the active
 * sequences seqs whose trigger and subtypes match. trigger_ms is when the
 * event arrived; env answers conditions (evaluated now as well as at send
 * time). Returns 0, -EIO when a condition lookup failed, or -ENOMEM. */
int td_expand_plan(const struct td_booking *b, int64_t trigger_ms, const struct td_transitions *t,
                   struct td_sequence *const *seqs, size_t nseq, const struct td_condition_env *env,
                   struct td_plan *out);

/* True when one of the transitions in t is in the sequence's exit list. */
bool td_expand_exits(const struct td_sequence *seq, const struct td_transitions *t);

/* True when t holds the transition name. */
bool td_transitions_has(const struct td_transitions *t, const char *name);

/* Frees the plan's storage. */
void td_plan_clear(struct td_plan *plan);

#endif
