/* rt/amatch.c: authoritative matches (see amatch.h): the registry, the
 * match threads, the dispatcher, joins, data, presence events, listing.
 *
 * Locks: reg->mu guards the registry (id map, newest-first list, labels and
 * their query documents); each worker's mu guards its heap, its ready list
 * and the queues of its matches. Neither is held while a handler runs, and
 * reg->mu is never taken while holding a worker's mu or the reverse.
 *
 * References: a match is referenced by the registry (until it stops), by
 * its worker (until the worker finalised it) and briefly by whoever looked
 * it up to queue something; the last unref frees it. */
#define _GNU_SOURCE
#include "amatch.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/query.h"
#include "envelope.h"
#include "match_int.h"
#include "rt_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AM_LOG "match"
#define SIGNAL_TIMEOUT_SEC 10
#define NO_HEAP ((size_t)-1)
/* A match's first tick falls on this grid, so that matches of one tick rate
 * fall due together and a match thread runs them in one wake-up. */
#define TICK_GRID_NS 1000000ull
/* A match thread hands what its calls produced to the loop in one post per
 * round of due work, unless the first item has waited this long or the
 * batch holds BATCH_MAX items. */
#define BATCH_NS 1000000ull
#define BATCH_MAX 256

/* The head of everything a match thread posts to a loop: a worker strings
 * them into one batch (one tomo_loop_post, one wake-up of the loop), run
 * in order. */
typedef struct postlink {
    struct postlink *next;
    tomo_fn fn;
} postlink;

typedef struct pres {
    char user_id[37], session_id[37];
    char *username;
    int reason;
} pres;

enum { EV_JOIN_ATTEMPT, EV_JOIN, EV_LEAVE, EV_SIGNAL, EV_TERMINATE };

typedef struct jattempt jattempt;
typedef struct sigcall sigcall;

typedef struct evt {
    int kind;
    struct evt *next;
    pres *ps;
    size_t n;
    jattempt *ja;
    sigcall *sc;
    int grace;
} evt;

/* A received match_data_send: one allocation with its strings. */
typedef struct inmsg {
    struct inmsg *next;
    pres sender; /* username points into the block */
    int64_t op_code;
    char *data; /* base64 (as received) or NULL; in the block */
    size_t data_len;
    int reliable;
    int64_t recv_ms;
} inmsg;

struct jattempt {
    postlink pl; /* first: posted as a batch item */
    tomo_rt_req *req;
    char match_id[TOMO_MATCH_ID_MAX], reply_id[TOMO_MATCH_ID_MAX], uuid[37], node[64];
    pres p;
    json_t *metadata, *vars;
    int64_t exp;
    char client_ip[64], client_port[8];
    int found, accept;
    char reason[256];
    char *label;
};

struct sigcall {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    int want_state; /* a state read (the console), not match_signal */
    char *data, *result;
};

/* An outgoing message, formatted on the match thread; it lives in its
 * frame's block (tomo_frame_new_extra): read nothing of it after the
 * frame's reference is dropped. */
typedef struct outmsg {
    struct outmsg *next;
    tomo_frame *frame; /* the JSON frame, built here and shared by every recipient */
    tomo_md_fields f; /* strings below, for the protobuf tree */
    char *match_id, *user_id, *session_id, *username, *op_code, *data; /* in the block */
    char (*to)[37];   /* recipients' session ids (in the block); NULL: every member */
    size_t nto;
} outmsg;

/* What one callback asks of the loop, posted once. */
typedef struct loopjob {
    postlink pl; /* first: posted as a batch item */
    tomo_rt *rt;
    char uuid[37], node[64];
    outmsg *mh, *mt;
    char (*kick)[37];
    size_t nkick;
    int end, disconnect;
} loopjob;

typedef struct mworker mworker;
typedef struct amreg amreg;

typedef struct am {
    amreg *reg;
    mworker *w;
    char id[TOMO_MATCH_ID_MAX], uuid[37];
    char handler_name[128];
    tomo_match_handler h;
    void *state;
    tomo_match_dispatcher disp;
    int tick_rate;
    int64_t tick, create_ms;
    atomic_int refs;
    atomic_int size;
    /* reg->mu */
    char *label;
    tomo_qdoc doc;
    uint32_t remote_node; /* a match of another node (listing only): its cluster id */
    char rnode[64];       /* and that node's name */
    struct am *rprev, *rnext;
    /* w->mu */
    evt *eh, *et;
    inmsg *mh, *mt;
    size_t nmsg, njoin, nsig;
    int ready, dead;
    struct am *ready_next;
    size_t hidx;
    uint64_t next_ns;
    /* match thread only */
    pres *mem;
    size_t nmem, capmem;
    char *label_local;
    loopjob *out;
    uint64_t bgen; /* its worker's batch its last post joined */
    outmsg *dh, *dt;
    size_t ndef;
    int stopped;
    uint64_t term_deadline_ns;
} am;

struct mworker {
    amreg *reg;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    am **heap;
    size_t hn, hcap;
    am *rh, *rtail;
    int stop;
    /* this thread only: the batch for the loop (worker_post) */
    postlink *bh, *bt;
    size_t bn;
    tomo_loop *bloop;
    uint64_t bfirst_ns;
    uint64_t bgen; /* +1 per batch posted */
    uint8_t *scratch; /* decoded payloads of the tick being run */
    size_t scratch_cap;
};

struct amreg {
    tomo_rt *rt;
    tomo_match_handler_registry handlers;
    int has_handlers;
    pthread_mutex_t mu;
    tomo_hmap byid;
    am *newest;
    size_t count;
    tomo_hmap remote; /* id -> am of another node (tomo_rt_amatch_remote_put) */
    tomo_rt_amatch_observe_fn obs;
    void *obs_ud;
    pthread_mutex_t start_mu;
    mworker *w;
    int nw;
    atomic_uint next_w;
    atomic_int closing;
};

static tomo_metric *m_count, *m_lateness;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static __thread mworker *t_worker;
static __thread am *t_current;

static void metrics_once_fn(void)
{
    m_count = tomo_metrics_gauge("authoritative_match_count", "Live authoritative matches", NULL);
    tomo_metric_set(m_count, NULL, 0);
    static const double b[] = {0.5, 1, 2, 5, 10, 20, 50, 100, 250, 1000};
    m_lateness = tomo_metrics_histogram("match_tick_lateness_ms",
                                        "How late authoritative match ticks start, in ms", NULL,
                                        b, sizeof(b) / sizeof(b[0]));
}

/* The registry is the home loop's (rt/route.h tomo_rt_set_home): every
 * loop looks matches up there (lookups lock it), match threads post what
 * they send to the home loop, which reaches members on other loops through
 * the routing. own_reg: this loop's (start-up, shutdown). */
static amreg *reg_of(tomo_rt *rt) { return rt ? rt->home->amatch : NULL; }
static amreg *own_reg(tomo_rt *rt) { return rt ? rt->amatch : NULL; }

/* ---- small helpers ---- */

static void pres_set(pres *p, const char *user_id, const char *session_id, const char *username)
{
    snprintf(p->user_id, sizeof(p->user_id), "%s", user_id ? user_id : "");
    snprintf(p->session_id, sizeof(p->session_id), "%s", session_id ? session_id : "");
    p->username = tomo_xstrdup(username ? username : "");
}

static char *state_json(struct am *m);

static void pres_view(const pres *p, const char *node, tomo_match_presence *out)
{
    out->user_id = p->user_id;
    out->session_id = p->session_id;
    out->username = p->username;
    out->node = node;
    out->reason = p->reason;
}

static void am_ref(am *m) { atomic_fetch_add(&m->refs, 1); }

