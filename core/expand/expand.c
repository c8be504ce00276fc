/* expand: works out what a booking change means (its transitions) and which
 * message rows the organization's sequences plan for it. */
#include "expand/expand.h"

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
    if ((prev->updated_at_ms >= 0 && next->updated_at_ms >= 0 &&
         next->updated_at_ms < prev->updated_at_ms) ||
        (prev->version >= 0 && next->version >= 0 && next->version < prev->version)) {
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
    plan->items[plan->count] = *item;
    struct td_planned *stored = &plan->items[plan->count++];
    if (item->skip_reason == item->skip_text)
        stored->skip_reason = stored->skip_text;
    return 0;
}

bool td_transitions_has(const struct td_transitions *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->names[i], name) == 0)
            return true;
    }
    return false;
}

bool td_expand_exits(const struct td_sequence *seq, const struct td_transitions *t)
{
    size_t i;
    json_t *e;
    json_array_foreach(seq->exit_on, i, e)
    {
        if (td_transitions_has(t, json_string_value(e)))
            return true;
    }
    return false;
}

static const char *anchor_name(enum td_anchor a)
{
    return a == TD_ANCHOR_START ? "start" : a == TD_ANCHOR_END ? "end" : "trigger";
}

/* The step's timing as the store and SQL read it. */
static json_t *step_timing(const struct td_step *step)
{
    json_t *t = json_pack("{s:s, s:i, s:i}", "anchor", anchor_name(step->anchor), "days",
                          step->offset_days, "minutes", step->offset_minutes);
    if (t && step->local_minute >= 0)
        json_object_set_new(t, "local", json_integer(step->local_minute));
    if (t && step->window)
        json_object_set(t, "window", step->window);
    return t;
}

static json_t *step_conditions(const struct td_sequence *seq, const struct td_step *step)
{
    if (seq->when && step->when)
        return json_pack("{s:[O, O]}", "all", seq->when, step->when);
    if (seq->when || step->when)
        return json_incref(seq->when ? seq->when : step->when);
    return NULL;
}

/* Why a step cannot be scheduled as planned, or NULL. */
static int step_skip(const struct td_booking *b, const struct td_step *step, int64_t anchor,
                     int64_t trigger_ms, json_t *conditions, const struct td_condition_env *env,
                     struct td_planned *item)
{
    if (step->anchor == TD_ANCHOR_END && b->end_ms < 0) {
        item->skip_reason = "the booking has no end, and this step is timed from it";
        return 0;
    }
    /* min_lead: the anchor must lie at least this far after the trigger */
    if (step->min_lead_minutes >= 0 &&
        anchor - trigger_ms < (int64_t)step->min_lead_minutes * 60000) {
        item->skip_reason = "booked too late for this step (min_lead)";
        return 0;
    }
    bool holds = true;
    int rc = td_condition_eval(conditions, env, &holds, item->skip_text, sizeof(item->skip_text));
    if (rc < 0)
        return rc;
    if (!holds)
        item->skip_reason = item->skip_text;
    return 0;
}

int td_expand_plan(const struct td_booking *b, int64_t trigger_ms, const struct td_transitions *t,
                   struct td_sequence *const *seqs, size_t nseq, const struct td_condition_env *env,
                   struct td_plan *out)
{
    for (size_t s = 0; s < nseq; s++) {
        const struct td_sequence *seq = seqs[s];
        if (!sequence_matches(seq, b, t))
            continue;
        for (size_t i = 0; i < seq->step_count; i++) {
            const struct td_step *step = &seq->steps[i];
            int64_t anchor = step->anchor == TD_ANCHOR_START ? b->start_ms
                             : step->anchor == TD_ANCHOR_END ? b->end_ms
                                                             : trigger_ms;
            json_t *conditions = step_conditions(seq, step);
            struct td_planned first = {0};
            int rc = step_skip(b, step, anchor, trigger_ms, conditions, env, &first);
            if (rc < 0) {
                json_decref(conditions);
                return rc;
            }
            for (size_t k = 0; k < step->send_count; k++) {
                struct td_planned item = first;
                item.sequence_key = seq->key;
                item.step_id = step->id;
                item.channel = step->sends[k].channel;
                item.template_key = step->sends[k].template_key;
                item.anchor_ms = anchor;
                item.timing = step_timing(step);
                item.conditions = json_incref(conditions);
                item.fallback = step->sends[k].fallback;
                item.requires_consent = step->sends[k].requires_consent;
                item.before_start = step->anchor == TD_ANCHOR_START &&
                                    (step->offset_days < 0 || step->offset_minutes < 0);
                if (first.skip_reason == first.skip_text)
                    item.skip_reason = item.skip_text;
                if (!item.timing || plan_push(out, &item) < 0) {
                    json_decref(item.timing);
                    json_decref(item.conditions);
                    json_decref(conditions);
                    return -ENOMEM;
                }
            }
            json_decref(conditions);
        }
    }
    return 0;
}

void td_plan_clear(struct td_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        json_decref(plan->items[i].timing);
        json_decref(plan->items[i].conditions);
    }
    free(plan->items);
    memset(plan, 0, sizeof(*plan));
}
