/* cli_customers: `tidings customers show` and `tidings stats`, the admin
 * API's reads on the command line (the same store reads and checks). */
#include "cli/cli.h"

#include "admin/admin_params.h"
#include "config/config_value.h"
#include "store/db.h"
#include "store/store.h"
#include "util/clock.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char customers_usage[] =
    "usage: tidings [-c FILE] customers show --org ORG [--limit N] [--json] ADDRESS\n"
    "\n"
    "Every message to one customer (an e-mail address in any case, or an E.164 number),\n"
    "across bookings and sequences, newest first (sent time, else scheduled time; default\n"
    "100, at most 1000), times in the booking's zone with its offset. --json prints the\n"
    "admin API's answer (GET /v1/admin/orgs/ORG/customers/ADDRESS/messages).\n";

static const char stats_usage[] =
    "usage: tidings [-c FILE] stats --org ORG [--by channel|sequence|step|day]\n"
    "                              [--from TIME] [--to TIME] [--json]\n"
    "\n"
    "Messages scheduled from TIME (default: 30 days before --to) to TIME (default: now,\n"
    "RFC 3339 with its offset), per group: counts per state, the delivery, bounce and\n"
    "complaint rates of what reached the provider next to the targets (99 % of e-mails,\n"
    "95 % of SMS delivered), lateness and intake p50/p99. --json prints the admin API's\n"
    "answer (GET /v1/admin/orgs/ORG/stats).\n";

struct read_args {
    const char *org, *by, *from, *to, *address;
    long limit;
    bool json;
};

static int read_parse(int argc, char **argv, struct read_args *a, const char *cmd, bool positional)
{
    memset(a, 0, sizeof(*a));
    a->limit = 100;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **target = strcmp(argv[i], "--org") == 0    ? &a->org
                              : strcmp(argv[i], "--by") == 0   ? &a->by
                              : strcmp(argv[i], "--from") == 0 ? &a->from
                              : strcmp(argv[i], "--to") == 0   ? &a->to
                                                               : NULL;
        if (target) {
            if (!v) {
                fprintf(stderr, "tidings %s: %s needs a value\n", cmd, argv[i]);
                return -EINVAL;
            }
            *target = v;
            i++;
        } else if (strcmp(argv[i], "--limit") == 0) {
            if (!v || td_parse_long(v, 1, 1000, &a->limit) < 0) {
                fprintf(stderr, "tidings %s: --limit needs a number from 1 to 1000\n", cmd);
                return -EINVAL;
            }
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if (argv[i][0] == '-' || !positional || a->address) {
            fprintf(stderr, "tidings %s: unexpected %s (see --help)\n", cmd, argv[i]);
            return -EINVAL;
        } else {
            a->address = argv[i];
        }
    }
    if (!a->org) {
        fprintf(stderr, "tidings %s: --org ORG is required\n", cmd);
        return -EINVAL;
    }
    return 0;
}

/* Opens the database of the configuration at path and checks org is one of
 * it. Returns the connection, or NULL (said why; *rc the exit code). */
static PGconn *read_connect(const char *path, const char *org, const char *cmd, const char **tz,
                            struct td_conf **conf, int *rc)
{
    *rc = td_cli_load_conf_per_org(path, conf);
    if (*rc != TD_EXIT_OK)
        return NULL;
    const struct td_org_config *o = NULL;
    for (size_t i = 0; i < (*conf)->org_count; i++) {
        if (strcmp((*conf)->orgs[i].id, org) == 0)
            o = &(*conf)->orgs[i];
    }
    if (!o) {
        fprintf(stderr, "tidings %s: no organization '%s' in the configuration\n", cmd, org);
        *rc = TD_EXIT_FAILURE;
        return NULL;
    }
    *tz = o->timezone ? o->timezone : "UTC";
    char err[512];
    PGconn *c = td_db_connect((*conf)->engine.db_dsn, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "tidings %s: cannot reach the database: %s\n", cmd, err);
        *rc = TD_EXIT_FAILURE;
    }
    return c;
}

static const char *text_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* Prints rows of cells with every column as wide as its widest cell. */
static void print_table(const char *const *head, size_t cols, json_t *rows)
{
    size_t width[16] = {0};
    for (size_t k = 0; k < cols; k++)
        width[k] = strlen(head[k]);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        for (size_t k = 0; k < cols; k++) {
            size_t n = strlen(json_string_value(json_array_get(row, k)));
            if (n > width[k])
                width[k] = n;
        }
    }
    for (size_t k = 0; k < cols; k++)
        printf("%-*s%s", (int)width[k], head[k], k + 1 < cols ? "  " : "\n");
    json_array_foreach(rows, i, row)
    {
        for (size_t k = 0; k < cols; k++)
            printf("%-*s%s", (int)width[k], json_string_value(json_array_get(row, k)),
                   k + 1 < cols ? "  " : "\n");
    }
}

static void print_customer(json_t *doc)
{
    json_t *messages = json_object_get(doc, "messages");
    static const char *const head[] = {"id",     "booking", "sequence/step", "channel",
                                       "status", "time",    "reason"};
    json_t *rows = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        char id[24], step[300];
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(m, "id")));
        snprintf(step, sizeof(step), "%s/%s", text_of(m, "sequence"), text_of(m, "step"));
        json_array_append_new(rows, json_pack("[s, s, s, s, s, s, s]", id, text_of(m, "booking_id"),
                                              step, text_of(m, "channel"), text_of(m, "status"),
                                              text_of(m, "scheduled_local"), text_of(m, "reason")));
    }
    print_table(head, 7, rows);
    printf("(%zu message%s)\n", json_array_size(messages),
           json_array_size(messages) == 1 ? "" : "s");
    json_decref(rows);
}

