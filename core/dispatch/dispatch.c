/* dispatch: the dispatcher: [dispatch] workers threads, each with its own
 * database connections. A worker claims due rows for every connection that
 * has rate to spare (fairly across organizations and channels), sees them
 * through deliver.c and writes the verdicts back fenced by the lease token;
 * then sleeps until the next row is due, a NOTIFY says sooner work arrived,
 * a rate limit refills, or the periodic re-check fires. */
#include "dispatch/dispatch.h"
#include "util/clock.h"

#include "store/db.h"
#include "dispatch/deliver.h"
#include "engine_state.h"
#include "dispatch/inflight.h"
#include "util/log.h"
#include "util/metrics.h"
#include "store/store.h"
#include "render/template_cache.h"
#include "plugin_host/world.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Expired leases are looked for at most this often (by worker 0). */
#define DISPATCH_RECLAIM_EVERY_MS 2000
/* Suspensions and channels without a connection are re-read this often. */
#define DISPATCH_REFRESH_EVERY_MS 3000
/* After a database error, wait this long before trying again. */
#define DISPATCH_ERROR_PAUSE_MS 1000
/* When due rows exist but none could be claimed (another engine holds them). */
#define DISPATCH_BUSY_PAUSE_MS 100

struct worker {
    struct td_dispatcher *d;
    int index;
    pthread_t thread;
    int wake[2]; /* a byte written to wake[1] interrupts a wait */
    PGconn *listen;
    PGconn *work;
    int64_t last_reclaim_ms;
    int64_t last_refresh_ms;
    json_t *orphans;     /* [{"org", "channel"}]: scheduled rows without a connection */
    unsigned generation; /* of the world the refresh was for */
    unsigned rotate;     /* spreads an account's leftover tokens over its members */
};

struct td_dispatcher {
    struct td_engine *engine;
    atomic_bool stopping;
    size_t count;
    struct worker *workers;
};

/* True when a tidings_due payload (the epoch ms of the earliest message the
 * notifying transaction scheduled; empty: now) is due before wall time
 * until_ms, when this worker would look anyway. */
static bool worker_due_before(const char *payload, int64_t until_ms)
{
    char *end = NULL;
    long long due = strtoll(payload, &end, 10);
    if (!*payload || !end || *end)
        return true;
    return due < until_ms;
}

/* Waits up to timeout_ms for a stop request or a NOTIFY of messages due
 * before the wait would end anyway (later ones are found when it ends). */
static void worker_wait(struct worker *w, int64_t timeout_ms)
{
    if (timeout_ms > 3600000)
        timeout_ms = 3600000;
    int64_t deadline = td_mono_ms() + timeout_ms;
    int64_t until_wall = td_wall_ms() + timeout_ms;
    bool woken = false;
    while (!woken && !atomic_load(&w->d->stopping)) {
        int64_t left = deadline - td_mono_ms();
        if (left <= 0)
            break;
        struct pollfd fds[2] = {{.fd = w->wake[0], .events = POLLIN},
                                {.fd = w->listen ? PQsocket(w->listen) : -1, .events = POLLIN}};
        if (poll(fds, 2, (int)left) <= 0)
            break;
        char drain[64];
        while (read(w->wake[0], drain, sizeof(drain)) > 0)
            woken = true;
        if (!w->listen || PQconsumeInput(w->listen) == 0)
            break; /* the caller sees the lost connection */
        PGnotify *n;
        while ((n = PQnotifies(w->listen))) {
            woken = woken || worker_due_before(n->extra, until_wall);
            PQfreemem(n);
        }
    }
}

static void worker_disconnect(struct worker *w)
{
    PQfinish(w->listen);
    PQfinish(w->work);
    w->listen = w->work = NULL;
}

/* Opens both connections and LISTENs. Returns 0 or -EIO (logged). */
static int worker_connect(struct worker *w)
{
    char err[512] = "";
    const char *dsn = w->d->engine->conf->engine.db_dsn;
    w->listen = td_db_connect(dsn, err, sizeof(err));
    if (w->listen)
        w->work = td_db_connect(dsn, err, sizeof(err));
    if (!w->listen || !w->work || td_db_exec(w->listen, "LISTEN tidings_due", err, sizeof(err))) {
        td_log(TD_LOG_ERROR, NULL, "dispatch", "worker %d: database unreachable: %s", w->index,
               err);
        worker_disconnect(w);
        return -EIO;
    }
    w->last_refresh_ms = 0; /* re-read what may have changed while away */
    return 0;
}

