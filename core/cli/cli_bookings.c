/* cli_bookings: `tidings bookings import FILE`: existing bookings from JSON
 * lines or CSV, through the same intake as the webhook (validated, expanded,
 * idempotent), with a progress display and a summary. */
#include "cli/cli.h"
#include "tidings/plugin_util.h"
#include "config/config_value.h"
#include "util/csv.h"
#include "store/db.h"
#include "engine.h"
#include "intake/intake.h"
#include "expand/sequence_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Refused lines listed in the summary at most; the rest are counted. */
#define IMPORT_SHOW_REFUSED 50
/* Tries when the database is briefly unavailable, before giving up. */
#define IMPORT_TRIES 5

static const char bookings_usage[] =
    "usage: tidings [-c FILE] bookings import [--org ORG] [--format jsonl|csv] [--skip-bad-lines] "
    "FILE\n"
    "\n"
    "Imports existing bookings, one per JSON line or CSV row (with a header naming the\n"
    "fields: id,status,start,end,timezone,name,customer.email,customer.phone,data.boat,...),\n"
    "through the same checks and expansion as the webhook. Running it again changes\n"
    "nothing: a record seen before is skipped. Prints progress while it runs and a summary\n"
    "of what was accepted, skipped (already known) and refused (line number and reason).\n"
    "--org may be left out when one organization is configured; --format defaults to csv\n"
    "for *.csv files, else jsonl. Exit 1 when any record was refused.\n"
    "A CSV quoted field that is not closed (\"line 4: a quoted field is not closed\") stops\n"
    "the import there: nothing from that line onward is imported, because where the next\n"
    "records begin is only a guess. --skip-bad-lines refuses that line instead and goes on\n"
    "with the next one.\n";

struct import_stats {
    long records, accepted, skipped, refused, messages;
    char *refusals[IMPORT_SHOW_REFUSED];
    int stopped_line;    /* an unclosed quote stopped the import here, or 0 */
    long stopped_offset; /* how far into the file that was */
};

struct import_progress {
    const char *file;
    long size;
    bool tty;
    double started, last;
    int last_decile;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_show(struct import_progress *p, const struct import_stats *s, long offset,
                          bool final)
{
    double now = mono_s();
    int pct = p->size > 0 ? (int)(offset * 100 / p->size) : 100;
    if (!final && p->tty && now - p->last < 0.2)
        return;
    if (!final && !p->tty && pct / 10 == p->last_decile)
        return;
    p->last = now;
    p->last_decile = pct / 10;
    double rate = s->records / (now - p->started > 0.001 ? now - p->started : 0.001);
    fprintf(stderr,
            "%simporting %s: %3d%% %ld records (%.0f/s): %ld accepted, %ld skipped, %ld "
            "refused%s",
            p->tty ? "\r" : "", p->file, pct, s->records, rate, s->accepted, s->skipped, s->refused,
            p->tty && !final ? "" : "\n");
    fflush(stderr);
}

static void stats_refuse(struct import_stats *s, int line, const char *why)
{
    if (s->refused < IMPORT_SHOW_REFUSED) {
        size_t n = strlen(why) + 32;
        s->refusals[s->refused] = malloc(n);
        if (s->refusals[s->refused])
            snprintf(s->refusals[s->refused], n, "line %d: %s", line, why);
    }
    s->refused++;
}

/* FNV-1a of the record's canonical JSON: the same record always gets the same
 * event key, so a second import skips it. */
static void record_key(json_t *doc, char *out, size_t cap)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = td_fnv1a64(text ? text : "", text ? strlen(text) : 0);
    free(text);
    snprintf(out, cap, "import-%016" PRIx64, h);
}

/* Sets a dotted path (customer.email) in doc to value, typed: version is a
 * number, true/false under consent are booleans, the rest strings. */
static void doc_set(json_t *doc, const char *path, const char *value)
{
    json_t *node = doc;
    char part[128];
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(part, sizeof(part), "%.*s", (int)(n < sizeof(part) ? n : sizeof(part) - 1), p);
        if (!dot)
            break;
        json_t *child = json_object_get(node, part);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(node, part, child);
        }
        node = child;
        p = dot + 1;
    }
    long number;
    if (strcmp(path, "version") == 0 && td_parse_long(value, 0, 0x7fffffffL, &number) == 0)
        json_object_set_new(node, part, json_integer(number));
    else if (strstr(path, "consent.") &&
             (strcmp(value, "true") == 0 || strcmp(value, "false") == 0))
        json_object_set_new(node, part, json_boolean(strcmp(value, "true") == 0));
    else
        json_object_set_new(node, part, json_string(value));
}

