/* cli: the `tidings` command line. Each command lives in cli_<name>.c. */
#ifndef TD_CLI_H
#define TD_CLI_H

#include "config/config.h"

/* Exit codes scripts can rely on. */
enum td_exit {
    TD_EXIT_OK = 0,
    TD_EXIT_FAILURE = 1, /* the command ran and found problems or failed */
    TD_EXIT_USAGE = 2,   /* bad arguments, or the configuration file is missing */
};

/* Loads and checks the configuration at path. Prints every problem (one line
 * each) to stderr. Returns TD_EXIT_OK with *out set (caller destroys), or the
 * exit code to leave with. */
int td_cli_load_conf(const char *path, struct td_conf **out);

/* As td_cli_load_conf, but an organization's problems do not refuse the
 * configuration (they are printed; the engine disables that organization):
 * only problems of tidings.ini itself, or every organization having some. */
int td_cli_load_conf_per_org(const char *path, struct td_conf **out);

int td_cli_run(const char *config_path, int argc, char **argv);
int td_cli_migrate(const char *config_path, int argc, char **argv);
int td_cli_check(const char *config_path, int argc, char **argv);
int td_cli_sequences(const char *config_path, int argc, char **argv);
int td_cli_messages(const char *config_path, int argc, char **argv);
int td_cli_channels(const char *config_path, int argc, char **argv);
int td_cli_suppressions(const char *config_path, int argc, char **argv);
int td_cli_bookings(const char *config_path, int argc, char **argv);
int td_cli_customers(const char *config_path, int argc, char **argv);
int td_cli_stats(const char *config_path, int argc, char **argv);

/* True when argv holds -h or --help. */
int td_cli_wants_help(int argc, char **argv);

#endif
