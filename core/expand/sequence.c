/* sequence: a sequence document (admin-edited JSON) parsed into steps. */
#include "expand/sequence.h"

#include "expand/condition.h"
#include "config/config_value.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
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

/* Paths of members: "steps[1].at.offset", under a root such as "sequences[0]". */
#define SEQ_PATH_MAX 256

/* Writes base.key (or key alone when base is "") to out; a path too long
 * for out is cut (it names the place in a message, nothing more). */
static void path_join(char *out, size_t cap, const char *base, const char *key)
{
    int n = snprintf(out, cap, "%s%s%s", base, *base ? "." : "", key);
    if (n < 0 || (size_t)n >= cap)
        out[cap - 1] = '\0';
}

/* Writes base.key[index] (or key[index] when base is "") to out, cut like
 * path_join. */
static void path_index(char *out, size_t cap, const char *base, const char *key, size_t index)
{
    int n = snprintf(out, cap, "%s%s%s[%zu]", base, *base ? "." : "", key, index);
    if (n < 0 || (size_t)n >= cap)
        out[cap - 1] = '\0';
}

/* Adds a problem at base.key. */
static void problem(struct td_diag *d, const char *base, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct td_diag *d, const char *base, const char *key, const char *fmt, ...)
{
    char path[SEQ_PATH_MAX];
    path_join(path, sizeof(path), base, key);
    va_list ap;
    va_start(ap, fmt);
    td_diag_vadd_at(d, path, fmt, ap);
    va_end(ap);
}

/* Reads a required or optional string member at path.key. */
static int seq_string(json_t *obj, const char *path, const char *key, bool required,
                      const char **out, struct td_diag *d)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) {
        if (required) {
            problem(d, path, key, "required");
            return -EINVAL;
        }
        return 0;
    }
    if (!json_is_string(v) || !*json_string_value(v)) {
        problem(d, path, key, "must be a non-empty string");
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

/* Reads one {"channel", "template", "requires_consent"} at path. A member
 * that is missing or bad stays NULL in out. */
static int seq_send(json_t *s, const char *path, struct td_send *out, struct td_diag *d)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(s)) {
        td_diag_add_at(d, path, "must be an object");
        return -EINVAL;
    }
    size_t before = d->count;
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v)
    {
        if (strcmp(key, "channel") && strcmp(key, "template") && strcmp(key, "requires_consent") &&
            strcmp(key, "fallback"))
            problem(d, path, key, "unknown (channel, template, requires_consent, fallback)");
    }
    seq_string(s, path, "channel", true, &out->channel, d);
    seq_string(s, path, "template", true, &out->template_key, d);
    json_t *consent = json_object_get(s, "requires_consent");
    if (consent && !json_is_boolean(consent))
        problem(d, path, "requires_consent", "must be true or false");
    out->requires_consent =
        consent        ? json_is_true(consent)
        : out->channel ? strcmp(out->channel, "sms") == 0 || strcmp(out->channel, "whatsapp") == 0
                       : false;
    return d->count > before ? -EINVAL : 0;
}

/* The fallback chain of a send: each a send of its own, each channel once. */
static int seq_fallback(json_t *s, const char *path, struct td_send *send, json_t *keep,
                        struct td_diag *d)
{
    json_t *chain = json_object_get(s, "fallback");
    if (!chain)
        return 0;
    if (!json_is_array(chain) || json_array_size(chain) == 0) {
        problem(d, path, "fallback", "must be a non-empty array");
        return -EINVAL;
    }
    size_t before = d->count;
    json_t *normalized = json_array();
    if (!normalized)
        return -ENOMEM;
    size_t i;
    json_t *f;
    json_array_foreach(chain, i, f)
    {
        char p[SEQ_PATH_MAX];
        path_index(p, sizeof(p), path, "fallback", i);
        struct td_send one;
        if (json_object_get(f, "fallback"))
            problem(d, p, "fallback", "a fallback has no fallback of its own");
        if (seq_send(f, p, &one, d) < 0 || !one.channel)
            continue;
        bool seen = send->channel && strcmp(one.channel, send->channel) == 0;
        for (size_t j = 0; j < json_array_size(normalized); j++) {
            const char *c =
                json_string_value(json_object_get(json_array_get(normalized, j), "channel"));
            seen = seen || strcmp(c, one.channel) == 0;
        }
        if (seen) {
            problem(d, p, "channel", "'%s' is already in this chain", one.channel);
            continue;
        }
        json_array_append_new(normalized, json_pack("{s:s, s:s, s:b}", "channel", one.channel,
                                                    "template", one.template_key,
                                                    "requires_consent", one.requires_consent));
    }
    if (d->count > before) {
        json_decref(normalized);
        return -EINVAL;
    }
    /* the sequence keeps it; the send borrows it like every other member */
    json_array_append_new(keep, normalized);
    send->fallback = normalized;
    return 0;
}

