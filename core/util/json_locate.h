/* json_locate: the line of a JSON text where the member at a path starts.
 * jansson keeps no positions for values, so problems found in a parsed
 * document are mapped back to the raw text with a tokenizer of its own. */
#ifndef TD_JSON_LOCATE_H
#define TD_JSON_LOCATE_H

#include <stddef.h>

/* Returns the 1-based line of text (len bytes, need not be NUL-terminated)
 * where the value at path starts: for an object member the line of its key,
 * for an array element the line of the element. path is like
 * "sequences[0].steps[1].at.offset"; "" is the whole document. Returns 0 when
 * the path does not exist in text (or the text is not JSON that far). Reads
 * text only and keeps nothing. */
int td_json_locate(const char *text, size_t len, const char *path);

#endif
