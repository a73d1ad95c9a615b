/* core/trace.c: W3C trace context, the current span, the OTLP/HTTP JSON
 * exporter (a thread of its own, libcurl). */
#define _GNU_SOURCE
#include "trace.h"

#include "common.h"
#include "log.h"
#include "metrics.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int g_enabled;
static _Thread_local tomo_trace *g_current;

void tomo_trace_set_enabled(int on) { atomic_store(&g_enabled, on ? 1 : 0); }
int tomo_trace_enabled(void) { return atomic_load(&g_enabled); }

void tomo_trace_set_current(tomo_trace *t) { g_current = t && t->active ? t : NULL; }
tomo_trace *tomo_trace_current(void) { return g_current; }

static int hex_run(const char *s, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
        if (c != '0')
            nonzero = 1;
    }
    return nonzero;
}

int tomo_trace_parse(const char *tp, char trace_id[33], char parent_id[17], uint8_t *flags)
{
    /* 00-<32 hex>-<16 hex>-<2 hex>; a later version may append fields */
    if (!tp)
        return TOMO_EINVAL;
    while (*tp == ' ' || *tp == '\t')
        tp++;
    size_t n = strlen(tp);
    while (n && (tp[n - 1] == ' ' || tp[n - 1] == '\t'))
        n--;
    if (n < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
        return TOMO_EINVAL;
    if (hex_run(tp, 2) < 0 || !strncmp(tp, "ff", 2))
        return TOMO_EINVAL;
    if (!strncmp(tp, "00", 2) && n != 55)
        return TOMO_EINVAL;
    if (n > 55 && tp[55] != '-')
        return TOMO_EINVAL;
    if (hex_run(tp + 3, 32) != 1 || hex_run(tp + 36, 16) != 1 || hex_run(tp + 53, 2) < 0)
        return TOMO_EINVAL;
    memcpy(trace_id, tp + 3, 32);
    trace_id[32] = '\0';
    memcpy(parent_id, tp + 36, 16);
    parent_id[16] = '\0';
    unsigned f = 0;
    sscanf(tp + 53, "%2x", &f);
    *flags = (uint8_t)f;
    return 0;
}

/* Ids need to be unique, not secret: a per-thread xoshiro256** seeded once
 * from the OS keeps a request's ids off the system call path. */
static _Thread_local uint64_t g_rs[4];
static _Thread_local int g_seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_rand(void)
{
    if (!g_seeded) {
        do
            tomo_random_bytes(g_rs, sizeof(g_rs));
        while (!(g_rs[0] | g_rs[1] | g_rs[2] | g_rs[3]));
        g_seeded = 1;
    }
    uint64_t r = rotl(g_rs[1] * 5, 7) * 9, t = g_rs[1] << 17;
    g_rs[2] ^= g_rs[0];
    g_rs[3] ^= g_rs[1];
    g_rs[1] ^= g_rs[2];
    g_rs[0] ^= g_rs[3];
    g_rs[2] ^= t;
    g_rs[3] = rotl(g_rs[3], 45);
    return r;
}

static void rand_hex(char *out, size_t nbytes)
{
    static const char hx[] = "0123456789abcdef";
    uint8_t b[16];
    do {
        for (size_t i = 0; i < nbytes; i += 8) {
            uint64_t r = next_rand();
            memcpy(b + i, &r, nbytes - i < 8 ? nbytes - i : 8);
        }
        size_t nz = 0;
        for (size_t i = 0; i < nbytes; i++)
            nz |= b[i];
        if (nz)
            break;
    } while (1);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

static int64_t unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tomo_trace_begin_server(tomo_trace *t, const char *traceparent, const char *tracestate)
{
    memset(t, 0, sizeof(*t));
    if (!tomo_trace_enabled())
        return;
    t->active = 1;
    if (traceparent && tomo_trace_parse(traceparent, t->trace_id, t->parent_id, &t->flags) == 0) {
        if (tracestate)
            snprintf(t->state, sizeof(t->state), "%s", tracestate);
    } else {
        rand_hex(t->trace_id, 16);
        t->parent_id[0] = '\0';
        t->flags = 1;
    }
    rand_hex(t->span_id, 8);
    t->start_unix_ns = unix_ns();
}


void tomo_trace_begin_child(tomo_trace *t, const tomo_trace *parent)
{
    if (!parent || !parent->active) {
        t->active = 0;
        return;
    }
    if (!tomo_trace_exporting()) {
        /* nothing records child spans: the child is the parent itself (log
         * lines and forwarded traceparents name the request's span) */
        *t = *parent;
        return;
    }
    memset(t, 0, sizeof(*t));
    t->active = 1;
    memcpy(t->trace_id, parent->trace_id, sizeof(t->trace_id));
    memcpy(t->parent_id, parent->span_id, sizeof(t->parent_id));
    memcpy(t->state, parent->state, sizeof(t->state));
    t->flags = parent->flags;
    rand_hex(t->span_id, 8);
    t->start_unix_ns = unix_ns();
}

void tomo_trace_header(const tomo_trace *t, char out[56])
{
    snprintf(out, 56, "00-%s-%s-%02x", t->trace_id, t->span_id, t->flags);
}

/* ---- export ------------------------------------------------------------------ */

typedef struct span {
    char trace_id[33], span_id[17], parent_id[17];
    char name[96];
    char transport[12];
    int kind, code;
    int64_t start_ns, end_ns;
} span;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    atomic_int running;
    int stop;
    span *ring;
    size_t cap, head, len;
    int batch, flush_ms, timeout_ms;
    char *endpoint, *service, *node;
} E = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static tomo_metric *m_exported, *m_dropped, *m_failed;

int tomo_trace_exporting(void) { return atomic_load(&E.running); }

void tomo_trace_end(const tomo_trace *t, int kind, const char *name, int code,
                    const char *transport)
{
    if (!t || !t->active || !atomic_load(&E.running))
        return;
    span s;
    memcpy(s.trace_id, t->trace_id, sizeof(s.trace_id));
    memcpy(s.span_id, t->span_id, sizeof(s.span_id));
    memcpy(s.parent_id, t->parent_id, sizeof(s.parent_id));
    snprintf(s.name, sizeof(s.name), "%s", name ? name : "");
    snprintf(s.transport, sizeof(s.transport), "%s", transport ? transport : "");
    s.kind = kind;
    s.code = code;
    s.start_ns = t->start_unix_ns;
    s.end_ns = unix_ns();
    int dropped = 0, wake = 0;
    pthread_mutex_lock(&E.mu);
    if (E.len == E.cap) {
        dropped = 1;
    } else {
        E.ring[(E.head + E.len) % E.cap] = s;
        E.len++;
        wake = E.len >= (size_t)E.batch;
    }
    if (wake)
        pthread_cond_signal(&E.cv);
    pthread_mutex_unlock(&E.mu);
    if (dropped)
        tomo_metric_add(m_dropped, (const char *[]){"queue_full"}, 1);
}

static json_t *kv_str(const char *k, const char *v)
{
    return json_pack("{s:s,s:{s:s}}", "key", k, "value", "stringValue", v);
}

static char *batch_json(const span *b, size_t n)
{
    json_t *spans = json_array();
    for (size_t i = 0; i < n; i++) {
        char st[24], et[24];
        snprintf(st, sizeof(st), "%lld", (long long)b[i].start_ns);
        snprintf(et, sizeof(et), "%lld", (long long)b[i].end_ns);
        json_t *attrs = json_array();
        if (b[i].transport[0])
            json_array_append_new(attrs, kv_str("tomo.transport", b[i].transport));
        json_array_append_new(attrs, json_pack("{s:s,s:{s:I}}", "key", "rpc.grpc.status_code",
                                               "value", "intValue", (json_int_t)b[i].code));
        json_t *sp = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:{s:i}}", "traceId", b[i].trace_id,
                               "spanId", b[i].span_id, "name", b[i].name, "kind", b[i].kind,
                               "startTimeUnixNano", st, "endTimeUnixNano", et, "attributes",
                               attrs, "status", "code", b[i].code ? 2 : 1);
        if (b[i].parent_id[0])
            json_object_set_new(sp, "parentSpanId", json_string(b[i].parent_id));
        json_array_append_new(spans, sp);
    }
    json_t *res = json_array();
    json_array_append_new(res, kv_str("service.name", E.service));
    json_array_append_new(res, kv_str("service.instance.id", E.node));
    json_t *doc = json_pack("{s:[{s:{s:o},s:[{s:{s:s},s:o}]}]}", "resourceSpans", "resource",
                            "attributes", res, "scopeSpans", "scope", "name", "tomo", "spans",
                            spans);
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return out;
}

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static int post(CURL *c, const char *body)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, E.endpoint);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)E.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)E.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -1;
}

