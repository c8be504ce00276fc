/* sequence: a sequence document (admin-edited JSON) parsed into steps. */
#include "sequence.h"

#include "condition.h"
#include "config_value.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const event_names[] = {
    "booking.created",   "booking.confirmed", "booking.checked_in", "booking.completed",
    "booking.cancelled", "booking.no_show",   "booking.moved",
};

int td_event_name_known(const char *name)
{
    for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++) {
        if (strcmp(name, event_names[i]) == 0)
            return 1;
    }
    return 0;
}

int td_offset_parse(const char *s, int *days, int *minutes)
{
    int sign = 1;
    long d = 0, m = 0;
    const char *p = s;
    if (*p == '-' || *p == '+') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    if (strcmp(p, "0") == 0) {
        *days = *minutes = 0;
        return 0;
    }
    int parts = 0;
    char last_unit = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        long v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p - '0');
            if (v > 100000)
                return -EINVAL;
            p++;
        }
        char unit = *p++;
        /* units in falling order, each at most once: d, h, m */
        if ((unit != 'd' && unit != 'h' && unit != 'm') ||
            (last_unit && (unit == 'd' || (unit == 'h' && last_unit != 'd') ||
                           (unit == 'm' && last_unit == 'm'))))
            return -EINVAL;
        if (unit == 'd')
            d += v;
        else if (unit == 'h')
            m += v * 60;
        else
            m += v;
        last_unit = unit;
        parts++;
    }
    if (!parts || d > 3660 || m > 3660L * 1440)
        return -EINVAL;
    *days = (int)(sign * d);
    *minutes = (int)(sign * m);
    return 0;
}

/* Reads a required or optional string member at path.key. */
static int seq_string(json_t *obj, const char *path, const char *key, bool required,
                      const char **out, char *err, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (required) {
            snprintf(err, cap, "%s%s%s: required", path, *path ? "." : "", key);
            return -EINVAL;
        }
        return 0;
    }
    if (!json_is_string(v) || !*json_string_value(v)) {
        snprintf(err, cap, "%s%s%s: must be a non-empty string", path, *path ? "." : "", key);
        return -EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

static int seq_local_time(const char *s, int *minute)
{
    if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return -EINVAL;
    *minute = h * 60 + m;
    return 0;
}

/* Reads one {"channel", "template", "requires_consent"} at path. */
static int seq_send(json_t *s, const char *path, struct td_send *out, char *err, size_t cap)
{
    if (!json_is_object(s)) {
        snprintf(err, cap, "%s: must be an object", path);
        return -EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v)
    {
        if (strcmp(key, "channel") && strcmp(key, "template") && strcmp(key, "requires_consent") &&
            strcmp(key, "fallback")) {
            snprintf(err, cap, "%s.%s: unknown (channel, template, requires_consent, fallback)",
                     path, key);
            return -EINVAL;
        }
    }
    if (seq_string(s, path, "channel", true, &out->channel, err, cap) < 0 ||
        seq_string(s, path, "template", true, &out->template_key, err, cap) < 0)
        return -EINVAL;
    json_t *consent = json_object_get(s, "requires_consent");
    if (consent && !json_is_boolean(consent)) {
        snprintf(err, cap, "%s.requires_consent: must be true or false", path);
        return -EINVAL;
    }
    out->requires_consent =
        consent ? json_is_true(consent)
                : strcmp(out->channel, "sms") == 0 || strcmp(out->channel, "whatsapp") == 0;
    return 0;
}

/* The fallback chain of a send: each a send of its own, each channel once. */
static int seq_fallback(json_t *s, const char *path, struct td_send *send, json_t *keep, char *err,
                        size_t cap)
{
    json_t *chain = json_object_get(s, "fallback");
    if (!chain)
        return 0;
    if (!json_is_array(chain) || json_array_size(chain) == 0) {
        snprintf(err, cap, "%s.fallback: must be a non-empty array", path);
        return -EINVAL;
    }
    json_t *normalized = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(chain, i, f)
    {
        char p[128];
        snprintf(p, sizeof(p), "%s.fallback[%zu]", path, i);
        struct td_send one;
        if (json_object_get(f, "fallback")) {
            snprintf(err, cap, "%s.fallback: a fallback has no fallback of its own", p);
            json_decref(normalized);
            return -EINVAL;
        }
        if (seq_send(f, p, &one, err, cap) < 0) {
            json_decref(normalized);
            return -EINVAL;
        }
        bool seen = strcmp(one.channel, send->channel) == 0;
        for (size_t j = 0; j < i; j++) {
            const char *c =
                json_string_value(json_object_get(json_array_get(normalized, j), "channel"));
            seen = seen || strcmp(c, one.channel) == 0;
        }
        if (seen) {
            snprintf(err, cap, "%s.channel: '%s' is already in this chain", p, one.channel);
            json_decref(normalized);
            return -EINVAL;
        }
        json_array_append_new(normalized, json_pack("{s:s, s:s, s:b}", "channel", one.channel,
                                                    "template", one.template_key,
                                                    "requires_consent", one.requires_consent));
    }
    /* the sequence keeps it; the send borrows it like every other member */
    json_array_append_new(keep, normalized);
    send->fallback = normalized;
    return 0;
}

static int seq_sends(json_t *arr, const char *path, struct td_step *step, json_t *keep, char *err,
                     size_t cap)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        snprintf(err, cap, "%s.send: must be a non-empty array", path);
        return -EINVAL;
    }
    step->send_count = json_array_size(arr);
    step->sends = calloc(step->send_count, sizeof(*step->sends));
    if (!step->sends)
        return -ENOMEM;
    for (size_t i = 0; i < step->send_count; i++) {
        char p[96];
        snprintf(p, sizeof(p), "%s.send[%zu]", path, i);
        json_t *s = json_array_get(arr, i);
        if (seq_send(s, p, &step->sends[i], err, cap) < 0 ||
            seq_fallback(s, p, &step->sends[i], keep, err, cap) < 0)
            return -EINVAL;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(step->sends[j].channel, step->sends[i].channel) == 0) {
                snprintf(err, cap, "%s.channel: '%s' is used twice in this step", p,
                         step->sends[i].channel);
                return -EINVAL;
            }
        }
    }
    return 0;
}