static void am_unref(am *m)
{
    if (atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    for (size_t i = 0; i < m->nmem; i++)
        free(m->mem[i].username);
    free(m->mem);
    free(m->label);
    free(m->label_local);
    tomo_qdoc_clear(&m->doc);
    free(m);
}

/* Lookup with a reference (NULL if not live). */
static am *lookup_ref(amreg *r, const char *id)
{
    if (!r)
        return NULL;
    pthread_mutex_lock(&r->mu);
    am *m = tomo_hmap_get(&r->byid, id);
    if (m)
        am_ref(m);
    pthread_mutex_unlock(&r->mu);
    return m;
}

/* Canonical id "<lower uuid>.<node>" of a client's id string. */
static int canon_id(const char *id, char out[TOMO_MATCH_ID_MAX], char uuid[37], const char **node)
{
    if (tomo_rt_match_parse_id(id, uuid, node) < 0 || !**node || strlen(*node) > 63)
        return TOMO_EINVAL;
    snprintf(out, TOMO_MATCH_ID_MAX, "%s.%s", uuid, *node);
    return 0;
}

/* The label's query document: Nakama's index fields. */
static void label_doc(am *m, const char *label)
{
    tomo_qdoc_clear(&m->doc);
    tomo_qdoc_init(&m->doc);
    tomo_qdoc_add_keyword(&m->doc, "node", m->remote_node ? m->rnode : m->reg->rt->cfg->name);
    tomo_qdoc_add_keyword(&m->doc, "label_string", label);
    tomo_qdoc_add_number(&m->doc, "tick_rate", m->tick_rate);
    tomo_qdoc_add_keyword(&m->doc, "handler_name", m->handler_name);
    tomo_qdoc_add_number(&m->doc, "create_time", (double)m->create_ms / 1000.0);
    json_t *j = json_loads(label, JSON_DECODE_ANY, NULL);
    if (json_is_object(j))
        tomo_qdoc_add_json(&m->doc, "label", j);
    json_decref(j);
}

/* reg->mu held: tell the observer (the cluster's directory) of m. */
static void notify_locked(am *m, int ended)
{
    amreg *r = m->reg;
    if (!r->obs || m->remote_node)
        return;
    tomo_amatch_info mi = {m->id, ended ? NULL : m->label ? m->label : "", m->handler_name,
                           atomic_load(&m->size), m->tick_rate, m->create_ms};
    r->obs(r->obs_ud, &mi);
}

static void notify(am *m)
{
    if (!m->reg->obs)
        return;
    pthread_mutex_lock(&m->reg->mu);
    notify_locked(m, 0);
    pthread_mutex_unlock(&m->reg->mu);
}

/* ---- the loop side of outgoing work ---- */

static void outmsg_free(outmsg *o)
{
    tomo_frame_unref(o->frame); /* o, its strings and recipients live in the frame's block */
}

static void loopjob_free(loopjob *j)
{
    for (outmsg *o = j->mh, *n; o; o = n) {
        n = o->next;
        outmsg_free(o);
    }
    free(j->kick);
    free(j);
}

/* Members of the stream, held (the caller releases, and frees *out unless
 * it is stackv, which holds nstack). */
static size_t members(tomo_rt *rt, const tomo_stream *st, tomo_rt_session ***out,
                      tomo_rt_session **stackv, size_t nstack)
{
    size_t n = tomo_tracker_count(rt->tracker, st), k = 0;
    tomo_rt_session **ss = n <= nstack ? stackv : tomo_xcalloc(n, sizeof(*ss));
    for (tomo_presence *p = tomo_tracker_first(rt->tracker, st); p && k < n;
         p = tomo_presence_next(p)) {
        ss[k] = p->session;
        tomo_rt_session_hold(ss[k++]);
    }
    *out = ss;
    return k;
}

static void on_loopjob(void *arg)
{
    loopjob *j = arg;
    tomo_rt *rt = j->rt;
    if (rt->stopping && !j->end)
        goto out;
    tomo_stream st = {TOMO_STREAM_MATCH_AUTHORITATIVE, j->uuid, NULL, j->node};
    /* Members here or, as ghosts, on other loops (tomo_rt_route_out).
     * Sending changes no membership (a slow consumer closes, and a closed
     * session is skipped by the send), so the member list is looked up
     * once per job and shared by its broadcasts to everyone. */
    tomo_rt_session *allv[16];
    tomo_rt_session **all = NULL;
    size_t nall = 0;
    int have_all = 0;
    for (outmsg *o = j->mh; o; o = o->next) {
        tomo_rt_session **ss = NULL;
        size_t k = 0;
        if (!o->to) {
            if (!have_all) {
                nall = members(rt, &st, &all, allv, 16);
                have_all = 1;
            }
            ss = all;
            k = nall;
        } else {
            ss = tomo_xcalloc(o->nto ? o->nto : 1, sizeof(*ss));
            for (size_t i = 0; i < o->nto; i++) {
                tomo_rt_session *s = tomo_rt_route_reach(rt, o->to[i]);
                if (s && tomo_tracker_get(rt->tracker, s, &st)) {
                    tomo_rt_session_hold(s);
                    ss[k++] = s;
                }
            }
        }
        if (k && o->frame) {
            tomo_rt_out ro;
            tomo_rt_md_out_frame(&ro, o->frame, &o->f);
            tomo_rt_route_out(rt, &ro, ss, k);
            tomo_rt_out_clear(&ro);
        }
        if (ss == all)
            continue;
        for (size_t i = 0; i < k; i++)
            tomo_rt_session_release(ss[i]);
        free(ss);
    }
    for (size_t i = 0; i < nall; i++)
        tomo_rt_session_release(all[i]);
    if (all != allv)
        free(all);
    for (size_t i = 0; i < j->nkick; i++) {
        tomo_rt_session *s = tomo_rt_route_reach(rt, j->kick[i]);
        if (s)
            tomo_tracker_untrack(rt->tracker, s, &st);
    }
    if (j->end) {
        tomo_rt_session *sv[16], **ss = NULL;
        size_t k = members(rt, &st, &ss, sv, 16);
        for (size_t i = 0; i < k; i++) {
            if (j->disconnect)
                tomo_rt_session_close(ss[i], NULL, TOMO_WS_CLOSE_NORMAL, "");
            else
                tomo_tracker_untrack(rt->tracker, ss[i], &st);
            tomo_rt_session_release(ss[i]);
        }
        if (ss != sv)
            free(ss);
    }
    tomo_tracker_flush(rt->tracker, rt);
out:
    loopjob_free(j);
}

static loopjob *job_of(am *m)
{
    if (!m->out) {
        m->out = tomo_xcalloc(1, sizeof(*m->out));
        m->out->rt = m->reg->rt;
        memcpy(m->out->uuid, m->uuid, sizeof(m->uuid));
        snprintf(m->out->node, sizeof(m->out->node), "%s", m->reg->rt->cfg->name);
    }
    return m->out;
}

/* ---- batches to the loop ---- */

static void on_batch(void *arg)
{
    for (postlink *p = arg, *n; p; p = n) {
        n = p->next;
        p->fn(p);
    }
}

/* This thread's batch goes to its loop now. */
static void batch_flush(mworker *w)
{
    if (!w || !w->bh)
        return;
    postlink *h = w->bh;
    w->bh = w->bt = NULL;
    w->bn = 0;
    w->bgen++;
    tomo_loop_post(w->bloop, on_batch, h);
}

/* Before a handler call of m on this thread: if m has something in the
 * batch, the batch goes first, so that what the call posts to the loop by
 * other ways (nk functions post directly) cannot overtake it. */
static void batch_before_call(am *m)
{
    mworker *w = t_worker;
    if (w && w->bh && m->bgen == w->bgen + 1)
        batch_flush(w);
}

/* Post fn(pl) to loop for match m (or NULL): joins this thread's batch on a
 * match thread (kept in order with everything else the thread posts),
 * posted at once anywhere else. */
static void worker_post(am *m, tomo_loop *loop, postlink *pl, tomo_fn fn)
{
    pl->fn = fn;
    pl->next = NULL;
    mworker *w = t_worker;
    if (!w) {
        tomo_loop_post(loop, fn, pl);
        return;
    }
    if (w->bh && w->bloop != loop)
        batch_flush(w);
    if (w->bh) {
        w->bt->next = pl;
    } else {
        w->bh = pl;
        w->bloop = loop;
        w->bfirst_ns = tomo_mono_ns();
    }
    w->bt = pl;
    if (m)
        m->bgen = w->bgen + 1; /* in the batch being filled (0 means none) */
    if (++w->bn >= BATCH_MAX)
        batch_flush(w);
}

static void flush_out(am *m)
{
    if (!m->out)
        return;
    loopjob *j = m->out;
    m->out = NULL;
    worker_post(m, m->reg->rt->loop, &j->pl, on_loopjob);
}

/* Drop what a match queued but never posted (init, stop_all). */
static void drop_pending(am *m)
{
    if (m->out)
        loopjob_free(m->out);
    m->out = NULL;
    for (outmsg *o = m->dh, *n; o; o = n) {
        n = o->next;
        outmsg_free(o);
    }
    m->dh = m->dt = NULL;
}

/* ---- the dispatcher (match thread, inside a handler call) ---- */

static int member_index(const am *m, const char *session_id)
{
    for (size_t i = 0; i < m->nmem; i++)
        if (!strcasecmp(m->mem[i].session_id, session_id))
            return (int)i;
    return -1;
}

/* Copy s into the block at *pos (NULL stays NULL). */
static char *put_str(char **pos, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = *pos;
    memcpy(d, s, n);
    d[n] = '\0';
    *pos += n + 1;
    return d;
}

/* One outgoing message: its JSON frame, and in the frame's own block the
 * struct, its strings (for a protobuf recipient's tree) and the recipient
 * list: one allocation, freed when the last socket wrote the frame. */
static outmsg *make_msg(am *m, int64_t op_code, const uint8_t *data, size_t len,
                        const tomo_match_presence *ps, size_t n, const tomo_match_presence *sender,
                        int reliable)
{
    size_t nto = 0;
    int idx_stack[16];
    int *idx = NULL;
    if (ps) {
        idx = n <= 16 ? idx_stack : tomo_xcalloc(n, sizeof(*idx));
        for (size_t i = 0; i < n; i++) {
            int k = ps[i].session_id ? member_index(m, ps[i].session_id) : -1;
            if (k >= 0)
                idx[nto++] = k;
        }
        if (!nto) {
            if (idx != idx_stack)
                free(idx);
            return NULL;
        }
    }
    int has_sender = sender && sender->user_id && sender->session_id;
    const char *uname = has_sender && sender->username ? sender->username : "";
    size_t lid = strlen(m->id), lu = has_sender ? strlen(sender->user_id) : 0,
           ls = has_sender ? strlen(sender->session_id) : 0, ln = has_sender ? strlen(uname) : 0;
    char op[24] = "";
    size_t lop = op_code ? (size_t)snprintf(op, sizeof(op), "%lld", (long long)op_code) : 0;
    size_t ld = len ? tomo_b64_encoded_len(len, 0) : 0;
    char b64_stack[1024];
    char *b64 = ld < sizeof(b64_stack) ? b64_stack : tomo_xmalloc(ld + 1);
    if (ld)
        tomo_b64_encode_to(data, len, 0, b64);
    /* the frame from the caller's strings, then the copies beside it */
    tomo_md_fields src = {m->id,           has_sender ? sender->user_id : NULL,
                          has_sender ? sender->session_id : NULL,
                          has_sender ? uname : NULL, lop ? op : NULL,
                          ld ? b64 : NULL, reliable};
    size_t extra = sizeof(outmsg) + nto * sizeof(*((outmsg *)0)->to) + lid + lu + ls + ln + lop +
                   ld + 6;
    void *blk = NULL;
    tomo_frame *frame = tomo_rt_md_frame_extra(&src, extra, &blk);
    outmsg *o = blk;
    memset(o, 0, sizeof(*o));
    o->frame = frame;
    char *pos = (char *)(o + 1);
    if (nto) {
        o->to = (char(*)[37])pos;
        for (size_t i = 0; i < nto; i++)
            memcpy(o->to[i], m->mem[idx[i]].session_id, 37);
        o->nto = nto;
        pos += nto * sizeof(*o->to);
    }
    if (idx && idx != idx_stack)
        free(idx);
    o->match_id = put_str(&pos, m->id, lid);
    if (has_sender) {
        o->user_id = put_str(&pos, sender->user_id, lu);
        o->session_id = put_str(&pos, sender->session_id, ls);
        o->username = put_str(&pos, uname, ln);
    }
    if (lop)
        o->op_code = put_str(&pos, op, lop);
    if (ld)
        o->data = put_str(&pos, b64, ld);
    if (b64 != b64_stack)
        free(b64);
    o->f = (tomo_md_fields){o->match_id, o->user_id, o->session_id, o->username,
                            o->op_code,  o->data,    reliable};
    return o;
}

static void append_msg(loopjob *j, outmsg *o)
{
    if (j->mt)
        j->mt->next = o;
    else
        j->mh = o;
    j->mt = o;
}

/* Broadcast now (with the callback's other effects) or deferred (after
 * the callback returns). */
static int broadcast(am *m, int deferred, int64_t op_code, const uint8_t *data, size_t len,
                     const tomo_match_presence *presences, size_t n,
                     const tomo_match_presence *sender, int reliable)
{
    if (m->stopped)
        return TOMO_EINVAL;
    if (deferred && m->ndef >= (size_t)m->reg->rt->cfg->match.deferred_queue_size)
        return TOMO_ETOOBIG;
    outmsg *o = make_msg(m, op_code, data, len, presences, n, sender, reliable);
    if (!o)
        return 0;
    if (!deferred) {
        append_msg(job_of(m), o);
        return 0;
    }
    if (m->dt)
        m->dt->next = o;
    else
        m->dh = o;
    m->dt = o;
    m->ndef++;
    return 0;
}

static int d_broadcast(void *ctx, int64_t op_code, const uint8_t *data, size_t len,
                       const tomo_match_presence *presences, size_t n,
                       const tomo_match_presence *sender, int reliable)
{
    return broadcast(ctx, 0, op_code, data, len, presences, n, sender, reliable);
}

static int d_broadcast_deferred(void *ctx, int64_t op_code, const uint8_t *data, size_t len,
                                const tomo_match_presence *presences, size_t n,
                                const tomo_match_presence *sender, int reliable)
{
    return broadcast(ctx, 1, op_code, data, len, presences, n, sender, reliable);
}

/* The deferred broadcasts join what the callback sends. */
static void splice_deferred(am *m)
{
    if (!m->dh)
        return;
    loopjob *j = job_of(m);
    if (j->mt)
        j->mt->next = m->dh;
    else
        j->mh = m->dh;
    j->mt = m->dt;
    m->dh = m->dt = NULL;
    m->ndef = 0;
}

static int d_kick(void *ctx, const tomo_match_presence *ps, size_t n)
{
    am *m = ctx;
    if (m->stopped)
        return TOMO_EINVAL;
    loopjob *j = NULL;
    for (size_t i = 0; i < n; i++) {
        int k = ps[i].session_id ? member_index(m, ps[i].session_id) : -1;
        if (k < 0)
            continue;
        if (!j)
            j = job_of(m);
        j->kick = tomo_xrealloc(j->kick, (j->nkick + 1) * sizeof(*j->kick));
        memcpy(j->kick[j->nkick++], m->mem[k].session_id, 37);
    }
    return 0;
}

static void set_label(am *m, const char *label)
{
    free(m->label_local);
    m->label_local = tomo_xstrdup(label);
    pthread_mutex_lock(&m->reg->mu);
    free(m->label);
    m->label = tomo_xstrdup(label);
    label_doc(m, label);
    notify_locked(m, 0);
    pthread_mutex_unlock(&m->reg->mu);
}

static int d_label_update(void *ctx, const char *label)
{
    am *m = ctx;
    if (m->stopped)
        return TOMO_EINVAL;
    if (!label)
        label = "";
    if (strlen(label) > TOMO_MATCH_LABEL_MAX)
        return TOMO_ETOOBIG;
    set_label(m, label);
    return 0;
}

/* ---- running handler calls (match thread) ---- */

static void ctx_of(am *m, tomo_match_ctx *mc)
{
    memset(mc, 0, sizeof(*mc));
    mc->match_id = m->id;
    mc->node = m->reg->rt->cfg->name;
    mc->tick = m->tick;
    mc->dispatcher = &m->disp;
    mc->label = m->label_local ? m->label_local : "";
    mc->tick_rate = m->tick_rate;
}

static void am_stop(am *m, int disconnect, const char *why);

/* After a handler call: rc < 0 stops the match and disconnects its
 * sessions, a NULL state stops it; otherwise deferred messages go out.
 * Posts what the call produced. Returns 1 if the match stopped. */
static int after_call(am *m, int rc, const char *what)
{
    if (rc < 0) {
        const char *e = m->h.error ? m->h.error(m->h.ud) : NULL;
        TOMO_LOGE(AM_LOG, "match handler failed, stopping the match match_id=%s fn=%s error=%s",
                  m->id, what, e ? e : "?");
        am_stop(m, 1, what);
        return 1;
    }
    if (!m->state) {
        am_stop(m, 0, what);
        return 1;
    }
    splice_deferred(m);
    flush_out(m);
    return 0;
}

static void members_add(am *m, const pres *p)
{
    if (member_index(m, p->session_id) >= 0)
        return;
    if (m->nmem == m->capmem) {
        m->capmem = m->capmem ? m->capmem * 2 : 8;
        m->mem = tomo_xrealloc(m->mem, m->capmem * sizeof(*m->mem));
    }
    pres *d = &m->mem[m->nmem++];
    *d = *p;
    d->username = tomo_xstrdup(p->username);
}

static void members_del(am *m, const char *session_id)
{
    int k = member_index(m, session_id);
    if (k < 0)
        return;
    free(m->mem[k].username);
    m->mem[k] = m->mem[--m->nmem];
}

static void post_join_answer(am *m, jattempt *ja);

static void run_event(am *m, evt *e)
{
    batch_before_call(m);
    tomo_match_ctx mc;
    const char *node = m->reg->rt->cfg->name;
    switch (e->kind) {
    case EV_JOIN_ATTEMPT: {
        jattempt *ja = e->ja;
        if (m->stopped) {
            post_join_answer(NULL, ja);
            break;
        }
        ctx_of(m, &mc);
        mc.vars = ja->vars;
        mc.session_exp = ja->exp;
        mc.client_ip = ja->client_ip;
        mc.client_port = ja->client_port;
        tomo_match_presence p;
        pres_view(&ja->p, node, &p);
        int accept = 0;
        char reason[256] = "";
        int rc = m->h.join_attempt(m->h.ud, &mc, &m->state, &p, ja->metadata, &accept, reason,
                                   sizeof(reason));
        ja->found = rc >= 0;
        ja->accept = rc >= 0 && m->state && accept;
        snprintf(ja->reason, sizeof(ja->reason), "%s", reason);
        /* what the call broadcast goes out before the answer; a nil state
         * refuses the join and stops the match, an error reads as gone */
        after_call(m, rc, "match_join_attempt");
        post_join_answer(rc < 0 ? NULL : m, ja);
        break;
    }
    case EV_JOIN:
    case EV_LEAVE: {
        if (m->stopped)
            break;
        tomo_match_presence *ps = tomo_xcalloc(e->n ? e->n : 1, sizeof(*ps));
        size_t k = 0;
        for (size_t i = 0; i < e->n; i++) {
            int known = member_index(m, e->ps[i].session_id) >= 0;
            if (e->kind == EV_JOIN ? known : !known)
                continue;
            if (e->kind == EV_JOIN)
                members_add(m, &e->ps[i]);
            pres_view(&e->ps[i], node, &ps[k++]);
        }
        if (k) {
            ctx_of(m, &mc);
            int rc = e->kind == EV_JOIN ? m->h.join(m->h.ud, &mc, &m->state, ps, k)
                                        : m->h.leave(m->h.ud, &mc, &m->state, ps, k);
            if (e->kind == EV_LEAVE)
                for (size_t i = 0; i < e->n; i++)
                    members_del(m, e->ps[i].session_id);
            atomic_store(&m->size, (int)m->nmem);
            notify(m);
            after_call(m, rc, e->kind == EV_JOIN ? "match_join" : "match_leave");
        }
        free(ps);
        break;
    }
    case EV_SIGNAL: {
        sigcall *sc = e->sc;
        int rc = TOMO_ENOTFOUND;
        char *result = NULL;
        if (!m->stopped && sc->want_state) {
            result = state_json(m);
            rc = result ? 0 : TOMO_EAGAIN;
        } else if (!m->stopped) {
            ctx_of(m, &mc);
            rc = m->h.signal(m->h.ud, &mc, &m->state, sc->data, &result);
            after_call(m, rc, "match_signal"); /* a nil state: answered, then stopped */
            rc = rc < 0 ? TOMO_EAGAIN : 0;
        }
        /* what the call sent reaches the loop before the caller hears back */
        batch_flush(t_worker);
        pthread_mutex_lock(&sc->mu);
        sc->rc = rc;
        sc->result = rc == 0 ? (result ? result : tomo_xstrdup("")) : NULL;
        if (rc != 0)
            free(result);
        sc->done = 1;
        pthread_cond_signal(&sc->cv);
        pthread_mutex_unlock(&sc->mu);
        break;
    }
    case EV_TERMINATE:
        if (m->stopped || m->term_deadline_ns)
            break;
        m->term_deadline_ns = tomo_mono_ns() + (uint64_t)e->grace * 1000000000ull;
        ctx_of(m, &mc);
        after_call(m, m->h.terminate(m->h.ud, &mc, &m->state, e->grace), "match_terminate");
        break;
    }
}

static void sigcall_unref(sigcall *sc)
{
    if (atomic_fetch_sub(&sc->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cv);
    free(sc->data);
    free(sc->result);
    free(sc);
}

static void evt_free(evt *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->ps[i].username);
    free(e->ps);
    if (e->sc)
        sigcall_unref(e->sc);
    free(e);
}

/* Answer an event of a match that no longer runs. */
static void evt_dead(evt *e)
{
    if (e->ja) {
        post_join_answer(NULL, e->ja);
        e->ja = NULL;
    }
    if (e->sc) {
        pthread_mutex_lock(&e->sc->mu);
        e->sc->rc = TOMO_ENOTFOUND;
        e->sc->done = 1;
        pthread_cond_signal(&e->sc->cv);
        pthread_mutex_unlock(&e->sc->mu);
    }
    evt_free(e);
}

static void run_tick(am *m, inmsg *msgs, size_t n, uint64_t late_ns)
{
    batch_before_call(m);
    const char *node = m->reg->rt->cfg->name;
    tomo_match_message stackv[32];
    tomo_match_message *mv = n <= 32 ? stackv : tomo_xcalloc(n, sizeof(*mv));
    /* The batch's payloads decoded into one buffer (the worker's, reused
     * from tick to tick: no allocation per message). */
    mworker *w = m->w;
    size_t need = 0;
    for (inmsg *x = msgs; x; x = x->next)
        need += tomo_b64_decoded_max(x->data_len);
    if (need > w->scratch_cap) {
        free(w->scratch);
        w->scratch_cap = need < 4096 ? 4096 : need * 2;
        w->scratch = tomo_xmalloc(w->scratch_cap);
    }
    uint8_t *pos = w->scratch;
    size_t k = 0;
    for (inmsg *x = msgs; x; x = x->next, k++) {
        pres_view(&x->sender, node, &mv[k].sender);
        mv[k].op_code = x->op_code;
        size_t len = 0;
        if (x->data_len && tomo_b64_decode_to(x->data, x->data_len, pos, &len) < 0)
            len = 0;
        mv[k].data = len ? pos : NULL;
        mv[k].len = len;
        pos[len] = '\0'; /* as a decoded payload always was (decoded_max has room) */
        pos += len + 1;
        mv[k].reliable = x->reliable;
        mv[k].receive_time_ms = x->recv_ms;
    }
    tomo_metric_observe(m_lateness, NULL, (double)late_ns / 1e6);
    tomo_match_ctx mc;
    ctx_of(m, &mc);
    t_current = m;
    int rc = m->h.loop(m->h.ud, &mc, &m->state, mv, k);
    t_current = NULL;
    m->tick++;
    if (mv != stackv)
        free(mv);
    if (!after_call(m, rc, "match_loop") && m->term_deadline_ns &&
        tomo_mono_ns() >= m->term_deadline_ns)
        am_stop(m, 0, "shutdown grace over");
}

static void inmsgs_free(inmsg *x)
{
    while (x) {
        inmsg *n = x->next;
        free(x); /* strings live in the block */
        x = n;
    }
}

/* ---- the worker's heap (w->mu) ---- */

static void heap_swap(mworker *w, size_t a, size_t b)
{
    am *t = w->heap[a];
    w->heap[a] = w->heap[b];
    w->heap[b] = t;
    w->heap[a]->hidx = a;
    w->heap[b]->hidx = b;
}

static void heap_up(mworker *w, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (w->heap[p]->next_ns <= w->heap[i]->next_ns)
            break;
        heap_swap(w, i, p);
        i = p;
    }
}

