/* peers: heartbeat of the engines on one database, and agreement on each
 * organization's configuration. */
#include "config/peers.h"
#include "util/clock.h"

#include "store/db.h"
#include "engine_state.h"
#include "util/log.h"
#include "util/metrics.h"
#include "store/store.h"
#include "plugin_host/world.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How often an engine says it is alive and compares configurations. */
#define PEERS_EVERY_MS 2000
/* An engine not heard of for this long no longer counts. */
#define PEERS_ALIVE_S 10
/* td_peers_changed waits this long at most for the comparison. */
#define PEERS_CHANGED_WAIT_MS 5000

struct td_peers {
    struct td_engine *engine;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    unsigned wanted; /* rounds asked for */
    unsigned done;   /* rounds completed */
    PGconn *conn;
    bool complained;
};

/* Publishes the running world's fingerprints and marks each organization
 * in conflict, or not, with what the first-started live engine runs.
 * Returns 0, or -EIO (the database is unreachable: nothing changes). */
static int peers_round(struct td_peers *p)
{
    struct td_engine *e = p->engine;
    char err[512] = "";
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        PQfinish(p->conn);
        p->conn = td_db_connect(e->conf->engine.db_dsn, err, sizeof(err));
        if (!p->conn) {
            if (!p->complained)
                td_log(TD_LOG_WARN, NULL, "engine",
                       "cannot reach the database to compare "
                       "configurations with other engines: %s",
                       err);
            p->complained = true;
            return -EIO;
        }
    }
    struct td_world *w = td_engine_world(e);
    if (!w)
        return 0;
    json_t *mine = json_array();
    for (size_t o = 0; o < w->conf->org_count; o++) {
        if (!w->orgs[o].disabled) /* runs nothing: nothing to agree on */
            json_array_append_new(mine, json_pack("{s:s, s:s}", "org", w->orgs[o].org->id,
                                                  "fingerprint", w->orgs[o].fingerprint));
    }
    char *text = json_dumps(mine, JSON_COMPACT);
    json_decref(mine);
    json_t *agreed = NULL;
    int rc = text ? td_store_peers_heartbeat(p->conn, e->owner_id, e->conf->engine.http_listen,
                                             text, PEERS_ALIVE_S, &agreed, err, sizeof(err))
                  : -ENOMEM;
    free(text);
    if (rc < 0) {
        if (!p->complained)
            td_log(TD_LOG_WARN, NULL, "engine", "comparing configurations failed: %s", err);
        p->complained = true;
        if (td_db_connection_lost(p->conn)) {
            PQfinish(p->conn);
            p->conn = NULL;
        }
        td_world_release(w);
        return -EIO;
    }
    p->complained = false;
    for (size_t o = 0; o < w->conf->org_count; o++) {
        struct td_org_state *st = &w->orgs[o];
        if (st->disabled)
            continue;
        json_t *first = json_object_get(agreed, st->org->id);
        const char *fp = json_string_value(json_object_get(first, "fingerprint"));
        const char *by = json_string_value(json_object_get(first, "engine"));
        bool conflict = fp && strcmp(fp, st->fingerprint) != 0;
        atomic_store(&st->conflict, conflict);
        if (conflict && st->reported != 2)
            td_log(TD_LOG_ERROR, st->org->id, "engine",
                   "ALERT this engine's configuration of %s differs from the one engine %s runs "
                   "(it started first): this engine does not send for it, take its bookings or "
                   "expand its events until they agree (compare %s on both)",
                   st->org->id, by ? by : "?", st->org->path);
        else if (!conflict && st->reported == 2)
            td_log(TD_LOG_INFO, st->org->id, "engine",
                   "configuration of %s agrees with the other engines: serving it", st->org->id);
        st->reported = conflict ? 2 : 1;
        char labels[160];
        snprintf(labels, sizeof(labels), "org=\"%s\"", st->org->id);
        td_metrics_set(e->metrics, "tidings_org_config_conflict", labels, conflict ? 1 : 0);
    }
    json_decref(agreed);
    td_world_release(w);
    return 0;
}

static void *peers_main(void *arg)
{
    struct td_peers *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        unsigned wanted = p->wanted;
        pthread_mutex_unlock(&p->lock);
        peers_round(p);
        pthread_mutex_lock(&p->lock);
        p->done = wanted;
        pthread_cond_broadcast(&p->cond);
        if (p->stopping || p->wanted != wanted)
            continue;
        struct timespec until = td_clock_after_ms(CLOCK_REALTIME, PEERS_EVERY_MS);
        pthread_cond_timedwait(&p->cond, &p->lock, &until);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int td_peers_start(struct td_engine *engine, struct td_peers **out)
{
    *out = NULL;
    struct td_peers *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->engine = engine;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    peers_round(p); /* before anything is sent or taken in */
    if (pthread_create(&p->thread, NULL, peers_main, p) != 0) {
        PQfinish(p->conn);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
        return -EAGAIN;
    }
    *out = p;
    return 0;
}

void td_peers_changed(struct td_peers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    unsigned want = ++p->wanted;
    pthread_cond_broadcast(&p->cond);
    struct timespec until = td_clock_after_ms(CLOCK_REALTIME, PEERS_CHANGED_WAIT_MS);
    while (!p->stopping && (int)(p->done - want) < 0) {
        if (pthread_cond_timedwait(&p->cond, &p->lock, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&p->lock);
}

void td_peers_stop(struct td_peers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    char err[256];
    if (p->conn && td_store_peers_leave(p->conn, p->engine->owner_id, err, sizeof(err)) < 0)
        td_log(TD_LOG_WARN, NULL, "engine", "could not remove this engine's registration: %s", err);
    PQfinish(p->conn);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}