static const char *const weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int td_window_check(json_t *window, const char *path, char *err, size_t errcap)
{
    if (!json_is_object(window)) {
        snprintf(err, errcap,
                 "%s: must be an object like {\"from\": \"08:00\", \"to\": "
                 "\"20:00\"}",
                 path);
        return -EINVAL;
    }
    int from = 0, to = 24 * 60;
    const char *key;
    json_t *v;
    json_object_foreach(window, key, v)
    {
        if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
            int *target = key[0] == 'f' ? &from : &to;
            if (!json_is_string(v) || seq_local_time(json_string_value(v), target) < 0) {
                snprintf(err, errcap, "%s.%s: must be a local time like 08:00", path, key);
                return -EINVAL;
            }
        } else if (strcmp(key, "days") == 0) {
            size_t i;
            json_t *d;
            if (!json_is_array(v) || json_array_size(v) == 0) {
                snprintf(err, errcap, "%s.days: must be a non-empty array like [\"mon\", \"tue\"]",
                         path);
                return -EINVAL;
            }
            json_array_foreach(v, i, d)
            {
                bool known = false;
                for (size_t k = 0; k < 7; k++)
                    known = known ||
                            (json_is_string(d) && strcmp(json_string_value(d), weekdays[k]) == 0);
                if (!known) {
                    snprintf(err, errcap,
                             "%s.days[%zu]: must be one of mon, tue, wed, thu, fri, "
                             "sat, sun",
                             path, i);
                    return -EINVAL;
                }
            }
        } else {
            snprintf(err, errcap, "%s.%s: unknown (from, to, days)", path, key);
            return -EINVAL;
        }
    }
    if (from >= to) {
        snprintf(err, errcap, "%s: 'from' must be before 'to'", path);
        return -EINVAL;
    }
    return 0;
}

