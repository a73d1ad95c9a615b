/* rt/loops.c: the in-process routing between several loops (see loops.h). */
#define _GNU_SOURCE
#include "loops.h"

#include "rt_int.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct msg msg;

/* Relayed match data is the hot hand-off (M_SESSIONS of a few ids): its
 * blocks are recycled instead of freed. The loop that runs (or drops) one
 * keeps it in its own list (its thread only, no lock) and takes from there
 * for its own hand-offs; match traffic runs both ways, so in steady state a
 * hand-off allocates nothing. At most POOL_MAX blocks kept per loop. */
#define POOL_IDS 8
#define POOL_MAX 4096
typedef struct msg_pool {
    msg *free;
    size_t n;
} msg_pool;

/* One FIFO per destination loop. The destination runs it when woken (one
 * tomo_loop_post per batch) and also before it handles anything that may
 * depend on what other loops did just before (tomo_rt_route_pump): a
 * client that saw another loop's answer (a join) finds its effects here. */
typedef struct inbox {
    _Alignas(64) pthread_mutex_t mu; /* a cache line of its own per loop */
    msg *head, *tail;
    int woken; /* a wake-up post is pending */
    atomic_size_t queued; /* messages waiting (the bound) */
    struct tomo_rt_loops *L;
    int idx;
} inbox;

struct tomo_rt_loops {
    int n;
    size_t max_queue;
    tomo_rt *rts[TOMO_RT_LOOPS_MAX];
    inbox in[TOMO_RT_LOOPS_MAX];
    /* Per loop, touched by its own thread only (a cache line each): the
     * destinations whose wake-up it owes, posted at the end of its turn
     * (routing.flush), so one turn's hand-offs to a loop cost one uv_async, not
     * one per message; and its recycled blocks. */
    struct {
        _Alignas(64) uint64_t owed;
        msg_pool pool;
    } self[TOMO_RT_LOOPS_MAX];
    atomic_int stopping;
    atomic_uint_fast64_t dropped;
    tomo_metric *m_dropped;
};

enum {
    M_PRESENCE,
    M_STREAM,
    M_USER,
    M_SESSIONS,
    M_CLOSE,
    M_DISCONNECT,
    M_STREAM_LEAVE,
    M_FORWARD, /* an envelope for the owner (home loop) */
    M_APPLY,   /* a presence change the owner made, for the session's loop */
};

struct msg {
    msg *next;
    tomo_rt_loops *L;
    int dst, kind;
    int pooled; /* a recycled block (room for POOL_IDS ids) */
    uint32_t origin;
    /* presence */
    int op, persistence, hidden;
    char session_id[37], user_id[37];
    char *username, *status;
    /* stream (presence, stream messages) */
    int mode;
    char *subject, *subcontext, *label;
    /* messages */
    json_t *env;            /* owned (a deep copy made on the sender) */
    tomo_frame *json_frame; /* ref held, or NULL */
    char *skip;             /* session id or NULL */
    const char **ids;       /* M_SESSIONS: nids pointers into idv */
    size_t nids;
    int ws_code;
    char *reason;
    /* M_FORWARD */
    char *type;
    tomo_rt_session_meta meta; /* vars owned */
    /* M_SESSIONS: the ids, in the same block as the message */
    char idv[][37];
};

static char *dup_or_null(const char *s) { return s ? tomo_xstrdup(s) : NULL; }

/* The loop of L the calling thread runs, among a and b, or -1. */
static int thread_loop(const tomo_rt_loops *L, int a, int b);

static void msg_free(msg *m)
{
    if (m->pooled) { /* only a frame or a tree to let go of */
        json_decref(m->env);
        tomo_frame_unref(m->json_frame);
        tomo_rt_loops *L = m->L;
        int k = thread_loop(L, m->dst, (int)m->origin);
        if (k >= 0 && L->self[k].pool.n < POOL_MAX) {
            m->next = L->self[k].pool.free;
            L->self[k].pool.free = m;
            L->self[k].pool.n++;
        } else {
            free(m);
        }
        return;
    }
    free(m->username);
    free(m->status);
    free(m->subject);
    free(m->subcontext);
    free(m->label);
    json_decref(m->env);
    tomo_frame_unref(m->json_frame);
    free(m->skip);
    free(m->reason);
    free(m->type);
    json_decref(m->meta.vars);
    free(m);
}

static tomo_stream msg_stream(const msg *m)
{
    tomo_stream st = {m->mode, m->subject, m->subcontext, m->label};
    return st;
}

