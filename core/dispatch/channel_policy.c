/* channel_policy: the keys of a [channel.x] section that the core owns. */
#include "dispatch/channel_policy.h"

#include "config/config_value.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const td_core_owned_keys[] = {
    "plugin",      "max_attempts", "backoff",      "backoff_max",     "rate",
    "concurrency", "account",      "unknown_wait", "unknown_outcome", NULL};

int td_channel_policy_parse(const char *path, struct td_ini_section *section,
                            struct td_channel_policy *policy, struct td_diag *diag)
{
    memset(policy, 0, sizeof(*policy));
    policy->max_attempts = 5;
    policy->backoff_ms = 30000;
    policy->backoff_max_ms = 3600000;
    policy->concurrency = 8;
    policy->unknown_wait_ms = 30000;
    int bad = 0;
    struct td_ini_entry *e;
    long n;
    if ((e = td_ini_entry_take(section, "max_attempts"))) {
        if (td_parse_long(e->value, 1, 100, &n) < 0) {
            td_diag_add(diag, "%s:%d: [%s] max_attempts: '%s' is not a whole number from 1 to 100",
                        path, e->line, section->name, e->value);
            bad++;
        } else {
            policy->max_attempts = (int)n;
        }
    }
    if ((e = td_ini_entry_take(section, "backoff"))) {
        if (td_parse_duration_ms(e->value, &policy->backoff_ms) < 0 || policy->backoff_ms < 100) {
            td_diag_add(diag,
                        "%s:%d: [%s] backoff: '%s' is not a duration like 30s (100ms at least)",
                        path, e->line, section->name, e->value);
            bad++;
        }
    }
    if ((e = td_ini_entry_take(section, "backoff_max"))) {
        if (td_parse_duration_ms(e->value, &policy->backoff_max_ms) < 0 ||
            policy->backoff_max_ms < policy->backoff_ms) {
            td_diag_add(diag, "%s:%d: [%s] backoff_max: '%s' is not a duration of at least backoff",
                        path, e->line, section->name, e->value);
            bad++;
        }
    }
    if ((e = td_ini_entry_take(section, "rate"))) {
        if (td_parse_rate(e->value, &policy->rate_per_s) < 0) {
            td_diag_add(diag, "%s:%d: [%s] rate: '%s' is not a rate like 10/s, 600/m or 3600/h",
                        path, e->line, section->name, e->value);
            bad++;
        }
    }
    if ((e = td_ini_entry_take(section, "concurrency"))) {
        if (td_parse_long(e->value, 1, 1024, &n) < 0) {
            td_diag_add(diag, "%s:%d: [%s] concurrency: '%s' is not a whole number from 1 to 1024",
                        path, e->line, section->name, e->value);
            bad++;
        } else {
            policy->concurrency = (int)n;
        }
    }
    if ((e = td_ini_entry_take(section, "account"))) {
        char *id = NULL;
        char err[200];
        if (td_value_normalize(TD_VALUE_ID, e->value, NULL, 0, 0, &id, err, sizeof(err)) < 0) {
            td_diag_add(diag, "%s:%d: [%s] account: %s", path, e->line, section->name, err);
            bad++;
        }
        policy->account = id;
    }
    if ((e = td_ini_entry_take(section, "unknown_wait"))) {
        if (td_parse_duration_ms(e->value, &policy->unknown_wait_ms) < 0) {
            td_diag_add(diag, "%s:%d: [%s] unknown_wait: '%s' is not a duration like 30s", path,
                        e->line, section->name, e->value);
            bad++;
        }
    }
    if ((e = td_ini_entry_take(section, "unknown_outcome"))) {
        if (strcmp(e->value, "hold") == 0) {
            policy->unknown_hold = true;
        } else if (strcmp(e->value, "resend") != 0) {
            td_diag_add(diag, "%s:%d: [%s] unknown_outcome: '%s' is not resend or hold", path,
                        e->line, section->name, e->value);
            bad++;
        }
    }
    return bad ? -EINVAL : 0;
}

void td_channel_policy_clear(struct td_channel_policy *policy)
{
    free(policy->account);
    policy->account = NULL;
}

long td_channel_policy_backoff(const struct td_channel_policy *policy, int attempts, unsigned *seed)
{
    int shift = attempts > 1 ? attempts - 1 : 0;
    if (shift > 30)
        shift = 30;
    long ceiling = policy->backoff_ms;
    for (int i = 0; i < shift && ceiling < policy->backoff_max_ms; i++)
        ceiling *= 2;
    if (ceiling > policy->backoff_max_ms)
        ceiling = policy->backoff_max_ms;
    return ceiling / 2 + (long)(rand_r(seed) % (unsigned)(ceiling / 2 + 1));
}
