/* expand: works out what a booking change means (its transitions) and which
 * message rows the organization's sequences plan for it. Pure logic: the
 * store turns the plan into rows and computes local send times. */
#ifndef TD_EXPAND_H
#define TD_EXPAND_H

#include "booking.h"
#include "sequence.h"

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

/* One message row to write. Strings are borrowed from the sequences. */
struct td_planned {
    const char *sequence_key;
    const char *step_id;
    const char *channel;
    const char *template_key;
    int64_t anchor_ms;
    int offset_days;
    int offset_minutes;
    int local_minute;        /* -1: keep the anchor's time of day */
    int64_t deadline_ms;     /* -1: none */
    const char *skip_reason; /* NULL: schedule it; else write it as skipped */
};

struct td_plan {
    struct td_planned *items;
    size_t count;
    size_t cap;
};

/* Plans the rows that the transitions t of booking b start, for the active
 * sequences seqs whose trigger and subtypes match. trigger_ms is when the
 * event arrived. Returns 0 or -ENOMEM; items borrow from seqs. */
int td_expand_plan(const struct td_booking *b, int64_t trigger_ms, const struct td_transitions *t,
                   struct td_sequence *const *seqs, size_t nseq, struct td_plan *out);

/* Frees the plan's storage. */
void td_plan_clear(struct td_plan *plan);

#endif