static void untrack_everywhere(tomo_rt_loops *L, int self, const char *session_id,
                               const tomo_stream *st);

static void run(msg *m)
{
    tomo_rt_loops *L = m->L;
    atomic_fetch_sub(&L->in[m->dst].queued, 1);
    tomo_rt *rt = L->rts[m->dst];
    if (atomic_load(&L->stopping) || !rt) {
        msg_free(m);
        return;
    }
    tomo_stream st = msg_stream(m);
    switch (m->kind) {
    case M_PRESENCE:
        if (m->op == TOMO_TRACKER_UNTRACK)
            tomo_tracker_untrack_remote(rt->tracker, m->session_id, &st);
        else
            tomo_tracker_track_remote(rt->tracker, m->origin, m->session_id, m->user_id,
                                      m->username, &st, m->persistence, m->hidden, m->status);
        tomo_rt_route_flush(rt);
        break;
    case M_STREAM:
        tomo_rt_route_stream_local(rt, &st, m->env, m->json_frame, m->skip);
        break;
    case M_USER:
        tomo_rt_send_to_user_local(rt, m->user_id, m->env);
        break;
    case M_SESSIONS:
        tomo_rt_route_sessions_local(rt, m->ids, m->nids, m->env, m->json_frame);
        break;
    case M_CLOSE: {
        tomo_rt_session *s = tomo_rt_route_session(rt, m->session_id);
        if (s)
            tomo_rt_session_close(s, m->env, m->ws_code, m->reason);
        tomo_rt_route_flush(rt);
        break;
    }
    case M_DISCONNECT:
        tomo_rt_disconnect_user_local(rt, m->user_id);
        break;
    case M_STREAM_LEAVE:
        tomo_rt_user_stream_leave_local(rt, &st, m->user_id);
        break;
    case M_FORWARD:
        tomo_rt_route_forwarded(rt, m->session_id, m->env, m->type, &m->meta);
        break;
    case M_APPLY:
        if (tomo_rt_route_apply(rt, m->op, m->session_id, &st, m->persistence, m->hidden,
                                m->status) == TOMO_ENOTFOUND &&
            m->op != TOMO_TRACKER_UNTRACK)
            untrack_everywhere(L, m->dst, m->session_id, &st);
        /* no flush here: the owner's reply follows in this queue and goes
         * out first, the join events at the next flush, as on one loop */
        break;
    }
    msg_free(m);
}

static void pump_inbox(inbox *in)
{
    for (;;) {
        pthread_mutex_lock(&in->mu);
        msg *m = in->head;
        in->head = in->tail = NULL;
        pthread_mutex_unlock(&in->mu);
        if (!m)
            return;
        while (m) {
            msg *next = m->next;
            run(m);
            m = next;
        }
    }
}

static void pump(void *ctx, tomo_rt *rt)
{
    tomo_rt_loops *L = ctx;
    if (rt->origin < (uint32_t)L->n)
        pump_inbox(&L->in[rt->origin]);
}

/* arg: the inbox (owned by L, which outlives every loop: this may run in
 * tomo_loop_free's drain after the loop's rt is gone; run() then only frees). */
static void on_wake(void *arg)
{
    inbox *in = arg;
    pthread_mutex_lock(&in->mu);
    in->woken = 0; /* later hand-offs post a new wake-up */
    pthread_mutex_unlock(&in->mu);
    pump_inbox(in);
}

/* Post m to its destination; droppable messages give way on a full queue. */
static void post(tomo_rt_loops *L, msg *m, int droppable)
{
    if (atomic_load(&L->stopping) || m->dst < 0 || m->dst >= L->n || !L->rts[m->dst]) {
        msg_free(m);
        return;
    }
    size_t q = atomic_fetch_add(&L->in[m->dst].queued, 1);
    if (droppable && q >= L->max_queue) {
        atomic_fetch_sub(&L->in[m->dst].queued, 1);
        atomic_fetch_add(&L->dropped, 1);
        tomo_metric_add(L->m_dropped, NULL, 1);
        msg_free(m);
        return;
    }
    inbox *in = &L->in[m->dst];
    pthread_mutex_lock(&in->mu);
    if (in->tail)
        in->tail->next = m;
    else
        in->head = m;
    in->tail = m;
    int wake = !in->woken;
    in->woken = 1;
    int dst = m->dst;
    pthread_mutex_unlock(&in->mu);
    if (!wake)
        return;
    /* The message is visible to the destination's pump now; the wake-up
     * waits for the end of this loop's turn when this is a loop thread
     * (always, but for shutdown's drain). */
    int self = (int)m->origin;
    if (self >= 0 && self < L->n && L->rts[self] &&
        tomo_loop_current() == L->rts[self]->loop && dst < 64)
        L->self[self].owed |= (uint64_t)1 << dst;
    else
        tomo_loop_post(L->rts[dst]->loop, on_wake, in);
}