static void rate_text(json_t *v, char *out, size_t cap)
{
    if (json_is_number(v))
        snprintf(out, cap, "%.1f %%", json_number_value(v) * 100.0);
    else
        snprintf(out, cap, "-");
}

static void print_stats(json_t *doc)
{
    printf("messages scheduled from %s to %s, by %s\n", text_of(doc, "from"), text_of(doc, "to"),
           text_of(doc, "by"));
    static const char *const head[] = {"group",   "total",      "reached",  "delivered",
                                       "bounced", "complaints", "late p50", "late p99"};
    json_t *rows = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(doc, "groups"), i, g)
    {
        char total[24], reached[24], d[24], b[24], c[24], p50[32], p99[32];
        snprintf(total, sizeof(total), "%lld",
                 (long long)json_integer_value(json_object_get(g, "total")));
        snprintf(reached, sizeof(reached), "%lld",
                 (long long)json_integer_value(json_object_get(g, "reached_provider")));
        rate_text(json_object_get(g, "delivery_rate"), d, sizeof(d));
        rate_text(json_object_get(g, "bounce_rate"), b, sizeof(b));
        rate_text(json_object_get(g, "complaint_rate"), c, sizeof(c));
        json_t *l50 = json_object_get(g, "lateness_p50_seconds");
        json_t *l99 = json_object_get(g, "lateness_p99_seconds");
        snprintf(p50, sizeof(p50), json_is_number(l50) ? "%.3f s" : "-", json_number_value(l50));
        snprintf(p99, sizeof(p99), json_is_number(l99) ? "%.3f s" : "-", json_number_value(l99));
        json_array_append_new(rows, json_pack("[s, s, s, s, s, s, s, s]", text_of(g, "key"), total,
                                              reached, d, b, c, p50, p99));
    }
    print_table(head, 8, rows);
    json_decref(rows);
    json_t *in = json_object_get(doc, "intake");
    json_t *i99 = json_object_get(in, "p99_seconds");
    printf("intake (arrival to message rows): %lld events, p99 %s",
           (long long)json_integer_value(json_object_get(in, "events")),
           json_is_number(i99) ? "" : "-");
    if (json_is_number(i99))
        printf("%.3f s", json_number_value(i99));
    printf("\ntargets: e-mail delivered 99 %%, SMS delivered 95 %%, intake p99 under 1 s\n");
}

/* Prints doc (the admin API's answer, when the read succeeded) as JSON or
 * through human, frees what the command held, and returns rc. */
static int read_finish(json_t *doc, bool json, void (*human)(json_t *), PGconn *c,
                       struct td_conf *conf, int rc)
{
    if (doc && json) {
        json_dumpf(doc, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (doc) {
        human(doc);
    }
    json_decref(doc);
    if (c)
        PQfinish(c);
    td_conf_destroy(conf);
    return rc;
}

int td_cli_customers(const char *config_path, int argc, char **argv)
{
    if (argc < 1 || td_cli_wants_help(argc, argv) || strcmp(argv[0], "show") != 0) {
        fputs(customers_usage, argc >= 1 && td_cli_wants_help(argc, argv) ? stdout : stderr);
        return argc >= 1 && td_cli_wants_help(argc, argv) ? TD_EXIT_OK : TD_EXIT_USAGE;
    }
    struct read_args a;
    if (read_parse(argc - 1, argv + 1, &a, "customers show", true) < 0)
        return TD_EXIT_USAGE;
    if (!a.address) {
        fprintf(stderr, "tidings customers show: the customer's ADDRESS is required\n");
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    const char *tz;
    int rc;
    PGconn *c = read_connect(config_path, a.org, "customers show", &tz, &conf, &rc);
    json_t *messages = NULL;
    char err[512];
    if (c && td_store_admin_customer_messages(c, a.org, a.address, (int)a.limit, &messages, err,
                                              sizeof(err)) < 0) {
        fprintf(stderr, "tidings customers show: %s\n", err);
        rc = TD_EXIT_FAILURE;
    }
    json_t *doc =
        messages ? json_pack("{s:s, s:o}", "address", a.address, "messages", messages) : NULL;
    return read_finish(doc, a.json, print_customer, c, conf, rc);
}

int td_cli_stats(const char *config_path, int argc, char **argv)
{
    if (td_cli_wants_help(argc, argv)) {
        fputs(stats_usage, stdout);
        return TD_EXIT_OK;
    }
    struct read_args a;
    if (read_parse(argc, argv, &a, "stats", false) < 0)
        return TD_EXIT_USAGE;
    struct td_admin_stats_range range;
    struct td_admin_bad bad;
    if (td_admin_stats_range(a.by, a.from, a.to, td_wall_ms(), &range, &bad) < 0) {
        fprintf(stderr, "tidings stats: --%s: %s\n", bad.field, bad.problem);
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    const char *tz;
    int rc;
    PGconn *c = read_connect(config_path, a.org, "stats", &tz, &conf, &rc);
    json_t *doc = NULL;
    char err[512];
    if (c && td_store_admin_stats(c, a.org, range.by, tz, range.from, range.to, &doc, err,
                                  sizeof(err)) < 0) {
        fprintf(stderr, "tidings stats: %s\n", err);
        rc = TD_EXIT_FAILURE;
    }
    return read_finish(doc, a.json, print_stats, c, conf, rc);
}