static void heap_down(mworker *w, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < w->hn && w->heap[l]->next_ns < w->heap[s]->next_ns)
            s = l;
        if (r < w->hn && w->heap[r]->next_ns < w->heap[s]->next_ns)
            s = r;
        if (s == i)
            return;
        heap_swap(w, i, s);
        i = s;
    }
}

static void heap_push(mworker *w, am *m)
{
    if (w->hn == w->hcap) {
        w->hcap = w->hcap ? w->hcap * 2 : 64;
        w->heap = tomo_xrealloc(w->heap, w->hcap * sizeof(*w->heap));
    }
    m->hidx = w->hn;
    w->heap[w->hn++] = m;
    heap_up(w, m->hidx);
}

static void heap_remove(mworker *w, am *m)
{
    size_t i = m->hidx;
    if (i == NO_HEAP)
        return;
    m->hidx = NO_HEAP;
    w->hn--;
    if (i == w->hn)
        return;
    w->heap[i] = w->heap[w->hn];
    w->heap[i]->hidx = i;
    heap_down(w, i);
    heap_up(w, i);
}

/* ---- stopping ---- */

static void reg_remove(am *m)
{
    amreg *r = m->reg;
    pthread_mutex_lock(&r->mu);
    int was = tomo_hmap_get(&r->byid, m->id) == m;
    if (was) {
        tomo_hmap_del(&r->byid, m->id);
        notify_locked(m, 1);
        if (m->rprev)
            m->rprev->rnext = m->rnext;
        else
            r->newest = m->rnext;
        if (m->rnext)
            m->rnext->rprev = m->rprev;
        r->count--;
    }
    size_t count = r->count;
    pthread_mutex_unlock(&r->mu);
    if (was) {
        tomo_metric_set(m_count, NULL, (double)count);
        am_unref(m);
    }
}