static void flush(void *ctx, tomo_rt *rt)
{
    tomo_rt_loops *L = ctx;
    int self = (int)rt->origin;
    if (self < 0 || self >= L->n || !L->self[self].owed)
        return;
    uint64_t owed = L->self[self].owed;
    L->self[self].owed = 0;
    for (int d = 0; d < L->n; d++)
        if ((owed >> d) & 1)
            tomo_loop_post(L->rts[d]->loop, on_wake, &L->in[d]);
}

static int thread_loop(const tomo_rt_loops *L, int a, int b)
{
    tomo_loop *cur = tomo_loop_current();
    if (!cur)
        return -1;
    if (a >= 0 && a < L->n && L->rts[a] && L->rts[a]->loop == cur)
        return a;
    if (b >= 0 && b < L->n && L->rts[b] && L->rts[b]->loop == cur)
        return b;
    return -1;
}

static msg *msg_new_from(tomo_rt_loops *L, int dst, int kind, uint32_t origin)
{
    msg *m = tomo_xcalloc(1, sizeof(*m));
    m->L = L;
    m->dst = dst;
    m->kind = kind;
    m->origin = origin;
    return m;
}

static msg *msg_new(tomo_rt_loops *L, int dst, int kind, tomo_rt *from)
{
    return msg_new_from(L, dst, kind, from->origin);
}

static void set_stream(msg *m, const tomo_stream *st)
{
    m->mode = st->mode;
    m->subject = dup_or_null(st->subject);
    m->subcontext = dup_or_null(st->subcontext);
    m->label = dup_or_null(st->label);
}

/* ---- the routing (rt/route.h) ---- */

/* One message per other loop, from make(L, dst, arg). */
static void to_others(tomo_rt_loops *L, int self, msg *(*make)(tomo_rt_loops *L, int dst,
                                                              const void *arg),
                      const void *arg)
{
    for (int i = 0; i < L->n; i++)
        if (i != self)
            post(L, make(L, i, arg), 0);
}

typedef struct presence_arg {
    uint32_t origin;
    int op, persistence, hidden;
    const char *session_id, *user_id, *username, *status;
    const tomo_stream *st;
} presence_arg;

static msg *make_presence(tomo_rt_loops *L, int dst, const void *arg)
{
    const presence_arg *a = arg;
    msg *m = msg_new_from(L, dst, M_PRESENCE, a->origin);
    m->op = a->op;
    m->persistence = a->persistence;
    m->hidden = a->hidden;
    snprintf(m->session_id, sizeof(m->session_id), "%s", a->session_id);
    snprintf(m->user_id, sizeof(m->user_id), "%s", a->user_id ? a->user_id : "");
    m->username = dup_or_null(a->username);
    m->status = dup_or_null(a->status);
    set_stream(m, a->st);
    return m;
}

static void r_presence(void *ctx, tomo_rt *from, int op, const tomo_rt_session *s,
                       const tomo_stream *st, int persistence, int hidden, const char *status)
{
    presence_arg a = {from->origin, op, persistence, hidden, s->id, s->user_id, s->username,
                      status, st};
    to_others(ctx, (int)from->origin, make_presence, &a);
}

/* A change the owner made for a session that is gone: undo it everywhere
 * (as the session's own untrack would have). */
static void untrack_everywhere(tomo_rt_loops *L, int self, const char *session_id,
                               const tomo_stream *st)
{
    presence_arg a = {(uint32_t)self, TOMO_TRACKER_UNTRACK, 0, 0, session_id, NULL, NULL, NULL,
                      st};
    to_others(L, self, make_presence, &a);
}