/* Re-reads suspended channels and the channels that have scheduled rows but
 * no connection (their rows are claimed to be skipped or fall back), for
 * world (at once when it is new to this worker). */
static void worker_refresh(struct worker *w, struct td_world *world)
{
    int64_t now = td_mono_ms();
    if (now - w->last_refresh_ms < DISPATCH_REFRESH_EVERY_MS && w->generation == world->generation)
        return;
    w->last_refresh_ms = now;
    w->generation = world->generation;
    struct td_engine *e = w->d->engine;
    char err[512];
    json_t *susp = NULL;
    if (td_store_channel_suspensions(w->work, &susp, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < world->instance_count; i++) {
            struct td_instance *in = &world->instances[i];
            if (in->cfg->kind != TD_PLUGIN_CHANNEL)
                continue;
            bool suspended = false, quota = false;
            size_t k;
            json_t *s;
            json_array_foreach(susp, k, s)
            {
                if (strcmp(json_string_value(json_object_get(s, "org")), in->org->id) == 0 &&
                    strcmp(json_string_value(json_object_get(s, "channel")), in->cfg->name) == 0) {
                    suspended = true;
                    quota = strcmp(json_string_value(json_object_get(s, "kind")), "quota") == 0;
                }
            }
            atomic_store(&in->suspended_quota, quota);
            bool was = atomic_exchange(&in->suspended, suspended);
            if (was && !suspended)
                td_log(TD_LOG_WARN, in->org->id, in->cfg->name, "channel resumed");
            char labels[200];
            snprintf(labels, sizeof(labels), "org=\"%s\",channel=\"%s\"", in->org->id,
                     in->cfg->name);
            td_metrics_set(e->metrics, "tidings_channel_suspended", labels, suspended ? 1 : 0);
        }
        json_decref(susp);
    }
    json_t *orphans = json_array();
    for (size_t o = 0; o < world->conf->org_count; o++) {
        const char *org = world->conf->orgs[o].id;
        json_t *channels = NULL;
        if (!org || !td_world_serves(world, org) ||
            td_store_scheduled_channels(w->work, org, &channels, err, sizeof(err)) < 0)
            continue;
        size_t k;
        json_t *ch;
        json_array_foreach(channels, k, ch)
        {
            if (!td_world_channel(world, org, json_string_value(ch)))
                json_array_append_new(orphans, json_pack("{s:s, s:O}", "org", org, "channel", ch));
        }
        json_decref(channels);
    }
    json_decref(w->orphans);
    w->orphans = orphans;
}

/* Builds the claim's quotas: every connection not suspended, with at most as
 * many rows as its rate (and its account's fair share) allows now.
 * *throttle_ms gets how soon a throttled connection has tokens again (-1:
 * none throttled). With all = true it lists every pair without limits (for
 * the next due time). */
