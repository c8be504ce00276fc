/* engine: wires configuration, plugins, database, HTTP server and
 * dispatcher together and runs them until SIGTERM or SIGINT. */
#include "engine.h"

#include "admin/admin_api.h"
#include "util/clock.h"
#include "util/notify.h"

#include "util/buf.h"
#include "dispatch/dispatch.h"
#include "http/http_client.h"
#include "dispatch/inflight.h"
#include "config/peers.h"
#include "plugin_host/world.h"
#include "util/log.h"
#include "util/metrics.h"
#include "store/migrate.h"
#include "store/store.h"
#include "render/unsubscribe.h"

#include "expand/sequence_cache.h"
#include "render/template_cache.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* At a stop, verdicts still unwritten are tried this long while the
 * database is unreachable. */
#define ENGINE_VERDICT_GRACE_MS 10000

/* How long /healthz waits for a database connection. */
#define HEALTH_DB_WAIT_MS 1000

/* The message counts in /metrics come from the database; this often at most. */
#define METRICS_SNAPSHOT_MS 10000

/* The HTTP server's question for a request no route took: is its
 * organization one this engine disabled? (The answer says no more than that:
 * the reason is in the log, not in an answer anyone can read.) */
static const char *engine_org_disabled(void *ctx, const char *org_id)
{
    struct td_world *w = td_engine_world(ctx);
    struct td_org_state *st = td_world_org(w, org_id);
    bool disabled = st && st->disabled;
    td_world_release(w);
    return disabled ? "this organization is disabled: its configuration is refused (the "
                      "engine log says why); try again later"
                    : NULL;
}

/* Logs each disabled organization of w and sets tidings_org_disabled. */
static void engine_report_disabled(struct td_engine *e, struct td_world *w)
{
    td_metrics_clear(e->metrics, "tidings_org_disabled");
    for (size_t o = 0; o < w->conf->org_count; o++) {
        const struct td_org_state *st = &w->orgs[o];
        char labels[160];
        snprintf(labels, sizeof(labels), "org=\"%s\"", st->org->id);
        td_metrics_set(e->metrics, "tidings_org_disabled", labels, st->disabled ? 1 : 0);
        if (st->disabled)
            td_log(TD_LOG_ERROR, st->org->id, "engine",
                   "ALERT organization %s is disabled (%zu problem%s in its configuration, "
                   "the first: %s): nothing of it runs until a fixed configuration is "
                   "reloaded; the other organizations run",
                   st->org->id, st->org->problems, st->org->problems == 1 ? "" : "s", st->disabled);
    }
}

static void engine_healthz(void *ctx, const struct td_http_request *req,
                           struct td_http_response *resp)
{
    (void)req;
    struct td_engine *e = ctx;
    char err[256];
    PGconn *c = td_db_acquire(e->pool, HEALTH_DB_WAIT_MS, err, sizeof(err));
    bool ok = c && td_db_exec(c, "SELECT 1", err, sizeof(err)) == 0;
    td_db_release(e->pool, c, c && td_db_connection_lost(c));
    if (ok) {
        static const char body[] = "{\"status\":\"ok\"}";
        td_http_respond(resp, 200, "application/json", body, sizeof(body) - 1);
    } else {
        td_http_respond_error(resp, 503, "database unreachable");
    }
}

