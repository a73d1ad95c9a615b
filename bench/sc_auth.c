/* bench/sc_auth.c: the `auth` scenario: device authentication over HTTP.
 * --mode existing authenticates a pool of devices first (creating them on
 * the first run) and then loops over them; --mode new uses a fresh device
 * id for every request, so each one creates an account.
 * Threads: run() on the main thread; the rest on worker loop threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_loop.h"
#include "nakama.h"
#include "scenarios.h"
#include "session_pool.h"

typedef struct wstate {
    lg_sessions pool; /* --mode existing: the devices looped over */
    lg_hloop loop;
    uint64_t counter; /* requests issued by this worker */
    bool fresh;
} wstate;

static void on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    size_t tl;
    if (status == 200 && lg_scan_str(body, n, "token", &tl) && tl > 0) {
        lg_hloop_ok(&s->loop, c, LG_C_OK_WIN, LG_H_LAT);
    } else {
        lg_inc(w, LG_C_ERR, 1);
        if (lg_sum(w->ctx, LG_C_ERR) <= 3)
            fprintf(stderr, "tomo-bench: auth failed: HTTP %d %.200s\n", status,
                    body ? body : "(connection closed)");
    }
    lg_hloop_next(&s->loop, c);
}

static int issue(lg_worker *w, lg_http *c)
{
    wstate *s = w->sc;
    lg_ctx *ctx = w->ctx;
    char dev[200];
    uint64_t k = s->counter++;
    if (s->fresh) {
        char kind[64];
        snprintf(kind, sizeof(kind), "new-%s-%d", ctx->run_tag, w->id);
        lg_device_id(ctx, kind, k, dev, sizeof(dev));
    } else {
        lg_device_id(ctx, "auth", s->pool.idx[k % (uint64_t)s->pool.n], dev, sizeof(dev));
    }
    lg_inc(w, LG_C_SENT, 1);
    if (lg_auth_device(c, dev, on_resp, w) < 0) {
        lg_inc(w, LG_C_ERR, 1);
        return -1;
    }
    return 0;
}

/* The pool only has to exist: its tokens are not needed. */
static void pool_done(lg_sessions *p)
{
    lg_sessions_free_tokens(p);
    lg_ready(p->w);
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->fresh = strcmp(ctx->o.mode, "new") == 0;
        lg_sessions_init(&s->pool, w, "auth", lg_owned_count(ctx->o.pool, ctx->o.threads, w->id));
        s->pool.on_auth = pool_done;
        lg_hloop_init(&s->loop, w, lg_owned_count(ctx->o.conns, ctx->o.threads, w->id), issue);
    }
    switch (phase) {
    case LG_PH_AUTH: lg_sessions_auth(&s->pool); break;
    case LG_PH_RUN:
        if (!s->fresh && s->pool.n == 0) {
            lg_ready(w);
            break;
        }
        lg_hloop_start(&s->loop);
        break;
    case LG_PH_STOP: lg_hloop_close(&s->loop); break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    bool fresh = strcmp(o->mode, "new") == 0;
    printf("## auth: device authenticate, mode %s, %d connections, %d threads%s\n", o->mode,
           o->conns, o->threads, fresh ? "" : lg_fmt(", pool %d devices", o->pool));
    if (!fresh) {
        if (lg_sessions_auth_all(ctx, "creating device pool", (uint64_t)o->pool, 110) < 0)
            return 1;
    }
    lg_mark a, b;
    lg_hloop_run_all(ctx, "auth", &a, &b);

    lg_hist h;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    double win = lg_win_s(ctx);
    uint64_t ok = lg_sum(ctx, LG_C_RECV), err = lg_sum(ctx, LG_C_ERR) + lg_sum(ctx, LG_C_AUTH_ERR);
    lg_table t;
    lg_table_init(&t, "auth", "value", NULL);
    lg_table_requests(&t, &h, win);
    lg_table_row(&t, "errors", lg_fmt("%llu", (unsigned long long)err), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    return lg_verdict(ctx, ok, err);
}

const lg_scenario lg_sc_auth = {"auth", "device authenticate over HTTP (requests/s, p50/p99)", run,
                                on_phase};
