/* cli_sequences: `tidings sequences import|export|validate`. */
#include "config/channel_names.h"
#include "cli/cli.h"
#include "store/db.h"
#include "expand/objects_file.h"
#include "store/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char sequences_usage[] =
    "usage: tidings [-c FILE] sequences import --org ORG [--allow-unconfigured-channels] FILE\n"
    "       tidings [-c FILE] sequences export --org ORG [FILE]\n"
    "       tidings [-c FILE] sequences validate [--org ORG [--allow-unconfigured-channels]] "
    "FILE\n"
    "\n"
    "Sequences and templates are versioned JSON documents in the database. A file holds\n"
    "  { \"sequences\": [ ... ], \"templates\": [ ... ] }\n"
    "validate  checks a file without touching the database and names every bad field,\n"
    "          each with the file's line and its path, like\n"
    "            haff.json:42: sequences[0].steps[1].at.offset: '-7x' is not an offset ...\n"
    "          A channel no plugin on the plugin path serves is refused; with --org, so is\n"
    "          a send on a channel the organization has not configured ([channel.<name>]\n"
    "          in its conf.d/<org>.ini). Reads the configuration for both\n"
    "import    checks the file like validate --org, also against the templates already\n"
    "          saved, then saves every sequence and template that changed as a new\n"
    "          version, all in one transaction: on any problem nothing is saved\n"
    "export    writes the newest version of every sequence and template (to stdout, or FILE)\n"
    "--allow-unconfigured-channels  accepts channels the organization has not configured\n"
    "          (yet): their sends are skipped, or fall back, until it does. Channels no\n"
    "          plugin serves are refused all the same\n";

struct seq_args {
    const char *org;
    const char *file;
    bool allow_unconfigured;
};

static int seq_parse_args(int argc, char **argv, struct seq_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--org") == 0 && i + 1 < argc) {
            a->org = argv[++i];
        } else if (strcmp(argv[i], "--allow-unconfigured-channels") == 0) {
            a->allow_unconfigured = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "tidings sequences: unknown option %s\n", argv[i]);
            return -EINVAL;
        } else if (!a->file) {
            a->file = argv[i];
        } else {
            fprintf(stderr, "tidings sequences: unexpected argument '%s'\n", argv[i]);
            return -EINVAL;
        }
    }
    return 0;
}

/* The channels a file may use: what the plugins on conf's plugin path serve
 * and, with an organization (unless unconfigured channels are allowed), what
 * it configured. Returns an exit code. */
static int seq_channel_names(const struct td_conf *conf, const struct seq_args *a,
                             const char *action, struct td_channel_names **out)
{
    const struct td_org_config *org = NULL;
    if (a->org) {
        org = td_conf_org(conf, a->org);
        if (!org) {
            fprintf(stderr, "tidings sequences %s: unknown organization '%s'\n", action, a->org);
            return TD_EXIT_FAILURE;
        }
    }
    if (td_channel_names_create(conf->engine.plugin_path, a->allow_unconfigured ? NULL : org, out) <
        0) {
        fprintf(stderr, "tidings sequences %s: out of memory\n", action);
        return TD_EXIT_FAILURE;
    }
    return TD_EXIT_OK;
}