/* Refreshes the gauges read from the database (messages by state, backlog). */
static void engine_metrics_snapshot(struct td_engine *e)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t last_ms = -METRICS_SNAPSHOT_MS;
    pthread_mutex_lock(&lock);
    int64_t now = td_mono_ms();
    if (now - last_ms < METRICS_SNAPSHOT_MS) {
        pthread_mutex_unlock(&lock);
        return;
    }
    last_ms = now;
    char err[256];
    json_t *counts = NULL;
    PGconn *c = td_db_acquire(e->pool, 1000, err, sizeof(err));
    if (c && td_store_message_counts(c, &counts, err, sizeof(err)) == 0) {
        td_metrics_clear(e->metrics, "tidings_messages");
        td_metrics_clear(e->metrics, "tidings_due_backlog");
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(counts, "states"), i, row)
        {
            char labels[256];
            snprintf(labels, sizeof(labels), "org=\"%s\",channel=\"%s\",state=\"%s\"",
                     json_string_value(json_array_get(row, 0)),
                     json_string_value(json_array_get(row, 1)),
                     json_string_value(json_array_get(row, 2)));
            td_metrics_set(e->metrics, "tidings_messages", labels,
                           json_number_value(json_array_get(row, 3)));
        }
        json_array_foreach(json_object_get(counts, "due"), i, row)
        {
            char labels[128];
            snprintf(labels, sizeof(labels), "org=\"%s\"",
                     json_string_value(json_array_get(row, 0)));
            td_metrics_set(e->metrics, "tidings_due_backlog", labels,
                           json_number_value(json_array_get(row, 1)));
        }
    }
    json_decref(counts);
    td_db_release(e->pool, c, c && td_db_connection_lost(c));
    pthread_mutex_unlock(&lock);
}

static void engine_metrics(void *ctx, const struct td_http_request *req,
                           struct td_http_response *resp)
{
    (void)req;
    struct td_engine *e = ctx;
    engine_metrics_snapshot(e);
    td_metrics_set(e->metrics, "tidings_http_cut_total", "", (double)td_http_server_cut(e->http));
    struct td_buf out = {0};
    td_metrics_render(e->metrics, &out);
    td_http_respond(resp, 200, "text/plain; version=0.0.4; charset=utf-8", td_buf_str(&out),
                    out.len);
    td_buf_reset(&out);
}

int td_engine_register_orgs(struct td_engine *e, const struct td_conf *conf)
{
    json_t *orgs = json_array();
    for (size_t i = 0; i < conf->org_count; i++)
        json_array_append_new(orgs, json_pack("[s, s]", conf->orgs[i].id, conf->orgs[i].name));
    char err[512];
    PGconn *c = td_db_acquire(e->pool, 5000, err, sizeof(err));
    int rc = c ? td_store_organizations(c, orgs, err, sizeof(err)) : -EIO;
    td_db_release(e->pool, c, c && td_db_connection_lost(c));
    json_decref(orgs);
    if (rc < 0)
        fprintf(stderr, "tidings: cannot register the organizations: %s\n", err);
    return rc;
}

/* Refuses to run against a schema that is not the one compiled in. */

static int engine_check_schema(struct td_engine *e)
{
    char err[512];
    PGconn *c = td_db_acquire(e->pool, 5000, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "tidings: cannot reach the database: %s\n", err);
        return -EIO;
    }
    int version = 0;
    int rc = td_schema_version(c, &version, err, sizeof(err));
    if (rc == 0 && version == td_schema_latest() &&
        td_store_installation_id(c, e->installation_id, sizeof(e->installation_id), err,
                                 sizeof(err)) < 0) {
        td_db_release(e->pool, c, false);
        fprintf(stderr, "tidings: %s\n", err);
        return -EIO;
    }
    td_db_release(e->pool, c, false);
    if (rc < 0) {
        fprintf(stderr, "tidings: cannot read the schema version: %s\n", err);
        return -EIO;
    }
    if (version != td_schema_latest()) {
        fprintf(stderr, "tidings: the database schema is at version %d, this tidings needs %d%s\n",
                version, td_schema_latest(),
                version < td_schema_latest() ? ": run `tidings migrate` first" : "");
        return -EPROTO;
    }
    return 0;
}

/* The engine keys a reload cannot change (they take effect at restart),
 * those that differ between a and b listed in out. */
