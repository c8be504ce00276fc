/* admin_params: the checks of the admin operations' parameters, shared by
 * the admin API (admin_api.c) and the CLI (cli_customers.c), so both refuse
 * the same values with the same words. */
#ifndef TD_ADMIN_PARAMS_H
#define TD_ADMIN_PARAMS_H

#include <stdint.h>

/* What a statistics request covers. */
struct td_admin_stats_range {
    const char *by;        /* channel, sequence, step or day */
    char from[40], to[40]; /* RFC 3339, UTC */
};

/* A refused parameter: its name and what it must be. */
struct td_admin_bad {
    const char *field;
    const char *problem;
};

/* Checks by/from/to (each may be NULL: by channel, the 30 days before to,
 * to now_ms) into *out. Returns 0, or -EINVAL with *bad. */
int td_admin_stats_range(const char *by, const char *from, const char *to, int64_t now_ms,
                         struct td_admin_stats_range *out, struct td_admin_bad *bad);

#endif
