/* path: small file-system path helpers. */
#include "util/path.h"

#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

char *td_path_join(const char *base_dir, const char *path)
{
    if (path[0] == '/' || !base_dir || !*base_dir)
        return strdup(path);
    struct td_buf b = {0};
    td_buf_puts(&b, base_dir);
    if (b.len && b.data[b.len - 1] != '/')
        td_buf_puts(&b, "/");
    td_buf_puts(&b, path);
    return td_buf_take(&b);
}

char *td_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

char *td_path_stem(const char *path, const char *ext)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t len = strlen(name);
    size_t elen = ext ? strlen(ext) : 0;
    if (elen && len > elen && strcmp(name + len - elen, ext) == 0)
        len -= elen;
    return strndup(name, len);
}