static void engine_fixed_keys_changed(const struct td_engine_config *a,
                                      const struct td_engine_config *b, struct td_buf *out)
{
    struct {
        const char *name;
        const char *va, *vb;
    } text[] = {{"[database] dsn", a->db_dsn, b->db_dsn},
                {"[http] listen", a->http_listen, b->http_listen},
                {"[plugins] path", a->plugin_path, b->plugin_path},
                {"[http] public_url", a->public_url, b->public_url},
                {"[http] callback_secret", a->callback_secret, b->callback_secret},
                {"[log] level", a->log_level, b->log_level},
                {"[log] format", a->log_format, b->log_format}};
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        if ((text[i].va || text[i].vb) &&
            (!text[i].va || !text[i].vb || strcmp(text[i].va, text[i].vb) != 0))
            td_buf_printf(out, "%s%s", out->len ? ", " : "", text[i].name);
    }
    struct {
        const char *name;
        long va, vb;
    } num[] = {{"[database] pool", a->db_pool, b->db_pool},
               {"[http] max_body", a->http_max_body, b->http_max_body},
               {"[http] timeout", a->http_timeout_s, b->http_timeout_s},
               {"[http] threads", a->http_threads, b->http_threads},
               {"[dispatch] batch", a->dispatch_batch, b->dispatch_batch},
               {"[dispatch] lease", a->dispatch_lease_s, b->dispatch_lease_s},
               {"[dispatch] recheck", a->dispatch_recheck_s, b->dispatch_recheck_s},
               {"[dispatch] workers", a->dispatch_workers, b->dispatch_workers}};
    for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
        if (num[i].va != num[i].vb)
            td_buf_printf(out, "%s%s", out->len ? ", " : "", num[i].name);
    }
}

/* Counts organizations of b that a lacks (added), that both have with
 * another fingerprint (changed), and of a that b lacks (removed). */
static void engine_org_changes(struct td_world *a, struct td_world *b, int *added, int *changed,
                               int *removed)
{
    *added = *changed = *removed = 0;
    for (size_t o = 0; o < b->conf->org_count; o++) {
        struct td_org_state *was = td_world_org(a, b->orgs[o].org->id);
        if (!was)
            (*added)++;
        else if (strcmp(was->fingerprint, b->orgs[o].fingerprint) != 0)
            (*changed)++;
    }
    for (size_t o = 0; o < a->conf->org_count; o++) {
        if (!td_world_org(b, a->orgs[o].org->id))
            (*removed)++;
    }
}

/* SIGHUP: reads the configuration again and, when it checks whole, swaps it
 * in: organizations added, changed or removed, their plugins created anew,
 * while deliveries in flight finish on the old instances. A configuration
 * that does not check is refused whole (the reasons logged) and the running
 * one goes on. */
