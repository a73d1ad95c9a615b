/* bench/lg.h: shared definitions of the tomo-bench load generator.
 * Owns: lg_opts (command-line options), lg_ctx (one run: options, workers,
 *       phase and window timestamps), lg_worker (one libuv loop on one thread),
 *       the per-worker counter set, small buffers and time helpers.
 * Threads: lg_ctx is written by the main thread before workers start and
 *          afterwards only through atomics; an lg_worker's fields belong to its
 *          own loop thread, except the atomic counters, which the main thread
 *          reads for progress and totals. */
#ifndef LG_H
#define LG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <uv.h>

#include "stats.h"

#define LG_MAX_THREADS 16
#define LG_MAX_SOURCE_IPS 250
/* Local ports tomo-bench binds with --source-ips: [MIN, MIN + PORTS). */
#define LG_SRC_PORT_MIN 10000
#define LG_SRC_PORTS 55000

/* Command-line options; defaults in loadgen.c (opts_defaults). */
typedef struct lg_opts {
    const char *scenario;
    const char *host;
    int http_port;
    int ws_port; /* 0: same as http_port */
    const char *ws_ports; /* "P1,P2,...": sockets spread over these (a cluster's nodes) */
    const char *server_key;
    int server_pid;  /* 0: no server RSS/CPU sampling */
    const char *window_cmd; /* run as `CMD start` / `CMD end` at the window's edges */
    double duration; /* seconds of measured load */
    double warmup;   /* seconds of load before the window opens */
    int threads;
    double max_error_rate;
    int conns; /* HTTP connections (all threads together) */
    const char *device_prefix;
    bool allow_remote;
    bool quiet;
    /* idle */
    int sessions;
    double connect_rate; /* sockets/s, 0 = as fast as max_pending allows */
    int max_pending;     /* in-flight connects per thread */
    double hold;
    int source_ips;     /* 0: kernel picks; N: 127.0.0.2 .. 127.0.0.(N+1), own ports */
    double client_ping; /* idle: seconds between ping envelopes, 0 = none */
    /* relay */
    int matches;
    int players;
    double rate; /* Hz per sender (relay, chat) */
    int payload; /* extra payload bytes in match data */
    /* auth */
    const char *mode; /* existing | new */
    int pool;
    /* chat */
    int members;
    const char *room;
    /* storage */
    double write_ratio;
    int users;
    int keys;
    /* leaderboard */
    const char *board;
    const char *lb_op; /* write | around | top */
    /* http */
    const char *path;
    const char *body; /* NULL: GET; else POST with this JSON body */
} lg_opts;

/* Counters, summed over workers by the main thread. Each is written only by
 * its worker thread (relaxed load+store, no locked instruction). */
enum {
    LG_C_AUTH_OK,
    LG_C_AUTH_ERR,
    LG_C_WS_OK,    /* sockets that completed the upgrade */
    LG_C_WS_ERR,   /* failed connects/upgrades */
    LG_C_WS_LOST,  /* established sockets that closed before the end */
    LG_C_SETUP_OK, /* matches ready / channel joins done / preload done */
    LG_C_SETUP_ERR,
    LG_C_SENT,     /* messages or requests sent (whole run) */
    LG_C_RECV,     /* deliveries received (whole run) */
    LG_C_RECV_WIN, /* deliveries received inside the window */
    LG_C_ACK_WIN,  /* acks / responses inside the window */
    LG_C_OK_WIN,   /* successful requests in the window (op A) */
    LG_C_OK2_WIN,  /* successful requests in the window (op B) */
    LG_C_ERR,      /* request / protocol errors (whole run) */
    LG_C_ERR2,     /* errors of op B */
    LG_C_EXPECT,   /* expected deliveries */
    LG_C_PARSE_ERR,
    LG_C_SENT_WIN,
    LG_C__COUNT
};

/* Histograms per worker. */
enum { LG_H_LAT, LG_H_LAT2, LG_H_CONNECT, LG_H__COUNT };

