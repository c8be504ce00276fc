/* verdict: a plugin's verdict on a message becomes the row's next state,
 * by the channel's policy; suspensions of a channel. */
#include "dispatch/prepared.h"

#include "dispatch/deliver.h"
#include "dispatch/inflight.h"
#include "engine_state.h"
#include "intake/address.h"
#include "plugin_host/world.h"
#include "render/render.h"
#include "render/render_context.h"
#include "render/sms.h"
#include "render/unsubscribe.h"
#include "store/store.h"
#include "tidings/json_write.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Ends a row whose provider may already have accepted it, instead of
 * failing it: held for an operator, who can see what happened and retry or
 * cancel it. */
static void hold_unknown(struct td_outcome *o, struct prepared *p, const char *what,
                         const struct td_result *r)
{
    td_prepared_outcome(
        o, p, "held",
        "%s (%s), but an earlier attempt's outcome is unknown and the provider may have "
        "accepted it: held for an operator (tidings messages retry|cancel)",
        what, r->reason[0] ? r->reason : "no reason given");
}

/* Maps a plugin verdict to the row's next state, by the channel's policy. A
 * message that may have been accepted (this attempt's or an earlier one's
 * outcome is unknown) never ends 'failed'. */
void td_verdict_apply(PGconn *conn, struct prepared *p, struct td_outcome *o,
                      const struct td_result *r, int64_t now, struct td_deliver_stats *stats)
{
    struct td_claimed *m = p->row;
    const struct td_channel_policy *policy = &p->channel->cfg->policy;
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)now ^ (unsigned)(uintptr_t)&seed;
    switch (r->status) {
    case TD_OK:
        td_prepared_outcome(o, p, "sent", NULL);
        if (r->provider_id[0]) {
            p->provider_id = strdup(r->provider_id);
            o->provider_id = p->provider_id;
        }
        stats->sent++;
        return;
    case TD_UNKNOWN: {
        o->unknown = true;
        stats->unknown++;
        if (policy->unknown_hold) {
            td_prepared_outcome(
                o, p, "held",
                "attempt %d's outcome is unknown (%s): the provider may have accepted it; "
                "held for an operator (unknown_outcome = hold)",
                m->attempts, r->reason);
            return;
        }
        if (m->attempts >= policy->max_attempts) {
            td_prepared_outcome(o, p, "held",
                                "attempt %d of %d's outcome is unknown (%s): the provider may have "
                                "accepted it; held for an operator",
                                m->attempts, policy->max_attempts, r->reason);
            return;
        }
        long delay = td_channel_policy_backoff(policy, m->attempts, &seed);
        if (delay < policy->unknown_wait_ms)
            delay = policy->unknown_wait_ms; /* a slow provider may still be taking it in */
        if (m->deadline_ms >= 0 && now + delay >= m->deadline_ms) {
            td_prepared_outcome(
                o, p, "expired",
                "attempt %d's outcome is unknown (%s) and its deadline (%s) comes before "
                "the next attempt: not sent again (it may have reached the customer)",
                m->attempts, r->reason, m->deadline_local ? m->deadline_local : "?");
            stats->expired++;
            return;
        }
        td_prepared_outcome(
            o, p, "scheduled",
            "attempt %d's outcome is unknown (%s); the provider is asked before it is "
            "sent again in %.1f s (where it can answer)",
            m->attempts, r->reason, (double)delay / 1000.0);
        o->retry_at_ms = now + delay;
        return;
    }
    case TD_THROTTLED:
    case TD_RETRY: {
        /* being told to slow down is not the message's fault: no attempt used */
        bool throttled = r->status == TD_THROTTLED || r->http_status == 429;
        if (!throttled && m->attempts >= policy->max_attempts) {
            if (m->outcome_unknown) {
                hold_unknown(o, p, "attempts used up", r);
                return;
            }
            td_prepared_outcome(o, p, "failed", "gave up after %d attempts: %s", m->attempts,
                                r->reason);
            stats->failed++;
            return;
        }
        /* "engine decides" is -1, and for plugins built for ABI 1.2 or later
         * also 0, so that a zero-initialised result means no "retry now" */
        bool zero_decides = p->channel->plugin->desc->abi_minor >= 2;
        bool given = r->retry_after_ms > 0 || (r->retry_after_ms == 0 && !zero_decides);
        long delay =
            given ? (long)r->retry_after_ms : td_channel_policy_backoff(policy, m->attempts, &seed);
        if (m->deadline_ms >= 0 && now + delay >= m->deadline_ms) {
            /* waiting longer than its deadline: expire now, saying why */
            td_prepared_outcome(o, p, "expired", "%s (%s) until after its deadline (%s)%s",
                                throttled ? "rate-limited by the provider" : "could not be sent",
                                r->reason, m->deadline_local ? m->deadline_local : "?",
                                m->outcome_unknown ? "; an earlier attempt's outcome is unknown"
                                                   : "");
            o->attempt_delta = throttled ? -1 : 0;
            stats->expired++;
            return;
        }
        td_prepared_outcome(o, p, "scheduled", "attempt %d: %s; retry in %.1f s", m->attempts,
                            r->reason, (double)delay / 1000.0);
        o->retry_at_ms = now + delay;
        o->attempt_delta = throttled ? -1 : 0;
        stats->retried++;
        return;
    }
    case TD_SUSPEND: {
        /* the connection itself is refused, or its quota used up: stop
         * claiming for it, everywhere; a quota has an end */
        bool quota = r->retry_after_ms > 0;
        td_prepared_outcome(o, p, "scheduled", "channel suspended: %s", r->reason);
        /* one with a fallback takes it at once; the others wait for the quota */
        o->retry_at_ms = quota && !m->fallback ? now + r->retry_after_ms : now;
        o->attempt_delta = -1;
        td_deliver_suspend(p->channel, conn, r->reason, quota ? now + r->retry_after_ms : -1);
        stats->released++;
        return;
    }
    case TD_FAIL:
    default:
        if (m->outcome_unknown) {
            hold_unknown(o, p, "refused now", r);
            return;
        }
        td_prepared_give_up(o, p, "failed", r->reason[0] ? r->reason : "refused by the provider");
        stats->failed++;
        return;
    }
}

/* Suspends a channel instance for its organization, in every engine: until
 * the configuration changes or an operator resumes it, or (until_ms >= 0) a
 * quota suspension until then. Logged as an alert the first time. */
void td_deliver_suspend(struct td_instance *channel, PGconn *conn, const char *reason,
                        int64_t until_ms)
{
    if (until_ms >= 0)
        atomic_store(&channel->suspended_quota, true);
    if (atomic_exchange(&channel->suspended, true))
        return;
    char err[256];
    if (until_ms >= 0)
        td_log(TD_LOG_ERROR, channel->org->id, channel->cfg->name,
               "ALERT channel suspended: %s; its messages wait until the quota is back (%.0f min), "
               "those with a fallback take it now",
               reason, (double)(until_ms - td_wall_ms()) / 60000.0);
    else
        td_log(TD_LOG_ERROR, channel->org->id, channel->cfg->name,
               "ALERT channel suspended: %s; its messages wait until the configuration changes "
               "or `tidings channels resume` is run",
               reason);
    if (td_store_channel_suspend(conn, channel->org->id, channel->cfg->name, reason,
                                 channel->fingerprint, until_ms, err, sizeof(err)) < 0)
        td_log(TD_LOG_ERROR, channel->org->id, channel->cfg->name, "suspension not stored: %s",
               err);
}