/* Match thread: the match ends (players are untracked, or disconnected when
 * the handler failed). Its worker finalises it after the current call. */
static void am_stop(am *m, int disconnect, const char *why)
{
    if (m->stopped)
        return;
    m->stopped = 1;
    TOMO_LOGI(AM_LOG, "match stopped match_id=%s after=%s", m->id, why);
    splice_deferred(m);
    loopjob *j = job_of(m);
    j->end = 1;
    j->disconnect = disconnect;
    flush_out(m);
    reg_remove(m);
}

/* On the owning worker's thread, without w->mu: a stopped match leaves the
 * worker; queued events are answered as "not found"; the handler instance
 * is released; the worker's reference is dropped (m may be freed). */
static void am_finalize(am *m)
{
    mworker *w = m->w;
    pthread_mutex_lock(&w->mu);
    m->dead = 1;
    heap_remove(w, m);
    if (m->ready) {
        am **pp = &w->rh;
        am *prev = NULL;
        while (*pp && *pp != m) {
            prev = *pp;
            pp = &(*pp)->ready_next;
        }
        if (*pp) {
            *pp = m->ready_next;
            if (w->rtail == m)
                w->rtail = prev;
        }
        m->ready = 0;
    }
    evt *e = m->eh;
    m->eh = m->et = NULL;
    inmsg *msgs = m->mh;
    m->mh = m->mt = NULL;
    m->nmsg = 0;
    pthread_mutex_unlock(&w->mu);
    while (e) {
        evt *n = e->next;
        evt_dead(e);
        e = n;
    }
    inmsgs_free(msgs);
    if (m->h.release)
        m->h.release(m->h.ud);
    m->h.ud = NULL;
    am_unref(m);
}

