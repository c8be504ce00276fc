/* resend_event: a Resend webhook body parsed into a report. */
#include "resend_event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One Resend event (its "type" and "data") as a report; false when it is an
 * event the engine does not act on (sent, opened, clicked, ...). */
static bool event_report(json_t *event, struct td_report *r, char *detail, size_t cap)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *data = json_object_get(event, "data");
    memset(r, 0, sizeof(*r));
    detail[0] = '\0';
    if (!type || !json_is_object(data))
        return false;
    if (strcmp(type, "email.delivered") == 0) {
        r->kind = TD_REPORT_DELIVERED;
    } else if (strcmp(type, "email.delivery_delayed") == 0) {
        r->kind = TD_REPORT_DELAYED;
    } else if (strcmp(type, "email.complained") == 0) {
        r->kind = TD_REPORT_COMPLAINED;
    } else if (strcmp(type, "email.bounced") == 0) {
        json_t *bounce = json_object_get(data, "bounce");
        const char *btype = json_string_value(json_object_get(bounce, "type"));
        const char *message = json_string_value(json_object_get(bounce, "message"));
        r->kind = TD_REPORT_BOUNCED;
        r->permanent = btype && strcmp(btype, "Permanent") == 0;
        snprintf(detail, cap, "%.40s bounce: %.200s", btype ? btype : "unknown",
                 message ? message : "");
    } else if (strcmp(type, "email.failed") == 0) {
        const char *reason =
            json_string_value(json_object_get(json_object_get(data, "failed"), "reason"));
        r->kind = TD_REPORT_FAILED;
        snprintf(detail, cap, "%.200s", reason ? reason : "failed");
    } else {
        return false;
    }
    r->provider_id = json_string_value(json_object_get(data, "email_id"));
    r->message_ref =
        json_string_value(json_object_get(json_object_get(data, "tags"), "tidings_message"));
    r->address = json_string_value(json_array_get(json_object_get(data, "to"), 0));
    r->status = type;
    r->detail = detail[0] ? detail : NULL;
    return true;
}

int resend_event_parse(const char *body, size_t len, struct resend_event *out)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    out->root = body ? json_loadb(body, len, 0, &jerr) : NULL;
    if (!out->root)
        return -EINVAL;
    out->reported = event_report(out->root, &out->report, out->detail, sizeof(out->detail));
    return 0;
}

void resend_event_clear(struct resend_event *ev)
{
    if (!ev)
        return;
    json_decref(ev->root);
    memset(ev, 0, sizeof(*ev));
}
