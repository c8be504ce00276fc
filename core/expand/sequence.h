/* sequence: a sequence document (admin-edited JSON) parsed into steps.
 *
 *   { "key": "demo-welcome", "name": "...", "status": "active",
 *     "trigger": { "on": "booking.confirmed", "subtypes": ["class_enrollment"] },
 *     "exit": { "on": ["booking.cancelled"] },
 *     "window": { "from": "08:00", "to": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"] },
 *     "when": { "field": "data.level", "equals": "beginner" },
 *     "steps": [ { "id": "1d", "at": { "from": "start", "offset": "-1d", "time": "18:00" },
 *                  "min_lead": "2d", "when": { ... }, "window": { ... },
 *                  "send": [ { "channel": "email", "template": "demo_reminder" },
 *                            { "channel": "whatsapp", "template": "wa_reminder",
 *                              "fallback": [ { "channel": "sms", "template": "sms_reminder" } ] }
 *                  ] } ] }
 *
 * "when" (see condition.h) on the sequence applies to every step, on a step to that step;
 * both are checked at expansion and again at send time. A step's "window" replaces the
 * sequence's. A send needs the customer's consent for its channel when "requires_consent"
 * is true (the default for sms and whatsapp); without it, or without an address, or when the
 * provider refuses permanently, the next send of its "fallback" chain is taken.
 */
#ifndef TD_SEQUENCE_H
#define TD_SEQUENCE_H

#include "util/diag.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum td_anchor {
    TD_ANCHOR_START = 0,   /* the booking's start */
    TD_ANCHOR_END = 1,     /* the booking's end (its start when it has none) */
    TD_ANCHOR_TRIGGER = 2, /* the moment the triggering event arrived */
};

struct td_send {
    const char *channel;
    const char *template_key;
    bool requires_consent;
    json_t *fallback; /* array of {"channel", "template", "requires_consent"}, or NULL */
};

struct td_step {
    const char *id;
    enum td_anchor anchor;
    int offset_days;       /* calendar days in the booking's time zone */
    int offset_minutes;    /* absolute minutes */
    int local_minute;      /* minute of the local day (09:00 = 540), or -1 */
    long min_lead_minutes; /* skip when booked later than this before the moment; -1 */
    json_t *window;        /* the step's, else the sequence's; NULL: any time */
    json_t *when;          /* the step's condition, NULL: always */
    struct td_send *sends;
    size_t send_count;
};

struct td_sequence {
    json_t *doc; /* owned; every string below is borrowed from it */
    const char *key;
    const char *name;
    const char *status;     /* active, paused, archived, draft */
    const char *trigger_on; /* "booking.confirmed" */
    json_t *subtypes;       /* array of strings or NULL: any subtype */
    json_t *exit_on;        /* array of event names or NULL */
    json_t *window;         /* NULL: any time */
    json_t *when;           /* NULL: always */
    struct td_step *steps;
    size_t step_count;
    json_t *owned; /* what parsing built (normalized fallback chains) */
};

/* Parses and checks a sequence document (takes a reference to doc) and adds
 * every problem it has to diag, each at its path under root ("sequences[0]",
 * or "" for paths like "steps[1].at.offset"). Returns 0 and a new sequence in
 * *out (caller destroys) when there is none, -EINVAL when diag got problems,
 * or -ENOMEM. */
int td_sequence_parse_all(json_t *doc, const char *root, struct td_sequence **out,
                          struct td_diag *diag);

/* Like td_sequence_parse_all with root "", but keeps only the first problem,
 * in err ("steps[1].at.offset: ..."). */
int td_sequence_parse(json_t *doc, struct td_sequence **out, char *err, size_t errcap);

/* Frees a sequence; NULL is a no-op. */
void td_sequence_destroy(struct td_sequence *seq);

/* Parses "-7d", "+2h", "30m", "1d12h", "0". Days and minutes are kept apart
 * because a day is a calendar day in local time. Returns 0 or -EINVAL. */
int td_offset_parse(const char *s, int *days, int *minutes);

/* Checks a send window {"from": "HH:MM", "to": "HH:MM", "days": [...]} at
 * path and adds every problem to diag. Returns 0 when there is none, else
 * -EINVAL. */
int td_window_check_all(json_t *window, const char *path, struct td_diag *diag);

/* True when the event name (booking.confirmed, ...) is one sequences can use. */
int td_event_name_known(const char *name);

#endif
