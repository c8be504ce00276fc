/* cli_messages: `tidings messages list|retry|cancel` and
 * `tidings channels list|resume`: operators see the queue and act on it;
 * every action is recorded with who and why. */
#include "cli/cli.h"
#include "intake/address.h"
#include "config/config_value.h"
#include "store/db.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char messages_usage[] =
    "usage: tidings [-c FILE] messages list [--org ORG] [--state STATE] [--booking ID]\n"
    "                                       [--channel CH] [--limit N] [--json]\n"
    "       tidings [-c FILE] messages retry  --org ORG --reason TEXT [--as NAME] [--force] ID...\n"
    "       tidings [-c FILE] messages cancel --org ORG --reason TEXT [--as NAME] ID...\n"
    "\n"
    "list    the newest messages (default 50), filtered; times in each booking's zone with\n"
    "        its offset (2026-10-25 02:35 +02:00); --json prints them as JSON, times in UTC\n"
    "retry   a failed, expired, skipped, cancelled or held message: due now (or at its own\n"
    "        time when that is still ahead), attempts from zero (a held one, whose earlier\n"
    "        attempt may have reached the provider, is sent again as it was); refused when\n"
    "        its booking is cancelled or its deadline has passed, unless --force\n"
    "cancel  a scheduled or held message\n"
    "Each retry and cancel is recorded in tidings.actions with who (--as, else $USER) and\n"
    "why (--reason). Exit 1 when a message was not in a state the action applies to.\n";

static const char channels_usage[] =
    "usage: tidings [-c FILE] channels list\n"
    "       tidings [-c FILE] channels resume --org ORG --channel CH --reason TEXT [--as NAME]\n"
    "\n"
    "A channel whose credentials the provider refused is suspended: its messages wait.\n"
    "It resumes by itself when its configuration changes; resume lifts it by hand (the\n"
    "engines notice within seconds). The action is recorded with who and why.\n";

struct op_args {
    const char *org, *state, *booking, *channel, *reason, *actor;
    long limit;
    bool json;
    bool force;
    char **ids;
    int id_count;
};

static int op_parse(int argc, char **argv, struct op_args *a, const char *cmd)
{
    memset(a, 0, sizeof(*a));
    a->limit = 50;
    a->ids = argv;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **target = strcmp(argv[i], "--org") == 0       ? &a->org
                              : strcmp(argv[i], "--state") == 0   ? &a->state
                              : strcmp(argv[i], "--booking") == 0 ? &a->booking
                              : strcmp(argv[i], "--channel") == 0 ? &a->channel
                              : strcmp(argv[i], "--reason") == 0  ? &a->reason
                              : strcmp(argv[i], "--as") == 0      ? &a->actor
                                                                  : NULL;
        if (target) {
            if (!v) {
                fprintf(stderr, "tidings %s: %s needs a value\n", cmd, argv[i]);
                return -EINVAL;
            }
            *target = v;
            i++;
        } else if (strcmp(argv[i], "--limit") == 0) {
            if (!v || td_parse_long(v, 1, 100000, &a->limit) < 0) {
                fprintf(stderr, "tidings %s: --limit needs a number from 1 to 100000\n", cmd);
                return -EINVAL;
            }
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if (strcmp(argv[i], "--force") == 0) {
            a->force = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "tidings %s: unknown option %s\n", cmd, argv[i]);
            return -EINVAL;
        } else {
            a->ids[a->id_count++] = argv[i];
        }
    }
    if (!a->actor) {
        const char *user = getenv("USER");
        a->actor = user && *user ? user : "unknown";
    }
    return 0;
}

static PGconn *op_connect(const char *config_path, struct td_conf **conf, int *rc)
{
    *rc = td_cli_load_conf(config_path, conf);
    if (*rc != TD_EXIT_OK)
        return NULL;
    char err[512];
    PGconn *c = td_db_connect((*conf)->engine.db_dsn, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "tidings: cannot reach the database: %s\n", err);
        *rc = TD_EXIT_FAILURE;
    }
    return c;
}

static const char *text_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The columns of `messages list`, each as wide as its widest value. */
static const char *const list_columns[] = {"ID",      "ORG",   "BOOKING", "SEQUENCE/STEP",
                                           "CHANNEL", "STATE", "TRY",     "SCHEDULED (LOCAL)",
                                           "REASON"};
#define LIST_COLUMNS (sizeof(list_columns) / sizeof(list_columns[0]))

