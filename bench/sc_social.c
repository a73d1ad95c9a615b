/* bench/sc_social.c: the `social` scenario: paged listing of a large social
 * graph. --mode friends: one hub user befriends --users others (both sides
 * add, so every edge is mutual), then every connection pages through the
 * hub's friends (GET /v2/friend?limit=100, following the cursor and
 * starting over after the last page). --mode groups: the hub creates an
 * open group with room for --users members, they all join, then every
 * connection pages through the group's users (GET /v2/group/{id}/user,
 * limit 100). The graph is built over HTTP before the window, on one
 * worker (--threads 1).
 * Threads: run() on the main thread; the rest on the worker loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_loop.h"
#include "nakama.h"
#include "scenarios.h"
#include "session_pool.h"

#define BATCH 50 /* ids per hub add request */

typedef struct user {
    char uid[64];
    char hdr[2048];
} user;

typedef struct wstate {
    lg_sessions pool; /* device 0 is the hub */
    user *u;
    lg_hloop loop;
    bool groups;
    char gid[64];
    int next, left; /* setup tasks: hub batches (friends) or joins (groups) */
    int hub_tasks;
    char **cursor; /* per connection: next page's cursor, NULL = first page */
} wstate;

static int set_user(user *u, const char *token)
{
    if (!token || lg_jwt_uid(token, u->uid, sizeof(u->uid)) < 0)
        return -1;
    int n = snprintf(u->hdr, sizeof(u->hdr),
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", token);
    return n > 0 && n < (int)sizeof(u->hdr) ? 0 : -1;
}

/* The string value of "key":"..." in a JSON body (no escapes in our ids and
 * cursors), or NULL. Heap string. */
static char *json_str_field(const char *body, size_t n, const char *key)
{
    char pat[64];
    int pl = snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = memmem(body, n, pat, (size_t)pl);
    if (!p)
        return NULL;
    p += pl;
    const char *e = memchr(p, '"', (size_t)(body + n - p));
    if (!e)
        return NULL;
    char *s = lg_xmalloc((size_t)(e - p) + 1);
    memcpy(s, p, (size_t)(e - p));
    s[e - p] = 0;
    return s;
}

/* --- setup ----------------------------------------------------------------- */

static void setup_next(lg_worker *w, lg_http *c);

static void setup_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    if (status == 200) {
        lg_inc(w, LG_C_SETUP_OK, 1);
        if (s->groups && !s->gid[0]) {
            char *id = json_str_field(body, n, "id");
            if (id)
                snprintf(s->gid, sizeof(s->gid), "%s", id);
            free(id);
        }
    } else {
        lg_inc(w, LG_C_SETUP_ERR, 1);
        if (lg_sum(w->ctx, LG_C_SETUP_ERR) <= 3)
            fprintf(stderr, "tomo-bench: social setup failed: HTTP %d %.200s\n", status,
                    body ? body : "(connection closed)");
    }
    if (--s->left == 0) {
        lg_ready(w);
        return;
    }
    if (s->groups && s->next == 1) { /* the group exists: fan the joins out */
        for (int i = 0; i < s->loop.n; i++)
            setup_next(w, &s->loop.conns[i]);
        return;
    }
    setup_next(w, c);
}

/* Task t: friends: t < hub_tasks is the hub adding a batch, else user
 * t - hub_tasks + 1 adds the hub; groups: 0 creates the group, t joins as
 * user t. */
static void setup_next(lg_worker *w, lg_http *c)
{
    wstate *s = w->sc;
    int total = s->groups ? s->pool.n : s->hub_tasks + s->pool.n - 1;
    while (s->next < total) {
        int t = s->next++;
        int rc = -1;
        char path[4096];
        if (!s->groups && t < s->hub_tasks) {
            int off = snprintf(path, sizeof(path), "/v2/friend?");
            for (int i = 1 + t * BATCH; i < s->pool.n && i <= (t + 1) * BATCH; i++)
                off += snprintf(path + off, sizeof(path) - (size_t)off, "%sids=%s",
                                i > 1 + t * BATCH ? "&" : "", s->u[i].uid);
            rc = lg_http_request(c, "POST", path, s->u[0].hdr, NULL, 0, setup_resp, w);
        } else if (!s->groups) {
            user *u = &s->u[t - s->hub_tasks + 1];
            snprintf(path, sizeof(path), "/v2/friend?ids=%s", s->u[0].uid);
            rc = u->uid[0] ? lg_http_request(c, "POST", path, u->hdr, NULL, 0, setup_resp, w) : -1;
        } else if (t == 0) {
            char body[256];
            int n = snprintf(body, sizeof(body),
                             "{\"name\":\"bench-%s\",\"open\":true,\"max_count\":%d}",
                             w->ctx->run_tag, s->pool.n + 1);
            rc = lg_http_request(c, "POST", "/v2/group", s->u[0].hdr, body, (size_t)n, setup_resp,
                                 w);
        } else {
            snprintf(path, sizeof(path), "/v2/group/%s/join", s->gid);
            rc = s->u[t].uid[0] && s->gid[0]
                     ? lg_http_request(c, "POST", path, s->u[t].hdr, NULL, 0, setup_resp, w)
                     : -1;
        }
        if (rc == 0)
            return;
        lg_inc(w, LG_C_SETUP_ERR, 1);
        if (--s->left == 0) {
            lg_ready(w);
            return;
        }
    }
}

/* --- load ---------------------------------------------------------------------- */