/* ---- worker threads ---- */

/* After a piece of work, outside w->mu: the batch goes out once its first
 * item has waited BATCH_NS (a long round does not hold back what its first
 * matches sent). */
static void batch_maybe_flush(mworker *w)
{
    if (w->bh && tomo_mono_ns() - w->bfirst_ns >= BATCH_NS)
        batch_flush(w);
}

/* The events of a ready match (w->mu held on entry and on return). */
static void run_ready(mworker *w, am *m)
{
    w->rh = m->ready_next;
    if (!w->rh)
        w->rtail = NULL;
    m->ready = 0;
    m->ready_next = NULL;
    evt *e = m->eh;
    m->eh = m->et = NULL;
    pthread_mutex_unlock(&w->mu);
    while (e) {
        evt *n = e->next;
        if (e->kind == EV_JOIN_ATTEMPT) {
            pthread_mutex_lock(&w->mu);
            m->njoin--;
            pthread_mutex_unlock(&w->mu);
        } else if (e->kind == EV_SIGNAL) {
            pthread_mutex_lock(&w->mu);
            m->nsig--;
            pthread_mutex_unlock(&w->mu);
        }
        t_current = m;
        run_event(m, e);
        t_current = NULL;
        e->ja = NULL;
        evt_free(e);
        e = n;
        if (m->stopped)
            break;
    }
    while (e) {
        evt *n = e->next;
        evt_dead(e);
        e = n;
    }
    if (m->stopped)
        am_finalize(m);
    batch_maybe_flush(w);
    pthread_mutex_lock(&w->mu);
}

/* The tick of the heap's first match, due at or before now (w->mu held on
 * entry and on return). */
static void run_due(mworker *w, am *m, uint64_t now)
{
    heap_remove(w, m);
    inmsg *msgs = m->mh;
    size_t n = m->nmsg;
    m->mh = m->mt = NULL;
    m->nmsg = 0;
    uint64_t due = m->next_ns;
    pthread_mutex_unlock(&w->mu);
    run_tick(m, msgs, n, now - due);
    inmsgs_free(msgs);
    int stopped = m->stopped;
    if (stopped)
        am_finalize(m);
    batch_maybe_flush(w);
    pthread_mutex_lock(&w->mu);
    if (!stopped && !m->dead) {
        uint64_t period = 1000000000ull / (uint64_t)m->tick_rate;
        m->next_ns = due + period;
        uint64_t t = tomo_mono_ns();
        if (m->next_ns + period < t) /* far behind: skip ticks, as a ticker drops them, */
            m->next_ns += (t - m->next_ns) / period * period; /* keeping the phase */
        heap_push(w, m);
    }
}

