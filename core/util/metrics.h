/* metrics: counters, gauges and histograms, rendered in the Prometheus text
 * format at GET /metrics. Every family is declared in metrics.c with its help
 * text; labels are given as a ready string: org="demo",channel="email". */
#ifndef TD_METRICS_H
#define TD_METRICS_H

#include "util/buf.h"

struct td_metrics;

struct td_metrics *td_metrics_create(void);
void td_metrics_destroy(struct td_metrics *m);

/* Adds v to a counter. Unknown family names are ignored. Thread-safe. */
void td_metrics_add(struct td_metrics *m, const char *family, const char *labels, double v);
/* Sets a gauge. */
void td_metrics_set(struct td_metrics *m, const char *family, const char *labels, double v);
/* Drops every series of a gauge family (before setting a fresh snapshot). */
void td_metrics_clear(struct td_metrics *m, const char *family);
/* Records one observation (seconds) in a histogram. */
void td_metrics_observe(struct td_metrics *m, const char *family, const char *labels, double v);

/* Appends every family in the Prometheus text format (version 0.0.4). */
void td_metrics_render(struct td_metrics *m, struct td_buf *out);

/* Reads a counter or gauge (0 when absent): for tests and logs. */
double td_metrics_get(struct td_metrics *m, const char *family, const char *labels);

#endif
