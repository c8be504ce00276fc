/* metrics: counters, gauges and histograms in the Prometheus text format. */
#include "util/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum family_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   30,  60,   300};
#define LATENCY_BOUNDS (sizeof(latency_bounds) / sizeof(latency_bounds[0]))

struct family {
    const char *name;
    enum family_kind kind;
    const char *help;
};

static const struct family families[] = {
    {"tidings_messages", KIND_GAUGE, "Messages by organization, channel and state."},
    {"tidings_due_backlog", KIND_GAUGE, "Scheduled messages whose time has come."},
    {"tidings_deliveries_total", KIND_COUNTER,
     "Verdicts the dispatcher decided, by organization, channel and outcome (unknown: the "
     "request may have reached the provider, no answer came)."},
    {"tidings_retries_total", KIND_COUNTER, "Messages scheduled again after a transient failure."},
    {"tidings_lateness_seconds", KIND_HISTOGRAM,
     "Time from a message's scheduled time to its hand-over to the provider."},
    {"tidings_provider_latency_seconds", KIND_HISTOGRAM,
     "Duration of one channel plugin delivery call."},
    {"tidings_claim_seconds", KIND_HISTOGRAM, "Duration of one claim of due messages."},
    {"tidings_claimed_total", KIND_COUNTER, "Messages claimed for sending."},
    {"tidings_lease_reclaims_total", KIND_COUNTER,
     "Claims whose lease expired (an engine died or stalled) and were taken back."},
    {"tidings_channel_suspended", KIND_GAUGE,
     "1 while a channel's credentials are refused or its quota is used up, and its messages "
     "wait."},
    {"tidings_org_config_conflict", KIND_GAUGE,
     "1 while this engine's configuration of an organization differs from the one the "
     "first-started engine runs: it does not send for it."},
    {"tidings_org_disabled", KIND_GAUGE,
     "1 while an organization is disabled because its configuration is refused: nothing of "
     "it runs, its webhooks are answered 503."},
    {"tidings_http_cut_total", KIND_COUNTER,
     "Connections cut off for not sending a whole request within its deadlines."},
    {"tidings_events_total", KIND_COUNTER, "Booking events by organization and outcome."},
    {"tidings_reports_total", KIND_COUNTER,
     "Provider callbacks by organization, channel, kind and what they did."},

    {"tidings_intake_seconds", KIND_HISTOGRAM,
     "Time to commit an event and its message rows, per event."},
};
#define FAMILIES (sizeof(families) / sizeof(families[0]))

struct series {
    size_t family;
    char *labels;
    double value;                         /* counter or gauge; histogram sum */
    uint64_t count;                       /* histogram */
    uint64_t buckets[LATENCY_BOUNDS + 1]; /* histogram, not cumulative */
    struct series *next;
};

struct td_metrics {
    pthread_mutex_t lock;
    struct series *head[FAMILIES];
};