static int seq_sends(json_t *arr, const char *path, struct td_step *step, json_t *keep,
                     struct td_diag *d)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        problem(d, path, "send", "must be a non-empty array");
        return -EINVAL;
    }
    step->sends = calloc(json_array_size(arr), sizeof(*step->sends));
    if (!step->sends)
        return -ENOMEM;
    step->send_count = json_array_size(arr);
    size_t before = d->count;
    for (size_t i = 0; i < step->send_count; i++) {
        char p[SEQ_PATH_MAX];
        path_index(p, sizeof(p), path, "send", i);
        json_t *s = json_array_get(arr, i);
        struct td_send *send = &step->sends[i];
        seq_send(s, p, send, d);
        if (seq_fallback(s, p, send, keep, d) == -ENOMEM)
            return -ENOMEM;
        for (size_t j = 0; send->channel && j < i; j++) {
            if (step->sends[j].channel && strcmp(step->sends[j].channel, send->channel) == 0) {
                problem(d, p, "channel", "'%s' is used twice in this step", send->channel);
                break;
            }
        }
    }
    return d->count > before ? -EINVAL : 0;
}

static const char *const weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int td_window_check_all(json_t *window, const char *path, struct td_diag *d)
{
    if (!json_is_object(window)) {
        td_diag_add_at(d, path,
                       "must be an object like {\"from\": \"08:00\", \"to\": "
                       "\"20:00\"}");
        return -EINVAL;
    }
    size_t before = d->count;
    int from = 0, to = 24 * 60;
    bool bad_time = false;
    const char *key;
    json_t *v;
    json_object_foreach(window, key, v)
    {
        if (strcmp(key, "from") == 0 || strcmp(key, "to") == 0) {
            int *target = key[0] == 'f' ? &from : &to;
            if (!json_is_string(v) || seq_local_time(json_string_value(v), target) < 0) {
                problem(d, path, key, "must be a local time like 08:00");
                bad_time = true;
            }
        } else if (strcmp(key, "days") == 0) {
            size_t i;
            json_t *day;
            if (!json_is_array(v) || json_array_size(v) == 0) {
                problem(d, path, "days", "must be a non-empty array like [\"mon\", \"tue\"]");
                continue;
            }
            json_array_foreach(v, i, day)
            {
                bool known = false;
                for (size_t k = 0; k < 7; k++)
                    known = known || (json_is_string(day) &&
                                      strcmp(json_string_value(day), weekdays[k]) == 0);
                if (!known) {
                    char p[SEQ_PATH_MAX];
                    path_index(p, sizeof(p), path, "days", i);
                    td_diag_add_at(d, p, "must be one of mon, tue, wed, thu, fri, sat, sun");
                }
            }
        } else {
            problem(d, path, key, "unknown (from, to, days)");
        }
    }
    if (!bad_time && from >= to)
        td_diag_add_at(d, path, "'from' must be before 'to'");
    return d->count > before ? -EINVAL : 0;
}

