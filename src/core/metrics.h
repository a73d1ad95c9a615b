/* core/metrics.h: the Prometheus metrics registry.
 * Owns: every metric family and series, and the text exposition.
 * Threads: any; updates are thread-safe (one registry mutex, short holds).
 *
 * A subsystem declares its metrics once (usually at start-up) and keeps the
 * returned handle:
 *     static tomo_metric *m_req;
 *     m_req = tomo_metrics_counter("http_requests_total", "HTTP requests", "route,status");
 *     tomo_metric_add(m_req, (const char *[]){route, "200"}, 1);
 * Handles live until tomo_metrics_reset(). Series are created on first use. */
#ifndef TOMO_CORE_METRICS_H
#define TOMO_CORE_METRICS_H

#include <stddef.h>

typedef struct tomo_metric tomo_metric;

/* labels: comma-separated label names, or NULL for none. Registering an
 * existing name returns the existing family. */
tomo_metric *tomo_metrics_counter(const char *name, const char *help, const char *labels);
tomo_metric *tomo_metrics_gauge(const char *name, const char *help, const char *labels);
/* Buckets ascending; NULL uses the default latency buckets in ms. */
tomo_metric *tomo_metrics_histogram(const char *name, const char *help, const char *labels,
                                    const double *buckets, size_t nbuckets);
/* A gauge whose value is read at scrape time by fn(arg) (process stats,
 * pool sizes). fn runs on the metrics server's thread; it must be thread-safe. */
void tomo_metrics_gauge_fn(const char *name, const char *help, double (*fn)(void *), void *arg);
/* The same for a monotonically increasing value read at scrape time
 * (process CPU seconds): exposed with TYPE counter. */
void tomo_metrics_counter_fn(const char *name, const char *help, double (*fn)(void *), void *arg);

/* values: one string per label name (NULL when the family has no labels). */
void tomo_metric_add(tomo_metric *m, const char *const *values, double v);
void tomo_metric_set(tomo_metric *m, const char *const *values, double v);
void tomo_metric_observe(tomo_metric *m, const char *const *values, double v);
/* Current value of a counter/gauge series (0 if absent); for tests. */
double tomo_metric_value(tomo_metric *m, const char *const *values);

/* Constant label added to every series (node_name). Call before serving. */
void tomo_metrics_set_const_label(const char *name, const char *value);

/* Text exposition format 0.0.4; heap string, free(). */
char *tomo_metrics_render(void);

/* Drop everything (tests, shutdown). */
void tomo_metrics_reset(void);

#endif
