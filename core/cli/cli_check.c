/* cli_check: `tidings check`. */
#include "cli/cli.h"
#include "engine_state.h"
#include "plugin_host/host.h"
#include "http/http_client.h"
#include "plugin_host/loader.h"
#include "plugin_host/world.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const char check_usage[] =
    "usage: tidings [-c FILE] check [--connections | --callbacks]\n"
    "\n"
    "Validates tidings.ini, every conf.d/<org>.ini and every plugin on the plugin path:\n"
    "unknown keys, missing keys, bad values, unreadable secrets, plugins that cannot be\n"
    "loaded, and everything a plugin itself refuses: each section's plugin is created\n"
    "(its create() checks the settings, as at `run`) and destroyed again, with no\n"
    "request sent and nothing started. Prints one line per problem naming file,\n"
    "section and line, and exits 1 when there is any (2 when the configuration file\n"
    "is missing). At `run`, an organization with a problem is disabled and the\n"
    "others run; `check` reports them all.\n"
    "--connections also asks every provider whether its credentials work (Resend: GET\n"
    "/api-keys; Infobip: GET /account/1/balance) and prints one line per connection; keys\n"
    "are never printed.\n"
    "--callbacks prints every channel's callback URL, where its provider posts delivery\n"
    "reports and replies (Resend's webhook, Infobip's inbound forwarding). Each ends in a\n"
    "token made from [http] callback_secret: treat it as a secret (the log never shows it).\n";

/* Creates every instance of every organization without a problem so far
 * (plugin create(), as `run` does; nothing started), adding what the
 * plugins refuse to diag; with connections, runs each channel's connection
 * test. Returns how many connection tests failed. */
static int check_create(struct td_conf *conf, struct td_loader *loader, bool connections,
                        struct td_diag *diag)
{
    struct td_engine e = {.conf = conf, .loader = loader};
    struct td_world *w = NULL;
    if (td_http_client_global_init() < 0) {
        td_diag_add(diag, "cannot initialise libcurl");
        return 0;
    }
    int failed = 0;
    if (td_world_create(&e, conf, false, NULL, TD_WORLD_PER_ORG, &w, diag) < 0)
        w = NULL;
    for (size_t i = 0; connections && w && i < w->instance_count; i++) {
        struct td_instance *in = &w->instances[i];
        if (in->cfg->kind != TD_PLUGIN_CHANNEL)
            continue;
        const struct td_channel_ops *ops = in->plugin->desc->channel;
        struct td_error err = {{0}};
        if (!ops->check) {
            printf("%-16s %-10s %-18s no connection test\n", in->org->id, in->cfg->name,
                   in->cfg->plugin);
            continue;
        }
        int rc = ops->check(in->state, &err);
        printf("%-16s %-10s %-18s %s%s%s\n", in->org->id, in->cfg->name, in->cfg->plugin,
               rc == 0 ? "ok" : "FAILED", err.message[0] ? ": " : "", err.message);
        if (rc < 0)
            failed++;
    }
    td_world_release(w);
    td_http_client_global_cleanup();
    return failed;
}

/* Prints each channel's callback URL (the path without [http] public_url).
 * Returns how many channels have none. */
static int print_callbacks(const struct td_conf *conf)
{
    if (!conf->engine.callback_secret) {
        printf("no [http] callback_secret: providers cannot report back\n");
        return 1;
    }
    for (size_t o = 0; o < conf->org_count; o++) {
        const struct td_org_config *org = &conf->orgs[o];
        for (size_t i = 0; i < org->instance_count; i++) {
            const struct td_instance_config *in = &org->instances[i];
            if (in->kind != TD_PLUGIN_CHANNEL)
                continue;
            char path[200], url[700];
            if (td_host_callback(&conf->engine, org->id, in->name, path, sizeof(path), url,
                                 sizeof(url)) < 0)
                continue;
            printf("%-16s %-10s %s%s\n", org->id, in->name, url[0] ? url : path,
                   url[0] ? "" : "  (no [http] public_url: prefix it with your public address)");
        }
    }
    return 0;
}

int td_cli_check(const char *config_path, int argc, char **argv)
{
    if (td_cli_wants_help(argc, argv)) {
        fputs(check_usage, stdout);
        return TD_EXIT_OK;
    }
    bool connections = argc == 1 && strcmp(argv[0], "--connections") == 0;
    bool callbacks = argc == 1 && strcmp(argv[0], "--callbacks") == 0;
    if (argc > 0 && !connections && !callbacks) {
        fprintf(stderr, "tidings check: unexpected argument '%s'\n", argv[0]);
        return TD_EXIT_USAGE;
    }
    struct td_diag diag = {0};
    struct td_conf *conf = NULL;
    int rc = td_conf_load(config_path, &conf, &diag);
    if (rc == -ENOENT) {
        fprintf(stderr,
                "tidings: configuration file %s not found (use -c FILE or "
                "TIDINGS_CONFIG)\n",
                config_path);
        return TD_EXIT_USAGE;
    }
    if (rc < 0) {
        td_diag_print(&diag, stderr, "tidings: ");
        td_diag_clear(&diag);
        return TD_EXIT_USAGE;
    }
    struct td_loader *loader = td_loader_create(conf->engine.plugin_path);
    if (loader && conf->engine.plugin_path) {
        td_loader_scan(loader, &diag);
        td_engine_check_instances(conf, loader, &diag);
    }
    size_t channels = 0, triggers = 0;
    for (size_t o = 0; o < conf->org_count; o++) {
        for (size_t i = 0; i < conf->orgs[o].instance_count; i++) {
            if (conf->orgs[o].instances[i].kind == TD_PLUGIN_CHANNEL)
                channels++;
            else
                triggers++;
        }
    }
    if (conf->org_count == 0)
        td_diag_add(&diag, "%s: no organizations in %s (add conf.d/<org>.ini)", config_path,
                    conf->engine.orgs_dir ? conf->engine.orgs_dir : "(unset)");
    int failed = 0;
    if (loader && conf->engine.plugin_path && !conf->engine_problems)
        failed = check_create(conf, loader, connections, &diag);
    if (diag.count) {
        td_diag_print(&diag, stderr, "");
        fprintf(stderr, "tidings check: %zu problem%s\n", diag.count, diag.count == 1 ? "" : "s");
        for (size_t o = 0; o < conf->org_count; o++) {
            if (conf->orgs[o].problems)
                fprintf(stderr, "tidings check: organization %s would be disabled at run\n",
                        conf->orgs[o].id ? conf->orgs[o].id : conf->orgs[o].path);
        }
        rc = TD_EXIT_FAILURE;
    } else {
        printf("ok: %s, %zu organization%s, %zu channel%s, %zu trigger%s\n", config_path,
               conf->org_count, conf->org_count == 1 ? "" : "s", channels, channels == 1 ? "" : "s",
               triggers, triggers == 1 ? "" : "s");
        rc = failed ? TD_EXIT_FAILURE : TD_EXIT_OK;
        if (callbacks && print_callbacks(conf) > 0)
            rc = TD_EXIT_FAILURE;
    }
    td_loader_destroy(loader);
    td_diag_clear(&diag);
    td_conf_destroy(conf);
    return rc;
}
