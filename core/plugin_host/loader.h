/* loader: finds plugin .so files on the plugin path, dlopens them and checks
 * their descriptors. Refusals are one line naming the file and the reason. */
#ifndef TD_LOADER_H
#define TD_LOADER_H

#include "util/diag.h"
#include "tidings/plugin.h"

#include <stdbool.h>
#include <stddef.h>

struct td_loader;

struct td_loaded_plugin {
    char *name;
    char *path;
    void *handle; /* from dlopen */
    const struct td_plugin *desc;
};

/* Creates a loader for a colon-separated list of folders. Returns NULL on no
 * memory. Destroy with td_loader_destroy, which dlcloses every plugin. */
struct td_loader *td_loader_create(const char *plugin_path);
void td_loader_destroy(struct td_loader *loader);

/* Unloads a plugin opened with td_loader_open_file and empties *p. */
void td_loaded_plugin_clear(struct td_loaded_plugin *p);

/* Returns the plugin called name, loading it on first use. Returns NULL and
 * adds one line to diag when it is not found or is refused. Borrowed from the
 * loader. */
const struct td_loaded_plugin *td_loader_get(struct td_loader *loader, const char *name,
                                             struct td_diag *diag);

/* Loads every *.so on the path (for `tidings check`). Returns how many were
 * refused; each refusal is a line in diag. */
int td_loader_scan(struct td_loader *loader, struct td_diag *diag);

/* How many plugins the loader has loaded so far, and the i-th of them
 * (borrowed from the loader; NULL when i is out of range). */
size_t td_loader_count(const struct td_loader *loader);
const struct td_loaded_plugin *td_loader_plugin(const struct td_loader *loader, size_t i);

/* Loads and checks the single file path under plugin name expected_name.
 * Returns 0 and fills *out, or -EINVAL with the reason in diag. Exposed for
 * tests; td_loader_get is the normal way in. */
int td_loader_open_file(const char *path, const char *expected_name, struct td_loaded_plugin *out,
                        struct td_diag *diag);

#endif