static void engine_reload(struct td_engine *e)
{
    const char *path = e->conf->engine.path;
    td_log(TD_LOG_INFO, NULL, "engine", "SIGHUP: reloading %s", path);
    struct td_diag diag = {0};
    struct td_conf *conf = NULL;
    int rc = td_conf_load(path, &conf, &diag);
    if (rc == 0 && diag.count == 0)
        td_engine_check_instances(conf, e->loader, &diag);
    if (rc == 0 && diag.count == 0 && conf->org_count == 0)
        td_diag_add(&diag, "%s: no organizations", path);
    struct td_world *old = td_engine_world(e);
    struct td_world *next = NULL;
    if (rc == 0 && diag.count == 0) {
        rc = td_world_create(e, conf, true, old, TD_WORLD_WHOLE, &next, &diag);
        conf = NULL; /* the world owns it, or freed it */
    }
    if (rc == 0 && diag.count == 0 && td_engine_register_orgs(e, next->conf) < 0)
        td_diag_add(&diag, "the organizations could not be registered in the database");
    if (rc < 0 || diag.count) {
        for (size_t i = 0; i < diag.count; i++)
            td_log(TD_LOG_ERROR, NULL, "engine", "reload refused: %s", diag.lines[i]);
        td_log(TD_LOG_ERROR, NULL, "engine",
               "reload refused (%zu problem%s): the running configuration goes on", diag.count,
               diag.count == 1 ? "" : "s");
        td_world_release(next);
        td_conf_destroy(conf);
        td_world_release(old);
        td_diag_clear(&diag);
        return;
    }
    struct td_buf fixed = {0};
    engine_fixed_keys_changed(&e->conf->engine, &next->conf->engine, &fixed);
    if (fixed.len)
        td_log(TD_LOG_WARN, NULL, "engine", "these take effect at a restart, not a reload: %s",
               td_buf_str(&fixed));
    td_buf_reset(&fixed);
    int added, changed, removed;
    engine_org_changes(old, next, &added, &changed, &removed);
    /* swap: new rounds and requests get the new world */
    pthread_mutex_lock(&e->world_lock);
    e->world = next;
    pthread_mutex_unlock(&e->world_lock);
    /* compared with the other engines before it takes anything in: the old
     * routes serve until the new ones replace them */
    td_peers_changed(e->peers);
    if (td_world_go_live(next, &diag) < 0)
        td_diag_print(&diag, stderr, "tidings: ");
    td_dispatcher_world_changed(e->dispatcher);
    engine_report_disabled(e, next);
    td_world_stop_triggers(old);
    td_world_release(old); /* the one taken above */
    td_world_retire(old);  /* once the rounds in flight on it are done */
    td_log(TD_LOG_INFO, NULL, "engine",
           "reloaded: %zu organization%s (%d added, %d changed, %d removed)", next->conf->org_count,
           next->conf->org_count == 1 ? "" : "s", added, changed, removed);
    td_diag_clear(&diag);
}

/* Waits for SIGTERM or SIGINT (returned); SIGHUP reloads on the way. */
static int engine_wait_for_signal(struct td_engine *e)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            return SIGTERM;
        if (sig == SIGHUP) {
            td_notify("RELOADING=1\nSTATUS=reloading the configuration");
            engine_reload(e);
            td_notify("READY=1\nSTATUS=running");
            continue;
        }
        return sig;
    }
}