static void r_stream(void *ctx, tomo_rt *from, const tomo_stream *st, json_t *env,
                     tomo_frame *json_frame, const char *skip_session_id)
{
    tomo_rt_loops *L = ctx;
    uint32_t orig[TOMO_RT_LOOPS_MAX];
    size_t n = tomo_tracker_origins(from->tracker, st, orig, TOMO_RT_LOOPS_MAX);
    for (size_t i = 0; i < n; i++) {
        msg *m = msg_new(L, (int)orig[i], M_STREAM, from);
        set_stream(m, st);
        /* the frame, shared (as in r_sessions), else a copy of the tree */
        if (json_frame)
            m->json_frame = tomo_frame_ref(json_frame);
        else
            m->env = json_deep_copy(env);
        m->skip = dup_or_null(skip_session_id);
        post(L, m, 1);
    }
}

static void r_user(void *ctx, tomo_rt *from, const char *user_id, json_t *env)
{
    tomo_rt_loops *L = ctx;
    if (strlen(user_id) >= 37)
        return;
    tomo_stream notif = {TOMO_STREAM_NOTIFICATIONS, user_id, NULL, NULL};
    uint32_t orig[TOMO_RT_LOOPS_MAX];
    size_t n = tomo_tracker_origins(from->tracker, &notif, orig, TOMO_RT_LOOPS_MAX);
    for (size_t i = 0; i < n; i++) {
        msg *m = msg_new(L, (int)orig[i], M_USER, from);
        memcpy(m->user_id, user_id, strlen(user_id) + 1);
        m->env = json_deep_copy(env);
        post(L, m, 1);
    }
}

typedef struct user_arg {
    int kind;
    uint32_t origin;
    const char *user_id;
    const tomo_stream *st; /* M_STREAM_LEAVE */
} user_arg;

static msg *make_user(tomo_rt_loops *L, int dst, const void *arg)
{
    const user_arg *a = arg;
    msg *m = msg_new_from(L, dst, a->kind, a->origin);
    memcpy(m->user_id, a->user_id, strlen(a->user_id) + 1);
    if (a->st)
        set_stream(m, a->st);
    return m;
}

/* disconnect_user and user_stream_leave: the user's sessions on every
 * other loop. */
static void user_to_others(tomo_rt_loops *L, tomo_rt *from, int kind, const char *user_id,
                           const tomo_stream *st)
{
    if (strlen(user_id) >= 37)
        return;
    user_arg a = {kind, from->origin, user_id, st};
    to_others(L, (int)from->origin, make_user, &a);
}

static void r_disconnect(void *ctx, tomo_rt *from, const char *user_id)
{
    user_to_others(ctx, from, M_DISCONNECT, user_id, NULL);
}

static void r_stream_leave(void *ctx, tomo_rt *from, const tomo_stream *st, const char *user_id)
{
    user_to_others(ctx, from, M_STREAM_LEAVE, user_id, st);
}