static void *export_main(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    span *b = tomo_xmalloc(sizeof(span) * (size_t)E.batch);
    int warned = 0;
    pthread_mutex_lock(&E.mu);
    for (;;) {
        if (E.len < (size_t)E.batch && !E.stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += E.flush_ms / 1000;
            ts.tv_nsec += (long)(E.flush_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&E.cv, &E.mu, &ts);
        }
        size_t n = E.len < (size_t)E.batch ? E.len : (size_t)E.batch;
        for (size_t i = 0; i < n; i++)
            b[i] = E.ring[(E.head + i) % E.cap];
        E.head = (E.head + n) % E.cap;
        E.len -= n;
        int stop = E.stop;
        pthread_mutex_unlock(&E.mu);
        if (n) {
            char *body = batch_json(b, n);
            if (c && body && post(c, body) == 0) {
                tomo_metric_add(m_exported, NULL, (double)n);
                warned = 0;
            } else {
                tomo_metric_add(m_failed, NULL, 1);
                tomo_metric_add(m_dropped, (const char *[]){"export_failed"}, (double)n);
                if (!warned)
                    TOMO_LOGW(TOMO_CORE, "trace export failed, spans dropped count=%zu", n);
                warned = 1;
            }
            free(body);
        }
        pthread_mutex_lock(&E.mu);
        if (stop && E.len == 0)
            break;
    }
    pthread_mutex_unlock(&E.mu);
    free(b);
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

int tomo_trace_export_start(const tomo_trace_export_cfg *cfg)
{
    if (E.running || !cfg->endpoint || !*cfg->endpoint)
        return 0;
    if (strncmp(cfg->endpoint, "http://", 7) && strncmp(cfg->endpoint, "https://", 8))
        return TOMO_EINVAL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    m_exported = tomo_metrics_counter("tracing_spans_exported_total",
                                      "Spans accepted by the OTLP collector", NULL);
    m_dropped = tomo_metrics_counter("tracing_spans_dropped_total",
                                     "Spans dropped (queue full or export failed)", "reason");
    m_failed = tomo_metrics_counter("tracing_export_errors_total",
                                    "OTLP export requests that failed", NULL);
    E.cap = (size_t)(cfg->queue_size > 0 ? cfg->queue_size : 4096);
    E.ring = tomo_xcalloc(E.cap, sizeof(span));
    E.head = E.len = 0;
    E.batch = cfg->batch_size > 0 ? cfg->batch_size : 256;
    E.flush_ms = cfg->flush_interval_ms > 0 ? cfg->flush_interval_ms : 1000;
    E.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    E.endpoint = tomo_xstrdup(cfg->endpoint);
    E.service = tomo_xstrdup(cfg->service_name ? cfg->service_name : "tomo");
    E.node = tomo_xstrdup(cfg->node ? cfg->node : "");
    E.stop = 0;
    E.running = 1;
    if (pthread_create(&E.thread, NULL, export_main, NULL) != 0) {
        E.running = 0;
        return TOMO_EIO;
    }
    return 0;
}

void tomo_trace_export_stop(void)
{
    if (!E.running)
        return;
    pthread_mutex_lock(&E.mu);
    E.stop = 1;
    pthread_cond_signal(&E.cv);
    pthread_mutex_unlock(&E.mu);
    pthread_join(E.thread, NULL);
    E.running = 0;
    free(E.ring);
    E.ring = NULL;
    free(E.endpoint);
    free(E.service);
    free(E.node);
    E.endpoint = E.service = E.node = NULL;
}
