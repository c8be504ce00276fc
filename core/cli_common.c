/* cli_common: configuration loading shared by the commands. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int td_cli_load_conf(const char *path, struct td_conf **out)
{
    struct td_diag diag = {0};
    int rc = td_conf_load(path, out, &diag);
    if (rc == -ENOENT) {
        fprintf(stderr,
                "tidings: configuration file %s not found (use -c FILE or "
                "TIDINGS_CONFIG)\n",
                path);
        td_diag_clear(&diag);
        return TD_EXIT_USAGE;
    }
    if (rc < 0) {
        td_diag_print(&diag, stderr, "tidings: ");
        if (!diag.count)
            fprintf(stderr, "tidings: cannot read %s: %s\n", path, strerror(-rc));
        td_diag_clear(&diag);
        return TD_EXIT_USAGE;
    }
    if (diag.count) {
        td_diag_print(&diag, stderr, "");
        fprintf(stderr, "tidings: %zu problem%s in the configuration\n", diag.count,
                diag.count == 1 ? "" : "s");
        td_diag_clear(&diag);
        td_conf_destroy(*out);
        *out = NULL;
        return TD_EXIT_FAILURE;
    }
    return TD_EXIT_OK;
}