static void r_sessions(void *ctx, tomo_rt *from, uint32_t origin, const char *const *ids,
                       size_t n, json_t *env, tomo_frame *json_frame)
{
    tomo_rt_loops *L = ctx;
    if ((int)origin < 0 || (int)origin >= L->n || (!env && !json_frame))
        return;
    /* One block: the message, the ids and the pointers to them; a
     * recycled one when they fit. */
    size_t cap = n <= POOL_IDS ? POOL_IDS : n;
    size_t head = sizeof(msg) + cap * sizeof(char[37]);
    head = (head + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    int self = thread_loop(L, (int)from->origin, -1);
    msg *m;
    if (cap == POOL_IDS && self >= 0 && L->self[self].pool.free) {
        m = L->self[self].pool.free;
        L->self[self].pool.free = m->next;
        L->self[self].pool.n--;
    } else {
        m = tomo_xmalloc(head + cap * sizeof(char *));
    }
    memset(m, 0, sizeof(*m));
    m->pooled = cap == POOL_IDS;
    m->L = L;
    m->dst = (int)origin;
    m->kind = M_SESSIONS;
    m->origin = from->origin;
    m->ids = (const char **)(void *)((char *)m + head);
    for (size_t i = 0; i < n; i++) {
        size_t l = strnlen(ids[i], 36);
        memcpy(m->idv[i], ids[i], l);
        m->idv[i][l] = '\0';
        m->ids[i] = m->idv[i];
    }
    m->nids = n;
    /* The JSON frame the sender's own clients got is shared as it is (its
     * count is atomic); the destination builds a tree from its text only
     * for a protobuf recipient. Without one, a copy of the tree (jansson
     * counts are not atomic). */
    if (json_frame)
        m->json_frame = tomo_frame_ref(json_frame);
    else
        m->env = json_deep_copy(env);
    post(L, m, 1);
}

static void r_close(void *ctx, tomo_rt *from, const tomo_rt_session *g, json_t *final_env,
                    int ws_code, const char *reason)
{
    tomo_rt_loops *L = ctx;
    msg *m = msg_new(L, (int)g->origin, M_CLOSE, from);
    memcpy(m->session_id, g->id, sizeof(m->session_id));
    m->env = final_env ? json_deep_copy(final_env) : NULL;
    m->ws_code = ws_code;
    m->reason = dup_or_null(reason);
    post(L, m, 0);
}

static void r_forward(void *ctx, tomo_rt *from, uint32_t owner, const tomo_rt_session *s,
                      json_t *env, const char *type)
{
    tomo_rt_loops *L = ctx;
    msg *m = msg_new(L, (int)owner, M_FORWARD, from);
    memcpy(m->session_id, s->id, sizeof(m->session_id));
    m->env = json_deep_copy(env);
    m->type = tomo_xstrdup(type);
    m->meta.vars = s->vars ? json_deep_copy(s->vars) : NULL;
    m->meta.expiry = s->expiry;
    memcpy(m->meta.client_ip, s->client_ip, sizeof(m->meta.client_ip));
    memcpy(m->meta.client_port, s->client_port, sizeof(m->meta.client_port));
    post(L, m, 0); /* a request: never dropped (its client waits) */
}

static void r_ghost_presence(void *ctx, tomo_rt *from, int op, const tomo_rt_session *g,
                             const tomo_stream *st, int persistence, int hidden,
                             const char *status)
{
    tomo_rt_loops *L = ctx;
    msg *m = msg_new(L, (int)g->origin, M_APPLY, from);
    m->op = op;
    m->persistence = persistence;
    m->hidden = hidden;
    memcpy(m->session_id, g->id, sizeof(m->session_id));
    m->status = dup_or_null(status);
    set_stream(m, st);
    post(L, m, 0);
}

/* ---- set-up ---- */

tomo_rt_loops *tomo_rt_loops_new(int n, size_t max_queue)
{
    if (n < 1)
        n = 1;
    if (n > TOMO_RT_LOOPS_MAX)
        n = TOMO_RT_LOOPS_MAX;
    /* aligned: the per-loop parts each have their own cache line */
    void *mem = NULL;
    if (posix_memalign(&mem, 64, sizeof(tomo_rt_loops)) != 0)
        abort();
    tomo_rt_loops *L = memset(mem, 0, sizeof(tomo_rt_loops));
    L->n = n;
    L->max_queue = max_queue ? max_queue : 1;
    for (int i = 0; i < n; i++) {
        pthread_mutex_init(&L->in[i].mu, NULL);
        L->in[i].L = L;
        L->in[i].idx = i;
    }
    L->m_dropped = tomo_metrics_counter("realtime_cross_loop_dropped_total",
                                        "Messages between loops dropped on a full queue", NULL);
    return L;
}

void tomo_rt_loops_add(tomo_rt_loops *L, int idx, tomo_rt *rt)
{
    if (idx < 0 || idx >= L->n)
        return;
    L->rts[idx] = rt;
    tomo_rt_routing r = {
        .ctx = L,
        .to_stream = r_stream,
        .to_user = r_user,
        .disconnect_user = r_disconnect,
        .presence = r_presence,
        .to_sessions = r_sessions,
        .close_session = r_close,
        .pump = pump,
        .user_stream_leave = r_stream_leave,
        .forward = r_forward,
        .ghost_presence = r_ghost_presence,
        .flush = flush,
    };
    tomo_rt_set_routing(rt, &r, (uint32_t)idx);
    tomo_rt_set_home(rt, L->rts[0] ? L->rts[0] : rt);
}

void tomo_rt_loops_stop(tomo_rt_loops *L)
{
    if (L)
        atomic_store(&L->stopping, 1);
}

uint64_t tomo_rt_loops_dropped(tomo_rt_loops *L) { return L ? atomic_load(&L->dropped) : 0; }

void tomo_rt_loops_free(tomo_rt_loops *L)
{
    if (!L)
        return;
    for (int i = 0; i < L->n; i++) {
        for (msg *m = L->in[i].head, *next; m; m = next) {
            next = m->next;
            m->pooled = 0; /* no loop runs any more: free, not recycled */
            msg_free(m);
        }
        for (msg *m = L->self[i].pool.free, *next; m; m = next) {
            next = m->next;
            free(m);
        }
        pthread_mutex_destroy(&L->in[i].mu);
    }
    free(L);
}