static int seq_step(json_t *s, size_t index, struct td_sequence *seq, char *err, size_t cap)
{
    char path[48];
    snprintf(path, sizeof(path), "steps[%zu]", index);
    struct td_step *step = &seq->steps[index];
    step->local_minute = -1;
    step->min_lead_minutes = -1;
    if (!json_is_object(s)) {
        snprintf(err, cap, "%s: must be an object", path);
        return -EINVAL;
    }
    if (seq_string(s, path, "id", true, &step->id, err, cap) < 0)
        return -EINVAL;
    for (size_t j = 0; j < index; j++) {
        if (strcmp(seq->steps[j].id, step->id) == 0) {
            snprintf(err, cap, "%s.id: '%s' is used by steps[%zu] too", path, step->id, j);
            return -EINVAL;
        }
    }
    json_t *at = json_object_get(s, "at");
    if (!json_is_object(at)) {
        snprintf(err, cap,
                 "%s.at: required, an object like {\"from\": \"start\", \"offset\": "
                 "\"-1d\"}",
                 path);
        return -EINVAL;
    }
    char atpath[64];
    snprintf(atpath, sizeof(atpath), "%s.at", path);
    const char *from, *offset, *time, *lead;
    if (seq_string(at, atpath, "from", true, &from, err, cap) < 0 ||
        seq_string(at, atpath, "offset", false, &offset, err, cap) < 0 ||
        seq_string(at, atpath, "time", false, &time, err, cap) < 0)
        return -EINVAL;
    if (strcmp(from, "start") == 0) {
        step->anchor = TD_ANCHOR_START;
    } else if (strcmp(from, "end") == 0) {
        step->anchor = TD_ANCHOR_END;
    } else if (strcmp(from, "trigger") == 0) {
        step->anchor = TD_ANCHOR_TRIGGER;
    } else {
        snprintf(err, cap, "%s.from: '%s' is not start, end or trigger", atpath, from);
        return -EINVAL;
    }
    if (offset && td_offset_parse(offset, &step->offset_days, &step->offset_minutes) < 0) {
        snprintf(err, cap, "%s.offset: '%s' is not an offset like -7d, 2h, 30m or 1d12h", atpath,
                 offset);
        return -EINVAL;
    }
    if (time && seq_local_time(time, &step->local_minute) < 0) {
        snprintf(err, cap, "%s.time: '%s' is not a local time like 09:00", atpath, time);
        return -EINVAL;
    }
    if (seq_string(s, path, "min_lead", false, &lead, err, cap) < 0)
        return -EINVAL;
    char sub[80];
    json_t *window = json_object_get(s, "window");
    snprintf(sub, sizeof(sub), "%s.window", path);
    if (window && td_window_check(window, sub, err, cap) < 0)
        return -EINVAL;
    step->window = window ? window : seq->window;
    step->when = json_object_get(s, "when");
    snprintf(sub, sizeof(sub), "%s.when", path);
    if (step->when && td_condition_check(step->when, sub, err, cap) < 0)
        return -EINVAL;
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v)
    {
        static const char *const known[] = {"id", "at", "min_lead", "window", "when", "send"};
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || strcmp(key, known[k]) == 0;
        if (!ok) {
            snprintf(err, cap, "%s.%s: unknown (id, at, min_lead, window, when, send)", path, key);
            return -EINVAL;
        }
    }
    if (lead) {
        int d, m;
        if (td_offset_parse(lead, &d, &m) < 0 || d < 0 || m < 0) {
            snprintf(err, cap, "%s.min_lead: '%s' is not a duration like 7d or 12h", path, lead);
            return -EINVAL;
        }
        step->min_lead_minutes = (long)d * 1440 + m;
        if (step->anchor == TD_ANCHOR_TRIGGER) {
            /* the anchor is the trigger itself: the lead is always zero */
            snprintf(err, cap,
                     "%s.min_lead: a step timed from the trigger is always booked zero time "
                     "ahead of it, so a min_lead could never hold; time the step from start or "
                     "end, or drop min_lead",
                     path);
            return -EINVAL;
        }
    }
    return seq_sends(json_object_get(s, "send"), path, step, seq->owned, err, cap);
}

static int seq_event_list(json_t *obj, const char *path, const char *key, json_t **out, char *err,
                          size_t cap)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v)) {
        snprintf(err, cap, "%s.%s: must be an array", path, key);
        return -EINVAL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            snprintf(err, cap, "%s.%s[%zu]: must be a string", path, key, i);
            return -EINVAL;
        }
        if (strcmp(path, "exit") == 0 && !td_event_name_known(json_string_value(e))) {
            snprintf(err, cap, "%s.%s[%zu]: '%s' is not a booking event", path, key, i,
                     json_string_value(e));
            return -EINVAL;
        }
    }
    *out = v;
    return 0;
}

