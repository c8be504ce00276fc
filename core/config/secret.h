/* secret: resolves env:NAME and file:PATH references to their value. */
#ifndef TD_SECRET_H
#define TD_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* True when value is an env: or file: reference. */
bool td_secret_is_reference(const char *value);

/* Resolves ref. "env:NAME" reads the environment; "file:PATH" reads the file
 * (relative paths against base_dir) and drops one trailing newline. Returns 0
 * and a new string in *out (caller frees), or a negative errno with a reason
 * in err that never contains the secret. */
int td_secret_resolve(const char *ref, const char *base_dir, char **out, char *err, size_t errcap);

#endif
