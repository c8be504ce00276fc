/* objects_file: a file of sequences and templates, as `tidings sequences`
 * imports, exports and validates it:
 *   { "sequences": [ {...}, ... ], "templates": [ {...}, ... ] } */
#ifndef TD_OBJECTS_FILE_H
#define TD_OBJECTS_FILE_H

#include "diag.h"

#include <jansson.h>

/* Reads and checks path: every sequence and template parses, keys are unique,
 * every template a step (or a fallback) sends exists (in the file or in
 * known_templates, an array of template bodies that may be NULL) and is for
 * that channel. Problems go to diag as "path: sequences[0].steps[1].at.offset:
 * ..."; warnings (an SMS template longer than one segment) go to warnings.
 * Returns the document (caller decrefs) or NULL when it cannot be read. */
json_t *td_objects_file_load(const char *path, json_t *known_templates, struct td_diag *diag,
                             struct td_diag *warnings);

#endif