/* The step's at: anchor, offset and local time. */
static void seq_at(json_t *s, const char *path, struct td_step *step, bool *anchored,
                   struct td_diag *d)
{
    json_t *at = json_object_get(s, "at");
    if (!json_is_object(at)) {
        problem(d, path, "at",
                "required, an object like {\"from\": \"start\", \"offset\": "
                "\"-1d\"}");
        return;
    }
    char atpath[SEQ_PATH_MAX];
    path_join(atpath, sizeof(atpath), path, "at");
    const char *from, *offset, *time;
    seq_string(at, atpath, "from", true, &from, d);
    seq_string(at, atpath, "offset", false, &offset, d);
    seq_string(at, atpath, "time", false, &time, d);
    if (!from) {
        /* missing or bad: reported above */
    } else if (strcmp(from, "start") == 0) {
        step->anchor = TD_ANCHOR_START;
        *anchored = true;
    } else if (strcmp(from, "end") == 0) {
        step->anchor = TD_ANCHOR_END;
        *anchored = true;
    } else if (strcmp(from, "trigger") == 0) {
        step->anchor = TD_ANCHOR_TRIGGER;
        *anchored = true;
    } else {
        problem(d, atpath, "from", "'%s' is not start, end or trigger", from);
    }
    if (offset && td_offset_parse(offset, &step->offset_days, &step->offset_minutes) < 0)
        problem(d, atpath, "offset", "'%s' is not an offset like -7d, 2h, 30m or 1d12h", offset);
    if (time && seq_local_time(time, &step->local_minute) < 0)
        problem(d, atpath, "time", "'%s' is not a local time like 09:00", time);
}

static int seq_step(json_t *s, size_t index, struct td_sequence *seq, const char *root,
                    struct td_diag *d)
{
    char path[SEQ_PATH_MAX], sub[SEQ_PATH_MAX];
    path_index(path, sizeof(path), root, "steps", index);
    struct td_step *step = &seq->steps[index];
    step->local_minute = -1;
    step->min_lead_minutes = -1;
    if (!json_is_object(s)) {
        td_diag_add_at(d, path, "must be an object");
        return -EINVAL;
    }
    size_t before = d->count;
    if (seq_string(s, path, "id", true, &step->id, d) == 0) {
        for (size_t j = 0; j < index; j++) {
            if (seq->steps[j].id && strcmp(seq->steps[j].id, step->id) == 0) {
                problem(d, path, "id", "'%s' is used by steps[%zu] too", step->id, j);
                break;
            }
        }
    }
    bool anchored = false;
    seq_at(s, path, step, &anchored, d);
    const char *lead;
    seq_string(s, path, "min_lead", false, &lead, d);
    json_t *window = json_object_get(s, "window");
    path_join(sub, sizeof(sub), path, "window");
    if (window)
        td_window_check_all(window, sub, d);
    step->window = window ? window : seq->window;
    step->when = json_object_get(s, "when");
    path_join(sub, sizeof(sub), path, "when");
    if (step->when)
        td_condition_check_all(step->when, sub, d);
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v)
    {
        static const char *const known[] = {"id", "at", "min_lead", "window", "when", "send"};
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || strcmp(key, known[k]) == 0;
        if (!ok)
            problem(d, path, key, "unknown (id, at, min_lead, window, when, send)");
    }
    if (lead) {
        int days, minutes;
        if (td_offset_parse(lead, &days, &minutes) < 0 || days < 0 || minutes < 0) {
            problem(d, path, "min_lead", "'%s' is not a duration like 7d or 12h", lead);
        } else {
            step->min_lead_minutes = (long)days * 1440 + minutes;
            /* the anchor is the trigger itself: the lead is always zero */
            if (anchored && step->anchor == TD_ANCHOR_TRIGGER)
                problem(d, path, "min_lead",
                        "a step timed from the trigger is always booked zero time ahead of it, "
                        "so a min_lead could never hold; time the step from start or end, or "
                        "drop min_lead");
        }
    }
    if (seq_sends(json_object_get(s, "send"), path, step, seq->owned, d) == -ENOMEM)
        return -ENOMEM;
    return d->count > before ? -EINVAL : 0;
}

static int seq_event_list(json_t *obj, const char *path, const char *key, bool events, json_t **out,
                          struct td_diag *d)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v)) {
        problem(d, path, key, "must be an array");
        return -EINVAL;
    }
    size_t before = d->count;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char p[SEQ_PATH_MAX];
        path_index(p, sizeof(p), path, key, i);
        if (!json_is_string(e))
            td_diag_add_at(d, p, "must be a string");
        else if (events && !td_event_name_known(json_string_value(e)))
            td_diag_add_at(d, p, "'%s' is not a booking event", json_string_value(e));
    }
    *out = v;
    return d->count > before ? -EINVAL : 0;
}