int td_sequence_parse(json_t *doc, struct td_sequence **out, char *err, size_t errcap)
{
    *out = NULL;
    if (!json_is_object(doc)) {
        snprintf(err, errcap, "(sequence): must be a JSON object");
        return -EINVAL;
    }
    struct td_sequence *seq = calloc(1, sizeof(*seq));
    if (!seq)
        return -ENOMEM;
    seq->doc = json_incref(doc);
    seq->owned = json_array();
    int rc = -EINVAL;
    char *checked = NULL;
    if (seq_string(doc, "", "key", true, &seq->key, err, errcap) < 0)
        goto out_fail;
    char why[160];
    if (td_value_normalize(TD_VALUE_ID, seq->key, NULL, 0, 0, &checked, why, sizeof(why)) < 0) {
        snprintf(err, errcap, "key: %s", why);
        goto out_fail;
    }
    if (seq_string(doc, "", "name", true, &seq->name, err, errcap) < 0 ||
        seq_string(doc, "", "status", true, &seq->status, err, errcap) < 0)
        goto out_fail;
    if (strcmp(seq->status, "active") != 0 && strcmp(seq->status, "paused") != 0 &&
        strcmp(seq->status, "archived") != 0 && strcmp(seq->status, "draft") != 0) {
        snprintf(err, errcap, "status: '%s' is not active, paused, archived or draft", seq->status);
        goto out_fail;
    }
    json_t *trigger = json_object_get(doc, "trigger");
    if (!json_is_object(trigger)) {
        snprintf(err, errcap, "trigger: required, an object like {\"on\": \"booking.confirmed\"}");
        goto out_fail;
    }
    if (seq_string(trigger, "trigger", "on", true, &seq->trigger_on, err, errcap) < 0)
        goto out_fail;
    if (!td_event_name_known(seq->trigger_on)) {
        snprintf(err, errcap,
                 "trigger.on: '%s' is not a booking event (booking.created, "
                 "booking.confirmed, ...)",
                 seq->trigger_on);
        goto out_fail;
    }
    if (seq_event_list(trigger, "trigger", "subtypes", &seq->subtypes, err, errcap) < 0)
        goto out_fail;
    json_t *exit = json_object_get(doc, "exit");
    if (exit && !json_is_object(exit)) {
        snprintf(err, errcap, "exit: must be an object like {\"on\": [\"booking.cancelled\"]}");
        goto out_fail;
    }
    if (exit && seq_event_list(exit, "exit", "on", &seq->exit_on, err, errcap) < 0)
        goto out_fail;
    seq->window = json_object_get(doc, "window");
    if (seq->window && td_window_check(seq->window, "window", err, errcap) < 0)
        goto out_fail;
    seq->when = json_object_get(doc, "when");
    if (seq->when && td_condition_check(seq->when, "when", err, errcap) < 0)
        goto out_fail;
    const char *member;
    json_t *mv;
    json_object_foreach(doc, member, mv)
    {
        static const char *const known[] = {"key",  "name",   "status", "trigger",    "exit",
                                            "when", "window", "steps",  "description"};
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || strcmp(member, known[k]) == 0;
        if (!ok) {
            snprintf(err, errcap,
                     "%s: unknown member (key, name, description, status, trigger, "
                     "exit, when, window, steps)",
                     member);
            goto out_fail;
        }
    }
    json_t *steps = json_object_get(doc, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0) {
        snprintf(err, errcap, "steps: required, a non-empty array");
        goto out_fail;
    }
    seq->step_count = json_array_size(steps);
    seq->steps = calloc(seq->step_count, sizeof(*seq->steps));
    if (!seq->steps) {
        rc = -ENOMEM;
        goto out_fail;
    }
    for (size_t i = 0; i < seq->step_count; i++) {
        rc = seq_step(json_array_get(steps, i), i, seq, err, errcap);
        if (rc < 0)
            goto out_fail;
    }
    free(checked);
    *out = seq;
    return 0;
out_fail:
    free(checked);
    td_sequence_destroy(seq);
    return rc;
}

void td_sequence_destroy(struct td_sequence *seq)
{
    if (!seq)
        return;
    for (size_t i = 0; i < seq->step_count; i++)
        free(seq->steps[i].sends);
    free(seq->steps);
    json_decref(seq->owned);
    json_decref(seq->doc);
    free(seq);
}
