/* serve.c: start-up checks, listeners, metrics, signals, shutdown. */
#define _GNU_SOURCE
#include "serve.h"

#include "api/api.h"
#include "api/server.h"
#include "cluster/cluster.h"
#include "console/console.h"
#include "core/common.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/trace.h"
#include "grpc/grpc.h"
#include "net/http.h"
#include "net/loop.h"
#include "net/tls.h"
#include "store/db.h"
#include "store/collation.h"
#include "store/migrate.h"
#include "rt/loops.h"
#include "rt/rt.h"
#include "rt/route_cluster.h"
#include "svc/leaderboard.h"
#include "svc/revoke.h"
#include "rt/amatch.h"
#include "runtime/bridge.h"
#include "runtime/nk_leaderboard.h"
#include "runtime/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static tomo_server g_srv;
static uv_signal_t g_sigterm, g_sigint, g_sighup;
static tomo_tls *g_tls; /* socket.ssl_*: the API and WebSocket ports */
static tomo_console *g_console;
static tomo_http_server *g_console_http; /* console.port */
static tomo_tls *g_tls_h2; /* the same certificate with ALPN h2: the gRPC port */
static tomo_grpc *g_grpc;  /* grpc.port (NULL when off or not bound) */
static uv_timer_t g_shutdown_timer;
static int64_t g_shutdown_deadline_ms;
static tomo_rt_cluster *g_rt_cluster; /* the cluster routing (cluster.nats_url) */

/* socket.loops > 1: loops 1..n-1 (loop 0 is the main thread's srv->loop,
 * which also carries gRPC, the console, metrics, signals and the runtime).
 * Each has its own realtime context and its own SO_REUSEPORT listeners on
 * the API and WebSocket ports; rt/loops.h joins them. */
typedef struct sub_loop {
    int idx;
    tomo_loop *loop;
    tomo_rt *rt;
    tomo_http_server *api_http, *ws_http;
    pthread_t th;
    int started;
} sub_loop;
static sub_loop *g_subs; /* [1..g_nloops) used */
static int g_nloops = 1;
static tomo_rt_loops *g_router;

static void *sub_main(void *arg)
{
    sub_loop *sl = arg;
    char name[16];
    snprintf(name, sizeof(name), "tomo-loop-%d", sl->idx); /* per-loop CPU in top -H, bench */
    pthread_setname_np(pthread_self(), name);
    tomo_rt_bind_thread(sl->rt);
    tomo_loop_run(sl->loop);
    return NULL;
}

static void sub_begin_shutdown(void *arg)
{
    sub_loop *sl = arg;
    tomo_http_server_shutdown(sl->api_http);
    if (sl->ws_http)
        tomo_http_server_shutdown(sl->ws_http);
    tomo_rt_shutdown(sl->rt);
}

static void sub_finish_shutdown(void *arg)
{
    sub_loop *sl = arg;
    tomo_http_server_close_all(sl->api_http);
    if (sl->ws_http)
        tomo_http_server_close_all(sl->ws_http);
    tomo_rt_close_all(sl->rt);
    tomo_loop_close(sl->loop);
}

static size_t subs_inflight(void)
{
    size_t n = 0;
    for (int i = 1; i < g_nloops; i++)
        n += tomo_http_server_inflight(g_subs[i].api_http) +
             (g_subs[i].ws_http ? tomo_http_server_inflight(g_subs[i].ws_http) : 0);
    return n;
}

/* socket.loops: 0 = one per core, capped at 16 (beyond that the shared
 * worker pool and the cross-loop hand-offs, not the loops, limit). */
static int loops_wanted(const tomo_config *cfg)
{
    int n = cfg->socket.loops;
    if (n <= 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        n = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
    }
    return n > TOMO_RT_LOOPS_MAX ? TOMO_RT_LOOPS_MAX : n;
}

int tomo_serve_console_public(const tomo_config *cfg)
{
    const char *a = cfg->console.address;
    return !(!strcmp(a, "127.0.0.1") || !strcmp(a, "localhost") || !strcmp(a, "::1") ||
             !strncmp(a, "127.", 4));
}

/* ---- process metrics (read at scrape time on a worker) ---- */

static double proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    double v = 0;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, fl)) {
            v = strtod(line + fl, NULL);
            break;
        }
    fclose(f);
    return v;
}