int td_engine_run(struct td_conf *conf)
{
    struct td_engine e = {.conf = conf};
    struct td_diag diag = {0};
    int exit_code = 1;
    enum td_log_level level;
    if (td_log_level_parse(conf->engine.log_level, &level) == 0)
        td_log_set_level(level);
    enum td_log_format format;
    if (conf->engine.log_format && td_log_format_parse(conf->engine.log_format, &format) == 0)
        td_log_set_format(format);
    pthread_mutex_init(&e.world_lock, NULL);

    /* Signals are taken by sigwait in this thread only; every thread started
     * from here on inherits the block. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(e.owner_id, sizeof(e.owner_id), "%s:%d", host, (int)getpid());

    if (td_http_client_global_init() < 0) {
        fprintf(stderr, "tidings: cannot initialise libcurl\n");
        return 1;
    }
    e.loader = td_loader_create(conf->engine.plugin_path);
    e.sequences = td_sequence_cache_create();
    e.templates = td_template_cache_create();
    e.metrics = td_metrics_create();
    e.pool = td_db_pool_create(conf->engine.db_dsn, (size_t)conf->engine.db_pool);
    struct td_http_limits limits = {
        .max_body = (size_t)conf->engine.http_max_body,
        .timeout_s = conf->engine.http_timeout_s,
        .header_timeout_s = conf->engine.http_header_timeout_s,
        .threads = conf->engine.http_threads,
        .max_connections = conf->engine.http_max_connections,
        .max_per_client = conf->engine.http_max_per_client,
    };
    e.http = td_http_server_create(conf->engine.http_listen, &limits, engine_org_disabled, &e);
    if (!e.loader || !e.pool || !e.http || !e.sequences || !e.templates || !e.metrics) {
        fprintf(stderr, "tidings: out of memory\n");
        goto out_cleanup;
    }
    /* every section against its plugin first: an organization with a bad
     * section is disabled before anything of it is made */
    if (td_engine_check_instances(conf, e.loader, &diag) > 0)
        td_diag_print(&diag, stderr, "");
    td_diag_clear(&diag);
    if (engine_check_schema(&e) < 0 || td_engine_register_orgs(&e, conf) < 0)
        goto out_cleanup;
    struct td_world *world = NULL;
    int wrc = td_world_create(&e, conf, false, NULL, TD_WORLD_PER_ORG, &world, &diag);
    td_diag_print(&diag, stderr, "tidings: ");
    if (wrc < 0) {
        fprintf(stderr, "tidings: %s\n",
                wrc == -ENOMEM ? "out of memory"
                               : "every organization's configuration is refused: nothing to run");
        goto out_cleanup;
    }
    e.world = world;
    engine_report_disabled(&e, world);
    /* compared with the other engines before anything is taken in or sent */
    if (td_peers_start(&e, &e.peers) < 0) {
        fprintf(stderr, "tidings: out of memory\n");
        goto out_world;
    }
    td_http_route_add(e.http, "GET", "/healthz", engine_healthz, &e, &e);
    td_http_route_add(e.http, "GET", "/metrics", engine_metrics, &e, &e);
    td_unsubscribe_routes(&e);
    td_admin_routes(&e);
    char err[256];
    if (td_http_server_start(e.http, err, sizeof(err)) < 0) {
        fprintf(stderr, "tidings: %s\n", err);
        goto out_world;
    }
    td_log(TD_LOG_INFO, NULL, "engine", "listening on %s (port %d), %zu organization%s",
           conf->engine.http_listen, td_http_server_port(e.http), conf->org_count,
           conf->org_count == 1 ? "" : "s");
    if (td_world_go_live(world, &diag) < 0) {
        td_diag_print(&diag, stderr, "tidings: ");
        goto out_http;
    }
    int rc = td_inflight_start(conf->engine.db_dsn, conf->engine.dispatch_lease_s, &e.inflight);
    if (rc == 0)
        rc = td_dispatcher_start(&e, &e.dispatcher);
    if (rc < 0) {
        fprintf(stderr, "tidings: cannot start the dispatcher: %s\n", strerror(-rc));
        goto out_triggers;
    }
    td_log(TD_LOG_INFO, NULL, "engine", "running as %s", e.owner_id);
    /* a Type=notify unit counts as started from here: it serves and sends */
    td_notify("READY=1\nSTATUS=running");
    int sig = engine_wait_for_signal(&e);
    td_notify("STOPPING=1\nSTATUS=finishing in-flight work");
    td_log(TD_LOG_INFO, NULL, "engine", "%s: stopping (finishing in-flight work)",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    exit_code = 0;
out_triggers:
    td_world_stop_triggers(e.world);
out_http:
    td_http_server_stop(e.http);
    td_dispatcher_stop(e.dispatcher);
    e.dispatcher = NULL;
    /* what the workers decided is written before the engine goes */
    td_inflight_stop(e.inflight, ENGINE_VERDICT_GRACE_MS);
    e.inflight = NULL;
out_world:
    td_peers_stop(e.peers);
    e.peers = NULL;
    pthread_mutex_lock(&e.world_lock);
    world = e.world;
    e.world = NULL;
    pthread_mutex_unlock(&e.world_lock);
    td_world_stop_triggers(world);
    td_world_retire(world);
out_cleanup:
    td_http_server_destroy(e.http);
    td_db_pool_destroy(e.pool);
    td_loader_destroy(e.loader);
    td_sequence_cache_destroy(e.sequences);
    td_template_cache_destroy(e.templates);
    td_metrics_destroy(e.metrics);
    td_http_client_global_cleanup();
    td_diag_clear(&diag);
    pthread_mutex_destroy(&e.world_lock);
    if (exit_code == 0)
        td_log(TD_LOG_INFO, NULL, "engine", "stopped");
    return exit_code;
}
