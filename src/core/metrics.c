/* core/metrics.c: registry and exposition. Families are few (tens) and
 * series per family small (routes x statuses), so lookups are linear scans.
 * The family list has one mutex (g_mu: registration, render, reset); each
 * family's series have their own (mu), so the loop thread counting a request
 * never waits for a worker timing a query. Lock order: g_mu, then mu. */
#define _GNU_SOURCE
#include "metrics.h"

#include "common.h"

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mtype { M_COUNTER, M_GAUGE, M_HIST, M_GAUGE_FN, M_COUNTER_FN };

typedef struct series {
    char **values;
    double v;        /* counter / gauge */
    double sum;      /* histogram */
    unsigned long long count;
    unsigned long long *buckets; /* cumulative at render time, raw here */
    struct series *next;
} series;

struct tomo_metric {
    char *name, *help;
    enum mtype type;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    double (*fn)(void *);
    void *arg;
    pthread_mutex_t mu; /* head and every series' values */
    series *head;
    struct tomo_metric *next;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static tomo_metric *g_head, *g_tail;
static char *g_const_name, *g_const_value;

static const double default_buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500,
                                         1000, 2500, 5000, 10000};

static tomo_metric *reg(const char *name, const char *help, const char *labels, enum mtype t)
{
    pthread_mutex_lock(&g_mu);
    for (tomo_metric *m = g_head; m; m = m->next)
        if (!strcmp(m->name, name)) {
            pthread_mutex_unlock(&g_mu);
            return m;
        }
    tomo_metric *m = tomo_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
    m->name = tomo_xstrdup(name);
    m->help = tomo_xstrdup(help);
    m->type = t;
    if (labels && *labels) {
        char *dup = tomo_xstrdup(labels), *save = NULL;
        for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            m->labels = tomo_xrealloc(m->labels, (m->nlabels + 1) * sizeof(char *));
            m->labels[m->nlabels++] = tomo_xstrdup(tok);
        }
        free(dup);
    }
    if (g_tail)
        g_tail->next = m;
    else
        g_head = m;
    g_tail = m;
    pthread_mutex_unlock(&g_mu);
    return m;
}

tomo_metric *tomo_metrics_counter(const char *name, const char *help, const char *labels)
{
    return reg(name, help, labels, M_COUNTER);
}

tomo_metric *tomo_metrics_gauge(const char *name, const char *help, const char *labels)
{
    return reg(name, help, labels, M_GAUGE);
}

tomo_metric *tomo_metrics_histogram(const char *name, const char *help, const char *labels,
                                    const double *buckets, size_t nbuckets)
{
    tomo_metric *m = reg(name, help, labels, M_HIST);
    pthread_mutex_lock(&m->mu);
    if (!m->bounds) {
        if (!buckets) {
            buckets = default_buckets;
            nbuckets = TOMO_ARRAY_LEN(default_buckets);
        }
        m->bounds = tomo_xmalloc(nbuckets * sizeof(double));
        memcpy(m->bounds, buckets, nbuckets * sizeof(double));
        m->nbounds = nbuckets;
    }
    pthread_mutex_unlock(&m->mu);
    return m;
}

static void reg_fn(const char *name, const char *help, double (*fn)(void *), void *arg,
                   enum mtype t)
{
    tomo_metric *m = reg(name, help, NULL, t);
    pthread_mutex_lock(&g_mu);
    m->fn = fn;
    m->arg = arg;
    pthread_mutex_unlock(&g_mu);
}

void tomo_metrics_gauge_fn(const char *name, const char *help, double (*fn)(void *), void *arg)
{
    reg_fn(name, help, fn, arg, M_GAUGE_FN);
}

void tomo_metrics_counter_fn(const char *name, const char *help, double (*fn)(void *), void *arg)
{
    reg_fn(name, help, fn, arg, M_COUNTER_FN);
}

/* Caller holds m->mu. */
static series *find(tomo_metric *m, const char *const *values)
{
    for (series *s = m->head; s; s = s->next) {
        size_t i = 0;
        for (; i < m->nlabels; i++)
            if (strcmp(s->values[i], values[i] ? values[i] : ""))
                break;
        if (i == m->nlabels)
            return s;
    }
    series *s = tomo_xcalloc(1, sizeof(*s));
    if (m->nlabels) {
        s->values = tomo_xmalloc(m->nlabels * sizeof(char *));
        for (size_t i = 0; i < m->nlabels; i++)
            s->values[i] = tomo_xstrdup(values[i] ? values[i] : "");
    }
    if (m->type == M_HIST)
        s->buckets = tomo_xcalloc(m->nbounds, sizeof(unsigned long long));
    s->next = m->head;
    m->head = s;
    return s;
}

void tomo_metric_add(tomo_metric *m, const char *const *values, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    find(m, values)->v += v;
    pthread_mutex_unlock(&m->mu);
}

void tomo_metric_set(tomo_metric *m, const char *const *values, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    find(m, values)->v = v;
    pthread_mutex_unlock(&m->mu);
}

void tomo_metric_observe(tomo_metric *m, const char *const *values, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    series *s = find(m, values);
    s->sum += v;
    s->count++;
    for (size_t i = 0; i < m->nbounds; i++)
        if (v <= m->bounds[i]) {
            s->buckets[i]++;
            break;
        }
    pthread_mutex_unlock(&m->mu);
}