/* Row r's text in column k (into buf for the composed ones). */
static const char *list_cell(json_t *r, size_t k, char *buf, size_t cap)
{
    switch (k) {
    case 0:
        snprintf(buf, cap, "%lld", (long long)json_integer_value(json_object_get(r, "id")));
        return buf;
    case 1: return text_of(r, "org");
    case 2: return text_of(r, "booking");
    case 3: snprintf(buf, cap, "%s/%s", text_of(r, "sequence"), text_of(r, "step")); return buf;
    case 4: return text_of(r, "channel");
    case 5: return text_of(r, "status");
    case 6:
        snprintf(buf, cap, "%lld", (long long)json_integer_value(json_object_get(r, "attempts")));
        return buf;
    case 7: return text_of(r, "scheduled_local");
    default: return text_of(r, "reason");
    }
}

/* Prints rows as a table; times in each booking's own zone with their offset
 * (`--json` keeps UTC). Nothing is cut off. */
static void print_list(json_t *rows)
{
    int width[LIST_COLUMNS];
    char buf[600];
    for (size_t k = 0; k < LIST_COLUMNS; k++)
        width[k] = (int)strlen(list_columns[k]);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        for (size_t k = 0; k + 1 < LIST_COLUMNS; k++) {
            int n = (int)strlen(list_cell(r, k, buf, sizeof(buf)));
            if (n > width[k])
                width[k] = n;
        }
    }
    for (size_t k = 0; k < LIST_COLUMNS; k++) {
        if (k + 1 < LIST_COLUMNS)
            printf("%-*s  ", width[k], list_columns[k]);
        else
            printf("%s\n", list_columns[k]);
    }
    json_array_foreach(rows, i, r)
    {
        for (size_t k = 0; k < LIST_COLUMNS; k++) {
            const char *cell = list_cell(r, k, buf, sizeof(buf));
            if (k + 1 < LIST_COLUMNS)
                printf("%-*s  ", width[k], cell);
            else
                printf("%s\n", cell);
        }
    }
    printf("(%zu message%s)\n", json_array_size(rows), json_array_size(rows) == 1 ? "" : "s");
}

static int messages_act(PGconn *c, const struct op_args *a, bool retry)
{
    const char *cmd = retry ? "messages retry" : "messages cancel";
    if (!a->org || !a->reason || a->id_count == 0) {
        fprintf(stderr, "tidings %s: --org, --reason and at least one message ID are required\n",
                cmd);
        return TD_EXIT_USAGE;
    }
    int rc = TD_EXIT_OK;
    for (int i = 0; i < a->id_count; i++) {
        long id;
        if (td_parse_long(a->ids[i], 1, 0x7fffffffffffffffL, &id) < 0) {
            fprintf(stderr, "tidings %s: '%s' is not a message id\n", cmd, a->ids[i]);
            rc = TD_EXIT_USAGE;
            continue;
        }
        bool changed = false;
        char status[16], err[512], why[300] = "";
        if (retry && !a->force &&
            td_store_message_retry_guard(c, a->org, id, why, sizeof(why), err, sizeof(err)) == 0 &&
            *why) {
            fprintf(stderr,
                    "tidings %s: message %ld: not retried: %s (--force retries it all the same)\n",
                    cmd, id, why);
            rc = TD_EXIT_FAILURE;
            continue;
        }
        int src = retry ? td_store_message_retry(c, a->org, id, a->actor, a->reason, &changed,
                                                 status, err, sizeof(err))
                        : td_store_message_cancel(c, a->org, id, a->actor, a->reason, &changed,
                                                  status, err, sizeof(err));
        if (src < 0) {
            fprintf(stderr, "tidings %s: message %ld: %s\n", cmd, id, err);
            rc = TD_EXIT_FAILURE;
        } else if (!*status) {
            fprintf(stderr, "tidings %s: message %ld: no such message in %s\n", cmd, id, a->org);
            rc = TD_EXIT_FAILURE;
        } else if (!changed) {
            fprintf(stderr, "tidings %s: message %ld is %s: nothing to %s\n", cmd, id, status,
                    retry ? "retry" : "cancel");
            rc = TD_EXIT_FAILURE;
        } else {
            printf("message %ld: %s -> %s (recorded: %s, \"%s\")\n", id, status,
                   retry ? "scheduled" : "cancelled", a->actor, a->reason);
        }
    }
    if (retry)
        PQclear(PQexec(c, "NOTIFY tidings_due"));
    return rc;
}

