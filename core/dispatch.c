/* dispatch: the dispatcher thread. */
#include "dispatch.h"

#include "db.h"
#include "deliver.h"
#include "engine.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Expired leases are looked for at most this often. */
#define DISPATCH_RECLAIM_EVERY_MS 5000
/* After a database error, wait this long before trying again. */
#define DISPATCH_ERROR_PAUSE_MS 1000

struct td_dispatcher {
    struct td_engine *engine;
    pthread_t thread;
    int wake[2]; /* a byte written to wake[1] interrupts a wait */
    atomic_bool stopping;
    PGconn *listen; /* LISTEN tidings_due */
    PGconn *work;
    int64_t last_reclaim_ms;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to timeout_ms for a NOTIFY or a stop request. */
static void dispatch_wait(struct td_dispatcher *d, int64_t timeout_ms)
{
    struct pollfd fds[2] = {{.fd = d->wake[0], .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    if (d->listen)
        fds[1].fd = PQsocket(d->listen);
    if (timeout_ms > 0 && !atomic_load(&d->stopping))
        poll(fds, 2, (int)(timeout_ms > 3600000 ? 3600000 : timeout_ms));
    char drain[64];
    while (read(d->wake[0], drain, sizeof(drain)) > 0)
        ;
    if (d->listen) {
        PQconsumeInput(d->listen);
        PGnotify *n;
        while ((n = PQnotifies(d->listen)))
            PQfreemem(n);
    }
}

static void dispatch_disconnect(struct td_dispatcher *d)
{
    PQfinish(d->listen);
    PQfinish(d->work);
    d->listen = d->work = NULL;
}

/* Opens both connections and LISTENs. Returns 0 or -EIO (logged). */
static int dispatch_connect(struct td_dispatcher *d)
{
    char err[512];
    const char *dsn = d->engine->conf->engine.db_dsn;
    d->listen = td_db_connect(dsn, err, sizeof(err));
    if (d->listen)
        d->work = td_db_connect(dsn, err, sizeof(err));
    if (!d->listen || !d->work || td_db_exec(d->listen, "LISTEN tidings_due", err, sizeof(err))) {
        td_log(TD_LOG_ERROR, NULL, "dispatch", "database unreachable: %s", err);
        dispatch_disconnect(d);
        return -EIO;
    }
    return 0;
}

/* Claims one batch and sees it through. Returns how many rows were claimed,
 * or -EIO. */
static int dispatch_batch(struct td_dispatcher *d)
{
    struct td_engine *e = d->engine;
    char err[512];
    struct td_claimed *items = NULL;
    size_t count = 0;
    if (td_store_claim(d->work, e->owner_id, (int)e->conf->engine.dispatch_batch,
                       (int)e->conf->engine.dispatch_lease_s, &items, &count, err,
                       sizeof(err)) < 0) {
        td_log(TD_LOG_ERROR, NULL, "dispatch", "claim failed: %s", err);
        return -EIO;
    }
    if (count == 0)
        return 0;
    struct td_outcome *outcomes = calloc(count, sizeof(*outcomes));
    void *owned = NULL;
    struct td_deliver_stats st;
    int rc = outcomes
                 ? td_deliver_batch(e, d->work, items, count, outcomes, &owned, &d->stopping, &st)
                 : -ENOMEM;
    int written = 0;
    if (rc == 0 &&
        td_store_outcomes_write(d->work, outcomes, count, &written, err, sizeof(err)) < 0) {
        /* the leases run out and the rows are claimed again: nothing is lost */
        td_log(TD_LOG_ERROR, NULL, "dispatch", "writing %zu verdicts failed: %s", count, err);
        rc = -EIO;
    }
    if (rc == 0) {
        td_log(TD_LOG_INFO, NULL, "dispatch",
               "batch of %zu: %zu sent, %zu retry, %zu failed, %zu skipped, %zu expired, "
               "%zu released",
               count, st.sent, st.retried, st.failed, st.skipped, st.expired, st.released);
        if ((size_t)written != count)
            td_log(TD_LOG_WARN, NULL, "dispatch",
                   "%zu verdicts were not written: their lease was taken over",
                   count - (size_t)written);
    }
    td_deliver_free(owned, count);
    free(outcomes);
    td_store_claimed_free(items, count);
    return rc < 0 ? rc : (int)count;
}

static void dispatch_reclaim(struct td_dispatcher *d)
{
    int64_t now = mono_ms();
    if (now - d->last_reclaim_ms < DISPATCH_RECLAIM_EVERY_MS)
        return;
    d->last_reclaim_ms = now;
    int n = 0;
    char err[512];
    if (td_store_reclaim_expired(d->work, &n, err, sizeof(err)) < 0)
        td_log(TD_LOG_ERROR, NULL, "dispatch", "lease reclaim failed: %s", err);
    else if (n)
        td_log(TD_LOG_WARN, NULL, "dispatch", "reclaimed %d message%s whose lease expired", n,
               n == 1 ? "" : "s");
}

static void *dispatch_main(void *arg)
{
    struct td_dispatcher *d = arg;
    const struct td_engine_config *cfg = &d->engine->conf->engine;
    while (!atomic_load(&d->stopping)) {
        if (!d->work && dispatch_connect(d) < 0) {
            dispatch_wait(d, DISPATCH_ERROR_PAUSE_MS);
            continue;
        }
        dispatch_reclaim(d);
        int n = dispatch_batch(d);
        if (n < 0) {
            if (td_db_connection_lost(d->work) || td_db_connection_lost(d->listen))
                dispatch_disconnect(d);
            dispatch_wait(d, DISPATCH_ERROR_PAUSE_MS);
            continue;
        }
        if (n >= cfg->dispatch_batch)
            continue; /* more may be due right now */
        int64_t next = -1;
        char err[512];
        if (td_store_next_due(d->work, &next, err, sizeof(err)) < 0) {
            td_log(TD_LOG_ERROR, NULL, "dispatch", "next due time unknown: %s", err);
            next = -1;
        }
        int64_t wait = cfg->dispatch_recheck_s * 1000;
        if (next >= 0 && next - wall_ms() < wait)
            wait = next - wall_ms();
        dispatch_wait(d, wait);
        if (td_db_connection_lost(d->listen)) {
            td_log(TD_LOG_WARN, NULL, "dispatch", "lost the database connection; reconnecting");
            dispatch_disconnect(d);
        }
    }
    dispatch_disconnect(d);
    return NULL;
}

int td_dispatcher_start(struct td_engine *engine, struct td_dispatcher **out)
{
    *out = NULL;
    struct td_dispatcher *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->engine = engine;
    if (pipe2(d->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        int rc = -errno;
        free(d);
        return rc;
    }
    int rc = pthread_create(&d->thread, NULL, dispatch_main, d);
    if (rc) {
        close(d->wake[0]);
        close(d->wake[1]);
        free(d);
        return -rc;
    }
    *out = d;
    return 0;
}

void td_dispatcher_stop(struct td_dispatcher *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, true);
    ssize_t w = write(d->wake[1], "x", 1);
    (void)w;
    pthread_join(d->thread, NULL);
    close(d->wake[0]);
    close(d->wake[1]);
    free(d);
}
