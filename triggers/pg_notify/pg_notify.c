/*
 * pg_notify: a trigger plugin for applications whose bookings live in
 * PostgreSQL. The app calls tidings.submit_booking(org, booking) in its own
 * transaction (or attaches tidings.booking_row_trigger to its table, see
 * sql/app/): the event is written with the app's data, rolled back with it,
 * and a NOTIFY on "tidings_events" wakes this plugin, which asks the engine
 * to expand every waiting event of its organization.
 *
 * A NOTIFY is only a wake-up: events written while no engine listened (it was
 * stopped, or its connection broke) are picked up when it starts, after every
 * reconnect, and at every periodic re-check.
 *
 * One thread listens; `workers` threads expand. Each wake-up bumps a counter
 * the workers wait on; a worker expands until nothing waits, so wake-ups that
 * come while it works cost nothing more than one look.
 */
#include "tidings/plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After a lost connection, wait this long before connecting again. */
#define PG_NOTIFY_RETRY_MS 1000

struct pg_notify {
    const struct td_host *host;
    long recheck_ms;
    pthread_t listener;
    pthread_t *workers;
    long worker_count;
    long workers_started;
    bool running;   /* started: workers may run */
    bool listening; /* the listener thread runs */
    atomic_bool stopping;
    int wake[2]; /* wakes the listener to stop */
    pthread_mutex_t lock;
    pthread_cond_t work_cond;
    unsigned long wakeups; /* under lock: bumped whenever events may wait */
};

static const struct td_config_key pg_notify_keys[] = {
    {.name = "recheck",
     .type = TD_KEY_INT,
     .default_value = "30",
     .help = "seconds between looks for waiting events when no NOTIFY comes"},
    {.name = "workers",
     .type = TD_KEY_INT,
     .default_value = "2",
     .help = "threads expanding waiting events in parallel (each booking's events stay in order)"},
};

/* Tells the workers that events may wait. */
static void pg_notify_signal_workers(struct pg_notify *pn)
{
    pthread_mutex_lock(&pn->lock);
    pn->wakeups++;
    pthread_cond_broadcast(&pn->work_cond);
    pthread_mutex_unlock(&pn->lock);
}

/* A worker: waits for a wake-up, then expands until nothing waits. */
static void *pg_notify_worker_main(void *arg)
{
    struct pg_notify *pn = arg;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&pn->lock);
        while (!atomic_load(&pn->stopping) && pn->wakeups == seen)
            pthread_cond_wait(&pn->work_cond, &pn->lock);
        seen = pn->wakeups;
        pthread_mutex_unlock(&pn->lock);
        if (atomic_load(&pn->stopping))
            return NULL;
        size_t n = 0;
        /* on failure the engine has logged why; the next wake-up retries */
        if (pn->host->process_pending(pn->host, &n) == 0 && n)
            pn->host->log(pn->host, TD_LOG_DEBUG, "expanded %zu waiting event%s", n,
                          n == 1 ? "" : "s");
    }
}

/* Waits for a NOTIFY, the re-check or a stop. *ours says whether events of
 * this organization may wait: a NOTIFY naming it (the payload is the
 * organization's id) or the re-check. Returns false when the connection
 * broke. */
static bool pg_notify_wait(struct pg_notify *pn, PGconn *c, long timeout_ms, bool *ours)
{
    struct pollfd fds[2] = {{.fd = pn->wake[0], .events = POLLIN},
                            {.fd = PQsocket(c), .events = POLLIN}};
    *ours = poll(fds, 2, (int)timeout_ms) == 0;
    char drain[32];
    while (read(pn->wake[0], drain, sizeof(drain)) > 0)
        ;
    if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK)
        return false;
    PGnotify *n;
    while ((n = PQnotifies(c))) {
        *ours = *ours || !n->extra[0] || strcmp(n->extra, pn->host->org_id) == 0;
        PQfreemem(n);
    }
    return true;
}

static void pg_notify_pause(struct pg_notify *pn, long ms)
{
    struct pollfd fd = {.fd = pn->wake[0], .events = POLLIN};
    if (!atomic_load(&pn->stopping))
        poll(&fd, 1, (int)ms);
}

static void *pg_notify_listener_main(void *arg)
{
    struct pg_notify *pn = arg;
    while (!atomic_load(&pn->stopping)) {
        PGconn *c = PQconnectdb(pn->host->database_dsn);
        PGresult *r = c && PQstatus(c) == CONNECTION_OK ? PQexec(c, "LISTEN tidings_events") : NULL;
        bool listening = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!listening) {
            pn->host->log(pn->host, TD_LOG_ERROR, "cannot LISTEN: %s",
                          c ? PQerrorMessage(c) : "no connection");
            PQfinish(c);
            pg_notify_pause(pn, PG_NOTIFY_RETRY_MS);
            continue;
        }
        pn->host->log(pn->host, TD_LOG_INFO, "listening for tidings_events");
        /* listening first, then catching up: nothing falls in between */
        pg_notify_signal_workers(pn);
        bool ok = true;
        while (ok && !atomic_load(&pn->stopping)) {
            bool ours = false;
            ok = pg_notify_wait(pn, c, pn->recheck_ms, &ours);
            if (ok && ours && !atomic_load(&pn->stopping))
                pg_notify_signal_workers(pn);
        }
        if (!ok && !atomic_load(&pn->stopping)) {
            pn->host->log(pn->host, TD_LOG_WARN, "lost the listening connection; reconnecting");
            pg_notify_pause(pn, PG_NOTIFY_RETRY_MS);
        }
        PQfinish(c);
    }
    return NULL;
}

