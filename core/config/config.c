/* config: reads tidings.ini (the engine) and conf.d/<org>.ini (one per
 * organization) into checked structures. */
#include "config/config.h"

#include "util/buf.h"
#include "config/config_value.h"
#include "util/path.h"
#include "config/secret.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_FIELD ((size_t)-1)

/* One key of the core's own sections, and where its value goes. */
struct conf_key {
    const char *section;
    const char *key;
    enum td_value_type type;
    bool required;
    const char *default_value;
    long min, max;
    bool reference_ok; /* may be an env:/file: reference */
    size_t text_field; /* offset of a char * field, or NO_FIELD */
    size_t long_field; /* offset of a long field, or NO_FIELD */
};

#define ENGINE_TEXT(f) offsetof(struct td_engine_config, f), NO_FIELD
#define ENGINE_LONG(f) NO_FIELD, offsetof(struct td_engine_config, f)
#define ORG_TEXT(f)    offsetof(struct td_org_config, f), NO_FIELD

/* TD_VALUE_PATH with several folders separated by ':' */
#define VALUE_PATHLIST ((enum td_value_type)999)

static const struct conf_key engine_keys[] = {
    {"database", "dsn", TD_VALUE_STRING, true, NULL, 0, 0, true, ENGINE_TEXT(db_dsn)},
    {"database", "pool", TD_VALUE_INT, false, "8", 1, 256, false, ENGINE_LONG(db_pool)},
    {"http", "listen", TD_VALUE_LISTEN, false, "127.0.0.1:8080", 0, 0, false,
     ENGINE_TEXT(http_listen)},
    {"http", "max_body", TD_VALUE_INT, false, "65536", 1024, 16777216, false,
     ENGINE_LONG(http_max_body)},
    {"http", "timeout", TD_VALUE_INT, false, "15", 1, 3600, false, ENGINE_LONG(http_timeout_s)},
    {"http", "threads", TD_VALUE_INT, false, "4", 1, 256, false, ENGINE_LONG(http_threads)},
    {"http", "header_timeout", TD_VALUE_INT, false, "5", 1, 3600, false,
     ENGINE_LONG(http_header_timeout_s)},
    {"http", "max_connections", TD_VALUE_INT, false, "1000", 16, 100000, false,
     ENGINE_LONG(http_max_connections)},
    {"http", "max_connections_per_client", TD_VALUE_INT, false, "64", 1, 100000, false,
     ENGINE_LONG(http_max_per_client)},
    {"http", "public_url", TD_VALUE_URL, false, NULL, 0, 0, false, ENGINE_TEXT(public_url)},
    {"http", "callback_secret", TD_VALUE_STRING, false, NULL, 0, 0, true,
     ENGINE_TEXT(callback_secret)},
    {"plugins", "path", VALUE_PATHLIST, true, NULL, 0, 0, false, ENGINE_TEXT(plugin_path)},
    {"orgs", "dir", TD_VALUE_PATH, false, "conf.d", 0, 0, false, ENGINE_TEXT(orgs_dir)},
    {"dispatch", "batch", TD_VALUE_INT, false, "100", 1, 10000, false, ENGINE_LONG(dispatch_batch)},
    {"dispatch", "lease", TD_VALUE_INT, false, "60", 5, 86400, false,
     ENGINE_LONG(dispatch_lease_s)},
    {"dispatch", "recheck", TD_VALUE_INT, false, "30", 1, 3600, false,
     ENGINE_LONG(dispatch_recheck_s)},
    {"dispatch", "workers", TD_VALUE_INT, false, "2", 1, 64, false, ENGINE_LONG(dispatch_workers)},

    {"admin", "operator_token", TD_VALUE_STRING, false, NULL, 0, 0, true,
     ENGINE_TEXT(admin_operator_token)},
    {"log", "level", TD_VALUE_LOGLEVEL, false, "info", 0, 0, false, ENGINE_TEXT(log_level)},
    {"log", "format", TD_VALUE_LOGFORMAT, false, "logfmt", 0, 0, false, ENGINE_TEXT(log_format)},
};

