/* main: `tidings` argument handling and command dispatch. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: tidings [-c FILE] COMMAND [ARGS]\n"
    "\n"
    "Tidings sends the right message at the right moment of a customer's booking.\n"
    "\n"
    "commands:\n"
    "  run                    run the engine (HTTP triggers, dispatcher) until SIGTERM\n"
    "  migrate                create or upgrade the database schema\n"
    "  check [--connections | --callbacks]\n"
    "                         validate tidings.ini, every conf.d/<org>.ini and the plugins;\n"
    "                         --connections also asks each provider if its key works,\n"
    "                         --callbacks prints each channel's callback URL\n"

    "  sequences import|export|validate\n"
    "                         move sequences and templates between files and the database\n"
    "  bookings import FILE   import existing bookings (JSON lines or CSV), idempotently\n"
    "  messages list|retry|cancel\n"

    "                         see the queue; retry or cancel messages (recorded: who, why)\n"
    "  customers show ADDRESS every message to one customer, across bookings\n"
    "  stats                  counts, delivery rates and lateness next to the targets\n"
    "  channels list|resume   see connections and suspended channels; resume one\n"
    "  suppressions list|add|remove\n"
    "                         addresses that get nothing more on a channel\n"

    "\n"
    "options:\n"
    "  -c, --config FILE      the engine configuration (default: $TIDINGS_CONFIG, else\n"
    "                         ./tidings.ini)\n"
    "  -h, --help             this help; `tidings COMMAND --help` explains a command\n"
    "\n"
    "exit codes: 0 ok, 1 problems found or the command failed, 2 usage error or missing\n"
    "configuration file.\n";

int main(int argc, char **argv)
{
    const char *config = getenv("TIDINGS_CONFIG");
    if (!config || !*config)
        config = "tidings.ini";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tidings: %s needs a file name\n", argv[i]);
                return TD_EXIT_USAGE;
            }
            config = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return TD_EXIT_OK;
        } else {
            fprintf(stderr, "tidings: unknown option %s (try tidings --help)\n", argv[i]);
            return TD_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return TD_EXIT_USAGE;
    }
    const char *cmd = argv[i];
    int cargc = argc - i - 1;
    char **cargv = argv + i + 1;
    if (strcmp(cmd, "run") == 0)
        return td_cli_run(config, cargc, cargv);
    if (strcmp(cmd, "migrate") == 0)
        return td_cli_migrate(config, cargc, cargv);
    if (strcmp(cmd, "check") == 0)
        return td_cli_check(config, cargc, cargv);
    if (strcmp(cmd, "sequences") == 0)
        return td_cli_sequences(config, cargc, cargv);
    if (strcmp(cmd, "messages") == 0)
        return td_cli_messages(config, cargc, cargv);
    if (strcmp(cmd, "channels") == 0)
        return td_cli_channels(config, cargc, cargv);
    if (strcmp(cmd, "suppressions") == 0)
        return td_cli_suppressions(config, cargc, cargv);
    if (strcmp(cmd, "bookings") == 0)
        return td_cli_bookings(config, cargc, cargv);
    if (strcmp(cmd, "customers") == 0)
        return td_cli_customers(config, cargc, cargv);
    if (strcmp(cmd, "stats") == 0)
        return td_cli_stats(config, cargc, cargv);
    if (strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return TD_EXIT_OK;
    }
    fprintf(stderr, "tidings: unknown command '%s' (try tidings --help)\n", cmd);
    return TD_EXIT_USAGE;
}