struct td_metrics *td_metrics_create(void)
{
    struct td_metrics *m = calloc(1, sizeof(*m));
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void series_free_list(struct series *s)
{
    while (s) {
        struct series *next = s->next;
        free(s->labels);
        free(s);
        s = next;
    }
}

void td_metrics_destroy(struct td_metrics *m)
{
    if (!m)
        return;
    for (size_t f = 0; f < FAMILIES; f++)
        series_free_list(m->head[f]);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int family_index(const char *name)
{
    for (size_t f = 0; f < FAMILIES; f++) {
        if (strcmp(families[f].name, name) == 0)
            return (int)f;
    }
    return -1;
}

/* The series of family f with labels, created on first use. Lock held. */
static struct series *series_get(struct td_metrics *m, size_t f, const char *labels)
{
    const char *l = labels ? labels : "";
    for (struct series *s = m->head[f]; s; s = s->next) {
        if (strcmp(s->labels, l) == 0)
            return s;
    }
    struct series *s = calloc(1, sizeof(*s));
    if (!s || !(s->labels = strdup(l))) {
        free(s);
        return NULL;
    }
    s->family = f;
    s->next = m->head[f];
    m->head[f] = s;
    return s;
}

/* Adds v to the series' value, or sets it to v. */
static void metrics_update(struct td_metrics *m, const char *family, const char *labels, double v,
                           bool add)
{
    int f = m ? family_index(family) : -1;
    if (f < 0)
        return;
    pthread_mutex_lock(&m->lock);
    struct series *s = series_get(m, (size_t)f, labels);
    if (s)
        s->value = add ? s->value + v : v;
    pthread_mutex_unlock(&m->lock);
}

void td_metrics_add(struct td_metrics *m, const char *family, const char *labels, double v)
{
    metrics_update(m, family, labels, v, true);
}

void td_metrics_set(struct td_metrics *m, const char *family, const char *labels, double v)
{
    metrics_update(m, family, labels, v, false);
}

void td_metrics_clear(struct td_metrics *m, const char *family)
{
    int f = m ? family_index(family) : -1;
    if (f < 0)
        return;
    pthread_mutex_lock(&m->lock);
    series_free_list(m->head[f]);
    m->head[f] = NULL;
    pthread_mutex_unlock(&m->lock);
}

void td_metrics_observe(struct td_metrics *m, const char *family, const char *labels, double v)
{
    int f = m ? family_index(family) : -1;
    if (f < 0)
        return;
    size_t b = 0;
    while (b < LATENCY_BOUNDS && v > latency_bounds[b])
        b++;
    pthread_mutex_lock(&m->lock);
    struct series *s = series_get(m, (size_t)f, labels);
    if (s) {
        s->buckets[b]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&m->lock);
}

double td_metrics_get(struct td_metrics *m, const char *family, const char *labels)
{
    int f = m ? family_index(family) : -1;
    double v = 0;
    if (f < 0)
        return 0;
    pthread_mutex_lock(&m->lock);
    for (struct series *s = m->head[f]; s; s = s->next) {
        if (strcmp(s->labels, labels ? labels : "") == 0)
            v = s->value;
    }
    pthread_mutex_unlock(&m->lock);
    return v;
}

static void render_labels(struct td_buf *out, const char *labels, const char *extra)
{
    bool any = labels && *labels;
    if (!any && !extra)
        return;
    td_buf_printf(out, "{%s%s%s}", any ? labels : "", any && extra ? "," : "", extra ? extra : "");
}

void td_metrics_render(struct td_metrics *m, struct td_buf *out)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->lock);
    for (size_t f = 0; f < FAMILIES; f++) {
        const struct family *fam = &families[f];
        td_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
                      kinds[fam->kind]);
        for (struct series *s = m->head[f]; s; s = s->next) {
            if (fam->kind != KIND_HISTOGRAM) {
                td_buf_puts(out, fam->name);
                render_labels(out, s->labels, NULL);
                td_buf_printf(out, " %.17g\n", s->value);
                continue;
            }
            uint64_t cumulative = 0;
            for (size_t b = 0; b <= LATENCY_BOUNDS; b++) {
                char le[48];
                cumulative += s->buckets[b];
                if (b < LATENCY_BOUNDS)
                    snprintf(le, sizeof(le), "le=\"%g\"", latency_bounds[b]);
                else
                    snprintf(le, sizeof(le), "le=\"+Inf\"");
                td_buf_printf(out, "%s_bucket", fam->name);
                render_labels(out, s->labels, le);
                td_buf_printf(out, " %llu\n", (unsigned long long)cumulative);
            }
            td_buf_printf(out, "%s_sum", fam->name);
            render_labels(out, s->labels, NULL);
            td_buf_printf(out, " %.17g\n%s_count", s->value, fam->name);
            render_labels(out, s->labels, NULL);
            td_buf_printf(out, " %llu\n", (unsigned long long)s->count);
        }
    }
    pthread_mutex_unlock(&m->lock);
}