int td_cli_messages(const char *config_path, int argc, char **argv)
{
    if (argc == 0 || td_cli_wants_help(argc, argv)) {
        fputs(messages_usage, argc == 0 ? stderr : stdout);
        return argc == 0 ? TD_EXIT_USAGE : TD_EXIT_OK;
    }
    const char *action = argv[0];
    if (strcmp(action, "list") && strcmp(action, "retry") && strcmp(action, "cancel")) {
        fprintf(stderr, "tidings messages: unknown action '%s' (list, retry, cancel)\n", action);
        return TD_EXIT_USAGE;
    }
    struct op_args a;
    if (op_parse(argc - 1, argv + 1, &a, "messages") < 0)
        return TD_EXIT_USAGE;
    struct td_conf *conf = NULL;
    int rc;
    PGconn *c = op_connect(config_path, &conf, &rc);
    if (!c) {
        td_conf_destroy(conf);
        return rc;
    }
    if (strcmp(action, "list") == 0) {
        json_t *rows = NULL;
        char err[512];
        if (td_store_messages_list(c, a.org, a.state, a.booking, a.channel, (int)a.limit, &rows,
                                   err, sizeof(err)) < 0) {
            fprintf(stderr, "tidings messages list: %s\n", err);
            rc = TD_EXIT_FAILURE;
        } else if (a.json) {
            json_dumpf(rows, stdout, JSON_INDENT(2));
            putchar('\n');
        } else {
            print_list(rows);
        }
        json_decref(rows);
    } else {
        rc = messages_act(c, &a, strcmp(action, "retry") == 0);
    }
    PQfinish(c);
    td_conf_destroy(conf);
    return rc;
}