static const struct conf_key org_keys[] = {
    {"org", "id", TD_VALUE_ID, true, NULL, 0, 0, false, ORG_TEXT(id)},
    {"org", "name", TD_VALUE_STRING, true, NULL, 0, 0, false, ORG_TEXT(name)},
    {"org", "timezone", TD_VALUE_TIMEZONE, false, "UTC", 0, 0, false, ORG_TEXT(timezone)},
    {"org", "locale", TD_VALUE_LOCALE, false, "de", 0, 0, false, ORG_TEXT(locale)},
    {"org", "country", TD_VALUE_COUNTRY, false, "49", 0, 0, false, ORG_TEXT(country)},
};

static int conf_pathlist(const char *raw, const char *base_dir, char **out)
{
    struct td_buf b = {0};
    const char *p = raw;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len) {
            char *one = strndup(p, len);
            char *full = one ? td_path_join(base_dir, one) : NULL;
            if (b.len)
                td_buf_puts(&b, ":");
            if (full)
                td_buf_puts(&b, full);
            free(full);
            free(one);
        }
        p += len + (colon ? 1 : 0);
    }
    *out = td_buf_take(&b);
    return *out && **out ? 0 : -EINVAL;
}

/* Fills target from the core keys of one ini; reports missing, bad and
 * unknown keys in the sections the table covers. */
static void conf_apply_keys(struct td_ini *ini, const char *base_dir, const struct conf_key *keys,
                            size_t nkeys, void *target, struct td_diag *diag)
{
    for (size_t i = 0; i < nkeys; i++) {
        const struct conf_key *k = &keys[i];
        struct td_ini_section *s = td_ini_section_find(ini, k->section);
        struct td_ini_entry *e = s ? td_ini_entry_take(s, k->key) : NULL;
        const char *raw = e ? e->value : k->default_value;
        int line = e ? e->line : (s ? s->line : 0);
        if (!raw) {
            if (k->required)
                td_diag_add(diag, "%s:%d: [%s] missing required key '%s'", ini->path, line,
                            k->section, k->key);
            continue;
        }
        char *value = NULL;
        char err[256] = "";
        int rc;
        if (k->reference_ok && td_secret_is_reference(raw))
            rc = td_secret_resolve(raw, base_dir, &value, err, sizeof(err));
        else if (k->type == VALUE_PATHLIST)
            rc = conf_pathlist(raw, base_dir, &value);
        else
            rc = td_value_normalize(k->type, raw, base_dir, k->min, k->max, &value, err,
                                    sizeof(err));
        if (rc < 0) {
            td_diag_add(diag, "%s:%d: [%s] %s: %s", ini->path, line, k->section, k->key,
                        *err ? err : "bad value");
            free(value);
            continue;
        }
        if (k->text_field != NO_FIELD) {
            char **field = (char **)((char *)target + k->text_field);
            free(*field);
            *field = value;
        } else {
            long *field = (long *)((char *)target + k->long_field);
            td_parse_long(value, k->min, k->max, field);
            free(value);
        }
    }
}

static bool conf_table_has_section(const struct conf_key *keys, size_t nkeys, const char *name)
{
    for (size_t i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].section, name) == 0)
            return true;
    }
    return false;
}

/* Reports keys nobody took in the given section. */
static void conf_report_unknown(const struct td_ini *ini, const struct td_ini_section *s,
                                const char *known, struct td_diag *diag)
{
    for (size_t j = 0; j < s->count; j++) {
        if (!s->entries[j].used)
            td_diag_add(diag, "%s:%d: [%s] unknown key '%s'%s%s%s", ini->path, s->entries[j].line,
                        s->name, s->entries[j].key, known ? " (known: " : "", known ? known : "",
                        known ? ")" : "");
    }
}

static char *conf_known_keys(const struct conf_key *keys, size_t nkeys, const char *section)
{
    struct td_buf b = {0};
    for (size_t i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].section, section) == 0)
            td_buf_printf(&b, "%s%s", b.len ? ", " : "", keys[i].key);
    }
    return td_buf_take(&b);
}