static int seq_validate(const char *config_path, const struct seq_args *a)
{
    if (!a->file) {
        fprintf(stderr, "tidings sequences validate: FILE is required\n");
        return TD_EXIT_USAGE;
    }
    /* only the plugin path (and the organization) matter here: the rest of
     * the configuration is `tidings check`'s to judge */
    struct td_diag conf_diag = {0};
    struct td_conf *conf = NULL;
    int rc = td_conf_load(config_path, &conf, &conf_diag);
    td_diag_clear(&conf_diag);
    if (rc < 0) {
        fprintf(stderr,
                "tidings sequences validate: %s %s (channels are checked against its plugin "
                "path; use -c FILE or TIDINGS_CONFIG)\n",
                rc == -ENOENT ? "configuration file not found:" : "cannot read configuration",
                config_path);
        return TD_EXIT_USAGE;
    }
    struct td_channel_names *names = NULL;
    rc = seq_channel_names(conf, a, "validate", &names);
    if (rc != TD_EXIT_OK) {
        td_conf_destroy(conf);
        return rc;
    }
    struct td_diag diag = {0}, warnings = {0};
    json_t *doc = td_objects_file_load(a->file, NULL, names, &diag, &warnings);
    rc = diag.count ? TD_EXIT_FAILURE : TD_EXIT_OK;
    td_diag_print(&diag, stderr, "");
    td_diag_print(&warnings, stderr, "warning: ");
    td_diag_clear(&warnings);
    if (rc == TD_EXIT_OK)
        printf("ok: %s: %zu sequence(s), %zu template(s)\n", a->file,
               json_array_size(json_object_get(doc, "sequences")),
               json_array_size(json_object_get(doc, "templates")));
    else
        fprintf(stderr, "tidings sequences validate: %zu problem%s\n", diag.count,
                diag.count == 1 ? "" : "s");
    td_diag_clear(&diag);
    json_decref(doc);
    td_channel_names_destroy(names);
    td_conf_destroy(conf);
    return rc;
}

/* Saves every object of one kind; counts new versions. */
static int seq_put_all(PGconn *c, const char *org, const char *kind, json_t *list, const char *who,
                       int *changed_count, char *err, size_t errcap)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        int version;
        bool changed;
        const char *key = json_string_value(json_object_get(item, "key"));
        if (td_store_object_put(c, org, kind, key, item, who, &version, &changed, err, errcap) < 0)
            return -EIO;
        printf("  %s %-28s v%d%s", kind, key, version, changed ? " (new)" : " (unchanged)");
        /* paused holds its pending messages, active releases them, archived
         * cancels them */
        const char *status = json_string_value(json_object_get(item, "status"));
        if (!status)
            status = "active";
        int moved = 0;
        if (changed && strcmp(kind, "sequence") == 0 &&
            td_store_sequence_status_changed(c, org, key, status, &moved, err, errcap) < 0)
            return -EIO;
        if (moved)
            printf(", %s: %d pending message%s %s", status, moved, moved == 1 ? "" : "s",
                   strcmp(status, "paused") == 0   ? "held"
                   : strcmp(status, "active") == 0 ? "released"
                                                   : "cancelled");
        putchar('\n');
        if (changed)
            (*changed_count)++;
    }
    return 0;
}

static int seq_import(struct td_conf *conf, const struct seq_args *a)
{
    if (!a->file || !a->org) {
        fprintf(stderr, "tidings sequences import: --org ORG and FILE are required\n");
        return TD_EXIT_USAGE;
    }
    struct td_channel_names *names = NULL;
    int rc = seq_channel_names(conf, a, "import", &names);
    if (rc != TD_EXIT_OK)
        return rc;
    char err[512];
    PGconn *c = td_db_connect(conf->engine.db_dsn, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "tidings sequences import: cannot reach the database: %s\n", err);
        td_channel_names_destroy(names);
        return TD_EXIT_FAILURE;
    }
    rc = TD_EXIT_FAILURE;
    json_t *known = NULL;
    json_t *doc = NULL;
    struct td_diag diag = {0};
    if (td_store_objects_current(c, a->org, "template", &known, err, sizeof(err)) < 0) {
        fprintf(stderr, "tidings sequences import: %s\n", err);
        goto out;
    }
    struct td_diag warnings = {0};
    doc = td_objects_file_load(a->file, known, names, &diag, &warnings);
    td_diag_print(&warnings, stderr, "warning: ");
    td_diag_clear(&warnings);
    if (diag.count) {
        td_diag_print(&diag, stderr, "");
        fprintf(stderr, "tidings sequences import: nothing saved (%zu problem%s)\n", diag.count,
                diag.count == 1 ? "" : "s");
        goto out;
    }
    char who[80] = "cli";
    const char *user = getenv("USER");
    snprintf(who, sizeof(who), "cli:%s", user && *user ? user : "unknown");
    int changed = 0;
    printf("importing %s into organization %s\n", a->file, a->org);
    if (td_store_begin(c, err, sizeof(err)) < 0 ||
        seq_put_all(c, a->org, "template", json_object_get(doc, "templates"), who, &changed, err,
                    sizeof(err)) < 0 ||
        seq_put_all(c, a->org, "sequence", json_object_get(doc, "sequences"), who, &changed, err,
                    sizeof(err)) < 0 ||
        (changed && td_store_objects_touch(c, a->org, err, sizeof(err)) < 0) ||
        td_store_commit(c, err, sizeof(err)) < 0) {

        td_store_rollback(c);
        fprintf(stderr, "tidings sequences import: nothing saved: %s\n", err);
        goto out;
    }
    printf("imported: %d new version%s\n", changed, changed == 1 ? "" : "s");
    rc = TD_EXIT_OK;