/* Submits one booking document. Returns 0, or -EIO when the database stayed
 * unavailable. */
static int import_one(struct td_instance *src, json_t *doc, int line, struct import_stats *s)
{
    char key[64];
    record_key(doc, key, sizeof(key));
    char *payload = json_dumps(doc, JSON_COMPACT);
    if (!payload)
        return -ENOMEM;
    struct td_event ev = {"booking", key, payload, strlen(payload)};
    struct td_submit_result out;
    for (int attempt = 1; attempt <= IMPORT_TRIES; attempt++) {
        td_intake_submit(src, &ev, &out);
        if (out.status != TD_SUBMIT_UNAVAILABLE)
            break;
        if (attempt < IMPORT_TRIES)
            sleep((unsigned)attempt);
    }
    free(payload);
    s->records++;
    switch (out.status) {
    case TD_SUBMIT_ACCEPTED:
        s->accepted++;
        s->messages += out.messages_scheduled;
        return 0;
    case TD_SUBMIT_DUPLICATE: s->skipped++; return 0;
    case TD_SUBMIT_INVALID: stats_refuse(s, line, out.error); return 0;
    case TD_SUBMIT_UNAVAILABLE:
    default:
        s->records--;
        fprintf(stderr,
                "\ntidings bookings import: the database is unavailable at line %d; "
                "nothing after it was imported (run the import again: records already in "
                "are skipped)\n",
                line);
        return -EIO;
    }
}

static int import_jsonl(FILE *f, struct td_instance *src, struct import_stats *s,
                        struct import_progress *p)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int number = 0, rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        number++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        json_error_t jerr;
        json_t *doc = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            char why[300];
            snprintf(why, sizeof(why), "malformed JSON at column %d: %s", jerr.column, jerr.text);
            s->records++;
            stats_refuse(s, number, why);
        } else {
            rc = import_one(src, doc, number, s);
            json_decref(doc);
        }
        progress_show(p, s, ftell(f), false);
    }
    free(line);
    return rc;
}

static int import_csv(FILE *f, bool skip_bad, struct td_instance *src, struct import_stats *s,
                      struct import_progress *p)
{
    struct td_csv_record header = {0}, rec = {0};
    struct td_csv_reader *r = td_csv_reader_create(f);
    int rc = r ? td_csv_next(r, &header) : -ENOMEM;
    if (rc <= 0) {
        if (rc == -EINVAL)
            fprintf(stderr, "tidings bookings import: line %d: %s (in the header)\n", header.line,
                    td_csv_fault_text(header.fault));
        else
            fprintf(stderr, "tidings bookings import: %s\n",
                    rc == 0 ? "the file is empty (a CSV file starts with a header)"
                            : "out of memory");
        td_csv_record_clear(&header);
        td_csv_reader_destroy(r);
        return -EINVAL;
    }
    td_csv_reader_expect(r, header.count);
    rc = 0;
    int got;
    while (rc == 0 && (got = td_csv_next(r, &rec)) != 0) {
        if (got == -ENOMEM) {
            rc = -ENOMEM;
            break;
        }
        if (got < 0) {
            s->records++;
            stats_refuse(s, rec.line, td_csv_fault_text(rec.fault));
            if (rec.fault == TD_CSV_UNCLOSED_QUOTE && !skip_bad) {
                s->stopped_line = rec.line;
                s->stopped_offset = td_csv_reader_offset(r);
                break;
            }
            continue;
        }
        if (rec.count == 1 && rec.fields[0][0] == '\0')
            continue; /* a blank line */
        if (rec.count != header.count) {
            char why[120];
            snprintf(why, sizeof(why), "%zu fields, the header has %zu", rec.count, header.count);
            s->records++;
            stats_refuse(s, rec.line, why);
            continue;
        }
        json_t *doc = json_object();
        for (size_t i = 0; i < rec.count; i++) {
            if (rec.fields[i][0])
                doc_set(doc, header.fields[i], rec.fields[i]);
        }
        rc = import_one(src, doc, rec.line, s);
        json_decref(doc);
        progress_show(p, s, td_csv_reader_offset(r), false);
    }
    td_csv_record_clear(&header);
    td_csv_record_clear(&rec);
    td_csv_reader_destroy(r);
    return rc;
}