static double m_rss(void *a)
{
    (void)a;
    return proc_status_kb("VmRSS:") * 1024.0;
}

static double m_cpu(void *a)
{
    (void)a;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double m_fds(void *a)
{
    (void)a;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static double m_start(void *a)
{
    (void)a;
    return (double)g_srv.start_time_ms / 1000.0;
}

static double m_db_open(void *a)
{
    tomo_db_stats st;
    tomo_db_stats_get(((tomo_server *)a)->db, &st);
    return st.open;
}

static double m_db_idle(void *a)
{
    tomo_db_stats st;
    tomo_db_stats_get(((tomo_server *)a)->db, &st);
    return st.idle;
}

static double m_db_in_use(void *a)
{
    tomo_db_stats st;
    tomo_db_stats_get(((tomo_server *)a)->db, &st);
    return st.in_use;
}

static double m_db_commits(void *a)
{
    tomo_db_stats st;
    tomo_db_stats_get(((tomo_server *)a)->db, &st);
    return (double)st.commits;
}

static double m_db_commit_writes(void *a)
{
    tomo_db_stats st;
    tomo_db_stats_get(((tomo_server *)a)->db, &st);
    return (double)st.commit_writes;
}

static double m_pool_pending(void *a)
{
    tomo_server *srv = a;
    return tomo_pool_pending(srv->pool) + tomo_pool_pending(srv->rpool);
}

static void register_metrics(tomo_server *srv)
{
    tomo_metrics_set_const_label("node_name", srv->cfg->name);
    tomo_metrics_counter_fn("process_cpu_seconds_total", "User and system CPU time in seconds",
                          m_cpu, NULL);
    tomo_metrics_gauge_fn("process_resident_memory_bytes", "Resident memory in bytes", m_rss, NULL);
    tomo_metrics_gauge_fn("process_open_fds", "Open file descriptors", m_fds, NULL);
    tomo_metrics_gauge_fn("process_start_time_seconds", "Start time since the epoch in seconds",
                          m_start, NULL);
    tomo_metrics_gauge_fn("database_pool_conns_open", "Open database connections", m_db_open, srv);
    tomo_metrics_gauge_fn("database_pool_conns_idle", "Idle database connections", m_db_idle, srv);
    tomo_metrics_gauge_fn("database_pool_conns_in_use", "Database connections in use", m_db_in_use,
                          srv);
    if (tomo_db_kind_of(srv->db) == TOMO_DB_SQLITE) {
        tomo_metrics_counter_fn("database_group_commits_total",
                                "SQLite durable commits: fsyncs of the WAL (writes share them)", m_db_commits,
                                srv);
        tomo_metrics_counter_fn("database_group_commit_writes_total",
                                "SQLite writes made durable (per fsync: the mean batch size)",
                                m_db_commit_writes, srv);
    } else {
        tomo_metrics_counter_fn("database_group_commits_total",
                                "Postgres batch COMMITs (transactions share them)", m_db_commits,
                                srv);
        tomo_metrics_counter_fn("database_group_commit_writes_total",
                                "Postgres transactions committed in batches (per COMMIT: the mean "
                                "batch size)",
                                m_db_commit_writes, srv);
    }
    tomo_metrics_gauge_fn("worker_jobs_pending", "Jobs queued or running on the worker pools (workers and readers)",
                          m_pool_pending, srv);
}

/* ---- metrics endpoint: rendered on a worker (it reads /proc) ---- */

typedef struct mjob {
    tomo_http_req *req;
    char *text;
} mjob;

static void metrics_work(void *a)
{
    mjob *j = a;
    j->text = tomo_metrics_render();
}

static void metrics_done(void *a)
{
    mjob *j = a;
    tomo_http_respond_raw(j->req, 200, "Content-Type: text/plain; version=0.0.4\r\n", j->text,
                          strlen(j->text));
    free(j->text);
    free(j);
}

static void metrics_handler(tomo_http_req *req, void *ud)
{
    tomo_server *srv = ud;
    mjob *j = tomo_xcalloc(1, sizeof(*j));
    j->req = req;
    if (tomo_pool_submit(srv->pool, metrics_work, metrics_done, j) < 0) {
        free(j);
        tomo_http_respond_raw(req, 503, NULL, "busy\n", 5);
    }
}

/* ---- shutdown ---- */

static void on_handle_close(uv_handle_t *h) { (void)h; }

static void finish_shutdown(void)
{
    tomo_server *srv = &g_srv;
    uv_timer_stop(&g_shutdown_timer);
    uv_close((uv_handle_t *)&g_shutdown_timer, on_handle_close);
    tomo_http_server_close_all(srv->api_http);
    if (srv->ws_http)
        tomo_http_server_close_all(srv->ws_http);
    if (srv->metrics_http) {
        tomo_http_server_shutdown(srv->metrics_http);
        tomo_http_server_close_all(srv->metrics_http);
    }
    if (g_console_http) {
        tomo_http_server_shutdown(g_console_http);
        tomo_http_server_close_all(g_console_http);
    }
    tomo_grpc_close_all(g_grpc);
    for (int i = 1; i < g_nloops; i++)
        tomo_loop_post(g_subs[i].loop, sub_finish_shutdown, &g_subs[i]);
    tomo_rt_close_all(srv->rt);
    /* the others see this node leave now, not after cluster.dead_after_ms */
    tomo_cluster_stop(srv->cluster);
    uv_close((uv_handle_t *)&g_sigterm, on_handle_close);
    uv_close((uv_handle_t *)&g_sigint, on_handle_close);
    uv_close((uv_handle_t *)&g_sighup, on_handle_close);
    tomo_loop_close(srv->loop);
}

static void shutdown_tick(uv_timer_t *t)
{
    (void)t;
    tomo_server *srv = &g_srv;
    size_t inflight = tomo_http_server_inflight(srv->api_http) +
                      (srv->ws_http ? tomo_http_server_inflight(srv->ws_http) : 0) +
                      tomo_grpc_inflight(g_grpc) + subs_inflight();
    int pending = tomo_pool_pending(srv->pool) + tomo_pool_pending(srv->rpool);
    if ((inflight == 0 && pending == 0) || tomo_now_ms() >= g_shutdown_deadline_ms) {
        if (inflight || pending)
            TOMO_LOGW(TOMO_MAIN, "grace period over, closing inflight=%zu pending=%d", inflight,
                      pending);
        finish_shutdown();
    }
}

/* SIGHUP: load the certificate and key again (renewal); open connections
 * keep the one they started with. A bad file keeps the current one. */
static void on_sighup(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    if (!g_tls) {
        TOMO_LOGI(TOMO_MAIN, "SIGHUP: nothing to reload (no socket.ssl_certificate)");
        return;
    }
    char err[512];
    if (tomo_tls_reload(g_tls, err, sizeof(err)) < 0)
        TOMO_LOGE(TOMO_MAIN, "SIGHUP: TLS certificate not reloaded, keeping the current one: %s",
                  err);
    else
        TOMO_LOGI(TOMO_MAIN, "SIGHUP: TLS certificate reloaded %s", tomo_tls_describe(g_tls));
    if (g_tls_h2 && tomo_tls_reload(g_tls_h2, err, sizeof(err)) < 0)
        TOMO_LOGE(TOMO_MAIN, "SIGHUP: gRPC TLS certificate not reloaded: %s", err);
}

/* The sockets and HTTP servers stop; requests in flight get the grace
 * period (at least 2 s) to finish. */
static void begin_shutdown(tomo_server *srv)
{
    tomo_http_server_shutdown(srv->api_http);
    if (g_console_http)
        tomo_http_server_shutdown(g_console_http);
    if (srv->ws_http)
        tomo_http_server_shutdown(srv->ws_http);
    tomo_grpc_shutdown(g_grpc);
    for (int i = 1; i < g_nloops; i++)
        tomo_loop_post(g_subs[i].loop, sub_begin_shutdown, &g_subs[i]);
    tomo_rt_shutdown(srv->rt);
    /* Even with a zero grace period, requests already being handled get a
     * short moment to finish so their answers are not lost. */
    int grace_ms = srv->cfg->shutdown_grace_sec * 1000;
    if (grace_ms < 2000)
        grace_ms = 2000;
    g_shutdown_deadline_ms = tomo_now_ms() + grace_ms;
    uv_timer_start(&g_shutdown_timer, shutdown_tick, 0, 20);
}

/* shutdown_grace_sec > 0 with authoritative matches: each got
 * match_terminate and keeps ticking, with its players still connected,
 * until it ends or the grace period is over; then the rest stops. */
static void match_grace_tick(uv_timer_t *t)
{
    tomo_server *srv = &g_srv;
    if (tomo_rt_amatch_count(srv->rt) && tomo_now_ms() < g_shutdown_deadline_ms)
        return;
    uv_timer_stop(t);
    begin_shutdown(srv);
}

static void stop_serving(tomo_server *srv);

static void shutdown_hook_work(void *arg)
{
    tomo_server *srv = arg;
    tomo_runtime_call call = {.mode = TOMO_RUNTIME_MODE_SHUTDOWN};
    tomo_err err = {0};
    if (tomo_runtime_callback(srv->runtime, TOMO_CB_SHUTDOWN, &call, NULL, NULL, &err) < 0)
        TOMO_LOGW(TOMO_MAIN, "shutdown hook failed error=%s", err.msg);
}

static void shutdown_hook_done(void *arg) { stop_serving(arg); }

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    tomo_server *srv = &g_srv;
    if (atomic_load(&srv->shutting_down)) {
        TOMO_LOGW(TOMO_MAIN, "second signal, closing now signal=%d", signum);
        g_shutdown_deadline_ms = 0;
        return;
    }
    atomic_store(&srv->shutting_down, 1);
    TOMO_LOGI(TOMO_MAIN, "shutting down signal=%s grace_sec=%d",
              signum == SIGTERM ? "SIGTERM" : "SIGINT", srv->cfg->shutdown_grace_sec);
    /* register_shutdown (Nakama 3.22): the hook runs on a worker before
     * anything stops (its instruction budget bounds it). */
    if (srv->runtime && tomo_runtime_has_callback(srv->runtime, TOMO_CB_SHUTDOWN) &&
        tomo_pool_submit(srv->pool, shutdown_hook_work, shutdown_hook_done, srv) == 0)
        return;
    stop_serving(srv);
}

static void stop_serving(tomo_server *srv)
{
    uv_timer_init(tomo_loop_uv(srv->loop), &g_shutdown_timer);
    int grace = srv->cfg->shutdown_grace_sec;
    if (grace > 0 && tomo_rt_amatch_count(srv->rt)) {
        tomo_rt_amatch_terminate_all(srv->rt, grace);
        g_shutdown_deadline_ms = tomo_now_ms() + (int64_t)grace * 1000;
        uv_timer_start(&g_shutdown_timer, match_grace_tick, 20, 20);
        return;
    }
    begin_shutdown(srv);
}

/* ---- start-up ---- */

static int check_schema(tomo_server *srv)
{
    char err[512];
    int cur = 0, latest = 0;
    int rc = tomo_migrate_status(srv->db, &cur, &latest, err, sizeof(err));
    if (rc < 0) {
        if (tomo_db_kind_of(srv->db) == TOMO_DB_POSTGRES) {
            /* An unreachable database at start is an outage: serve, stay
             * unready, and recover when it comes back. */
            TOMO_LOGW(TOMO_MAIN, "database unreachable at start-up, serving as unready error=%s",
                      err);
            return 0;
        }
        TOMO_LOGE(TOMO_MAIN, "database error: %s", err);
        return -1;
    }
    char coll[512];
    if (tomo_db_collation_check(srv->db, coll, sizeof(coll)) == 1)
        TOMO_LOGW(TOMO_STORE, "%s", coll);
    if (cur >= latest) {
        atomic_store(&srv->schema_current, 1);
        return 0;
    }
    int auto_migrate = srv->cfg->database.auto_migrate;
    if (auto_migrate < 0)
        auto_migrate = tomo_db_kind_of(srv->db) == TOMO_DB_SQLITE && !srv->cfg->production;
    if (!auto_migrate) {
        TOMO_LOGE(TOMO_MAIN,
                  "database schema is behind (version %d of %d); run `tomo migrate up` with the "
                  "same --database.address, then start the server again",
                  cur, latest);
        fprintf(stderr,
                "database schema is behind (version %d of %d): run `tomo migrate up` first\n", cur,
                latest);
        return -1;
    }
    TOMO_LOGI(TOMO_MAIN, "applying migrations automatically (development mode) from=%d to=%d", cur,
              latest);
    int applied = 0;
    if (tomo_migrate_up(srv->db, &applied, err, sizeof(err)) < 0) {
        TOMO_LOGE(TOMO_MAIN, "migration failed: %s", err);
        return -1;
    }
    atomic_store(&srv->schema_current, 1);
    return 0;
}

static int listen_or_log(tomo_http_server *s, const char *host, int port, const char *what)
{
    char err[256];
    if (tomo_http_server_listen(s, host, port, err, sizeof(err)) < 0) {
        TOMO_LOGE(TOMO_MAIN, "cannot listen server=%s error=%s", what, err);
        fprintf(stderr, "%s: %s\n", what, err);
        return -1;
    }
    TOMO_LOGI(TOMO_MAIN, "listening server=%s address=%s port=%d", what, *host ? host : "0.0.0.0",
              tomo_http_server_port(s));
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int tomo_serve(tomo_config *cfg)
{
    tomo_server *srv = &g_srv;
    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    srv->start_time_ms = tomo_now_ms();
    raise_nofile();

    const char *defaults[16];
    size_t nd = tomo_config_default_secrets(cfg, defaults, 16);
    if (cfg->production && nd) {
        for (size_t i = 0; i < nd; i++)
            TOMO_LOGE(TOMO_MAIN, "refusing to start with a default key in production setting=%s",
                      defaults[i]);
        fprintf(stderr, "refusing to start: %s is at its default value (--production); run `tomo "
                        "keys generate`\n",
                defaults[0]);
        return 1;
    }
    if (tomo_serve_console_public(cfg) && cfg->console.allow_non_loopback) {
        TOMO_LOGW(TOMO_MAIN, "console bound to a non-loopback address (console.allow_non_loopback) "
                             "address=%s",
                  cfg->console.address);
    } else if (cfg->production && tomo_serve_console_public(cfg)) {
        TOMO_LOGE(TOMO_MAIN, "refusing to start: console.address is public in production address=%s",
                  cfg->console.address);
        fprintf(stderr, "refusing to start: console.address %s is not loopback (--production; "
                        "set console.allow_non_loopback: true to accept it)\n",
                cfg->console.address);
        return 1;
    }
    for (size_t i = 0; i < nd; i++)
        TOMO_LOGW(TOMO_MAIN, "insecure default value in use, run `tomo keys generate` setting=%s",
                  defaults[i]);

    char err[512];
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        TOMO_LOGE(TOMO_MAIN, "cannot create data_dir path=%s error=%s", cfg->data_dir,
                  strerror(errno));
        return 1;
    }
    if (tomo_db_open(cfg, &srv->db, err, sizeof(err)) < 0) {
        TOMO_LOGE(TOMO_MAIN, "cannot open database: %s", err);
        fprintf(stderr, "cannot open database: %s\n", err);
        return 1;
    }
    TOMO_LOGI(TOMO_MAIN, "database backend=%s target=%s", tomo_db_backend_name(srv->db),
              tomo_db_target_redacted(srv->db));
    srv->svc.cfg = cfg;
    srv->svc.db = srv->db;
    if (check_schema(srv) < 0) {
        tomo_db_close(srv->db);
        return 1;
    }
    /* Revoked sessions stay revoked across restarts; when the database is
     * not reachable yet, the first token check loads them. */
    if (atomic_load(&srv->schema_current))
        tomo_revoke_load(&srv->svc);
    /* Boards load on first use; the rank cache fills in the background. */
    tomo_svc_leaderboard_start(&srv->svc);

    srv->loop = tomo_loop_new();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    /* max(8 x cores, 16) on both backends. On SQLite a worker with a write
     * sleeps until the group commit that holds it (store/sqlite.c), so the
     * batch can only be as large as the writers the workers hold; with the
     * old 2 x cores (4 here) a batch averaged about two writes and reads
     * queued behind workers parked on an fsync. */
    int workers = (int)(ncpu * 8 < 16 ? 16 : ncpu * 8);
    if (workers > cfg->database.max_open_conns)
        workers = cfg->database.max_open_conns;
    srv->pool = tomo_pool_new(srv->loop, workers, 65536);
    /* Reads apart, sized to the cores: the 16 workers above are there to
     * park on fsyncs; reads on them would wait behind parked writers, and
     * 16 listings at once on 2 cores time-slice so that every one finishes
     * late (friends p99 +2-3 ms). A Postgres read waits on the server's
     * answer for part of its time, so it gets two per core. */
    int readers = cfg->database.read_workers;
    if (readers <= 0)
        readers = (int)(tomo_db_kind_of(srv->db) == TOMO_DB_SQLITE ? ncpu : 2 * ncpu);
    if (readers < 1)
        readers = 1;
    srv->rpool = tomo_pool_new(srv->loop, readers, 65536);
    tomo_trace_set_enabled(cfg->tracing.enabled);
    if (cfg->tracing.enabled && *cfg->tracing.otlp_endpoint) {
        tomo_trace_export_cfg tc = {cfg->tracing.otlp_endpoint, cfg->tracing.service_name,
                                    cfg->name, cfg->tracing.queue_size, cfg->tracing.batch_size,
                                    cfg->tracing.flush_interval_ms,
                                    cfg->tracing.export_timeout_ms};
        if (tomo_trace_export_start(&tc) < 0) {
            TOMO_LOGE(TOMO_MAIN, "tracing.otlp_endpoint must be an http:// or https:// URL");
            return 1;
        }
        TOMO_LOGI(TOMO_MAIN, "exporting spans endpoint=%s", cfg->tracing.otlp_endpoint);
    }
    register_metrics(srv);
    tomo_api_init(srv);
    /* The realtime context of the (one) loop gets only what it needs. */
    tomo_rt_deps rt_deps = {cfg, srv->loop, srv->pool, srv->db, &srv->svc, srv->ratelimit};
    srv->rt = tomo_rt_new(&rt_deps);
    tomo_rt_bind_thread(srv->rt);
    g_nloops = loops_wanted(cfg);
    if (g_nloops > 1) {
        g_router = tomo_rt_loops_new(g_nloops, 65536);
        tomo_rt_loops_add(g_router, 0, srv->rt);
        g_subs = tomo_xcalloc((size_t)g_nloops, sizeof(*g_subs));
        for (int i = 1; i < g_nloops; i++) {
            sub_loop *sl = &g_subs[i];
            sl->idx = i;
            sl->loop = tomo_loop_new();
            tomo_rt_deps d = rt_deps;
            d.loop = sl->loop;
            sl->rt = tomo_rt_new(&d);
            tomo_rt_loops_add(g_router, i, sl->rt);
        }
    }
    tomo_rt_svc_push_fill(srv->rt, &srv->svc.push);
    if (*cfg->cluster.nats_url) {
        int crc = tomo_cluster_new(cfg, srv->loop, &srv->cluster, err, sizeof(err));
        if (crc < 0) {
            TOMO_LOGE(TOMO_MAIN, "cannot join the cluster: %s", err);
            fprintf(stderr, "cannot join the cluster: %s\n", err);
            tomo_cluster_free(srv->cluster);
            srv->cluster = NULL;
            return 1;
        }
    }
    tomo_runtime_deps rdeps = {.cfg = cfg, .svc = &srv->svc, .rt = srv->rt, .loop = srv->loop};
    if (tomo_runtime_new(&rdeps, &srv->runtime, err, sizeof(err)) < 0) {
        TOMO_LOGE(TOMO_MAIN, "cannot load the runtime modules: %s", err);
        fprintf(stderr, "runtime: %s\n", err);
        return 1;
    }
    tomo_runtime_bridge_install(srv->runtime, srv->rt);
    tomo_nk_leaderboard_install_hooks(srv->runtime, &srv->svc);
    TOMO_LOGI(TOMO_MAIN, "runtime loaded path=%s modules=%zu rpcs=%zu",
              tomo_runtime_path(srv->runtime),
              tomo_runtime_module_count(srv->runtime), tomo_runtime_rpc_count(srv->runtime));

    tomo_http_limits lim = {
        .max_body_bytes = (size_t)cfg->socket.max_request_size_bytes,
        .max_header_bytes = (size_t)cfg->socket.max_header_bytes,
        .max_header_count = (size_t)cfg->socket.max_header_count,
        .read_timeout_ms = (uint64_t)cfg->socket.read_timeout_ms,
        .idle_timeout_ms = (uint64_t)cfg->socket.idle_timeout_ms,
        .write_timeout_ms = (uint64_t)cfg->socket.write_timeout_ms,
        .max_connections = (size_t)cfg->socket.max_connections,
        .max_pipeline = 32,
    };
    if (*cfg->socket.ssl_certificate) {
        g_tls = tomo_tls_new(cfg->socket.ssl_certificate, cfg->socket.ssl_private_key, err,
                             sizeof(err));
        if (!g_tls) {
            TOMO_LOGE(TOMO_MAIN, "cannot set up TLS: %s", err);
            fprintf(stderr, "cannot set up TLS: %s\n", err);
            return 1;
        }
        TOMO_LOGI(TOMO_MAIN, "TLS on the API and WebSocket ports %s", tomo_tls_describe(g_tls));
    }
    /* Every loop accepts on the API and WebSocket ports (SO_REUSEPORT when
     * there are several); socket.loop_port_base + k reaches loop k only. */
    for (int i = 0; i < g_nloops; i++) {
        tomo_loop *lp = i ? g_subs[i].loop : srv->loop;
        tomo_rt *lrt = i ? g_subs[i].rt : srv->rt;
        tomo_http_server *api = tomo_http_server_new(lp, &lim, tomo_api_handle_http, srv, "api");
        tomo_http_server_set_tls(api, g_tls);
        tomo_http_server_set_reuseport(api, g_nloops > 1);
        if (listen_or_log(api, cfg->socket.address, cfg->socket.port, "api") < 0)
            return 1;
        tomo_http_server *ws = NULL;
        if (cfg->socket.ws_port > 0 && cfg->socket.ws_port != cfg->socket.port) {
            ws = tomo_http_server_new(lp, &lim, tomo_rt_handle_ws_port, lrt, "ws");
            tomo_http_server_set_tls(ws, g_tls);
            tomo_http_server_set_reuseport(ws, g_nloops > 1);
            if (listen_or_log(ws, cfg->socket.address, cfg->socket.ws_port, "ws") < 0)
                return 1;
        }
        if (cfg->socket.loop_port_base > 0) {
            tomo_http_server_set_reuseport(api, 0);
            if (listen_or_log(api, cfg->socket.address, cfg->socket.loop_port_base + i,
                              "api (this loop only)") < 0)
                return 1;
        }
        if (i) {
            g_subs[i].api_http = api;
            g_subs[i].ws_http = ws;
        } else {
            srv->api_http = api;
            srv->ws_http = ws;
        }
    }
    if (cfg->grpc.port > 0) {
        if (g_tls) {
            g_tls_h2 = tomo_tls_new_alpn(cfg->socket.ssl_certificate, cfg->socket.ssl_private_key,
                                         1, err, sizeof(err));
            if (!g_tls_h2) {
                TOMO_LOGE(TOMO_MAIN, "cannot set up TLS for gRPC: %s", err);
                return 1;
            }
        }
        g_grpc = tomo_grpc_new(srv, g_tls_h2);
        /* Not fatal: REST and the socket stay up when another process holds the port. */
        if (tomo_grpc_listen(g_grpc, cfg->socket.address, cfg->grpc.port, err, sizeof(err)) < 0)
            TOMO_LOGE(TOMO_MAIN, "cannot listen server=grpc error=%s", err);
        else
            TOMO_LOGI(TOMO_MAIN, "listening server=grpc address=%s port=%d tls=%s",
                      *cfg->socket.address ? cfg->socket.address : "0.0.0.0",
                      tomo_grpc_port(g_grpc), g_tls_h2 ? "on" : "off");
    }
    if (cfg->metrics.prometheus_port > 0) {
        tomo_http_limits mlim = lim;
        mlim.max_body_bytes = 4096;
        srv->metrics_http = tomo_http_server_new(srv->loop, &mlim, metrics_handler, srv, "metrics");
        if (listen_or_log(srv->metrics_http, cfg->metrics.address, cfg->metrics.prometheus_port,
                          "metrics") < 0)
            return 1;
    }

    if (cfg->console.port > 0) {
        tomo_console_deps cdeps = {
            .cfg = cfg, .loop = srv->loop, .pool = srv->pool, .db = srv->db, .svc = &srv->svc,
            .rt = srv->rt, .runtime = srv->runtime, .trusted_proxies = srv->trusted_proxies,
            .start_time_ms = srv->start_time_ms, .api = srv,
        };
        g_console = tomo_console_new(&cdeps);
        tomo_http_limits clim = lim;
        clim.max_body_bytes = (size_t)cfg->console.max_message_size_bytes;
        clim.read_timeout_ms = (uint64_t)cfg->console.read_timeout_ms;
        clim.write_timeout_ms = (uint64_t)cfg->console.write_timeout_ms;
        clim.idle_timeout_ms = (uint64_t)cfg->console.idle_timeout_ms;
        g_console_http =
            tomo_http_server_new(srv->loop, &clim, tomo_console_handle_http, g_console, "console");
        /* the console speaks TLS too when the API port does (same certificate) */
        tomo_http_server_set_tls(g_console_http, g_tls);
        if (listen_or_log(g_console_http, cfg->console.address, cfg->console.port, "console") <
            0)
            return 1;
    }

    uv_signal_init(tomo_loop_uv(srv->loop), &g_sigterm);
    uv_signal_init(tomo_loop_uv(srv->loop), &g_sigint);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_signal_init(tomo_loop_uv(srv->loop), &g_sighup);
    uv_signal_start(&g_sighup, on_sighup, SIGHUP);

    if (srv->cluster) {
        /* before the loops run: it wraps each loop's routing */
        tomo_rt *rts[TOMO_RT_LOOPS_MAX];
        for (int i = 0; i < g_nloops; i++)
            rts[i] = i ? g_subs[i].rt : srv->rt;
        g_rt_cluster = tomo_rt_cluster_attach(rts, g_nloops, srv->cluster);
    }
    for (int i = 1; i < g_nloops; i++) {
        if (pthread_create(&g_subs[i].th, NULL, sub_main, &g_subs[i]) != 0) {
            TOMO_LOGE(TOMO_MAIN, "cannot start loop thread %d", i);
            return 1;
        }
        g_subs[i].started = 1;
    }
    TOMO_LOGI(TOMO_MAIN, "tomo started node=%s workers=%d readers=%d loops=%d data_dir=%s cluster=%s",
              cfg->name, workers, tomo_pool_threads(srv->rpool), g_nloops, cfg->data_dir, srv->cluster ? "nats" : "off");
    tomo_loop_run(srv->loop);

    /* The other loops end once their finish_shutdown ran; hand-offs still
     * queued between loops are dropped from here on. */
    for (int i = 1; i < g_nloops; i++)
        if (g_subs[i].started)
            pthread_join(g_subs[i].th, NULL);
    tomo_rt_loops_stop(g_router);
    tomo_rt_cluster_stop(g_rt_cluster);
    tomo_pool_stop(srv->pool);
    tomo_pool_stop(srv->rpool);
    /* done callbacks posted by the last jobs */
    uv_run(tomo_loop_uv(srv->loop), UV_RUN_NOWAIT);
    for (int i = 1; i < g_nloops; i++) {
        sub_loop *sl = &g_subs[i];
        tomo_loop_drain(sl->loop);
        tomo_rt_free(sl->rt);
        tomo_http_server_free(sl->api_http);
        tomo_http_server_free(sl->ws_http);
        uv_run(tomo_loop_uv(sl->loop), UV_RUN_NOWAIT);
        tomo_loop_free(sl->loop);
    }
    free(g_subs);
    g_subs = NULL;
    tomo_rt_free(srv->rt);
    srv->rt = NULL;
    tomo_rt_cluster_free(g_rt_cluster);
    g_rt_cluster = NULL;
    tomo_http_server_free(srv->api_http);
    tomo_http_server_free(srv->ws_http);
    tomo_http_server_free(srv->metrics_http);
    tomo_http_server_free(g_console_http);
    g_console_http = NULL;
    tomo_grpc_free(g_grpc);
    g_grpc = NULL;
    uv_run(tomo_loop_uv(srv->loop), UV_RUN_NOWAIT);
    tomo_cluster_free(srv->cluster);
    srv->cluster = NULL;
    tomo_pool_free(srv->pool);
    tomo_pool_free(srv->rpool);
    /* the scheduler calls reset hooks into the runtime: stop it first */
    tomo_svc_leaderboard_stop(&srv->svc);
    tomo_runtime_free(srv->runtime);
    tomo_console_free(g_console);
    g_console = NULL;
    tomo_api_free(srv);
    tomo_db_close(srv->db);
    tomo_loop_free(srv->loop);
    tomo_rt_loops_free(g_router);
    g_router = NULL;
    g_nloops = 1;
    tomo_tls_free(g_tls);
    g_tls = NULL;
    tomo_tls_free(g_tls_h2);
    g_tls_h2 = NULL;
    tomo_trace_export_stop();
    tomo_metrics_reset();
    TOMO_LOGI(TOMO_MAIN, "stopped");
    return 0;
}