static json_t *worker_quotas(struct worker *w, struct td_world *world, bool all,
                             int64_t *throttle_ms)
{
    struct td_engine *e = w->d->engine;
    int64_t now = td_wall_ms();
    long batch = e->conf->engine.dispatch_batch;
    json_t *q = json_array();
    *throttle_ms = -1;
    w->rotate++;
    for (size_t i = 0; i < world->instance_count; i++) {
        struct td_instance *in = &world->instances[i];
        /* an organization whose configuration other engines run differently
         * is theirs to send for */
        if (in->cfg->kind != TD_PLUGIN_CHANNEL || !td_world_serves(world, in->org->id))
            continue;
        if (atomic_load(&in->suspended)) {
            /* out of quota: the rows that have a fallback take it now */
            if (atomic_load(&in->suspended_quota))
                json_array_append_new(q, json_pack("{s:I, s:s, s:s, s:I, s:b}", "i",
                                                   (json_int_t)json_array_size(q), "org",
                                                   in->org->id, "channel", in->cfg->name, "lim",
                                                   (json_int_t)batch, "fallback_only", 1));
            continue;
        }
        long lim = batch;
        if (!all) {
            long avail = td_bucket_available(&in->bucket, now);
            if (in->account) {
                /* the account's tokens shared among the connections naming it */
                size_t members = 0, me = 0;
                for (size_t j = 0; j < world->instance_count; j++) {
                    if (world->instances[j].account == in->account &&
                        !atomic_load(&world->instances[j].suspended)) {
                        if (j == i)
                            me = members;
                        members++;
                    }
                }
                long shared = td_bucket_available(in->account, now);
                long share = shared / (long)members +
                             ((long)((me + w->rotate) % members) < shared % (long)members ? 1 : 0);
                if (share < avail)
                    avail = share;
            }
            if (avail < lim)
                lim = avail;
            if (lim < 1) {
                int64_t wait = td_bucket_wait_ms(&in->bucket, now);
                if (in->account && td_bucket_wait_ms(in->account, now) > wait)
                    wait = td_bucket_wait_ms(in->account, now);
                if (wait < 5)
                    wait = 5;
                if (*throttle_ms < 0 || wait < *throttle_ms)
                    *throttle_ms = wait;
                continue;
            }
        }
        json_array_append_new(q, json_pack("{s:I, s:s, s:s, s:I}", "i",
                                           (json_int_t)json_array_size(q), "org", in->org->id,
                                           "channel", in->cfg->name, "lim", (json_int_t)lim));
    }
    size_t k;
    json_t *o;
    json_array_foreach(w->orphans, k, o)
    {
        json_t *entry = json_deep_copy(o);
        json_object_set_new(entry, "i", json_integer((json_int_t)json_array_size(q)));
        json_object_set_new(entry, "lim", json_integer(batch));
        json_array_append_new(q, entry);
    }
    return q;
}

/* Spends rate tokens for what was claimed. */
static void worker_spend(struct td_world *world, const struct td_claimed *items, size_t count)
{
    int64_t now = td_wall_ms();
    for (size_t i = 0; i < count; i++) {
        struct td_instance *in = td_world_channel(world, items[i].org_id, items[i].channel);
        if (!in)
            continue;
        td_bucket_take(&in->bucket, 1, now);
        if (in->account)
            td_bucket_take(in->account, 1, now);
    }
}

/* Gives claimed rows back untouched (their attempt returned), through the
 * verdict writer, to be tried again shortly. */
static void worker_release(struct td_engine *e, const struct td_claimed *items, size_t count,
                           const char *reason)
{
    struct td_outcome *outcomes = calloc(count, sizeof(*outcomes));
    if (!outcomes)
        return; /* their leases run out and they are reclaimed */
    int64_t retry = td_wall_ms() + DISPATCH_ERROR_PAUSE_MS;
    for (size_t i = 0; i < count; i++) {
        outcomes[i] = (struct td_outcome){.org_id = items[i].org_id,
                                          .id = items[i].id,
                                          .lease_token = items[i].lease_token,
                                          .status = "scheduled",
                                          .reason = reason,
                                          .retry_at_ms = retry,
                                          .attempt_delta = -1};
    }
    td_inflight_record(e->inflight, outcomes, count);
    free(outcomes);
}

/* Claims one batch and sees it through. Returns how many rows were claimed,
 * or -EIO. */
