/* render: fills Mustache-style templates from a JSON context.
 *
 * Supported: {{name}} and {{dotted.name}} (HTML-escaped when rendering HTML),
 * {{{name}}} and {{& name}} (never escaped), {{#name}}...{{/name}} sections
 * (once for a true value or object, once per array item, not at all for a
 * false, empty or missing value), {{^name}}...{{/name}} inverted sections,
 * {{.}} (the current item) and {{! comments}}. A missing value renders as "". */
#ifndef TD_RENDER_H
#define TD_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Renders tmpl with ctx. Returns 0 and a new string in *out (caller frees), or
 * -EINVAL with what is wrong in err (an unclosed tag or section), or -ENOMEM. */
int td_render(const char *tmpl, json_t *ctx, bool html, char **out, char *err, size_t errcap);

/* A name a template uses, and the innermost section it is inside of (NULL,
 * 0 at the top level). */
typedef int (*td_render_name_fn)(void *ctx, const char *name, size_t len, const char *section,
                                 size_t section_len);

/* Calls fn for every variable or section name tmpl uses (dotted names whole,
 * names inside sections included). Returns 0, -EINVAL with err for a broken
 * template, or the first non-zero value fn returned. */
int td_render_names(const char *tmpl, td_render_name_fn fn, void *ctx, char *err, size_t errcap);

#endif