static void on_resp(lg_http *c, int status, const char *body, size_t n, void *arg)
{
    lg_worker *w = arg;
    wstate *s = w->sc;
    int i = lg_hloop_index(&s->loop, c);
    free(s->cursor[i]);
    s->cursor[i] = NULL;
    if (status == 200 && lg_has_key(body, n, s->groups ? "group_users" : "friends")) {
        s->cursor[i] = json_str_field(body, n, "cursor");
        lg_hloop_ok(&s->loop, c, LG_C_OK_WIN, LG_H_LAT);
    } else {
        lg_inc(w, LG_C_ERR, 1);
        if (lg_sum(w->ctx, LG_C_ERR) <= 3)
            fprintf(stderr, "tomo-bench: social list failed: HTTP %d %.200s\n", status,
                    body ? body : "(connection closed)");
    }
    lg_hloop_next(&s->loop, c);
}

static int issue(lg_worker *w, lg_http *c)
{
    wstate *s = w->sc;
    int i = lg_hloop_index(&s->loop, c);
    char path[512];
    const char *cur = s->cursor[i];
    if (s->groups)
        snprintf(path, sizeof(path), "/v2/group/%s/user?limit=100%s%s", s->gid,
                 cur ? "&cursor=" : "", cur ? cur : "");
    else
        snprintf(path, sizeof(path), "/v2/friend?limit=100%s%s", cur ? "&cursor=" : "",
                 cur ? cur : "");
    if (lg_http_request(c, "GET", path, s->u[0].hdr, NULL, 0, on_resp, w) < 0) {
        lg_inc(w, LG_C_ERR, 1);
        return -1;
    }
    lg_inc(w, LG_C_SENT, 1);
    return 0;
}

static void pool_done(lg_sessions *p)
{
    wstate *s = p->w->sc;
    for (int i = 0; i < p->n; i++)
        if (set_user(&s->u[i], p->tokens[i]) < 0)
            s->u[i].uid[0] = 0;
    lg_ready(p->w);
}

static void on_phase(lg_worker *w, int phase)
{
    lg_ctx *ctx = w->ctx;
    wstate *s = w->sc;
    if (!s) {
        s = w->sc = lg_xcalloc(1, sizeof(*s));
        s->groups = strcmp(ctx->o.mode, "groups") == 0;
        lg_sessions_init(&s->pool, w, s->groups ? "social-g" : "social-f", ctx->o.users + 1);
        s->pool.on_auth = pool_done;
        s->u = lg_xcalloc((size_t)s->pool.n, sizeof(user));
        lg_hloop_init(&s->loop, w, ctx->o.conns, issue);
        s->cursor = lg_xcalloc((size_t)ctx->o.conns, sizeof(char *));
        s->hub_tasks = (ctx->o.users + BATCH - 1) / BATCH;
    }
    switch (phase) {
    case LG_PH_AUTH: lg_sessions_auth(&s->pool); break;
    case LG_PH_SETUP:
        if (!s->u[0].uid[0]) {
            lg_inc(w, LG_C_SETUP_ERR, 1);
            lg_ready(w);
            break;
        }
        s->left = s->groups ? s->pool.n : s->hub_tasks + s->pool.n - 1;
        if (s->groups)
            setup_next(w, &s->loop.conns[0]); /* the group first */
        else
            for (int i = 0; i < s->loop.n; i++)
                setup_next(w, &s->loop.conns[i]);
        break;
    case LG_PH_RUN: lg_hloop_start(&s->loop); break;
    case LG_PH_STOP:
        lg_hloop_close(&s->loop);
        for (int i = 0; i < ctx->o.conns; i++)
            free(s->cursor[i]);
        break;
    default: break;
    }
}

static int run(lg_ctx *ctx)
{
    lg_opts *o = &ctx->o;
    bool groups = strcmp(o->mode, "groups") == 0;
    if (o->threads != 1) {
        fputs("tomo-bench: social runs on one thread (--threads 1)\n", stderr);
        return 1;
    }
    printf("## social: %s, %d %s, pages of 100, %d connections\n",
           groups ? "list a group's users" : "list a user's friends", o->users,
           groups ? "members" : "friends", o->conns);
    if (lg_sessions_auth_all(ctx, "authenticating users", (uint64_t)o->users + 1, 120) < 0)
        return 1;
    lg_phase_set(ctx, LG_PH_SETUP);
    uint64_t tasks = groups ? (uint64_t)o->users + 1
                            : (uint64_t)o->users + (uint64_t)(o->users + BATCH - 1) / BATCH;
    if (lg_wait_ready(ctx, 300, "building the graph", LG_C_SETUP_OK, tasks) < 0)
        return 1;
    if (lg_sum(ctx, LG_C_SETUP_ERR)) {
        fputs("tomo-bench: the social graph could not be built\n", stderr);
        return 1;
    }
    lg_mark a, b;
    lg_hloop_run_all(ctx, "pages", &a, &b);
    lg_hist h;
    lg_hist_merged(ctx, LG_H_LAT, &h);
    double win = lg_win_s(ctx);
    lg_table t;
    lg_table_init(&t, groups ? "social groups" : "social friends", "value", NULL);
    lg_table_requests(&t, &h, win);
    lg_table_row(&t, "errors", lg_fmt("%llu", (unsigned long long)lg_sum(ctx, LG_C_ERR)), NULL);
    lg_table_marks(ctx, &t, &a, &b);
    lg_table_print(&t);
    lg_table_free(&t);
    return lg_verdict(ctx, lg_sum(ctx, LG_C_RECV), lg_sum(ctx, LG_C_ERR));
}

const lg_scenario lg_sc_social = {
    "social", "page through 1,000 friends or 10,000 group members (pages/s, p50/p99)", run,
    on_phase};
