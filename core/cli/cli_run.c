/* cli_run: `tidings run`. */
#include "cli/cli.h"
#include "engine.h"

#include <stdio.h>

static const char run_usage[] =
    "usage: tidings [-c FILE] run\n"
    "\n"
    "Runs the engine: loads the plugins every conf.d/<org>.ini enables, serves HTTP\n"
    "(triggers, /healthz), and dispatches due messages. The database schema must be\n"
    "current (tidings migrate). SIGTERM or SIGINT stop it: in-flight HTTP requests and\n"
    "the batch in hand are finished, claimed messages not yet sent are released.\n"
    "An organization whose configuration has a problem is disabled (logged, in /metrics\n"
    "as tidings_org_disabled, its webhooks answered 503) and the others run; a problem\n"
    "in tidings.ini, or in every organization, stops the start. SIGHUP reloads the\n"
    "configuration: a reload with any problem is refused whole.\n";

int td_cli_run(const char *config_path, int argc, char **argv)
{
    if (td_cli_wants_help(argc, argv)) {
        fputs(run_usage, stdout);
        return TD_EXIT_OK;
    }
    if (argc > 0) {
        fprintf(stderr, "tidings run: unexpected argument '%s'\n", argv[0]);
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    int rc = td_cli_load_conf_per_org(config_path, &conf);
    if (rc != TD_EXIT_OK)
        return rc;
    rc = td_engine_run(conf);
    td_conf_destroy(conf);
    return rc;
}