static int worker_batch(struct worker *w, struct td_world *world, int64_t *throttle_ms)
{
    struct td_engine *e = w->d->engine;
    char err[512];
    json_t *quotas = worker_quotas(w, world, false, throttle_ms);
    if (json_array_size(quotas) == 0) {
        json_decref(quotas);
        return 0;
    }
    char *qtext = json_dumps(quotas, JSON_COMPACT);
    json_decref(quotas);
    struct td_claimed *items = NULL;
    size_t count = 0;
    int64_t t0 = td_mono_ms();
    int rc = qtext
                 ? td_store_claim(w->work, e->owner_id, qtext, (int)e->conf->engine.dispatch_batch,
                                  (int)e->conf->engine.dispatch_lease_s, &items, &count, err,
                                  sizeof(err))
                 : -ENOMEM;
    free(qtext);
    if (rc < 0) {
        td_log(TD_LOG_ERROR, NULL, "dispatch", "claim failed: %s", err);
        return -EIO;
    }
    td_metrics_observe(e->metrics, "tidings_claim_seconds", NULL,
                       (double)(td_mono_ms() - t0) / 1000.0);
    if (count == 0)
        return 0;
    td_metrics_add(e->metrics, "tidings_claimed_total", NULL, (double)count);
    /* their leases are kept alive, and their verdicts written, by the
     * engine's verdict writer (inflight.c) as soon as each is decided */
    td_inflight_hold(e->inflight, items, count);
    if (td_template_cache_fill(e->templates, w->work, items, count, err, sizeof(err)) < 0) {
        td_log(TD_LOG_ERROR, NULL, "dispatch", "templates not read (%s): %zu claimed rows released",
               err, count);
        worker_release(e, items, count, "released: the templates could not be read");
        td_store_claimed_free(items, count);
        return -EIO;
    }
    worker_spend(world, items, count);
    struct td_outcome *outcomes = calloc(count, sizeof(*outcomes));
    void *owned = NULL;
    struct td_deliver_stats st;
    rc = outcomes ? td_deliver_batch(e, world, w->work, items, count, outcomes, &owned,
                                     &w->d->stopping, &st)
                  : -ENOMEM;
    if (rc == 0)
        td_log(TD_LOG_DEBUG, NULL, "dispatch",
               "worker %d: batch of %zu: %zu sent, %zu retry, %zu unknown, %zu failed, %zu held, "
               "%zu skipped, %zu expired, %zu released",
               w->index, count, st.sent, st.retried, st.unknown, st.failed, st.held, st.skipped,
               st.expired, st.released);
    td_deliver_free(owned, count);
    free(outcomes);
    td_store_claimed_free(items, count);
    return rc < 0 ? rc : (int)count;
}

static void worker_reclaim(struct worker *w)
{
    int64_t now = td_mono_ms();
    if (w->index != 0 || now - w->last_reclaim_ms < DISPATCH_RECLAIM_EVERY_MS)
        return;
    w->last_reclaim_ms = now;
    int n = 0;
    char err[512];
    if (td_store_reclaim_expired(w->work, &n, err, sizeof(err)) < 0) {
        td_log(TD_LOG_ERROR, NULL, "dispatch", "lease reclaim failed: %s", err);
    } else if (n) {
        td_metrics_add(w->d->engine->metrics, "tidings_lease_reclaims_total", NULL, n);
        td_log(TD_LOG_WARN, NULL, "dispatch", "reclaimed %d message%s whose lease expired", n,
               n == 1 ? "" : "s");
    }
}

/* How long to sleep after a round that claimed claimed rows. */
static int64_t worker_sleep_ms(struct worker *w, struct td_world *world, int claimed,
                               int64_t throttle_ms)
{
    const struct td_engine_config *cfg = &w->d->engine->conf->engine;
    int64_t wait = cfg->dispatch_recheck_s * 1000;
    int64_t ignored;
    json_t *all = worker_quotas(w, world, true, &ignored);
    char *text = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    int64_t next = -1;
    char err[512];
    if (text && td_store_next_due(w->work, text, &next, err, sizeof(err)) < 0)
        td_log(TD_LOG_ERROR, NULL, "dispatch", "next due time unknown: %s", err);
    free(text);
    int64_t now = td_wall_ms();
    if (next >= 0 && next - now < wait)
        wait = next - now;
    if (wait <= 0) {
        /* due rows remain: wait for a rate limit to refill, or for another
         * engine holding them */
        if (throttle_ms >= 0)
            wait = throttle_ms;
        else if (claimed == 0)
            wait = DISPATCH_BUSY_PAUSE_MS;
    }
    return wait;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct td_engine_config *cfg = &w->d->engine->conf->engine;
    while (!atomic_load(&w->d->stopping)) {
        if (!w->work && worker_connect(w) < 0) {
            worker_wait(w, DISPATCH_ERROR_PAUSE_MS);
            continue;
        }
        /* this round works with the configuration running now; a reload
         * swaps it, and the old one goes when its last round is done */
        struct td_world *world = td_engine_world(w->d->engine);
        worker_refresh(w, world);
        worker_reclaim(w);
        int64_t throttle_ms = -1;
        int n = worker_batch(w, world, &throttle_ms);
        if (n < 0) {
            td_world_release(world);
            if (td_db_connection_lost(w->work) || td_db_connection_lost(w->listen))
                worker_disconnect(w);
            worker_wait(w, DISPATCH_ERROR_PAUSE_MS);
            continue;
        }
        if (n >= cfg->dispatch_batch) {
            td_world_release(world);
            continue; /* more may be due right now */
        }
        int64_t sleep_ms = worker_sleep_ms(w, world, n, throttle_ms);
        td_world_release(world);
        worker_wait(w, sleep_ms);
        if (td_db_connection_lost(w->listen) || td_db_connection_lost(w->work)) {
            td_log(TD_LOG_WARN, NULL, "dispatch", "worker %d lost the database; reconnecting",
                   w->index);
            worker_disconnect(w);
        }
    }
    worker_disconnect(w);
    return NULL;
}