out:
    td_diag_clear(&diag);
    json_decref(doc);
    json_decref(known);
    td_channel_names_destroy(names);
    PQfinish(c);
    return rc;
}

static int seq_export(struct td_conf *conf, const struct seq_args *a)
{
    if (!a->org) {
        fprintf(stderr, "tidings sequences export: --org ORG is required\n");
        return TD_EXIT_USAGE;
    }
    char err[512];
    PGconn *c = td_db_connect(conf->engine.db_dsn, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "tidings sequences export: cannot reach the database: %s\n", err);
        return TD_EXIT_FAILURE;
    }
    json_t *seqs = NULL, *tmpls = NULL;
    int rc = TD_EXIT_FAILURE;
    if (td_store_objects_current(c, a->org, "sequence", &seqs, err, sizeof(err)) < 0 ||
        td_store_objects_current(c, a->org, "template", &tmpls, err, sizeof(err)) < 0) {
        fprintf(stderr, "tidings sequences export: %s\n", err);
        goto out;
    }
    json_t *doc = json_pack("{s:O, s:O}", "sequences", seqs, "templates", tmpls);
    int flags = JSON_INDENT(2) | JSON_SORT_KEYS;
    int wrc = a->file ? json_dump_file(doc, a->file, flags) : json_dumpf(doc, stdout, flags);
    json_decref(doc);
    if (wrc < 0) {
        fprintf(stderr, "tidings sequences export: cannot write %s\n",
                a->file ? a->file : "stdout");
        goto out;
    }
    if (!a->file)
        putchar('\n');
    rc = TD_EXIT_OK;
out:
    json_decref(seqs);
    json_decref(tmpls);
    PQfinish(c);
    return rc;
}

int td_cli_sequences(const char *config_path, int argc, char **argv)
{
    if (argc == 0 || td_cli_wants_help(argc, argv)) {
        fputs(sequences_usage, argc == 0 ? stderr : stdout);
        return argc == 0 ? TD_EXIT_USAGE : TD_EXIT_OK;
    }
    struct seq_args a;
    if (seq_parse_args(argc - 1, argv + 1, &a) < 0)
        return TD_EXIT_USAGE;
    if (strcmp(argv[0], "validate") == 0) {
        if (a.allow_unconfigured && !a.org) {
            fprintf(stderr, "tidings sequences validate: --allow-unconfigured-channels goes "
                            "with --org ORG\n");
            return TD_EXIT_USAGE;
        }
        return seq_validate(config_path, &a);
    }
    if (strcmp(argv[0], "import") != 0 && strcmp(argv[0], "export") != 0) {
        fprintf(stderr, "tidings sequences: unknown action '%s' (import, export, validate)\n",
                argv[0]);
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    int rc = td_cli_load_conf(config_path, &conf);
    if (rc != TD_EXIT_OK)
        return rc;
    rc = strcmp(argv[0], "import") == 0 ? seq_import(conf, &a) : seq_export(conf, &a);
    td_conf_destroy(conf);
    return rc;
}