static void *worker_main(void *arg)
{
    mworker *w = arg;
    t_worker = w;
    char name[16];
    snprintf(name, sizeof(name), "tomo-match-%d", (int)(w - w->reg->w)); /* top -H, bench */
    pthread_setname_np(pthread_self(), name);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->rh) {
            run_ready(w, w->rh);
            continue;
        }
        if (w->stop)
            break;
        uint64_t now = tomo_mono_ns();
        if (w->hn && w->heap[0]->next_ns <= now) {
            run_due(w, w->heap[0], now);
            continue;
        }
        if (w->bh) {
            /* nothing due: what this round produced goes out before the
             * thread sleeps (then look again: work may have come meanwhile) */
            pthread_mutex_unlock(&w->mu);
            batch_flush(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (w->hn) {
            /* until the first due tick exactly (the cv's clock is
             * CLOCK_MONOTONIC, tomo_mono_ns's) */
            uint64_t due = w->heap[0]->next_ns;
            struct timespec ts = {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)};
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        } else {
            pthread_cond_wait(&w->cv, &w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    batch_flush(w);
    return NULL;
}

static int start_workers(amreg *r)
{
    pthread_mutex_lock(&r->start_mu);
    if (!r->w && !atomic_load(&r->closing)) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
            n = 1;
        if (n > 64)
            n = 64;
        mworker *ws = tomo_xcalloc((size_t)n, sizeof(*ws));
        for (long i = 0; i < n; i++) {
            ws[i].reg = r;
            pthread_mutex_init(&ws[i].mu, NULL);
            pthread_condattr_t ca;
            pthread_condattr_init(&ca);
            pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
            pthread_cond_init(&ws[i].cv, &ca);
            pthread_condattr_destroy(&ca);
            pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
        }
        r->nw = (int)n;
        r->w = ws;
    }
    int ok = r->w != NULL;
    pthread_mutex_unlock(&r->start_mu);
    return ok ? 0 : TOMO_EUNAVAIL;
}

/* Queue an event (any thread). Returns 0, or TOMO_ENOTFOUND when the match
 * is gone (the event is answered at once). */
static int push_event(am *m, evt *e)
{
    mworker *w = m->w;
    pthread_mutex_lock(&w->mu);
    if (m->dead) {
        pthread_mutex_unlock(&w->mu);
        evt_dead(e);
        return TOMO_ENOTFOUND;
    }
    if (m->et)
        m->et->next = e;
    else
        m->eh = e;
    m->et = e;
    if (!m->ready) {
        m->ready = 1;
        if (w->rtail)
            w->rtail->ready_next = m;
        else
            w->rh = m;
        w->rtail = m;
    }
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* ---- creation, lookup, listing (any thread) ---- */

void tomo_rt_set_match_handlers(tomo_rt *rt, const tomo_match_handler_registry *handlers)
{
    amreg *r = reg_of(rt);
    if (!r || !handlers)
        return;
    r->handlers = *handlers;
    r->has_handlers = handlers->lookup != NULL;
}

int tomo_rt_amatch_create(tomo_rt *rt, const char *module, json_t *params, char *id, char *err,
                          size_t errlen)
{
    amreg *r = reg_of(rt);
    if (!r || !r->has_handlers || !module || !*module) {
        snprintf(err, errlen, "not found");
        return TOMO_ENOTFOUND;
    }
    if (atomic_load(&r->closing) || start_workers(r) < 0) {
        snprintf(err, errlen, "the server is stopping");
        return TOMO_EUNAVAIL;
    }
    tomo_match_handler h = {0};
    int rc = r->handlers.lookup(r->handlers.ctx, module, &h);
    if (rc < 0) {
        snprintf(err, errlen, rc == TOMO_ENOTFOUND ? "not found" : "cannot load the match module");
        return rc;
    }
    am *m = tomo_xcalloc(1, sizeof(*m));
    m->reg = r;
    m->h = h;
    m->hidx = NO_HEAP;
    atomic_init(&m->refs, 2); /* the registry's and the worker's */
    tomo_uuid_v4(m->uuid);
    snprintf(m->id, sizeof(m->id), "%s.%s", m->uuid, rt->cfg->name);
    snprintf(m->handler_name, sizeof(m->handler_name), "%s", module);
    m->disp = (tomo_match_dispatcher){m, d_broadcast, d_broadcast_deferred, d_kick,
                                      d_label_update};
    m->create_ms = tomo_now_ms();
    tomo_qdoc_init(&m->doc);
    tomo_match_ctx mc;
    ctx_of(m, &mc);
    char *label = tomo_xcalloc(1, TOMO_MATCH_LABEL_MAX + 1);
    int tick_rate = 0;
    am *prev = t_current;
    t_current = m;
    rc = h.init(h.ud, &mc, params, &m->state, &tick_rate, label, TOMO_MATCH_LABEL_MAX + 1);
    t_current = prev;
    if (rc < 0 || !m->state) {
        const char *e = h.error ? h.error(h.ud) : NULL;
        snprintf(err, errlen, "%s", e && *e ? e : "Match initial state must not be nil");
        drop_pending(m);
        if (h.release)
            h.release(h.ud);
        free(label);
        tomo_qdoc_clear(&m->doc);
        free(m);
        return TOMO_EINVAL;
    }
    m->tick_rate = tick_rate < 1 ? 1 : tick_rate > 60 ? 60 : tick_rate;
    m->label_local = label;
    m->label = tomo_xstrdup(label);
    label_doc(m, label);
    /* init has no presences to reach: anything it queued is dropped */
    drop_pending(m);
    pthread_mutex_lock(&r->mu);
    tomo_hmap_put(&r->byid, m->id, m);
    m->rnext = r->newest;
    if (r->newest)
        r->newest->rprev = m;
    r->newest = m;
    size_t count = ++r->count;
    notify_locked(m, 0);
    pthread_mutex_unlock(&r->mu);
    tomo_metric_set(m_count, NULL, (double)count);
    unsigned k = atomic_fetch_add(&r->next_w, 1) % (unsigned)r->nw;
    mworker *w = &r->w[k];
    m->w = w;
    pthread_mutex_lock(&w->mu);
    uint64_t first = tomo_mono_ns() + 1000000000ull / (uint64_t)m->tick_rate;
    m->next_ns = first + (TICK_GRID_NS - first % TICK_GRID_NS) % TICK_GRID_NS;
    heap_push(w, m);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    snprintf(id, TOMO_MATCH_ID_MAX, "%s", m->id);
    TOMO_LOGD(AM_LOG, "match created match_id=%s module=%s tick_rate=%d", m->id, module,
              m->tick_rate);
    return 0;
}

/* reg->mu held. */
static json_t *match_json(const am *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "match_id", json_string(m->id));
    json_object_set_new(o, "authoritative", json_true());
    json_object_set_new(o, "label", json_string(m->label ? m->label : ""));
    json_object_set_new(o, "size", json_integer(atomic_load(&m->size)));
    json_object_set_new(o, "tick_rate", json_integer(m->tick_rate));
    json_object_set_new(o, "handler_name", json_string(m->handler_name));
    return o;
}

json_t *tomo_rt_amatch_get(tomo_rt *rt, const char *id)
{
    amreg *r = reg_of(rt);
    char cid[TOMO_MATCH_ID_MAX], uuid[37];
    const char *node;
    if (!r || canon_id(id, cid, uuid, &node) < 0)
        return NULL;
    pthread_mutex_lock(&r->mu);
    am *m = tomo_hmap_get(&r->byid, cid);
    if (!m)
        m = tomo_hmap_get(&r->remote, cid);
    json_t *o = m ? match_json(m) : NULL;
    pthread_mutex_unlock(&r->mu);
    return o;
}

size_t tomo_rt_amatch_count(tomo_rt *rt)
{
    amreg *r = reg_of(rt);
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

typedef struct hit {
    double score;
    int64_t create_ms;
    json_t *m;
} hit;

static int hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->create_ms != y->create_ms)
        return x->create_ms > y->create_ms ? -1 : 1;
    return 0;
}

typedef struct hitlist {
    hit *v;
    size_t n, cap;
} hitlist;

/* reg->mu held: add m to h if it passes q; 1 when the listing is full. */
static int consider(hitlist *h, const tomo_match_query *q, tomo_query *tq, am *m, json_t *out)
{
    int size = atomic_load(&m->size);
    if ((q->min_size >= 0 && size < q->min_size) || (q->max_size >= 0 && size > q->max_size))
        return 0;
    double score = 0;
    if (tq) {
        if (!tomo_query_match(tq, &m->doc, &score))
            return 0;
    } else if (q->label && strcmp(q->label, m->label ? m->label : "")) {
        return 0;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = tomo_xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n++] = (hit){score, m->create_ms, match_json(m)};
    return !tq && json_array_size(out) + h->n >= (size_t)q->limit;
}

int tomo_rt_amatch_list(tomo_rt *rt, const tomo_match_query *q, json_t *out)
{
    amreg *r = reg_of(rt);
    if (!r || json_array_size(out) >= (size_t)q->limit)
        return 0;
    tomo_query *tq = NULL;
    if (q->query) {
        const char *text = q->query;
        while (*text == ' ')
            text++;
        if (tomo_query_parse(*text ? q->query : "*", &tq, NULL, 0) < 0)
            return TOMO_EINVAL;
    }
    hitlist h = {0};
    pthread_mutex_lock(&r->mu);
    int full = 0;
    for (am *m = r->newest; m && !full; m = m->rnext)
        full = consider(&h, q, tq, m, out);
    void *v;
    for (size_t i = 0; !full && (i = tomo_hmap_next(&r->remote, i, NULL, &v)) != 0;)
        full = consider(&h, q, tq, v, out); /* other nodes' (the cluster) */
    pthread_mutex_unlock(&r->mu);
    hit *hits = h.v;
    size_t nh = h.n;
    if (tq && nh > 1)
        qsort(hits, nh, sizeof(*hits), hit_cmp);
    for (size_t i = 0; i < nh; i++) {
        if (json_array_size(out) < (size_t)q->limit)
            json_array_append(out, hits[i].m);
        json_decref(hits[i].m);
    }
    free(hits);
    tomo_query_free(tq);
    return 0;
}

int tomo_rt_match_list_all(tomo_rt *rt, const tomo_match_query *q, json_t *out)
{
    tomo_rt_route_pump(rt); /* matches other loops just made are listed */
    if (q->authoritative != 0 || q->query || q->label) {
        int rc = tomo_rt_amatch_list(rt, q, out);
        if (rc < 0)
            return rc;
    }
    /* Relayed matches: without label and query filters and unless
     * authoritative=true (Nakama appends them, unordered). */
    if (q->authoritative != 1 && !q->query && !q->label)
        tomo_rt_match_list(rt, q->limit, q->min_size, q->max_size, NULL, out);
    return 0;
}

/* ---- signals and state reads ---- */

/* Match thread: the console's MatchState {presences, tick, state} as JSON
 * text (heap), state being what the handler's state call renders ("" when
 * it has none). NULL when that call fails. */
static char *state_json(am *m)
{
    char *st = NULL;
    if (m->h.state) {
        tomo_match_ctx mc;
        ctx_of(m, &mc);
        if (m->h.state(m->h.ud, &mc, &m->state, &st) < 0) {
            free(st);
            return NULL;
        }
    }
    const char *node = m->reg->rt->cfg->name;
    json_t *ps = json_array();
    for (size_t i = 0; i < m->nmem; i++)
        json_array_append_new(ps, json_pack("{s:s,s:s,s:s,s:s}", "user_id", m->mem[i].user_id,
                                            "session_id", m->mem[i].session_id, "username",
                                            m->mem[i].username ? m->mem[i].username : "",
                                            "node", node));
    char tick[24];
    snprintf(tick, sizeof(tick), "%lld", (long long)m->tick); /* int64: a string in JSON */
    json_t *o = json_pack("{s:o,s:s,s:s}", "presences", ps, "tick", tick, "state", st ? st : "");
    free(st);
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return txt;
}

static int sig_call(tomo_rt *rt, const char *id, const char *data, int want_state,
                    char **result);

int tomo_rt_amatch_signal(tomo_rt *rt, const char *id, const char *data, char **result)
{
    return sig_call(rt, id, data, 0, result);
}

int tomo_rt_amatch_state(tomo_rt *rt, const char *id, char **json_out)
{
    return sig_call(rt, id, NULL, 1, json_out);
}