/* A changed configuration resumes a suspended channel: the suspension was for
 * credentials that are not in use any more. */
static void dispatcher_resume_changed(struct td_engine *e, struct td_world *world)
{
    char err[512];
    PGconn *c = td_db_acquire(e->pool, 5000, err, sizeof(err));
    json_t *susp = NULL;
    if (!c || td_store_channel_suspensions(c, &susp, err, sizeof(err)) < 0) {
        td_log(TD_LOG_WARN, NULL, "dispatch", "cannot read suspended channels: %s", err);
        td_db_release(e->pool, c, c && td_db_connection_lost(c));
        return;
    }
    size_t k;
    json_t *s;
    json_array_foreach(susp, k, s)
    {
        const char *org = json_string_value(json_object_get(s, "org"));
        const char *channel = json_string_value(json_object_get(s, "channel"));
        struct td_instance *in = td_world_channel(world, org, channel);
        if (!in)
            continue;
        if (strcmp(json_string_value(json_object_get(s, "fingerprint")), in->fingerprint) != 0) {
            bool lifted = false;
            td_store_channel_resume(c, org, channel, "engine", "its configuration changed", &lifted,
                                    err, sizeof(err));
            td_log(TD_LOG_WARN, org, channel, "suspension lifted: the configuration changed");
        } else {
            atomic_store(&in->suspended_quota,
                         strcmp(json_string_value(json_object_get(s, "kind")), "quota") == 0);
            atomic_store(&in->suspended, true);
            td_log(TD_LOG_ERROR, org, channel,
                   "channel stays suspended (%s); fix its configuration or run tidings channels "
                   "resume",
                   json_string_value(json_object_get(s, "reason")));
        }
    }
    json_decref(susp);
    td_db_release(e->pool, c, td_db_connection_lost(c));
}

int td_dispatcher_start(struct td_engine *engine, struct td_dispatcher **out)
{
    *out = NULL;
    struct td_dispatcher *d = calloc(1, sizeof(*d));
    size_t n = (size_t)engine->conf->engine.dispatch_workers;
    if (d)
        d->workers = calloc(n, sizeof(*d->workers));
    if (!d || !d->workers) {
        free(d);
        return -ENOMEM;
    }
    d->engine = engine;
    struct td_world *world = td_engine_world(engine);
    dispatcher_resume_changed(engine, world);
    td_world_release(world);
    for (size_t i = 0; i < n; i++) {
        struct worker *w = &d->workers[i];
        w->d = d;
        w->index = (int)i;
        if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) < 0 ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            int rc = -errno;
            td_log(TD_LOG_ERROR, NULL, "dispatch", "cannot start worker %zu: %s", i,
                   strerror(errno));
            d->count = i;
            td_dispatcher_stop(d);
            return rc ? rc : -EAGAIN;
        }
        d->count = i + 1;
    }
    td_log(TD_LOG_INFO, NULL, "dispatch", "%zu dispatch worker%s started", n, n == 1 ? "" : "s");
    *out = d;
    return 0;
}

void td_dispatcher_world_changed(struct td_dispatcher *d)
{
    if (!d)
        return;
    struct td_world *world = td_engine_world(d->engine);
    dispatcher_resume_changed(d->engine, world);
    td_world_release(world);
    for (size_t i = 0; i < d->count; i++) {
        ssize_t wr = write(d->workers[i].wake[1], "x", 1);
        (void)wr;
    }
}

void td_dispatcher_stop(struct td_dispatcher *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, true);
    for (size_t i = 0; i < d->count; i++) {
        ssize_t wr = write(d->workers[i].wake[1], "x", 1);
        (void)wr;
    }
    for (size_t i = 0; i < d->count; i++) {
        pthread_join(d->workers[i].thread, NULL);
        close(d->workers[i].wake[0]);
        close(d->workers[i].wake[1]);
        json_decref(d->workers[i].orphans);
    }
    free(d->workers);
    free(d);
}
