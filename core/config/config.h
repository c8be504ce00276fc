/* config: reads tidings.ini (the engine) and conf.d/<org>.ini (one per
 * organization) into checked structures. Plugin-specific keys are checked
 * later against the plugin's own key list (see plugin_config.h). */
#ifndef TD_CONFIG_H
#define TD_CONFIG_H

#include "config/admin_tokens.h"
#include "dispatch/channel_policy.h"
#include "util/diag.h"
#include "config/inifile.h"
#include "tidings/plugin.h"

#include <stddef.h>

struct td_engine_config {
    char *path; /* tidings.ini as given */
    char *dir;  /* its folder: relative paths are resolved against it */
    char *db_dsn;
    long db_pool;
    char *http_listen;     /* host:port */
    char *public_url;      /* how providers and customers reach us, or NULL */
    char *callback_secret; /* signs callback paths and unsubscribe links, or NULL */

    long http_max_body;
    long http_timeout_s;
    long http_threads;
    long http_header_timeout_s; /* a request's headers must be in within this */
    long http_max_connections;  /* open at once, over all clients */
    long http_max_per_client;   /* open at once from one client address */
    char *plugin_path;          /* colon-separated folders, absolute */
    char *orgs_dir;
    long dispatch_batch;
    long dispatch_lease_s;
    long dispatch_recheck_s;
    long dispatch_workers;

    char *log_level;
    char *admin_operator_token; /* [admin] operator_token: every organization, or NULL */
    char *log_format;           /* logfmt, json or text */
};

/* One [channel.<name>] or [trigger.<name>] section. */
struct td_instance_config {
    enum td_plugin_kind kind;
    char *name;                      /* <name> */
    char *plugin;                    /* the plugin = key */
    struct td_ini_section *section;  /* borrowed from the org's ini */
    struct td_channel_policy policy; /* channels: the core's own keys */
};

/* An [account.<name>] of tidings.ini: a rate shared by connections naming it. */
struct td_account_config {
    char *name;
    double rate_per_s;
};

struct td_org_config {
    char *path;
    char *dir;
    char *id;
    char *name;
    char *timezone;
    char *locale;
    char *country; /* default calling code for phone numbers: "49" */
    struct td_instance_config *instances;
    size_t instance_count;
    struct td_admin_tokens admin; /* its [admin.<name>] sections */
    struct td_ini *ini;
    /* problems found in this organization's configuration (its file, its
     * sections against their plugins), and the first of them: the engine
     * does not serve an organization with any */
    size_t problems;
    char *problem;
};

struct td_conf {
    struct td_engine_config engine;
    struct td_org_config *orgs;
    size_t org_count;
    struct td_account_config *accounts;
    size_t account_count;
    size_t engine_problems; /* problems in tidings.ini itself (not an organization's) */
};

/* Reads the engine file at path and every *.ini in its orgs folder. Problems
 * go to diag, each naming file, section and line, and are counted where
 * they belong (conf->engine_problems, or the organization's problems). Returns 0 with *out set
 * (caller destroys it) when the engine file could be read, even if diag holds
 * problems; -ENOENT when path does not exist; another negative errno when it
 * could not be read. */
int td_conf_load(const char *path, struct td_conf **out, struct td_diag *diag);

/* Frees a configuration; NULL is a no-op. */
void td_conf_destroy(struct td_conf *conf);

/* Returns the [account.<name>] of tidings.ini, or NULL. Borrowed from conf. */
const struct td_account_config *td_conf_account(const struct td_conf *conf, const char *name);

/* Returns the organization with id, or NULL. Borrowed from conf. */

const struct td_org_config *td_conf_org(const struct td_conf *conf, const char *id);

/* Counts the diag lines from index `from` on as problems of org (keeping the
 * first as org->problem). */
void td_conf_org_blame(struct td_org_config *org, const struct td_diag *diag, size_t from);

#endif
