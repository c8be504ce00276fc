/* cli_common: configuration loading shared by the commands. */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int cli_load(const char *path, struct td_conf **out, bool per_org)
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
    size_t bad_orgs = 0;
    for (size_t o = 0; *out && o < (*out)->org_count; o++)
        bad_orgs += (*out)->orgs[o].problems > 0;
    if (per_org && diag.count && !(*out)->engine_problems && bad_orgs < (*out)->org_count) {
        td_diag_print(&diag, stderr, "");
        fprintf(stderr,
                "tidings: %zu problem%s in the configuration of %zu organization%s: %s "
                "disabled, the others run\n",
                diag.count, diag.count == 1 ? "" : "s", bad_orgs, bad_orgs == 1 ? "" : "s",
                bad_orgs == 1 ? "it is" : "they are");
        td_diag_clear(&diag);
        return TD_EXIT_OK;
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

int td_cli_load_conf(const char *path, struct td_conf **out)
{
    return cli_load(path, out, false);
}

int td_cli_load_conf_per_org(const char *path, struct td_conf **out)
{
    return cli_load(path, out, true);
}

int td_cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}