static int sig_call(tomo_rt *rt, const char *id, const char *data, int want_state,
                    char **result)
{
    *result = NULL;
    char cid[TOMO_MATCH_ID_MAX], uuid[37];
    const char *node;
    if (canon_id(id, cid, uuid, &node) < 0)
        return TOMO_ENOTFOUND;
    am *m = lookup_ref(reg_of(rt), cid);
    if (!m)
        return TOMO_ENOTFOUND;
    int rc;
    if (t_worker && t_worker == m->w) {
        /* From a match on the same thread: run it here (waiting would
         * deadlock); a match cannot signal itself. */
        if (t_current == m || m->stopped) {
            am_unref(m);
            return TOMO_EAGAIN;
        }
        if (want_state) {
            *result = state_json(m);
            am_unref(m);
            return *result ? 0 : TOMO_EAGAIN;
        }
        am *prev = t_current;
        t_current = m;
        tomo_match_ctx mc;
        ctx_of(m, &mc);
        char *res = NULL;
        batch_before_call(m);
        rc = m->h.signal(m->h.ud, &mc, &m->state, data ? data : "", &res);
        int stopped = after_call(m, rc, "match_signal");
        t_current = prev;
        if (rc < 0) {
            free(res);
            rc = TOMO_EAGAIN;
        } else {
            *result = res ? res : tomo_xstrdup("");
            rc = 0;
        }
        if (stopped)
            am_finalize(m);
        am_unref(m);
        return rc;
    }
    sigcall *sc = tomo_xcalloc(1, sizeof(*sc));
    atomic_init(&sc->refs, 2);
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    sc->data = tomo_xstrdup(data ? data : "");
    sc->want_state = want_state;
    evt *e = tomo_xcalloc(1, sizeof(*e));
    e->kind = EV_SIGNAL;
    e->sc = sc;
    mworker *w = m->w;
    pthread_mutex_lock(&w->mu);
    int busy = m->nsig >= (size_t)rt->cfg->match.signal_queue_size;
    if (!busy)
        m->nsig++;
    pthread_mutex_unlock(&w->mu);
    if (busy) {
        evt_free(e); /* drops one ref */
        sigcall_unref(sc);
        am_unref(m);
        return TOMO_EAGAIN;
    }
    push_event(m, e);
    am_unref(m);
    batch_flush(t_worker); /* a match thread waiting: what it produced goes out first */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += SIGNAL_TIMEOUT_SEC;
    pthread_mutex_lock(&sc->mu);
    int wr = 0;
    while (!sc->done && wr != ETIMEDOUT)
        wr = pthread_cond_timedwait(&sc->cv, &sc->mu, &dl);
    if (sc->done) {
        rc = sc->rc;
        *result = sc->result;
        sc->result = NULL;
    } else {
        rc = TOMO_EAGAIN;
    }
    pthread_mutex_unlock(&sc->mu);
    sigcall_unref(sc);
    return rc;
}

/* ---- joins (loop thread) ---- */

static void on_join_answer(void *arg);

/* Match thread (or anywhere when m is NULL: "not found"). */
static void post_join_answer(am *m, jattempt *ja)
{
    if (!m)
        ja->found = 0;
    else
        ja->label = tomo_xstrdup(m->label_local ? m->label_local : "");
    worker_post(m, ja->req->rt->loop, &ja->pl, on_join_answer);
}

static void ja_free(jattempt *ja)
{
    free(ja->p.username);
    json_decref(ja->metadata);
    json_decref(ja->vars);
    free(ja->label);
    free(ja);
}

static int reply_member(tomo_rt_req *req, const tomo_stream *st, const char *reply_id,
                        const char *label, int isnew)
{
    tomo_tracker *t = req->rt->tracker;
    json_t *ps = tomo_rt_match_others(t, st, req->session, !isnew);
    size_t size = json_array_size(ps);
    return tomo_rt_reply(req, "match", tomo_rt_match_obj(reply_id, label, size, ps, req->session));
}

static void on_join_answer(void *arg)
{
    jattempt *ja = arg;
    tomo_rt_req *req = ja->req;
    tomo_rt *rt = req->rt;
    int rc = 0;
    am *m = ja->found && ja->accept ? lookup_ref(reg_of(rt), ja->match_id) : NULL;
    if (!ja->found || (ja->accept && !m)) {
        rc = tomo_rt_reply_error(req, TOMO_RT_ERR_MATCH_NOT_FOUND, "Match not found");
    } else if (!ja->accept) {
        rc = tomo_rt_reply_error(req, TOMO_RT_ERR_MATCH_JOIN_REJECTED, "%s",
                                 *ja->reason ? ja->reason : "Match join rejected");
    } else if (tomo_rt_session_reachable(req->session) && !rt->stopping) {
        tomo_stream st = {TOMO_STREAM_MATCH_AUTHORITATIVE, ja->uuid, NULL, ja->node};
        int isnew = tomo_tracker_track(rt->tracker, req->session, &st, 0, 0, NULL) == 1;
        tomo_rt_match_single(rt, req->session, &st);
        rc = reply_member(req, &st, ja->reply_id, ja->label ? ja->label : "", isnew);
    }
    if (m)
        am_unref(m);
    ja_free(ja);
    tomo_rt_req_finish(req, rc);
}

int tomo_rt_amatch_join(tomo_rt_req *req, const char *uuid, const char *node,
                        const char *match_id, json_t *metadata)
{
    tomo_rt *rt = req->rt;
    amreg *r = reg_of(rt);
    char cid[TOMO_MATCH_ID_MAX];
    if (strcmp(node, rt->cfg->name) || strlen(node) > 63)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_MATCH_NOT_FOUND, "Match not found");
    snprintf(cid, sizeof(cid), "%s.%s", uuid, node);
    am *m = lookup_ref(r, cid);
    if (!m)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_MATCH_NOT_FOUND, "Match not found");
    tomo_stream st = {TOMO_STREAM_MATCH_AUTHORITATIVE, uuid, NULL, node};
    if (tomo_tracker_get(rt->tracker, req->session, &st)) {
        /* already a member: the match as it is, no join attempt */
        pthread_mutex_lock(&r->mu);
        char *label = tomo_xstrdup(m->label ? m->label : "");
        pthread_mutex_unlock(&r->mu);
        am_unref(m);
        int rc = reply_member(req, &st, match_id, label, 0);
        free(label);
        return rc;
    }
    mworker *w = m->w;
    pthread_mutex_lock(&w->mu);
    int full = m->njoin >= (size_t)rt->cfg->match.join_attempt_queue_size;
    if (!full)
        m->njoin++;
    pthread_mutex_unlock(&w->mu);
    if (full) {
        am_unref(m);
        return tomo_rt_reply_error(req, TOMO_RT_ERR_MATCH_JOIN_REJECTED, "Match join rejected");
    }
    jattempt *ja = tomo_xcalloc(1, sizeof(*ja));
    ja->req = req;
    snprintf(ja->match_id, sizeof(ja->match_id), "%s", cid);
    snprintf(ja->reply_id, sizeof(ja->reply_id), "%s", match_id);
    snprintf(ja->uuid, sizeof(ja->uuid), "%s", uuid);
    snprintf(ja->node, sizeof(ja->node), "%s", node);
    tomo_rt_session *s = req->session;
    pres_set(&ja->p, s->user_id, s->id, s->username);
    ja->metadata = json_is_object(metadata) ? json_deep_copy(metadata) : json_object();
    ja->vars = s->vars ? json_deep_copy(s->vars) : NULL;
    ja->exp = s->expiry;
    memcpy(ja->client_ip, s->client_ip, sizeof(ja->client_ip));
    memcpy(ja->client_port, s->client_port, sizeof(ja->client_port));
    evt *e = tomo_xcalloc(1, sizeof(*e));
    e->kind = EV_JOIN_ATTEMPT;
    e->ja = ja;
    push_event(m, e); /* a dead match answers "not found" through the loop */
    am_unref(m);
    return TOMO_RT_ASYNC;
}

