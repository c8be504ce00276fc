/* objects_file: a file of sequences and templates, as `tidings sequences`
 * imports, exports and validates it:
 *   { "sequences": [ {...}, ... ], "templates": [ {...}, ... ] } */
#ifndef TD_OBJECTS_FILE_H
#define TD_OBJECTS_FILE_H

#include "config/channel_names.h"
#include "util/diag.h"

#include <jansson.h>
#include <stddef.h>

/* Checks the text (len bytes) of a file called name as a whole and names
 * every problem, not only the first of each document: every sequence and
 * template parses, keys are unique, every template a step (or a fallback)
 * sends exists (in the file or in known_templates, an array of template
 * bodies that may be NULL) and is for that channel, and, with channels (may
 * be NULL: not checked), every channel a send or a template names is served
 * by a plugin and, when channels names an organization, every channel a send
 * names is configured there.
 * Problems go to diag as "name:42: sequences[0].steps[1].at.offset: ...", with
 * the line where that member starts (or "name: ..." when it has no line);
 * warnings (an SMS template longer than one segment) go to warnings (may be
 * NULL). Returns the document (caller decrefs) or NULL when it is not JSON. */
json_t *td_objects_file_check(const char *name, const char *text, size_t len,
                              json_t *known_templates, const struct td_channel_names *channels,
                              struct td_diag *diag, struct td_diag *warnings);

/* Reads the file at path and checks it with td_objects_file_check. Returns
 * the document (caller decrefs) or NULL when it cannot be read or is not
 * JSON (diag says why). */
json_t *td_objects_file_load(const char *path, json_t *known_templates,
                             const struct td_channel_names *channels, struct td_diag *diag,
                             struct td_diag *warnings);

#endif