int td_cli_bookings(const char *config_path, int argc, char **argv)
{
    if (argc == 0 || td_cli_wants_help(argc, argv)) {
        fputs(bookings_usage, argc == 0 ? stderr : stdout);
        return argc == 0 ? TD_EXIT_USAGE : TD_EXIT_OK;
    }
    const char *org_id = NULL, *format = NULL, *file = NULL;
    bool skip_bad = false;
    if (strcmp(argv[0], "import") != 0) {
        fprintf(stderr, "tidings bookings: unknown action '%s' (import)\n", argv[0]);
        return TD_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--org") == 0 || strcmp(argv[i], "--format") == 0) && i + 1 < argc) {
            *(argv[i][2] == 'o' ? &org_id : &format) = argv[i + 1];
            i++;
        } else if (strcmp(argv[i], "--skip-bad-lines") == 0) {
            skip_bad = true;
        } else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "tidings bookings import: unexpected argument '%s'\n", argv[i]);
            return TD_EXIT_USAGE;
        } else {
            file = argv[i];
        }
    }
    size_t flen = file ? strlen(file) : 0;
    bool csv =
        format ? strcmp(format, "csv") == 0 : flen > 4 && strcmp(file + flen - 4, ".csv") == 0;
    if (!file || (format && strcmp(format, "csv") && strcmp(format, "jsonl"))) {
        fprintf(stderr, "tidings bookings import: FILE is required; --format is jsonl or csv\n");
        return TD_EXIT_USAGE;
    }
    struct td_conf *conf = NULL;
    int rc = td_cli_load_conf(config_path, &conf);
    if (rc != TD_EXIT_OK)
        return rc;
    const struct td_org_config *org = org_id                 ? td_conf_org(conf, org_id)
                                      : conf->org_count == 1 ? &conf->orgs[0]
                                                             : NULL;
    FILE *f = org ? fopen(file, "r") : NULL;
    if (!org || !f) {
        if (!org)
            fprintf(stderr, "tidings bookings import: %s\n",
                    org_id ? "unknown organization" : "name the organization with --org");
        else
            fprintf(stderr, "tidings bookings import: cannot read %s: %s\n", file, strerror(errno));
        td_conf_destroy(conf);
        return org ? TD_EXIT_FAILURE : TD_EXIT_USAGE;
    }
    /* the engine's intake, without HTTP: the records come from the file */
    static const struct td_instance_config import_source = {
        .kind = TD_PLUGIN_TRIGGER, .name = (char *)"import", .plugin = (char *)"import"};
    struct td_engine e = {.conf = conf};
    e.pool = td_db_pool_create(conf->engine.db_dsn, 2);
    e.sequences = td_sequence_cache_create();
    struct td_instance src = {.engine = &e, .org = org, .cfg = &import_source};
    struct import_stats s = {0};
    struct stat st;
    struct import_progress p = {.file = file,
                                .size = fstat(fileno(f), &st) == 0 ? (long)st.st_size : 0,
                                .tty = isatty(STDERR_FILENO),
                                .started = mono_s(),
                                .last_decile = -1};
    rc = e.pool && e.sequences && td_engine_register_orgs(&e, conf) == 0
             ? (csv ? import_csv(f, skip_bad, &src, &s, &p) : import_jsonl(f, &src, &s, &p))
             : -EIO;
    progress_show(&p, &s, s.stopped_line ? s.stopped_offset : p.size, true);
    fclose(f);
    printf("imported %s into %s: %ld record%s: %ld accepted (%ld message%s scheduled), %ld "
           "skipped (already known), %ld refused\n",
           file, org->id, s.records, s.records == 1 ? "" : "s", s.accepted, s.messages,
           s.messages == 1 ? "" : "s", s.skipped, s.refused);
    for (long i = 0; i < s.refused && i < IMPORT_SHOW_REFUSED; i++) {
        printf("  refused %s\n", s.refusals[i] ? s.refusals[i] : "(out of memory)");
        free(s.refusals[i]);
    }
    if (s.refused > IMPORT_SHOW_REFUSED)
        printf("  ... and %ld more refused\n", s.refused - IMPORT_SHOW_REFUSED);
    if (s.stopped_line)
        printf("  stopped at line %d: nothing from it onward was imported (fix the quote, or "
               "run again with --skip-bad-lines to refuse only that line)\n",
               s.stopped_line);
    td_sequence_cache_destroy(e.sequences);
    td_db_pool_destroy(e.pool);
    td_conf_destroy(conf);
    return rc < 0 || s.refused ? TD_EXIT_FAILURE : TD_EXIT_OK;
}
