/* expand: works out what a booking change means (its transitions) and which
 * message rows the organization's sequences plan for it. */
#include "expand.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void transitions_add(struct td_transitions *t, const char *name)
{
    if (t->count < TD_MAX_TRANSITIONS)
        t->names[t->count++] = name;
}

static const char *status_event(const char *status)
{
    static const char *const map[][2] = {
        {"confirmed", "booking.confirmed"}, {"checked_in", "booking.checked_in"},
        {"completed", "booking.completed"}, {"cancelled", "booking.cancelled"},
        {"no_show", "booking.no_show"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(status, map[i][0]) == 0)
            return map[i][1];
    }
    return NULL; /* pending: no event of its own */
}

void td_expand_transitions(const struct td_booking *prev, const struct td_booking *next,
                           struct td_transitions *out)
{
    memset(out, 0, sizeof(*out));
    const char *ev = status_event(next->status);
    if (!prev) {
        transitions_add(out, "booking.created");
        if (ev)
            transitions_add(out, ev);
        return;
    }
    if (prev->updated_at_ms >= 0 && next->updated_at_ms >= 0 &&
        next->updated_at_ms < prev->updated_at_ms) {
        out->stale = true;
        return;
    }
    if (json_equal(prev->doc, next->doc)) {
        out->unchanged = true;
        return;
    }
    if (strcmp(prev->status, next->status) != 0 && ev)
        transitions_add(out, ev);
    if (prev->start_ms != next->start_ms || prev->end_ms != next->end_ms)
        transitions_add(out, "booking.moved");
}

static bool sequence_matches(const struct td_sequence *seq, const struct td_booking *b,
                             const struct td_transitions *t)
{
    if (strcmp(seq->status, "active") != 0)
        return false;
    bool fired = false;
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->names[i], seq->trigger_on) == 0)
            fired = true;
    }
    if (!fired)
        return false;
    if (!seq->subtypes || json_array_size(seq->subtypes) == 0)
        return true;
    if (!b->subtype)
        return false;
    size_t i;
    json_t *s;
    json_array_foreach(seq->subtypes, i, s)
    {
        if (strcmp(json_string_value(s), b->subtype) == 0)
            return true;
    }
    return false;
}

static int plan_push(struct td_plan *plan, const struct td_planned *item)
{
    if (plan->count == plan->cap) {
        size_t cap = plan->cap ? plan->cap * 2 : 16;
        struct td_planned *p = realloc(plan->items, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        plan->items = p;
        plan->cap = cap;
    }
    plan->items[plan->count++] = *item;
    return 0;
}

int td_expand_plan(const struct td_booking *b, int64_t trigger_ms, const struct td_transitions *t,
                   struct td_sequence *const *seqs, size_t nseq, struct td_plan *out)
{
    for (size_t s = 0; s < nseq; s++) {
        const struct td_sequence *seq = seqs[s];
        if (!sequence_matches(seq, b, t))
            continue;
        for (size_t i = 0; i < seq->step_count; i++) {
            const struct td_step *step = &seq->steps[i];
            int64_t anchor = step->anchor == TD_ANCHOR_START ? b->start_ms
                             : step->anchor == TD_ANCHOR_END
                                 ? (b->end_ms >= 0 ? b->end_ms : b->start_ms)
                                 : trigger_ms;
            const char *skip = NULL;
            /* min_lead: the anchor must lie at least this far after the trigger */
            if (step->min_lead_minutes >= 0 &&
                anchor - trigger_ms < (int64_t)step->min_lead_minutes * 60000)
                skip = "booked too late for this step (min_lead)";
            bool before_start = step->anchor == TD_ANCHOR_START &&
                                (step->offset_days < 0 || step->offset_minutes < 0);
            for (size_t k = 0; k < step->send_count; k++) {
                struct td_planned item = {
                    .sequence_key = seq->key,
                    .step_id = step->id,
                    .channel = step->sends[k].channel,
                    .template_key = step->sends[k].template_key,
                    .anchor_ms = anchor,
                    .offset_days = step->offset_days,
                    .offset_minutes = step->offset_minutes,
                    .local_minute = step->local_minute,
                    .deadline_ms = before_start ? b->start_ms : -1,
                    .skip_reason = skip,
                };
                if (plan_push(out, &item) < 0)
                    return -ENOMEM;
            }
        }
    }
    return 0;
}

void td_plan_clear(struct td_plan *plan)
{
    free(plan->items);
    memset(plan, 0, sizeof(*plan));
}