int td_cli_channels(const char *config_path, int argc, char **argv)
{
    if (argc == 0 || td_cli_wants_help(argc, argv)) {
        fputs(channels_usage, argc == 0 ? stderr : stdout);
        return argc == 0 ? TD_EXIT_USAGE : TD_EXIT_OK;
    }
    const char *action = argv[0];
    if (strcmp(action, "list") && strcmp(action, "resume")) {
        fprintf(stderr, "tidings channels: unknown action '%s' (list, resume)\n", action);
        return TD_EXIT_USAGE;
    }
    struct op_args a;
    if (op_parse(argc - 1, argv + 1, &a, "channels") < 0)
        return TD_EXIT_USAGE;
    if (strcmp(action, "resume") == 0 && (!a.org || !a.channel || !a.reason)) {
        fprintf(stderr, "tidings channels resume: --org, --channel and --reason are required\n");
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    int rc;
    PGconn *c = op_connect(config_path, &conf, &rc);
    if (!c) {
        td_conf_destroy(conf);
        return rc;
    }
    char err[512];
    if (strcmp(action, "list") == 0) {
        for (size_t o = 0; o < conf->org_count; o++) {
            for (size_t i = 0; i < conf->orgs[o].instance_count; i++) {
                const struct td_instance_config *in = &conf->orgs[o].instances[i];
                if (in->kind == TD_PLUGIN_CHANNEL)
                    printf("%-16s %-12s plugin %-16s rate %s, concurrency %d, max_attempts %d\n",
                           conf->orgs[o].id, in->name, in->plugin,
                           in->policy.rate_per_s > 0 ? "limited" : "unlimited",
                           in->policy.concurrency, in->policy.max_attempts);
            }
        }
        json_t *susp = NULL;
        if (td_store_channel_suspensions(c, &susp, err, sizeof(err)) < 0) {
            fprintf(stderr, "tidings channels list: %s\n", err);
            rc = TD_EXIT_FAILURE;
        } else {
            size_t k;
            json_t *s;
            json_array_foreach(susp, k, s)
                printf("SUSPENDED %s/%s since %s: %s\n", text_of(s, "org"), text_of(s, "channel"),
                       text_of(s, "since"), text_of(s, "reason"));
            if (json_array_size(susp) == 0)
                printf("no channel is suspended\n");
        }
        json_decref(susp);
    } else {
        bool lifted = false;
        if (td_store_channel_resume(c, a.org, a.channel, a.actor, a.reason, &lifted, err,
                                    sizeof(err)) < 0) {
            fprintf(stderr, "tidings channels resume: %s\n", err);
            rc = TD_EXIT_FAILURE;
        } else if (!lifted) {
            fprintf(stderr, "tidings channels resume: %s/%s is not suspended\n", a.org, a.channel);
            rc = TD_EXIT_FAILURE;
        } else {
            printf("%s/%s resumed (recorded: %s, \"%s\")\n", a.org, a.channel, a.actor, a.reason);
            PQclear(PQexec(c, "NOTIFY tidings_due"));
        }
    }
    PQfinish(c);
    td_conf_destroy(conf);
    return rc;
}

static const char suppressions_usage[] =
    "usage: tidings [-c FILE] suppressions list [--org ORG]\n"
    "       tidings [-c FILE] suppressions add    --org ORG --channel CH --reason TEXT [--as "
    "NAME]\n"
    "                                             ADDRESS\n"
    "       tidings [-c FILE] suppressions remove --org ORG --channel CH --reason TEXT [--as "
    "NAME]\n"
    "                                             ADDRESS\n"
    "\n"
    "A suppressed address gets nothing more on that channel: its messages are skipped, with\n"
    "reason, and the step's fallback chain takes over. Hard bounces, complaints, STOP replies\n"
    "and one-click unsubscribes add suppressions by themselves. Phone numbers are taken in\n"
    "E.164 or in the organization's national format (0171... -> +49171...). Adding and\n"
    "removing are recorded with who and why.\n";

int td_cli_suppressions(const char *config_path, int argc, char **argv)
{
    if (argc == 0 || td_cli_wants_help(argc, argv)) {
        fputs(suppressions_usage, argc == 0 ? stderr : stdout);
        return argc == 0 ? TD_EXIT_USAGE : TD_EXIT_OK;
    }
    const char *action = argv[0];
    bool list = strcmp(action, "list") == 0, add = strcmp(action, "add") == 0;
    if (!list && !add && strcmp(action, "remove") != 0) {
        fprintf(stderr, "tidings suppressions: unknown action '%s' (list, add, remove)\n", action);
        return TD_EXIT_USAGE;
    }
    struct op_args a;
    if (op_parse(argc - 1, argv + 1, &a, "suppressions") < 0)
        return TD_EXIT_USAGE;
    if (!list && (!a.org || !a.channel || !a.reason || a.id_count != 1)) {
        fprintf(stderr,
                "tidings suppressions %s: --org, --channel, --reason and one ADDRESS are "
                "required\n",
                action);
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    int rc;
    PGconn *c = op_connect(config_path, &conf, &rc);
    if (!c) {
        td_conf_destroy(conf);
        return rc;
    }
    char err[512];
    if (list) {
        json_t *rows = NULL;
        if (td_store_suppressions(c, a.org, &rows, err, sizeof(err)) < 0) {
            fprintf(stderr, "tidings suppressions list: %s\n", err);
            rc = TD_EXIT_FAILURE;
        } else {
            size_t i;
            json_t *r;
            json_array_foreach(rows, i, r) printf(
                "%-16s %-10s %-32s %s (%s, %s)\n", text_of(r, "org"), text_of(r, "channel"),
                text_of(r, "address"), text_of(r, "reason"), text_of(r, "by"), text_of(r, "since"));
            printf("(%zu suppression%s)\n", json_array_size(rows),
                   json_array_size(rows) == 1 ? "" : "s");
        }
        json_decref(rows);
        goto out;
    }
    const struct td_org_config *org = td_conf_org(conf, a.org);
    char address[200];
    if (!org) {
        fprintf(stderr, "tidings suppressions: unknown organization '%s'\n", a.org);
        rc = TD_EXIT_FAILURE;
        goto out;
    }
    if (strchr(a.ids[0], '@')) {
        if (!td_email_plausible(a.ids[0])) {
            fprintf(stderr, "tidings suppressions: '%s' is not an e-mail address\n", a.ids[0]);
            rc = TD_EXIT_USAGE;
            goto out;
        }
        td_email_canonical(a.ids[0], address, sizeof(address));
    } else if (td_phone_normalize(a.ids[0], org->country, address, sizeof(address)) < 0) {
        fprintf(stderr,
                "tidings suppressions: '%s' is neither an e-mail address nor a phone "
                "number\n",
                a.ids[0]);
        rc = TD_EXIT_USAGE;
        goto out;
    }
    bool changed = false;
    char subject[260];
    snprintf(subject, sizeof(subject), "address %s on %s", address, a.channel);
    int src = add ? td_store_suppress(c, a.org, a.channel, address, a.reason, a.actor, &changed,
                                      err, sizeof(err))
                  : td_store_unsuppress(c, a.org, a.channel, address, &changed, err, sizeof(err));
    if (src == 0 && changed)
        src = td_store_action(c, a.org, subject, add ? "suppress" : "unsuppress", a.actor, a.reason,
                              NULL, err, sizeof(err));
    if (src < 0) {
        fprintf(stderr, "tidings suppressions %s: %s\n", action, err);
        rc = TD_EXIT_FAILURE;
    } else if (!changed) {
        printf("%s was %s suppressed on %s: nothing changed\n", address, add ? "already" : "not",
               a.channel);
    } else {
        printf("%s %s on %s (recorded: %s, \"%s\")\n", address,
               add ? "suppressed" : "no longer suppressed", a.channel, a.actor, a.reason);
    }
out:
    PQfinish(c);
    td_conf_destroy(conf);
    return rc;
}
