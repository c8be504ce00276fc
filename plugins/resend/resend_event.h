/*
 * resend_event: a Resend webhook body (once its Svix signature is checked)
 * parsed into the report the engine applies. Compiled into the resend
 * plugin, whose symbols are hidden, and into its fuzz target; nothing here
 * is exported from the .so.
 */
#ifndef TIDINGS_RESEND_EVENT_H
#define TIDINGS_RESEND_EVENT_H

#include "tidings/plugin.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One parsed webhook. The report's strings borrow from root and detail. */
struct resend_event {
    json_t *root;
    bool reported; /* an event the engine acts on; false for sent, opened, clicked, ... */
    struct td_report report;
    char detail[256];
};

/* Parses body (len bytes) into out: for email.delivered, .delivery_delayed,
 * .complained, .bounced (a "Permanent" bounce is permanent) and .failed a
 * report carrying Resend's email_id, our tag tidings_message, the first
 * recipient and a detail. event_id and at_ms are left for the caller (the
 * Svix headers have them). Returns 0 (also for events of other types, with
 * out->reported false), or -EINVAL when body is not JSON. Free with
 * resend_event_clear(), also after a failure. */
int resend_event_parse(const char *body, size_t len, struct resend_event *out);

/* Frees what ev holds; a cleared or zeroed event is a no-op. */
void resend_event_clear(struct resend_event *ev);

#endif /* TIDINGS_RESEND_EVENT_H */
