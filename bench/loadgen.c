/* bench/loadgen.c: tomo-bench entry point and shared machinery.
 * Owns: option parsing, the scenario table, the worker threads (one libuv
 *       loop each) and phase signalling, /proc sampling of the server, the
 *       common report rows and the exit verdict.
 * Threads: main() and the lg_* orchestration helpers run on the main thread;
 *          worker_main and on_wake run on each worker's loop thread. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/codec_util.h"
#include "lg.h"
#include "nakama.h"
#include "scenarios.h"

static const lg_scenario *const scenarios[] = {
    &lg_sc_idle,    &lg_sc_relay, &lg_sc_auth,     &lg_sc_chat,
    &lg_sc_storage, &lg_sc_http,  &lg_sc_selftest, &lg_sc_leaderboard, &lg_sc_social,
    &lg_sc_matchmaker, &lg_sc_amatch,
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

/* --- small utilities ---------------------------------------------------------- */

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lg_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

void *lg_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("tomo-bench: out of memory\n", stderr);
        abort();
    }
    return p;
}

void *lg_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) {
        fputs("tomo-bench: out of memory\n", stderr);
        abort();
    }
    return p;
}

char *lg_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = lg_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void lg_buf_append(lg_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void lg_buf_reset(lg_buf *b) { b->len = 0; }

void lg_buf_free(lg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void lg_log(lg_ctx *ctx, const char *fmt, ...)
{
    if (ctx->o.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("tomo-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void lg_ws_path(const char *token, char *out, size_t cap)
{
    snprintf(out, cap, "/ws?token=%s&format=json&status=false", token);
}

/* --- counters and histograms ------------------------------------------------------ */

uint64_t lg_sum(lg_ctx *ctx, int c)
{
    uint64_t s = 0;
    for (int i = 0; i < ctx->o.threads; i++)
        s += atomic_load_explicit(&ctx->w[i].c[c], memory_order_relaxed);
    return s;
}

void lg_hist_merged(lg_ctx *ctx, int h, lg_hist *out)
{
    lg_hist_init(out);
    for (int i = 0; i < ctx->o.threads; i++)
        lg_hist_merge(out, &ctx->w[i].h[h]);
}

/* --- /proc sampling ------------------------------------------------------------------ */

long lg_proc_rss_kb(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

double lg_proc_cpu_s(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after the parenthesised command name: state is field 3,
     * utime 14 and stime 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double lg_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void lg_mark_take(lg_ctx *ctx, lg_mark *m)
{
    m->t = lg_now_ns();
    m->srv_rss_kb = lg_proc_rss_kb(ctx->o.server_pid);
    m->srv_cpu_s = lg_proc_cpu_s(ctx->o.server_pid);
    m->self_cpu_s = lg_self_cpu_s();
}

void lg_table_marks(lg_ctx *ctx, lg_table *t, const lg_mark *a, const lg_mark *b)
{
    double dt = (double)(b->t - a->t) / 1e9;
    if (dt <= 0)
        dt = 1e-9;
    if (ctx->o.server_pid > 0 && a->srv_rss_kb >= 0 && b->srv_rss_kb >= 0) {
        lg_table_row(t, "server RSS before (MiB)", lg_fmt("%.1f", a->srv_rss_kb / 1024.0), NULL);
        lg_table_row(t, "server RSS after (MiB)", lg_fmt("%.1f", b->srv_rss_kb / 1024.0), NULL);
        lg_table_row(t, "server CPU (% of one core)",
                     lg_fmt("%.0f", 100.0 * (b->srv_cpu_s - a->srv_cpu_s) / dt), NULL);
    } else if (ctx->o.server_pid > 0) {
        lg_table_row(t, "server RSS", "n/a (process gone?)", NULL);
    }
    lg_table_row(t, "tomo-bench CPU (% of one core)",
                 lg_fmt("%.0f", 100.0 * (b->self_cpu_s - a->self_cpu_s) / dt), NULL);
}

void lg_table_latency(lg_table *t, const char *what, const lg_hist *h)
{
    lg_table_row(t, lg_fmt("%s p50 (us)", what), lg_us(lg_hist_quantile(h, 0.50)), NULL);
    lg_table_row(t, lg_fmt("%s p99 (us)", what), lg_us(lg_hist_quantile(h, 0.99)), NULL);
    lg_table_row(t, lg_fmt("%s max (us)", what), lg_us(h->max), NULL);
}

void lg_table_requests(lg_table *t, const lg_hist *h, double win)
{
    lg_table_row(t, "requests in window", lg_fmt("%llu", (unsigned long long)h->count), NULL);
    lg_table_row(t, "requests/s", lg_fmt("%.0f", (double)h->count / win), NULL);
    lg_table_latency(t, "latency", h);
}

uint64_t lg_table_loss(lg_table *t, uint64_t expect, uint64_t recv)
{
    uint64_t loss = expect > recv ? expect - recv : 0;
    lg_table_row(t, "loss",
                 lg_fmt("%llu (%.4f%%)", (unsigned long long)loss,
                        expect ? 100.0 * (double)loss / (double)expect : 0.0),
                 NULL);
    return loss;
}

int lg_verdict(lg_ctx *ctx, uint64_t ok, uint64_t errors)
{
    double total = (double)(ok + errors);
    double rate = total > 0 ? (double)errors / total : 1.0;
    int bad = ok == 0 || rate > ctx->o.max_error_rate;
    printf("errors: %llu of %llu (%.4f%%), threshold %.4f%%: %s\n", (unsigned long long)errors,
           (unsigned long long)(ok + errors), 100.0 * rate, 100.0 * ctx->o.max_error_rate,
           bad ? "FAIL" : "ok");
    fflush(stdout);
    return bad ? 1 : 0;
}

void lg_plan_window(lg_ctx *ctx)
{
    uint64_t now = lg_now_ns();
    ctx->t_run = now + 20000000ull; /* 20 ms for the phase to reach every worker */
    ctx->t_win0 = ctx->t_run + (uint64_t)(ctx->o.warmup * 1e9);
    ctx->t_win1 = ctx->t_win0 + (uint64_t)(ctx->o.duration * 1e9);
    ctx->t_stop_send = ctx->t_win1;
}

void lg_sleep_until(lg_ctx *ctx, uint64_t t, const char *what, int c)
{
    uint64_t last = lg_now_ns(), last_v = lg_sum(ctx, c);
    for (;;) {
        uint64_t now = lg_now_ns();
        if (now >= t)
            return;
        uint64_t left = t - now;
        lg_sleep_ms(left > 100000000ull ? 100 : (unsigned)(left / 1000000ull) + 1);
        now = lg_now_ns();
        if (now - last >= 1000000000ull) {
            uint64_t v = lg_sum(ctx, c);
            lg_log(ctx, "%s: %.0f/s", what, (double)(v - last_v) * 1e9 / (double)(now - last));
            last = now;
            last_v = v;
        }
    }
}

/* --window-cmd: lets a script read the server's own figures (a metrics
 * histogram) over exactly the window, not the setup before it. */
static void window_cmd(lg_ctx *ctx, const char *edge)
{
    if (!ctx->o.window_cmd)
        return;
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s %s", ctx->o.window_cmd, edge);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "tomo-bench: --window-cmd %s exited with %d\n", edge, rc);
}

void lg_run_window(lg_ctx *ctx, const char *what, int c, lg_mark *a, lg_mark *b)
{
    char warm[64];
    snprintf(warm, sizeof(warm), "warmup %s", what);
    lg_plan_window(ctx);
    lg_phase_set(ctx, LG_PH_RUN);
    lg_sleep_until(ctx, ctx->t_win0, warm, c);
    window_cmd(ctx, "start");
    lg_mark_take(ctx, a);
    lg_sleep_until(ctx, ctx->t_win1, what, c);
    lg_mark_take(ctx, b);
    window_cmd(ctx, "end");
}

/* --- workers ---------------------------------------------------------------------- */

int lg_bind_src(lg_worker *w, uv_tcp_t *tcp)
{
    lg_ctx *ctx = w->ctx;
    if (ctx->nsrc == 0)
        return 0;
    struct sockaddr_in a = ctx->src[w->next_src++ % ctx->nsrc];
    /* The port is ours to pick: the kernel's ephemeral-port search in
     * connect() walks the ports in use, which made connects/s fall from
     * ~19k to ~4k per second at 19,500 open sockets. Workers take disjoint
     * ports; libuv's bind sets SO_REUSEADDR, so a port still in TIME_WAIT
     * can be taken again. */
    int rc = -1;
    for (int tries = 0; tries < 64 && rc != 0; tries++) {
        uint64_t k = w->next_port++ * (uint64_t)ctx->o.threads + (uint64_t)w->id;
        a.sin_port = htons((uint16_t)(LG_SRC_PORT_MIN + k % LG_SRC_PORTS));
        rc = uv_tcp_bind(tcp, (const struct sockaddr *)&a, 0);
    }
    return rc;
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_wake(uv_async_t *a)
{
    lg_worker *w = a->data;
    int ph = atomic_load(&w->ctx->phase);
    if (ph == w->seen_phase)
        return;
    w->seen_phase = ph;
    w->ctx->sc->on_phase(w, ph);
    if (ph == LG_PH_STOP) {
        /* The scenario closed its own handles (their callbacks free them);
         * whatever is left (timers, the wake handle) closes here. */
        uv_walk(&w->loop, close_any, NULL);
    }
}

static void worker_main(void *arg)
{
    lg_worker *w = arg;
    /* Bounded: after STOP every handle is closed, so the loop drains. */
    uv_run(&w->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 10 && uv_loop_close(&w->loop) == UV_EBUSY; i++) {
        uv_walk(&w->loop, close_any, NULL);
        uv_run(&w->loop, UV_RUN_NOWAIT);
    }
}

int lg_workers_start(lg_ctx *ctx)
{
    ctx->w = lg_xcalloc((size_t)ctx->o.threads, sizeof(lg_worker));
    uint64_t seed = lg_now_ns() ^ (uint64_t)getpid() << 32;
    for (int i = 0; i < ctx->o.threads; i++) {
        lg_worker *w = &ctx->w[i];
        w->id = i;
        w->ctx = ctx;
        w->rng = (seed + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1)) | 1;
        w->seen_phase = LG_PH_INIT;
        w->next_src = i;
        for (int h = 0; h < LG_H__COUNT; h++)
            lg_hist_init(&w->h[h]);
        if (uv_loop_init(&w->loop) < 0)
            return -1;
        uv_async_init(&w->loop, &w->wake, on_wake);
        w->wake.data = w;
    }
    for (int i = 0; i < ctx->o.threads; i++)
        if (uv_thread_create(&ctx->w[i].thread, worker_main, &ctx->w[i]) < 0)
            return -1;
    return 0;
}

void lg_phase_set(lg_ctx *ctx, int phase)
{
    for (int i = 0; i < ctx->o.threads; i++)
        atomic_store(&ctx->w[i].ready, 0);
    atomic_store(&ctx->phase, phase);
    for (int i = 0; i < ctx->o.threads; i++)
        uv_async_send(&ctx->w[i].wake);
}

int lg_wait_ready(lg_ctx *ctx, double timeout_s, const char *what, int c, uint64_t target)
{
    uint64_t t0 = lg_now_ns(), last = t0;
    uint64_t deadline = t0 + (uint64_t)(timeout_s * 1e9);
    for (;;) {
        int all = 1;
        for (int i = 0; i < ctx->o.threads; i++)
            all &= atomic_load(&ctx->w[i].ready);
        if (all)
            return 0;
        uint64_t now = lg_now_ns();
        if (now >= deadline) {
            lg_log(ctx, "%s: timed out after %.0f s (%llu/%llu)", what, timeout_s,
                   (unsigned long long)lg_sum(ctx, c), (unsigned long long)target);
            return -1;
        }
        if (now - last >= 1000000000ull) {
            lg_log(ctx, "%s: %llu/%llu", what, (unsigned long long)lg_sum(ctx, c),
                   (unsigned long long)target);
            last = now;
        }
        lg_sleep_ms(20);
    }
}

void lg_workers_stop(lg_ctx *ctx)
{
    static bool stopped;
    if (!ctx->w || stopped)
        return;
    stopped = true;
    lg_phase_set(ctx, LG_PH_STOP);
    for (int i = 0; i < ctx->o.threads; i++)
        uv_thread_join(&ctx->w[i].thread);
}

/* --- options ------------------------------------------------------------------------ */

enum {
    OPT_HOST = 256,
    OPT_HTTP_PORT,
    OPT_WS_PORT,
    OPT_WS_PORTS,
    OPT_SERVER_KEY,
    OPT_SERVER_PID,
    OPT_WINDOW_CMD,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_THREADS,
    OPT_MAX_ERR,
    OPT_CONNS,
    OPT_PREFIX,
    OPT_ALLOW_REMOTE,
    OPT_QUIET,
    OPT_SESSIONS,
    OPT_CONN_RATE,
    OPT_MAX_PENDING,
    OPT_HOLD,
    OPT_SRC_IPS,
    OPT_CLIENT_PING,
    OPT_MATCHES,
    OPT_PLAYERS,
    OPT_RATE,
    OPT_PAYLOAD,
    OPT_MODE,
    OPT_POOL,
    OPT_MEMBERS,
    OPT_ROOM,
    OPT_WRITE_RATIO,
    OPT_USERS,
    OPT_KEYS,
    OPT_BOARD,
    OPT_LB_OP,
    OPT_PATH,
    OPT_BODY,
    OPT_HELP
};

static const struct option longopts[] = {
    {"host", required_argument, 0, OPT_HOST},
    {"http-port", required_argument, 0, OPT_HTTP_PORT},
    {"ws-port", required_argument, 0, OPT_WS_PORT},
    {"ws-ports", required_argument, 0, OPT_WS_PORTS},
    {"server-key", required_argument, 0, OPT_SERVER_KEY},
    {"server-pid", required_argument, 0, OPT_SERVER_PID},
    {"window-cmd", required_argument, 0, OPT_WINDOW_CMD},
    {"duration", required_argument, 0, OPT_DURATION},
    {"warmup", required_argument, 0, OPT_WARMUP},
    {"threads", required_argument, 0, OPT_THREADS},
    {"max-error-rate", required_argument, 0, OPT_MAX_ERR},
    {"conns", required_argument, 0, OPT_CONNS},
    {"device-prefix", required_argument, 0, OPT_PREFIX},
    {"allow-remote", no_argument, 0, OPT_ALLOW_REMOTE},
    {"quiet", no_argument, 0, OPT_QUIET},
    {"sessions", required_argument, 0, OPT_SESSIONS},
    {"connect-rate", required_argument, 0, OPT_CONN_RATE},
    {"max-pending", required_argument, 0, OPT_MAX_PENDING},
    {"hold", required_argument, 0, OPT_HOLD},
    {"source-ips", required_argument, 0, OPT_SRC_IPS},
    {"client-ping", required_argument, 0, OPT_CLIENT_PING},
    {"matches", required_argument, 0, OPT_MATCHES},
    {"players", required_argument, 0, OPT_PLAYERS},
    {"rate", required_argument, 0, OPT_RATE},
    {"payload", required_argument, 0, OPT_PAYLOAD},
    {"mode", required_argument, 0, OPT_MODE},
    {"pool", required_argument, 0, OPT_POOL},
    {"members", required_argument, 0, OPT_MEMBERS},
    {"room", required_argument, 0, OPT_ROOM},
    {"write-ratio", required_argument, 0, OPT_WRITE_RATIO},
    {"users", required_argument, 0, OPT_USERS},
    {"keys", required_argument, 0, OPT_KEYS},
    {"board", required_argument, 0, OPT_BOARD},
    {"lb-op", required_argument, 0, OPT_LB_OP},
    {"path", required_argument, 0, OPT_PATH},
    {"body", required_argument, 0, OPT_BODY},
    {"help", no_argument, 0, OPT_HELP},
    {0, 0, 0, 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tomo-bench <scenario> [options]\n"
               "\nscenarios:\n");
    for (size_t i = 0; i < NSCEN; i++)
        fprintf(f, "  %-8s %s\n", scenarios[i]->name, scenarios[i]->summary);
    fprintf(f,
            "\ncommon options:\n"
            "  --host H             server address, IPv4 literal or localhost (127.0.0.1)\n"
            "  --http-port P        REST port (7350)\n"
            "  --ws-port P          WebSocket port (same as --http-port)\n"
            "  --ws-ports P,P,..    spread sockets round-robin over these ports (cluster nodes)\n"
            "  --server-key K       socket.server_key (defaultkey)\n"
            "  --server-pid PID     sample the server's VmRSS and CPU from /proc\n"
            "  --window-cmd CMD     run `CMD start` / `CMD end` (sh) as the window opens / closes\n"
            "  --duration S         measured seconds of load (10)\n"
            "  --warmup S           seconds of load before measuring (1)\n"
            "  --threads N          load generator loops/threads (1)\n"
            "  --conns N            HTTP keep-alive connections (16)\n"
            "  --max-error-rate F   exit 1 above this error fraction (0.01)\n"
            "  --device-prefix S    device id prefix (tomo-bench-)\n"
            "  --allow-remote       allow a non-loopback --host\n"
            "  --quiet              no progress lines on stderr\n"
            "idle:    --sessions N (1000) --connect-rate R/s (0 = unpaced) --max-pending N (256)\n"
            "         --hold S (35) --source-ips N (0; binds 127.0.0.2..N+1) --client-ping S (0)\n"
            "relay:   --matches M (100) --players K (4) --rate HZ (20) --payload BYTES (0)\n"
            "auth:    --mode existing|new (existing) --pool N (1000)\n"
            "chat:    --members K (100) --rate HZ (5) --room NAME (tomo-bench)\n"
            "storage: --write-ratio F (0.5) --users N (= --conns) --keys N (8)\n"
            "leaderboard: --board ID (bench) --lb-op write|around|top (write) --users N\n"
            "http:    --path P (/healthcheck) --body JSON (POST it instead of GET; e.g. an RPC)\n"
            "social:  --mode friends|groups --users N (friends of the hub / group members)\n"
            "matchmaker: --sessions N --players K (2; min = max count); server with\n"
            "         --matchmaker.interval_sec 1\n"
            "amatch:  --matches M --players K (4) --rate HZ (10) --payload BYTES (0); server with\n"
            "         runtime.path bench/modules (bench/amatch_run.sh)\n");
}

static void opts_defaults(lg_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->http_port = 7350;
    o->server_key = "defaultkey";
    o->duration = 10;
    o->warmup = 1;
    o->threads = 1;
    o->max_error_rate = 0.01;
    o->conns = 16;
    o->device_prefix = "tomo-bench-";
    o->sessions = 1000;
    o->max_pending = 256;
    o->hold = 35;
    o->matches = 100;
    o->players = 4;
    o->rate = -1;
    o->mode = "existing";
    o->pool = 1000;
    o->members = 100;
    o->room = "tomo-bench";
    o->write_ratio = 0.5;
    o->keys = 8;
    o->board = "bench";
    o->lb_op = "write";
    o->path = "/healthcheck";
}

static int parse_num(const char *name, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "tomo-bench: --%s: expected a number in [%g, %g], got '%s'\n", name, lo, hi,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

#define NUM(field, lo, hi, conv)                                                                   \
    do {                                                                                           \
        double v_;                                                                                 \
        if (parse_num(longopts[idx].name, optarg, lo, hi, &v_) < 0)                                \
            return -1;                                                                             \
        o->field = (conv)v_;                                                                       \
    } while (0)

static int parse_opts(int argc, char **argv, lg_opts *o)
{
    int ch, idx = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        for (idx = 0; longopts[idx].name && longopts[idx].val != ch; idx++) {
        }
        switch (ch) {
        case OPT_HOST: o->host = optarg; break;
        case OPT_HTTP_PORT: NUM(http_port, 1, 65535, int); break;
        case OPT_WS_PORT: NUM(ws_port, 1, 65535, int); break;
        case OPT_WS_PORTS: o->ws_ports = optarg; break;
        case OPT_SERVER_KEY: o->server_key = optarg; break;
        case OPT_SERVER_PID: NUM(server_pid, 1, 1e9, int); break;
        case OPT_WINDOW_CMD: o->window_cmd = optarg; break;
        case OPT_DURATION: NUM(duration, 0.1, 3600, double); break;
        case OPT_WARMUP: NUM(warmup, 0, 600, double); break;
        case OPT_THREADS: NUM(threads, 1, LG_MAX_THREADS, int); break;
        case OPT_MAX_ERR: NUM(max_error_rate, 0, 1, double); break;
        case OPT_CONNS: NUM(conns, 1, 10000, int); break;
        case OPT_PREFIX: o->device_prefix = optarg; break;
        case OPT_ALLOW_REMOTE: o->allow_remote = true; break;
        case OPT_QUIET: o->quiet = true; break;
        case OPT_SESSIONS: NUM(sessions, 1, 2000000, int); break;
        case OPT_CONN_RATE: NUM(connect_rate, 0, 1e7, double); break;
        case OPT_MAX_PENDING: NUM(max_pending, 1, 100000, int); break;
        case OPT_HOLD: NUM(hold, 0, 3600, double); break;
        case OPT_SRC_IPS: NUM(source_ips, 0, LG_MAX_SOURCE_IPS, int); break;
        case OPT_CLIENT_PING: NUM(client_ping, 0, 3600, double); break;
        case OPT_MATCHES: NUM(matches, 1, 1000000, int); break;
        case OPT_PLAYERS: NUM(players, 2, 1000, int); break;
        case OPT_RATE: NUM(rate, 0.01, 100000, double); break;
        case OPT_PAYLOAD: NUM(payload, 0, 3000, int); break;
        case OPT_MODE: o->mode = optarg; break;
        case OPT_POOL: NUM(pool, 1, 10000000, int); break;
        case OPT_MEMBERS: NUM(members, 1, 100000, int); break;
        case OPT_ROOM: o->room = optarg; break;
        case OPT_WRITE_RATIO: NUM(write_ratio, 0, 1, double); break;
        case OPT_USERS: NUM(users, 1, 1000000, int); break;
        case OPT_KEYS: NUM(keys, 1, 100, int); break;
        case OPT_BOARD: o->board = optarg; break;
        case OPT_LB_OP: o->lb_op = optarg; break;
        case OPT_PATH: o->path = optarg; break;
        case OPT_BODY: o->body = optarg; break;
        case 'h':
        case OPT_HELP: usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind >= argc) {
        fputs("tomo-bench: missing scenario\n", stderr);
        return -1;
    }
    o->scenario = argv[optind];
    if (optind + 1 < argc) {
        fprintf(stderr, "tomo-bench: unexpected argument '%s'\n", argv[optind + 1]);
        return -1;
    }
    if (strcmp(o->lb_op, "write") != 0 && strcmp(o->lb_op, "around") != 0 &&
        strcmp(o->lb_op, "top") != 0) {
        fputs("tomo-bench: --lb-op must be write, around or top\n", stderr);
        return -1;
    }
    if (strcmp(o->mode, "existing") != 0 && strcmp(o->mode, "new") != 0 &&
        strcmp(o->mode, "friends") != 0 && strcmp(o->mode, "groups") != 0) {
        fputs("tomo-bench: --mode must be existing or new (auth), friends or groups (social)\n",
              stderr);
        return -1;
    }
    size_t pl = strlen(o->device_prefix);
    if (pl + 20 > 128 || strpbrk(o->device_prefix, "\"\\ ")) {
        fputs("tomo-bench: --device-prefix too long or has quotes/spaces\n", stderr);
        return -1;
    }
    if (strlen(o->room) < 1 || strlen(o->room) > 64 || strpbrk(o->room, "\"\\")) {
        fputs("tomo-bench: --room must be 1-64 characters without quotes\n", stderr);
        return -1;
    }
    if (o->path[0] != '/' || strpbrk(o->path, " \r\n")) {
        fputs("tomo-bench: --path must start with / and have no spaces\n", stderr);
        return -1;
    }
    if (!o->ws_port)
        o->ws_port = o->http_port;
    if (!o->users)
        o->users = o->conns;
    return 0;
}

static int setup_ctx(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    const char *ip = strcmp(o->host, "localhost") == 0 ? "127.0.0.1" : o->host;
    if (uv_ip4_addr(ip, o->http_port, &ctx->http_addr) < 0 ||
        uv_ip4_addr(ip, o->ws_port, &ctx->ws_addr) < 0) {
        fprintf(stderr, "tomo-bench: --host must be an IPv4 address or localhost, got '%s'\n",
                o->host);
        return -1;
    }
    if (o->ws_ports) {
        const char *q = o->ws_ports;
        while (*q && ctx->nws < 8) {
            char *end;
            long port = strtol(q, &end, 10);
            if (end == q || port < 1 || port > 65535 || (*end && *end != ',')) {
                fputs("tomo-bench: --ws-ports must be up to 8 ports separated by commas\n", stderr);
                return -1;
            }
            uv_ip4_addr(ip, (int)port, &ctx->ws_addrs[ctx->nws++]);
            q = *end ? end + 1 : end;
        }
    }
    uint32_t a = ntohl(ctx->http_addr.sin_addr.s_addr);
    if ((a >> 24) != 127 && !o->allow_remote) {
        fprintf(stderr,
                "tomo-bench: %s is not a loopback address; pass --allow-remote to load "
                "a server you operate elsewhere\n",
                o->host);
        return -1;
    }
    if (o->source_ips > 0 && (a >> 24) != 127) {
        fputs("tomo-bench: --source-ips needs a loopback --host\n", stderr);
        return -1;
    }
    for (int i = 0; i < o->source_ips; i++) {
        char s[32];
        snprintf(s, sizeof(s), "127.0.0.%d", 2 + i);
        uv_ip4_addr(s, 0, &ctx->src[i]);
    }
    ctx->nsrc = o->source_ips;
    snprintf(ctx->host_hdr, sizeof(ctx->host_hdr), "%s:%d", o->host, o->http_port);
    snprintf(ctx->ws_host_hdr, sizeof(ctx->ws_host_hdr), "%s:%d", o->host, o->ws_port);
    char kc[160];
    int n = snprintf(kc, sizeof(kc), "%s:", o->server_key);
    if (n < 0 || n >= (int)sizeof(kc)) {
        fputs("tomo-bench: --server-key too long\n", stderr);
        return -1;
    }
    char *k64 = tomo_b64_encode(kc, (size_t)n, 0);
    snprintf(ctx->basic_auth, sizeof(ctx->basic_auth), "Basic %s", k64);
    free(k64);
    snprintf(ctx->run_tag, sizeof(ctx->run_tag), "%x%x", (unsigned)getpid(),
             (unsigned)(lg_now_ns() / 1000000u));
    return 0;
}

/* Sockets need descriptors: take the whole hard limit. */
static void raise_nofile(lg_ctx *ctx)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    lg_log(ctx, "RLIMIT_NOFILE %llu", (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    static lg_ctx ctx;
    opts_defaults(&ctx.o);
    if (parse_opts(argc, argv, &ctx.o) < 0) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < NSCEN; i++)
        if (strcmp(scenarios[i]->name, ctx.o.scenario) == 0)
            ctx.sc = scenarios[i];
    if (!ctx.sc) {
        fprintf(stderr, "tomo-bench: unknown scenario '%s'\n", ctx.o.scenario);
        usage(stderr);
        return 2;
    }
    if (setup_ctx(&ctx) < 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A server that drops its sockets must not kill the load generator: a
     * write to a reset connection then fails with EPIPE, the connection is
     * closed and counted (sockets lost, HTTP errors) like any other. */
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(&ctx);
    if (lg_workers_start(&ctx) < 0) {
        fputs("tomo-bench: cannot start worker loops\n", stderr);
        return 2;
    }
    int rc = ctx.sc->run(&ctx);
    lg_workers_stop(&ctx);
    return rc;
}