/* Phases the main thread announces to the workers. */
enum {
    LG_PH_INIT = 0,
    LG_PH_AUTH,    /* authenticate the devices this worker owns */
    LG_PH_CONNECT, /* open sockets */
    LG_PH_SETUP,   /* create/join matches, join channels, preload */
    LG_PH_RUN,     /* load; window timestamps are in lg_ctx */
    LG_PH_STOP     /* close everything and leave the loop */
};

typedef struct lg_ctx lg_ctx;
typedef struct lg_worker lg_worker;

/* Growable byte buffer. Aborts on out-of-memory. */
typedef struct lg_buf {
    char *p;
    size_t len, cap;
} lg_buf;

struct lg_worker {
    int id;
    lg_ctx *ctx;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    int seen_phase;
    char rbuf[65536]; /* shared read buffer: read callbacks consume it synchronously */
    _Atomic uint64_t c[LG_C__COUNT];
    _Atomic int ready;      /* worker finished the current phase */
    lg_hist h[LG_H__COUNT]; /* written on this thread; read after join */
    uint64_t rng;
    void *sc;           /* scenario state owned by this worker */
    int next_src;       /* round robin over source addresses */
    uint64_t next_port; /* local ports this worker took (lg_bind_src) */
};

/* A scenario: hooks run on worker threads, `run` on the main thread. */
typedef struct lg_scenario {
    const char *name;
    const char *summary;
    /* Main thread: orchestrates phases, prints the table; returns exit code. */
    int (*run)(lg_ctx *ctx);
    /* Worker thread: the phase changed (including LG_PH_STOP). */
    void (*on_phase)(lg_worker *w, int phase);
} lg_scenario;

struct lg_ctx {
    lg_opts o;
    const lg_scenario *sc;
    struct sockaddr_in http_addr, ws_addr;
    struct sockaddr_in ws_addrs[8]; /* --ws-ports (nws of them; 0: ws_addr only) */
    int nws;
    atomic_uint ws_next; /* round robin over ws_addrs */
    struct sockaddr_in src[LG_MAX_SOURCE_IPS];
    int nsrc;
    char host_hdr[300]; /* value of the Host header (host:port) */
    char ws_host_hdr[300];
    char basic_auth[300]; /* "Basic <base64(key:)>" */
    char run_tag[32];     /* unique per run, for fresh device ids */
    lg_worker *w;         /* o.threads workers */
    _Atomic int phase;
    /* Window timestamps (CLOCK_MONOTONIC ns), set before LG_PH_RUN. */
    uint64_t t_run, t_win0, t_win1, t_stop_send;
    /* Shared scenario state (read-only for workers once set). */
    void *shared;
};

/* --- time ----------------------------------------------------------------- */
uint64_t lg_now_ns(void);
void lg_sleep_ms(unsigned ms);

/* --- buffers -------------------------------------------------------------- */
void lg_buf_append(lg_buf *b, const void *p, size_t n);
void lg_buf_reset(lg_buf *b);
void lg_buf_free(lg_buf *b);
void *lg_xmalloc(size_t n);
void *lg_xcalloc(size_t n, size_t m);
char *lg_xstrdup(const char *s);

/* --- counters --------------------------------------------------------------- */
static inline void lg_inc(lg_worker *w, int c, uint64_t n)
{
    uint64_t v = atomic_load_explicit(&w->c[c], memory_order_relaxed);
    atomic_store_explicit(&w->c[c], v + n, memory_order_relaxed);
}
uint64_t lg_sum(lg_ctx *ctx, int c);
/* Merged histogram of all workers (call after the workers joined). */
void lg_hist_merged(lg_ctx *ctx, int h, lg_hist *out);