/* The sequence's own members, before its steps. */
static void seq_head(json_t *doc, struct td_sequence *seq, const char *root, struct td_diag *d)
{
    char path[SEQ_PATH_MAX];
    char *checked = NULL;
    char why[160];
    if (seq_string(doc, root, "key", true, &seq->key, d) == 0 &&
        td_value_normalize(TD_VALUE_ID, seq->key, NULL, 0, 0, &checked, why, sizeof(why)) < 0)
        problem(d, root, "key", "%s", why);
    free(checked);
    seq_string(doc, root, "name", true, &seq->name, d);
    if (seq_string(doc, root, "status", true, &seq->status, d) == 0 &&
        strcmp(seq->status, "active") != 0 && strcmp(seq->status, "paused") != 0 &&
        strcmp(seq->status, "archived") != 0 && strcmp(seq->status, "draft") != 0)
        problem(d, root, "status", "'%s' is not active, paused, archived or draft", seq->status);
    json_t *trigger = json_object_get(doc, "trigger");
    path_join(path, sizeof(path), root, "trigger");
    if (!json_is_object(trigger)) {
        td_diag_add_at(d, path, "required, an object like {\"on\": \"booking.confirmed\"}");
    } else {
        if (seq_string(trigger, path, "on", true, &seq->trigger_on, d) == 0 &&
            !td_event_name_known(seq->trigger_on))
            problem(d, path, "on",
                    "'%s' is not a booking event (booking.created, booking.confirmed, ...)",
                    seq->trigger_on);
        seq_event_list(trigger, path, "subtypes", false, &seq->subtypes, d);
    }
    json_t *exit = json_object_get(doc, "exit");
    path_join(path, sizeof(path), root, "exit");
    if (exit && !json_is_object(exit))
        td_diag_add_at(d, path, "must be an object like {\"on\": [\"booking.cancelled\"]}");
    else if (exit)
        seq_event_list(exit, path, "on", true, &seq->exit_on, d);
    seq->window = json_object_get(doc, "window");
    path_join(path, sizeof(path), root, "window");
    if (seq->window)
        td_window_check_all(seq->window, path, d);
    seq->when = json_object_get(doc, "when");
    path_join(path, sizeof(path), root, "when");
    if (seq->when)
        td_condition_check_all(seq->when, path, d);
    const char *member;
    json_t *mv;
    json_object_foreach(doc, member, mv)
    {
        static const char *const known[] = {"key",  "name",   "status", "trigger",    "exit",
                                            "when", "window", "steps",  "description"};
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || strcmp(member, known[k]) == 0;
        if (!ok)
            problem(d, root, member,
                    "unknown member (key, name, description, status, trigger, exit, when, "
                    "window, steps)");
    }
}

int td_sequence_parse_all(json_t *doc, const char *root, struct td_sequence **out,
                          struct td_diag *diag)
{
    *out = NULL;
    if (!json_is_object(doc)) {
        td_diag_add_at(diag, *root ? root : "(sequence)", "must be a JSON object");
        return -EINVAL;
    }
    struct td_sequence *seq = calloc(1, sizeof(*seq));
    if (!seq)
        return -ENOMEM;
    seq->doc = json_incref(doc);
    seq->owned = json_array();
    int rc = seq->owned ? 0 : -ENOMEM;
    size_t before = diag->count;
    if (rc == 0)
        seq_head(doc, seq, root, diag);
    json_t *steps = json_object_get(doc, "steps");
    size_t count = json_array_size(steps);
    if (rc == 0 && (!json_is_array(steps) || count == 0)) {
        problem(diag, root, "steps", "required, a non-empty array");
    } else if (rc == 0) {
        seq->steps = calloc(count, sizeof(*seq->steps));
        if (seq->steps)
            seq->step_count = count;
        else
            rc = -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < seq->step_count; i++) {
        if (seq_step(json_array_get(steps, i), i, seq, root, diag) == -ENOMEM)
            rc = -ENOMEM;
    }
    if (rc == 0 && diag->count > before)
        rc = -EINVAL;
    if (rc < 0) {
        td_sequence_destroy(seq);
        return rc;
    }
    *out = seq;
    return 0;
}

int td_sequence_parse(json_t *doc, struct td_sequence **out, char *err, size_t errcap)
{
    struct td_diag diag = {0};
    int rc = td_sequence_parse_all(doc, "", out, &diag);
    if (rc < 0 && errcap)
        snprintf(err, errcap, "%s",
                 rc == -EINVAL && diag.count && diag.lines[0] ? diag.lines[0] : "out of memory");
    td_diag_clear(&diag);
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
