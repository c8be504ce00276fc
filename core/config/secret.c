/* secret: resolves env:NAME and file:PATH references to their value. */
#include "config/secret.h"

#include "util/buf.h"
#include "util/path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A secret file larger than this is a mistake, not a key. */
#define SECRET_MAX_BYTES 65536

bool td_secret_is_reference(const char *value)
{
    return strncmp(value, "env:", 4) == 0 || strncmp(value, "file:", 5) == 0;
}

static int secret_from_env(const char *name, char **out, char *err, size_t errcap)
{
    if (!*name) {
        snprintf(err, errcap, "env: reference without a variable name");
        return -EINVAL;
    }
    const char *v = getenv(name);
    if (!v) {
        snprintf(err, errcap, "environment variable %s is not set", name);
        return -ENOENT;
    }
    if (!*v) {
        snprintf(err, errcap, "environment variable %s is empty", name);
        return -EINVAL;
    }
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
}

static int secret_from_file(const char *path, const char *base_dir, char **out, char *err,
                            size_t errcap)
{
    char *full = td_path_join(base_dir, path);
    if (!full)
        return -ENOMEM;
    int rc = 0;
    struct td_buf b = {0};
    FILE *f = fopen(full, "r");
    if (!f) {
        rc = -errno;
        snprintf(err, errcap, "cannot read secret file %s: %s", full, strerror(errno));
        goto out_free_path;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > SECRET_MAX_BYTES) {
            snprintf(err, errcap, "secret file %s is larger than %d bytes", full, SECRET_MAX_BYTES);
            rc = -EFBIG;
            goto out_close;
        }
        td_buf_append(&b, chunk, n);
    }
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    if (b.len && b.data[b.len - 1] == '\r')
        b.data[--b.len] = '\0';
    if (b.len == 0) {
        snprintf(err, errcap, "secret file %s is empty", full);
        rc = -EINVAL;
        goto out_close;
    }
    *out = td_buf_take(&b);
    if (!*out)
        rc = -ENOMEM;
out_close:
    fclose(f);
out_free_path:
    td_buf_reset(&b);
    free(full);
    return rc;
}

int td_secret_resolve(const char *ref, const char *base_dir, char **out, char *err, size_t errcap)
{
    *out = NULL;
    if (strncmp(ref, "env:", 4) == 0)
        return secret_from_env(ref + 4, out, err, errcap);
    if (strncmp(ref, "file:", 5) == 0)
        return secret_from_file(ref + 5, base_dir, out, err, errcap);
    snprintf(err, errcap, "not a secret reference (use env:NAME or file:PATH)");
    return -EINVAL;
}
