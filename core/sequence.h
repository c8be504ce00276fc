/* sequence: a sequence document (admin-edited JSON) parsed into steps.
 *
 *   { "key": "demo-welcome", "name": "...", "status": "active",
 *     "trigger": { "on": "booking.confirmed", "subtypes": ["class_enrollment"] },
 *     "exit": { "on": ["booking.cancelled"] },
 *     "steps": [ { "id": "1d", "at": { "from": "start", "offset": "-1d", "time": "18:00" },
 *                  "min_lead": "2d",
 *                  "send": [ { "channel": "email", "template": "demo_reminder" } ] } ] }
 */
#ifndef TD_SEQUENCE_H
#define TD_SEQUENCE_H

#include <jansson.h>
#include <stddef.h>

enum td_anchor {
    TD_ANCHOR_START = 0,   /* the booking's start */
    TD_ANCHOR_END = 1,     /* the booking's end (its start when it has none) */
    TD_ANCHOR_TRIGGER = 2, /* the moment the triggering event arrived */
};

struct td_send {
    const char *channel;
    const char *template_key;
};

struct td_step {
    const char *id;
    enum td_anchor anchor;
    int offset_days;       /* calendar days in the booking's time zone */
    int offset_minutes;    /* absolute minutes */
    int local_minute;      /* minute of the local day (09:00 = 540), or -1 */
    long min_lead_minutes; /* skip when booked later than this before the moment; -1 */
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
    struct td_step *steps;
    size_t step_count;
};

/* Parses and checks a sequence document (takes a reference to doc). Returns 0
 * and a new sequence in *out (caller destroys), or -EINVAL with the path of
 * the bad field in err ("steps[1].at.offset: ..."), or -ENOMEM. */
int td_sequence_parse(json_t *doc, struct td_sequence **out, char *err, size_t errcap);

/* Frees a sequence; NULL is a no-op. */
void td_sequence_destroy(struct td_sequence *seq);

/* Parses "-7d", "+2h", "30m", "1d12h", "0". Days and minutes are kept apart
 * because a day is a calendar day in local time. Returns 0 or -EINVAL. */
int td_offset_parse(const char *s, int *days, int *minutes);

/* True when the event name (booking.confirmed, ...) is one sequences can use. */
int td_event_name_known(const char *name);

#endif
