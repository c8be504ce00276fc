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
    pthread_t thread;
    bool running;
    atomic_bool stopping;
    int wake[2];
};

static const struct td_config_key pg_notify_keys[] = {
    {.name = "recheck",
     .type = TD_KEY_INT,
     .default_value = "30",
     .help = "seconds between looks for waiting events when no NOTIFY comes"},
};

/* Expands what waits; false when the engine could not reach the database. */
static bool pg_notify_catch_up(struct pg_notify *pn)
{
    size_t n = 0;
    if (pn->host->process_pending(pn->host, &n) < 0)
        return false;
    if (n)
        pn->host->log(pn->host, TD_LOG_INFO, "expanded %zu waiting event%s", n, n == 1 ? "" : "s");
    return true;
}

/* Waits for a NOTIFY, the re-check or a stop. Returns false when the
 * connection broke. */
static bool pg_notify_wait(struct pg_notify *pn, PGconn *c, long timeout_ms)
{
    struct pollfd fds[2] = {{.fd = pn->wake[0], .events = POLLIN},
                            {.fd = PQsocket(c), .events = POLLIN}};
    poll(fds, 2, (int)timeout_ms);
    char drain[32];
    while (read(pn->wake[0], drain, sizeof(drain)) > 0)
        ;
    if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK)
        return false;
    PGnotify *n;
    while ((n = PQnotifies(c)))
        PQfreemem(n);
    return true;
}

static void pg_notify_pause(struct pg_notify *pn, long ms)
{
    struct pollfd fd = {.fd = pn->wake[0], .events = POLLIN};
    if (!atomic_load(&pn->stopping))
        poll(&fd, 1, (int)ms);
}

static void *pg_notify_main(void *arg)
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
        bool ok = pg_notify_catch_up(pn);
        while (ok && !atomic_load(&pn->stopping)) {
            ok = pg_notify_wait(pn, c, pn->recheck_ms);
            if (ok && !atomic_load(&pn->stopping))
                pg_notify_catch_up(pn);
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
    struct pg_notify *pn = calloc(1, sizeof(*pn));
    if (!pn) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        return -ENOMEM;
    }
    if (pipe2(pn->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err->message, sizeof(err->message), "pipe: %s", strerror(errno));
        free(pn);
        return -EIO;
    }
    pn->host = host;
    pn->recheck_ms = recheck * 1000;
    *instance = pn;
    return 0;
}

static int pg_notify_start(void *instance, struct td_error *err)
{
    struct pg_notify *pn = instance;
    atomic_store(&pn->stopping, false);
    int rc = pthread_create(&pn->thread, NULL, pg_notify_main, pn);
    if (rc) {
        snprintf(err->message, sizeof(err->message), "cannot start: %s", strerror(rc));
        return -rc;
    }
    pn->running = true;
    return 0;
}

static void pg_notify_stop(void *instance)
{
    struct pg_notify *pn = instance;
    if (!pn->running)
        return;
    atomic_store(&pn->stopping, true);
    ssize_t w = write(pn->wake[1], "x", 1);
    (void)w;
    pthread_join(pn->thread, NULL);
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