static int pg_notify_create(const struct td_host *host, const struct td_config *cfg,
                            void **instance, struct td_error *err)
{
    *instance = NULL;
    if (!TD_HOST_HAS(host, process_pending) || !host->database_dsn) {
        snprintf(err->message, sizeof(err->message), "this engine cannot expand waiting events");
        return -ENOTSUP;
    }
    long recheck = strtol(td_config_get(cfg, "recheck"), NULL, 10);
    if (recheck < 1 || recheck > 3600) {
        snprintf(err->message, sizeof(err->message), "recheck: must be 1 to 3600 seconds");
        return -EINVAL;
    }
    long workers = strtol(td_config_get(cfg, "workers"), NULL, 10);
    if (workers < 1 || workers > 32) {
        snprintf(err->message, sizeof(err->message), "workers: must be 1 to 32");
        return -EINVAL;
    }
    struct pg_notify *pn = calloc(1, sizeof(*pn));
    pthread_t *threads = calloc((size_t)workers, sizeof(*threads));
    if (!pn || !threads) {
        free(pn);
        free(threads);
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    if (pipe2(pn->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err->message, sizeof(err->message), "pipe: %s", strerror(errno));
        free(threads);
        free(pn);
        return -EIO;
    }
    pthread_mutex_init(&pn->lock, NULL);
    pthread_cond_init(&pn->work_cond, NULL);
    pn->host = host;
    pn->recheck_ms = recheck * 1000;
    pn->workers = threads;
    pn->worker_count = workers;
    *instance = pn;
    return 0;
}

static void pg_notify_stop(void *instance);

static int pg_notify_start(void *instance, struct td_error *err)
{
    struct pg_notify *pn = instance;
    atomic_store(&pn->stopping, false);
    pn->running = true;
    for (pn->workers_started = 0; pn->workers_started < pn->worker_count; pn->workers_started++) {
        int rc = pthread_create(&pn->workers[pn->workers_started], NULL, pg_notify_worker_main, pn);
        if (rc) {
            snprintf(err->message, sizeof(err->message), "cannot start a worker: %s", strerror(rc));
            pg_notify_stop(pn);
            return -rc;
        }
    }
    int rc = pthread_create(&pn->listener, NULL, pg_notify_listener_main, pn);
    if (rc) {
        snprintf(err->message, sizeof(err->message), "cannot start: %s", strerror(rc));
        pg_notify_stop(pn);
        return -rc;
    }
    pn->listening = true;
    return 0;
}

/* Stops the listener first (no more wake-ups), then the workers; a worker
 * finishes the batch it is in. */
static void pg_notify_stop(void *instance)
{
    struct pg_notify *pn = instance;
    if (!pn->running)
        return;
    atomic_store(&pn->stopping, true);
    ssize_t w = write(pn->wake[1], "x", 1);
    (void)w;
    if (pn->listening)
        pthread_join(pn->listener, NULL);
    pn->listening = false;
    pthread_mutex_lock(&pn->lock);
    pthread_cond_broadcast(&pn->work_cond);
    pthread_mutex_unlock(&pn->lock);
    for (long i = 0; i < pn->workers_started; i++)
        pthread_join(pn->workers[i], NULL);
    pn->workers_started = 0;
    pn->running = false;
}

static void pg_notify_destroy(void *instance)
{
    struct pg_notify *pn = instance;
    if (!pn)
        return;
    pg_notify_stop(pn);
    close(pn->wake[0]);
    close(pn->wake[1]);
    pthread_cond_destroy(&pn->work_cond);
    pthread_mutex_destroy(&pn->lock);
    free(pn->workers);
    free(pn);
}

static const struct td_trigger_ops pg_notify_ops = {
    .create = pg_notify_create,
    .destroy = pg_notify_destroy,
    .start = pg_notify_start,
    .stop = pg_notify_stop,
};

static const struct td_plugin pg_notify_plugin = {
    TD_PLUGIN_HEADER(TD_PLUGIN_TRIGGER, "pg_notify", "1.0.0",
                     "bookings an app writes with tidings.submit_booking() in its own transaction"),
    .config_keys = pg_notify_keys,
    .config_key_count = sizeof(pg_notify_keys) / sizeof(pg_notify_keys[0]),
    .trigger = &pg_notify_ops,
};

TD_PLUGIN_EXPORT const struct td_plugin *td_plugin_entry(void)
{
    return &pg_notify_plugin;
}
