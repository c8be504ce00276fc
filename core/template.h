/* template: a message template document (admin-edited JSON), checked.
 *
 *   { "key": "demo_reminder", "channel": "email",
 *     "subject": "Morgen geht's los, {{firstName}}!",
 *     "text": "...", "html": "<p>...</p>" }
 *   { "key": "demo_reminder_sms", "channel": "sms", "text": "..." }
 */
#ifndef TD_TEMPLATE_H
#define TD_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

struct td_template {
    json_t *doc; /* owned; the strings below are borrowed from it */
    const char *key;
    const char *channel;
    const char *subject; /* email */
    const char *text;
    const char *html; /* email, optional */
};

/* Parses and checks a template (takes a reference to doc): the fields its
 * channel needs and that every text is a well-formed template. Returns 0 and
 * *out (caller destroys), -EINVAL with the bad field's path in err, or
 * -ENOMEM. */
int td_template_parse(json_t *doc, struct td_template **out, char *err, size_t errcap);

/* Frees a template; NULL is a no-op. */
void td_template_destroy(struct td_template *t);

#endif