double tomo_metric_value(tomo_metric *m, const char *const *values)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    double v = find(m, values)->v;
    pthread_mutex_unlock(&m->mu);
    return v;
}

void tomo_metrics_set_const_label(const char *name, const char *value)
{
    pthread_mutex_lock(&g_mu);
    free(g_const_name);
    free(g_const_value);
    g_const_name = name ? tomo_xstrdup(name) : NULL;
    g_const_value = value ? tomo_xstrdup(value) : NULL;
    pthread_mutex_unlock(&g_mu);
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->n) {
            b->n += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0) + 64;
        b->p = tomo_xrealloc(b->p, b->cap);
    }
}

static void sb_labelval(sbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            sb_printf(b, "\\%c", *v);
        else if (*v == '\n')
            sb_printf(b, "\\n");
        else
            sb_printf(b, "%c", *v);
    }
}

/* Writes {a="x",b="y"[,le="z"]} */
static void sb_labels(sbuf *b, tomo_metric *m, series *s, const char *le)
{
    int any = 0;
    sb_printf(b, "{");
    if (g_const_name) {
        sb_printf(b, "%s=\"", g_const_name);
        sb_labelval(b, g_const_value);
        sb_printf(b, "\"");
        any = 1;
    }
    for (size_t i = 0; s && i < m->nlabels; i++) {
        sb_printf(b, "%s%s=\"", any ? "," : "", m->labels[i]);
        sb_labelval(b, s->values[i]);
        sb_printf(b, "\"");
        any = 1;
    }
    if (le)
        sb_printf(b, "%sle=\"%s\"", any ? "," : "", le);
    sb_printf(b, "}");
}

static void fmt_double(char *buf, size_t n, double v)
{
    if (isinf(v))
        snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(long long)v && fabs(v) < 1e15)
        snprintf(buf, n, "%lld", (long long)v);
    else
        snprintf(buf, n, "%.9g", v);
}

char *tomo_metrics_render(void)
{
    sbuf b = {tomo_xmalloc(8192), 0, 8192};
    b.p[0] = '\0';
    pthread_mutex_lock(&g_mu);
    for (tomo_metric *m = g_head; m; m = m->next) {
        const char *type = m->type == M_COUNTER || m->type == M_COUNTER_FN ? "counter"
                           : m->type == M_HIST                             ? "histogram"
                                                                           : "gauge";
        sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, type);
        char num[64];
        if (m->type == M_GAUGE_FN || m->type == M_COUNTER_FN) {
            double (*fn)(void *) = m->fn;
            void *arg = m->arg;
            /* fn may be slow (reads /proc); it must not touch the registry. */
            fmt_double(num, sizeof(num), fn ? fn(arg) : 0);
            sb_printf(&b, "%s", m->name);
            sb_labels(&b, m, NULL, NULL);
            sb_printf(&b, " %s\n", num);
            continue;
        }
        pthread_mutex_lock(&m->mu);
        if (!m->head && !m->nlabels && m->type != M_HIST) {
            sb_printf(&b, "%s", m->name);
            sb_labels(&b, m, NULL, NULL);
            sb_printf(&b, " 0\n");
        }
        for (series *s = m->head; s; s = s->next) {
            if (m->type == M_HIST) {
                unsigned long long cum = 0;
                for (size_t i = 0; i < m->nbounds; i++) {
                    cum += s->buckets[i];
                    char le[64];
                    fmt_double(le, sizeof(le), m->bounds[i]);
                    sb_printf(&b, "%s_bucket", m->name);
                    sb_labels(&b, m, s, le);
                    sb_printf(&b, " %llu\n", cum);
                }
                sb_printf(&b, "%s_bucket", m->name);
                sb_labels(&b, m, s, "+Inf");
                sb_printf(&b, " %llu\n", s->count);
                fmt_double(num, sizeof(num), s->sum);
                sb_printf(&b, "%s_sum", m->name);
                sb_labels(&b, m, s, NULL);
                sb_printf(&b, " %s\n%s_count", num, m->name);
                sb_labels(&b, m, s, NULL);
                sb_printf(&b, " %llu\n", s->count);
            } else {
                fmt_double(num, sizeof(num), s->v);
                sb_printf(&b, "%s", m->name);
                sb_labels(&b, m, s, NULL);
                sb_printf(&b, " %s\n", num);
            }
        }
        pthread_mutex_unlock(&m->mu);
    }
    pthread_mutex_unlock(&g_mu);
    return b.p;
}

void tomo_metrics_reset(void)
{
    pthread_mutex_lock(&g_mu);
    tomo_metric *m = g_head;
    while (m) {
        tomo_metric *nm = m->next;
        series *s = m->head;
        while (s) {
            series *ns = s->next;
            for (size_t i = 0; i < m->nlabels; i++)
                free(s->values[i]);
            free(s->values);
            free(s->buckets);
            free(s);
            s = ns;
        }
        for (size_t i = 0; i < m->nlabels; i++)
            free(m->labels[i]);
        free(m->labels);
        free(m->bounds);
        free(m->name);
        free(m->help);
        pthread_mutex_destroy(&m->mu);
        free(m);
        m = nm;
    }
    g_head = g_tail = NULL;
    pthread_mutex_unlock(&g_mu);
}
