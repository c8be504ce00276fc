/* channel_policy: the keys of a [channel.x] section that the core owns, not
 * the plugin: how often to retry, how fast and how many at once.
 *
 *   max_attempts = 5      attempts before a message fails (a 429 uses none)
 *   backoff = 30s         first retry delay; doubles each attempt, with jitter
 *   backoff_max = 1h      the longest retry delay
 *   rate = 10/s           messages per second (also /m, /h); unset: no limit
 *   concurrency = 8       provider requests in flight at once
 *   account = resend-main share the [account.resend-main] rate of tidings.ini with
 *                         every other connection naming it, fairly
 *   unknown_outcome = resend  what to do with a message whose last attempt may have
 *                         reached the provider without an answer coming back: send it
 *                         again (the plugin asks the provider first where it can), or
 *                         hold it for an operator
 *   unknown_wait = 30s    after an unknown outcome, wait at least this long before the
 *                         next attempt: a slow provider may still be taking the request in
 */
#ifndef TD_CHANNEL_POLICY_H
#define TD_CHANNEL_POLICY_H

#include "util/diag.h"
#include "config/inifile.h"

#include <stdbool.h>

struct td_channel_policy {
    int max_attempts;
    long backoff_ms;
    long backoff_max_ms;
    double rate_per_s; /* 0: unlimited */
    int concurrency;
    char *account;        /* NULL: none */
    bool unknown_hold;    /* unknown_outcome = hold */
    long unknown_wait_ms; /* the least delay after an unknown outcome */
};

/* Takes the core keys out of section (marking them used) into policy, with
 * defaults. Problems go to diag naming file, section and line. Returns 0, or
 * -EINVAL when a value was bad. */
/* The keys of an instance section that the core owns ("plugin", and for
 * channels the policy keys above), NULL-terminated: a plugin may not declare
 * a key of the same name (the loader refuses it). */
extern const char *const td_core_owned_keys[];

int td_channel_policy_parse(const char *path, struct td_ini_section *section,
                            struct td_channel_policy *policy, struct td_diag *diag);

/* Frees what the policy holds. */
void td_channel_policy_clear(struct td_channel_policy *policy);

/* The delay before retry number attempts (1 = after the first attempt): full
 * jitter between half and all of min(backoff * 2^(attempts-1), backoff_max). */
long td_channel_policy_backoff(const struct td_channel_policy *policy, int attempts,
                               unsigned *seed);

#endif