static void conf_check_core_sections(const struct td_ini *ini, const struct conf_key *keys,
                                     size_t nkeys, struct td_diag *diag, bool allow_instances)
{
    for (size_t i = 0; i < ini->count; i++) {
        const struct td_ini_section *s = &ini->sections[i];
        if (conf_table_has_section(keys, nkeys, s->name)) {
            char *known = conf_known_keys(keys, nkeys, s->name);
            conf_report_unknown(ini, s, known, diag);
            free(known);
        } else if (!(allow_instances && (strncmp(s->name, "channel.", 8) == 0 ||
                                         strncmp(s->name, "trigger.", 8) == 0 ||
                                         strncmp(s->name, "admin.", 6) == 0)) &&
                   !(!allow_instances && strncmp(s->name, "account.", 8) == 0)) {

            td_diag_add(diag, "%s:%d: unknown section [%s]", ini->path, s->line, s->name);
        }
    }
}

static int conf_add_instance(struct td_org_config *org, struct td_ini_section *s,
                             struct td_diag *diag)
{
    enum td_plugin_kind kind =
        strncmp(s->name, "channel.", 8) == 0 ? TD_PLUGIN_CHANNEL : TD_PLUGIN_TRIGGER;
    const char *name = s->name + 8;
    char err[256] = "";
    char *checked = NULL;
    if (td_value_normalize(TD_VALUE_ID, name, NULL, 0, 0, &checked, err, sizeof(err)) < 0) {
        td_diag_add(diag, "%s:%d: [%s] bad section name: %s", org->path, s->line, s->name, err);
        return 0;
    }
    free(checked);
    struct td_ini_entry *plugin = td_ini_entry_take(s, "plugin");
    if (!plugin) {
        td_diag_add(diag, "%s:%d: [%s] missing required key 'plugin'", org->path, s->line, s->name);
        return 0;
    }
    if (td_value_normalize(TD_VALUE_ID, plugin->value, NULL, 0, 0, &checked, err, sizeof(err)) <
        0) {
        td_diag_add(diag, "%s:%d: [%s] plugin: %s", org->path, plugin->line, s->name, err);
        return 0;
    }
    free(checked);
    struct td_instance_config *p = realloc(org->instances, (org->instance_count + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    org->instances = p;
    struct td_instance_config *inst = &org->instances[org->instance_count];
    memset(inst, 0, sizeof(*inst));
    inst->kind = kind;
    inst->name = strdup(name);
    inst->plugin = strdup(plugin->value);
    inst->section = s;
    if (kind == TD_PLUGIN_CHANNEL)
        td_channel_policy_parse(org->path, s, &inst->policy, diag);
    if (!inst->name || !inst->plugin) {
        free(inst->name);
        free(inst->plugin);
        return -ENOMEM;
    }
    org->instance_count++;
    return 0;
}

static void conf_org_clear(struct td_org_config *org)
{
    for (size_t i = 0; i < org->instance_count; i++) {
        free(org->instances[i].name);
        free(org->instances[i].plugin);
        td_channel_policy_clear(&org->instances[i].policy);
    }
    free(org->instances);
    td_admin_tokens_clear(&org->admin);
    td_ini_destroy(org->ini);
    free(org->path);
    free(org->dir);
    free(org->id);
    free(org->name);
    free(org->timezone);
    free(org->locale);
    free(org->country);
    free(org->problem);
    memset(org, 0, sizeof(*org));
}

/* Reads one organization file into org. Returns 0 or -ENOMEM. */
static int conf_org_load(const char *path, struct td_org_config *org, struct td_diag *diag)
{
    memset(org, 0, sizeof(*org));
    org->path = strdup(path);
    org->dir = td_path_dir(path);
    if (!org->path || !org->dir)
        return -ENOMEM;
    int rc = td_ini_read(path, &org->ini, diag);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0)
        return 0;
    if (!td_ini_section_find(org->ini, "org")) {
        td_diag_add(diag, "%s:1: missing section [org]", path);
        return 0;
    }
    conf_apply_keys(org->ini, org->dir, org_keys, sizeof(org_keys) / sizeof(org_keys[0]), org,
                    diag);
    conf_check_core_sections(org->ini, org_keys, sizeof(org_keys) / sizeof(org_keys[0]), diag,
                             true);
    char *stem = td_path_stem(path, ".ini");
    if (!stem)
        return -ENOMEM;
    if (!org->id) /* missing (a problem already): known by its file's name */
        org->id = strdup(stem);
    else if (strcmp(stem, org->id) != 0) {
        struct td_ini_section *s = td_ini_section_find(org->ini, "org");
        struct td_ini_entry *e = td_ini_entry_take(s, "id");
        td_diag_add(diag, "%s:%d: [org] id '%s' does not match the file name (expected '%s')", path,
                    e ? e->line : s->line, org->id, stem);
    }
    free(stem);
    for (size_t i = 0; i < org->ini->count; i++) {
        struct td_ini_section *s = &org->ini->sections[i];
        if (strncmp(s->name, "channel.", 8) == 0 || strncmp(s->name, "trigger.", 8) == 0) {
            if (conf_add_instance(org, s, diag) < 0)
                return -ENOMEM;
        } else if (strncmp(s->name, "admin.", 6) == 0) {
            if (td_admin_token_section(path, org->dir, s, &org->admin, diag) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* [account.<name>] sections of tidings.ini: a rate shared by the connections
 * that name the account. */
static int conf_load_accounts(struct td_ini *ini, struct td_conf *conf, struct td_diag *diag)
{
    for (size_t i = 0; i < ini->count; i++) {
        struct td_ini_section *s = &ini->sections[i];
        if (strncmp(s->name, "account.", 8) != 0)
            continue;
        char err[200];
        char *id = NULL;
        if (td_value_normalize(TD_VALUE_ID, s->name + 8, NULL, 0, 0, &id, err, sizeof(err)) < 0) {
            td_diag_add(diag, "%s:%d: [%s] bad section name: %s", ini->path, s->line, s->name, err);
            continue;
        }
        struct td_ini_entry *rate = td_ini_entry_take(s, "rate");
        double per_s = 0;
        if (!rate)
            td_diag_add(diag, "%s:%d: [%s] missing required key 'rate'", ini->path, s->line,
                        s->name);
        else if (td_parse_rate(rate->value, &per_s) < 0)
            td_diag_add(diag, "%s:%d: [%s] rate: '%s' is not a rate like 2/s or 600/m", ini->path,
                        rate->line, s->name, rate->value);
        conf_report_unknown(ini, s, "rate", diag);
        struct td_account_config *a =
            realloc(conf->accounts, (conf->account_count + 1) * sizeof(*a));
        if (!a) {
            free(id);
            return -ENOMEM;
        }
        conf->accounts = a;
        conf->accounts[conf->account_count].name = id;
        conf->accounts[conf->account_count].rate_per_s = per_s;
        conf->account_count++;
    }
    return 0;
}

/* Every account a channel names must be defined in tidings.ini. */
static void conf_check_accounts_used(struct td_conf *conf, struct td_diag *diag)
{
    for (size_t o = 0; o < conf->org_count; o++) {
        struct td_org_config *org = &conf->orgs[o];
        size_t before = diag->count;
        for (size_t i = 0; i < org->instance_count; i++) {
            const char *name = org->instances[i].policy.account;
            if (name && !td_conf_account(conf, name))
                td_diag_add(diag,
                            "%s:%d: [%s] account '%s' is not defined (add [account.%s] "
                            "with a rate to %s)",
                            org->path, org->instances[i].section->line,
                            org->instances[i].section->name, name, name, conf->engine.path);
        }
        td_conf_org_blame(org, diag, before);
    }
}

void td_conf_org_blame(struct td_org_config *org, const struct td_diag *diag, size_t from)
{
    if (diag->count <= from)
        return;
    if (!org->problem)
        org->problem = strdup(diag->lines[from] ? diag->lines[from] : "a problem");
    org->problems += diag->count - from;
}

static int conf_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists *.ini in dir, sorted. Returns 0 or a negative errno. */
static int conf_list_ini(const char *dir, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".ini") != 0)
            continue;
        char **p = realloc(*out, (*count + 1) * sizeof(*p));
        if (!p) {
            rc = -ENOMEM;
            break;
        }
        *out = p;
        (*out)[*count] = td_path_join(dir, de->d_name);
        if (!(*out)[*count]) {
            rc = -ENOMEM;
            break;
        }
        (*count)++;
    }
    closedir(d);
    if (*count)
        qsort(*out, *count, sizeof(**out), conf_cmp_names);
    return rc;
}

int td_conf_load(const char *path, struct td_conf **out, struct td_diag *diag)
{
    *out = NULL;
    struct td_conf *conf = calloc(1, sizeof(*conf));
    if (!conf)
        return -ENOMEM;
    struct td_engine_config *e = &conf->engine;
    struct td_ini *ini = NULL;
    char **files = NULL;
    size_t nfiles = 0;
    int rc = td_ini_read(path, &ini, diag);
    if (rc < 0)
        goto out_fail;
    e->path = strdup(path);
    e->dir = td_path_dir(path);
    if (!e->path || !e->dir) {
        rc = -ENOMEM;
        goto out_fail;
    }
    const size_t nkeys = sizeof(engine_keys) / sizeof(engine_keys[0]);
    conf_apply_keys(ini, e->dir, engine_keys, nkeys, e, diag);
    conf_check_core_sections(ini, engine_keys, nkeys, diag, false);
    if (conf_load_accounts(ini, conf, diag) < 0) {
        rc = -ENOMEM;
        goto out_fail;
    }

    if (e->orgs_dir) {
        int lrc = conf_list_ini(e->orgs_dir, &files, &nfiles);
        if (lrc == -ENOMEM) {
            rc = lrc;
            goto out_fail;
        }
        if (lrc < 0)
            td_diag_add(diag, "%s: [orgs] dir %s: %s", path, e->orgs_dir, strerror(-lrc));
    }
    if (nfiles) {
        conf->orgs = calloc(nfiles, sizeof(*conf->orgs));
        if (!conf->orgs) {
            rc = -ENOMEM;
            goto out_fail;
        }
    }
    conf->engine_problems = diag->count;
    for (size_t i = 0; i < nfiles; i++) {
        size_t before = diag->count;
        struct td_org_config *org = &conf->orgs[conf->org_count];
        rc = conf_org_load(files[i], org, diag);
        conf->org_count++;
        if (rc < 0)
            goto out_fail;
        td_conf_org_blame(org, diag, before);
    }
    conf_check_accounts_used(conf, diag);
    rc = 0;
    *out = conf;
    conf = NULL;
out_fail:
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    td_ini_destroy(ini);
    td_conf_destroy(conf);
    return rc;
}

const struct td_account_config *td_conf_account(const struct td_conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->account_count; i++) {
        if (conf->accounts[i].name && strcmp(conf->accounts[i].name, name) == 0)
            return &conf->accounts[i];
    }
    return NULL;
}

void td_conf_destroy(struct td_conf *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->account_count; i++)
        free(conf->accounts[i].name);
    free(conf->accounts);

    for (size_t i = 0; i < conf->org_count; i++)
        conf_org_clear(&conf->orgs[i]);
    free(conf->orgs);
    struct td_engine_config *e = &conf->engine;
    free(e->path);
    free(e->dir);
    free(e->db_dsn);
    free(e->http_listen);
    free(e->public_url);
    free(e->callback_secret);

    free(e->plugin_path);
    free(e->orgs_dir);
    free(e->log_level);
    if (e->admin_operator_token)
        memset(e->admin_operator_token, 0, strlen(e->admin_operator_token));
    free(e->admin_operator_token);
    free(e->log_format);
    free(conf);
}

const struct td_org_config *td_conf_org(const struct td_conf *conf, const char *id)
{
    for (size_t i = 0; i < conf->org_count; i++) {
        if (conf->orgs[i].id && strcmp(conf->orgs[i].id, id) == 0)
            return &conf->orgs[i];
    }
    return NULL;
}
