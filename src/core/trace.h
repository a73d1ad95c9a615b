/* core/trace.h: request tracing with W3C trace context, and span export.
 * Owns: the per-thread current span (what log lines are tagged with), the
 *       span queue and the OTLP/HTTP JSON exporter thread.
 * Borrows: nothing; a tomo_trace is a value the caller keeps (on its stack
 *          or in its request) for the span's lifetime.
 * Threads: any. The current span is thread-local: the transport sets it
 *          around the code that runs a request (loop or worker) and clears
 *          it after. tomo_trace_end only copies the span into a bounded
 *          queue (never blocks); the exporter thread sends batches to
 *          tracing.otlp_endpoint and drops (and counts) spans when the
 *          queue is full or the collector fails.
 *
 * Ids: a request continues an incoming `traceparent` (version 00,
 * 32 hex trace id, 16 hex parent id, 2 hex flags; all-zero ids are invalid)
 * and keeps `tracestate`; otherwise it starts a new trace (random ids,
 * flags 01). Its own span id is always new. */
#ifndef TOMO_CORE_TRACE_H
#define TOMO_CORE_TRACE_H

#include <stddef.h>
#include <stdint.h>

enum { TOMO_SPAN_INTERNAL = 1, TOMO_SPAN_SERVER = 2, TOMO_SPAN_CLIENT = 3 };

typedef struct tomo_trace {
    int active;          /* 0: tracing off (or not started): every call is a no-op */
    char trace_id[33];   /* 32 lower-case hex */
    char span_id[17];    /* this span */
    char parent_id[17];  /* "" for a root span */
    char state[256];     /* tracestate as received ("" if none) */
    uint8_t flags;       /* trace-flags; 01 = sampled */
    int64_t start_unix_ns;
} tomo_trace;

/* Tracing on or off for the process (tracing.enabled); off by default in
 * tests of other modules, on in the server. */
void tomo_trace_set_enabled(int on);
int tomo_trace_enabled(void);

/* Parse a traceparent value: 0 and the ids, or TOMO_EINVAL. */
int tomo_trace_parse(const char *traceparent, char trace_id[33], char parent_id[17],
                     uint8_t *flags);

/* The server span of a request (see the ids rule above). traceparent and
 * tracestate may be NULL. */
void tomo_trace_begin_server(tomo_trace *t, const char *traceparent, const char *tracestate);
/* A child span of parent (NULL or inactive parent: t stays inactive). When
 * no exporter runs, the child is a copy of the parent (same span id, and
 * ending it records nothing), so callers need no special case. */
void tomo_trace_begin_child(tomo_trace *t, const tomo_trace *parent);
/* The traceparent header value that makes a callee a child of t:
 * "00-<trace>-<span>-<flags>". out needs 56 bytes. */
void tomo_trace_header(const tomo_trace *t, char out[56]);

/* The current thread's span (NULL when none). */
void tomo_trace_set_current(tomo_trace *t);
tomo_trace *tomo_trace_current(void);

/* End span t: queue it for export when an exporter runs (name is copied,
 * e.g. "POST /v2/account/authenticate/device" or
 * "/nakama.api.Nakama/AuthenticateDevice"; code: the gRPC status, 0 = OK;
 * transport: "http", "grpc", "ws", "db", "runtime" or NULL). */
void tomo_trace_end(const tomo_trace *t, int kind, const char *name, int code,
                    const char *transport);
/* tomo_trace_end for a server span. */
static inline void tomo_trace_end_server(const tomo_trace *t, const char *name, int code,
                                         const char *transport)
{
    tomo_trace_end(t, TOMO_SPAN_SERVER, name, code, transport);
}

/* Start the exporter thread: OTLP/HTTP JSON POSTs to endpoint (a full URL,
 * e.g. http://127.0.0.1:4318/v1/traces). 0 or TOMO_EINVAL (bad URL). */
typedef struct tomo_trace_export_cfg {
    const char *endpoint, *service_name, *node;
    int queue_size, batch_size, flush_interval_ms, timeout_ms;
} tomo_trace_export_cfg;
int tomo_trace_export_start(const tomo_trace_export_cfg *cfg);
/* 1 while the exporter runs (spans are recorded). */
int tomo_trace_exporting(void);
/* Send what is queued (best effort, bounded by the timeout) and stop. */
void tomo_trace_export_stop(void);

#endif