void tomo_rt_amatch_data(tomo_rt *rt, const char *uuid, const char *node, tomo_rt_session *s,
                         json_t *body)
{
    char cid[TOMO_MATCH_ID_MAX];
    snprintf(cid, sizeof(cid), "%s.%s", uuid, node);
    am *m = lookup_ref(reg_of(rt), cid);
    if (!m)
        return;
    const char *op = json_string_value(json_object_get(body, "op_code"));
    json_t *jd = json_object_get(body, "data");
    const char *data = json_string_value(jd);
    size_t ld = data ? json_string_length(jd) : 0;
    const char *uname = s->username ? s->username : "";
    size_t lu = strlen(uname);
    inmsg *x = tomo_xmalloc(sizeof(*x) + lu + 1 + (ld ? ld + 1 : 0));
    x->next = NULL;
    snprintf(x->sender.user_id, sizeof(x->sender.user_id), "%s", s->user_id);
    snprintf(x->sender.session_id, sizeof(x->sender.session_id), "%s", s->id);
    x->sender.username = (char *)(x + 1);
    memcpy(x->sender.username, uname, lu + 1);
    x->sender.reason = 0;
    x->op_code = op ? strtoll(op, NULL, 10) : 0;
    x->data = NULL;
    x->data_len = ld;
    if (ld) {
        x->data = x->sender.username + lu + 1;
        memcpy(x->data, data, ld + 1);
    }
    x->reliable = json_is_true(json_object_get(body, "reliable"));
    x->recv_ms = tomo_now_ms();
    mworker *w = m->w;
    pthread_mutex_lock(&w->mu);
    int drop = m->dead || m->nmsg >= (size_t)rt->cfg->match.input_queue_size;
    if (!drop) {
        if (m->mt)
            m->mt->next = x;
        else
            m->mh = x;
        m->mt = x;
        m->nmsg++;
    }
    pthread_mutex_unlock(&w->mu);
    if (drop) {
        TOMO_LOGD(AM_LOG, "match input queue full, message dropped match_id=%s", cid);
        inmsgs_free(x);
    }
    am_unref(m);
}

/* Tracker events of authoritative streams: presence events to the members,
 * join / leave calls to the match. */
static evt *presence_evt(int kind, json_t *arr)
{
    size_t n = json_array_size(arr);
    if (!n)
        return NULL;
    evt *e = tomo_xcalloc(1, sizeof(*e));
    e->kind = kind;
    e->ps = tomo_xcalloc(n, sizeof(*e->ps));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        pres_set(&e->ps[e->n], json_string_value(json_object_get(v, "user_id")),
                 json_string_value(json_object_get(v, "session_id")),
                 json_string_value(json_object_get(v, "username")));
        e->ps[e->n++].reason = kind == EV_JOIN ? 1 : 3;
    }
    return e;
}

static void on_am_event(tomo_rt *rt, const tomo_stream *st, json_t *joins, json_t *leaves,
                        void *ud)
{
    (void)ud;
    tomo_rt_match_presence_event(rt, st, joins, leaves);
    if (rt->home != rt)
        return; /* the match hears of it on the home loop, whatever the member's loop */
    char cid[TOMO_MATCH_ID_MAX];
    snprintf(cid, sizeof(cid), "%s.%s", st->subject, st->label ? st->label : "");
    am *m = lookup_ref(reg_of(rt), cid);
    if (!m)
        return;
    evt *e = presence_evt(EV_JOIN, joins);
    if (e)
        push_event(m, e);
    e = presence_evt(EV_LEAVE, leaves);
    if (e)
        push_event(m, e);
    am_unref(m);
}

/* ---- the cluster's directory ---- */

void tomo_rt_amatch_observe(tomo_rt *rt, tomo_rt_amatch_observe_fn fn, void *ud)
{
    amreg *r = reg_of(rt);
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->obs = fn;
    r->obs_ud = ud;
    pthread_mutex_unlock(&r->mu);
}

void tomo_rt_amatch_each(tomo_rt *rt, tomo_rt_amatch_observe_fn fn, void *ud)
{
    amreg *r = reg_of(rt);
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    for (am *m = r->newest; m; m = m->rnext) {
        tomo_amatch_info mi = {m->id, m->label ? m->label : "", m->handler_name,
                               atomic_load(&m->size), m->tick_rate, m->create_ms};
        fn(ud, &mi);
    }
    pthread_mutex_unlock(&r->mu);
}

/* reg->mu held (or the registry is being freed); node 0: all. */
static void drop_remote(amreg *r, uint32_t node)
{
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&r->remote, i, NULL, &v)) != 0;) {
        am *m = v;
        if (node && m->remote_node != node)
            continue;
        tomo_hmap_del(&r->remote, m->id);
        am_unref(m);
    }
}

void tomo_rt_amatch_remote_put(tomo_rt *rt, uint32_t node, const tomo_amatch_info *mi)
{
    amreg *r = reg_of(rt);
    char cid[TOMO_MATCH_ID_MAX], uuid[37];
    const char *nodename;
    if (!r || !node || canon_id(mi->id, cid, uuid, &nodename) < 0 ||
        !strcmp(nodename, rt->cfg->name))
        return;
    pthread_mutex_lock(&r->mu);
    am *m = tomo_hmap_get(&r->remote, cid);
    if (!mi->label) {
        if (m) {
            tomo_hmap_del(&r->remote, m->id);
            am_unref(m);
        }
    } else {
        if (!m) {
            m = tomo_xcalloc(1, sizeof(*m));
            m->reg = r;
            atomic_init(&m->refs, 1);
            snprintf(m->id, sizeof(m->id), "%s", cid);
            snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
            snprintf(m->rnode, sizeof(m->rnode), "%s", nodename);
            tomo_qdoc_init(&m->doc);
            tomo_hmap_put(&r->remote, m->id, m);
        }
        m->remote_node = node;
        snprintf(m->handler_name, sizeof(m->handler_name), "%s",
                 mi->handler_name ? mi->handler_name : "");
        m->tick_rate = mi->tick_rate;
        m->create_ms = mi->create_ms;
        atomic_store(&m->size, mi->size);
        if (!m->label || strcmp(m->label, mi->label)) {
            free(m->label);
            m->label = tomo_xstrdup(mi->label);
            label_doc(m, mi->label);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

void tomo_rt_amatch_remote_drop(tomo_rt *rt, uint32_t node)
{
    amreg *r = reg_of(rt);
    if (!r || !node)
        return;
    pthread_mutex_lock(&r->mu);
    drop_remote(r, node);
    pthread_mutex_unlock(&r->mu);
}

/* ---- lifecycle ---- */

void tomo_rt_amatch_init(tomo_rt *rt)
{
    pthread_once(&metrics_once, metrics_once_fn);
    amreg *r = tomo_xcalloc(1, sizeof(*r));
    r->rt = rt;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->start_mu, NULL);
    tomo_hmap_init(&r->byid);
    tomo_hmap_init(&r->remote);
    rt->amatch = r;
    tomo_tracker_listen(rt->tracker, TOMO_STREAM_MATCH_AUTHORITATIVE, on_am_event, NULL);
}

void tomo_rt_amatch_terminate_all(tomo_rt *rt, int grace_sec)
{
    amreg *r = reg_of(rt);
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    size_t n = r->count, k = 0;
    am **ms = tomo_xcalloc(n ? n : 1, sizeof(*ms));
    for (am *m = r->newest; m && k < n; m = m->rnext) {
        am_ref(m);
        ms[k++] = m;
    }
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < k; i++) {
        evt *e = tomo_xcalloc(1, sizeof(*e));
        e->kind = EV_TERMINATE;
        e->grace = grace_sec;
        push_event(ms[i], e);
        am_unref(ms[i]);
    }
    free(ms);
}

void tomo_rt_amatch_stop_all(tomo_rt *rt)
{
    amreg *r = own_reg(rt);
    if (!r || atomic_exchange(&r->closing, 1))
        return;
    pthread_mutex_lock(&r->start_mu);
    pthread_mutex_unlock(&r->start_mu);
    for (int i = 0; i < r->nw; i++) {
        pthread_mutex_lock(&r->w[i].mu);
        r->w[i].stop = 1;
        pthread_cond_signal(&r->w[i].cv);
        pthread_mutex_unlock(&r->w[i].mu);
    }
    for (int i = 0; i < r->nw; i++)
        pthread_join(r->w[i].th, NULL);
    /* No match thread runs now: finish every match here. */
    for (;;) {
        pthread_mutex_lock(&r->mu);
        am *m = r->newest;
        if (m)
            am_ref(m);
        pthread_mutex_unlock(&r->mu);
        if (!m)
            break;
        m->stopped = 1;
        drop_pending(m);
        reg_remove(m);
        am_finalize(m);
        am_unref(m);
    }
    for (int i = 0; i < r->nw; i++) {
        free(r->w[i].heap);
        free(r->w[i].scratch);
        pthread_mutex_destroy(&r->w[i].mu);
        pthread_cond_destroy(&r->w[i].cv);
    }
    free(r->w);
    r->w = NULL;
    r->nw = 0;
}

void tomo_rt_amatch_free(tomo_rt *rt)
{
    amreg *r = own_reg(rt);
    if (!r)
        return;
    tomo_rt_amatch_stop_all(rt);
    tomo_hmap_free(&r->byid);
    drop_remote(r, 0);
    tomo_hmap_free(&r->remote);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->start_mu);
    free(r);
    rt->amatch = NULL;
}