/* xorshift64*: per-worker cheap randomness. */
static inline uint64_t lg_rand(lg_worker *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* --- workers (loadgen.c) ----------------------------------------------------- */
/* Starts o.threads loops; each calls sc->on_phase when the phase changes. */
int lg_workers_start(lg_ctx *ctx);
/* Announces a new phase to every worker and clears their ready flags. */
void lg_phase_set(lg_ctx *ctx, int phase);
/* Waits (bounded by timeout_s) until every worker set ready; prints progress
 * of counter `c` against `target` once a second unless quiet. 0 when all ready. */
int lg_wait_ready(lg_ctx *ctx, double timeout_s, const char *what, int c, uint64_t target);
/* Announces LG_PH_STOP and joins the threads (bounded). */
void lg_workers_stop(lg_ctx *ctx);
/* Worker side: marks the current phase done. */
static inline void lg_ready(lg_worker *w) { atomic_store(&w->ready, 1); }
/* With --source-ips: binds tcp (created, not yet connected) to the next
 * source address round robin and a local port chosen here; 0 without
 * source addresses or on success, <0 if no port could be bound. */
int lg_bind_src(lg_worker *w, uv_tcp_t *tcp);

/* --- server process sampling (loadgen.c) ------------------------------------ */
/* VmRSS of pid in KiB, or -1. */
long lg_proc_rss_kb(int pid);
/* utime+stime of pid in seconds, or -1. */
double lg_proc_cpu_s(int pid);
/* CPU seconds used by this process. */
double lg_self_cpu_s(void);

/* Range of global indices [0, n) owned by worker id out of t: i % t == id. */
static inline int lg_owned_count(int n, int t, int id) { return n / t + (id < n % t ? 1 : 0); }

/* Progress line on stderr (suppressed by --quiet). */
void lg_log(lg_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- reporting (loadgen.c) ------------------------------------------------------- */
/* A sample of the server's RSS and CPU time and this process's CPU time. */
typedef struct lg_mark {
    uint64_t t;
    long srv_rss_kb; /* -1 without --server-pid */
    double srv_cpu_s;
    double self_cpu_s;
} lg_mark;
void lg_mark_take(lg_ctx *ctx, lg_mark *m);
/* Adds rows: server RSS at a and b, server and load generator CPU use
 * between a and b (percent of one core). */
void lg_table_marks(lg_ctx *ctx, lg_table *t, const lg_mark *a, const lg_mark *b);
/* Adds rows "<what> p50 (us)", "<what> p99 (us)" and "<what> max (us)". */
void lg_table_latency(lg_table *t, const char *what, const lg_hist *h);
/* Adds "requests in window", "requests/s" (over win seconds) and the
 * latency rows of h, whose samples are the window's requests. */
void lg_table_requests(lg_table *t, const lg_hist *h, double win);
/* Adds the "loss" row (expected deliveries not received); returns the loss. */
uint64_t lg_table_loss(lg_table *t, uint64_t expect, uint64_t recv);
/* Prints the error rate of errors/(ok+errors) and returns the exit code: 0,
 * or 1 if it exceeds --max-error-rate (or nothing succeeded). */
int lg_verdict(lg_ctx *ctx, uint64_t ok, uint64_t errors);
/* Plans the load window from now: t_run, t_win0 (+warmup), t_win1
 * (+duration) = t_stop_send. */
void lg_plan_window(lg_ctx *ctx);
/* Sleeps until t (monotonic ns) or until the deadline passes; prints
 * progress of counter c each second. */
void lg_sleep_until(lg_ctx *ctx, uint64_t t, const char *what, int c);
/* The measured run: plans the window, announces LG_PH_RUN, sleeps through
 * the warmup and the window (progress of counter c as "warmup <what>" and
 * "<what>") and takes mark a when the window opens and b when it closes. */
void lg_run_window(lg_ctx *ctx, const char *what, int c, lg_mark *a, lg_mark *b);
/* "/ws?token=...&format=json&status=false" into out. */
void lg_ws_path(const char *token, char *out, size_t cap);
/* Window length in seconds. */
static inline double lg_win_s(const lg_ctx *ctx)
{
    return (double)(ctx->t_win1 - ctx->t_win0) / 1e9;
}
static inline bool lg_in_win(const lg_ctx *ctx, uint64_t t)
{
    return t >= ctx->t_win0 && t < ctx->t_win1;
}

#endif
