/* template: a message template document (admin-edited JSON), checked.
 *
 *   { "key": "demo_reminder", "channel": "email",
 *     "subject": "Morgen geht's los, {{firstName}}!",
 *     "text": "...", "html": "<p>...</p>" }
 *   { "key": "demo_reminder_sms", "channel": "sms", "text": "..." }
 *   { "key": "haff_reminder", "channel": "whatsapp",
 *     "whatsapp": { "name": "haff_reminder", "language": "de",
 *                   "params": ["{{firstName}}", "{{daysUntil}}", "{{eventName}}"] },
 *     "text": "optional free text, used only inside the 24-hour window" }
 *
 * Every variable must be one the engine provides (render_context.h) or a
 * dotted path into booking., customer. or data.; a template using anything
 * else is refused when it is saved. Inside a section over booking data
 * ({{#data.items}}...{{/data.items}}) the item's own fields are allowed.
 */
#ifndef TD_TEMPLATE_H
#define TD_TEMPLATE_H

#include "util/diag.h"

#include <jansson.h>
#include <stddef.h>

struct td_template {
    json_t *doc; /* owned; the strings below are borrowed from it */
    const char *key;
    const char *channel;
    const char *subject; /* email */
    const char *text;
    const char *html;        /* email, optional */
    const char *wa_name;     /* whatsapp: the approved template's name */
    const char *wa_language; /* whatsapp: its language ("de") */
    json_t *wa_params;       /* whatsapp: array of template strings, one per {{n}} */
};

/* Parses and checks a template (takes a reference to doc): the fields its
 * channel needs and that every text is a well-formed template. Adds every
 * problem to diag, each at its path under root ("templates[0]", or ""). Returns
 * 0 and *out (caller destroys) when there is none, -EINVAL when diag got
 * problems, or -ENOMEM. */
int td_template_parse_all(json_t *doc, const char *root, struct td_template **out,
                          struct td_diag *diag);

/* Like td_template_parse_all with root "", but keeps only the first problem,
 * in err ("text: unclosed tag ..."). */
int td_template_parse(json_t *doc, struct td_template **out, char *err, size_t errcap);

/* Renders t's texts against a sample booking (the template's "sample", else
 * a built-in one) into *out: {"subject", "text", "html", "params"}. For
 * previews and the SMS segment warning at save time. Returns 0 or -EINVAL. */
int td_template_sample(const struct td_template *t, json_t **out, char *err, size_t errcap);

/* Frees a template; NULL is a no-op. */
void td_template_destroy(struct td_template *t);

#endif
