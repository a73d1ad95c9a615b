/* cluster/cluster.c: the NATS connection, membership and framing (cluster.h). */
#define _GNU_SOURCE
#include "cluster.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"

#include <jansson.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOMO_CLUSTER "cluster"
#define MAGIC 0x54 /* 'T' */
#define VERSION 3 /* 2: the header carries the sender's start time; 3: BATCH frames */
#define OUT_MAX_BYTES (8u << 20) /* frames waiting for the publisher, at most */

typedef struct node {
    int used;
    char name[64];
    uint64_t instance;
    int64_t last_seen_ms;
    int64_t started_ms; /* from its HEARTBEAT / HELLO; 0 until heard */
    char subject[192]; /* <prefix>.node.<name> */
} node;

typedef struct inmsg {
    struct inmsg *next;
    natsMsg *msg;
} inmsg;

/* A frame waiting for the publisher thread: its subject and bytes. */
typedef struct outmsg {
    struct outmsg *next;
    char subject[192];
    size_t len;
    uint8_t p[];
} outmsg;

struct tomo_cluster {
    const tomo_config *cfg;
    tomo_loop *loop;
    tomo_cluster_handler h;
    char name[64];
    uint64_t instance;
    int64_t started_ms;
    char subj_hb[160], subj_all[160], subj_self[192], subj_probe[192], url_shown[256];
    natsOptions *opts;
    natsConnection *nc;
    natsSubscription *sub_hb, *sub_all, *sub_self, *sub_probe;
    pthread_mutex_t mu; /* the node table and the inbound queue */
    node nodes[TOMO_CLUSTER_MAX_NODES];
    inmsg *in_head, *in_tail;
    uv_async_t async;
    uv_timer_t timer;
    int started, stopped;
    atomic_int bus_up;         /* the NATS connection is up */
    atomic_int bus_changed;    /* connection events for the loop thread */
    atomic_int reconnected;    /* resync wanted */
    int bus_logged;            /* last state logged by the loop thread */
    char conflict[256];        /* non-empty: out of the cluster */
    atomic_int conflicted;     /* conflict[] is set (read by any thread) */
    atomic_uint_fast64_t sent, received, bytes_sent, bytes_received, send_errors;
    atomic_int live;           /* other live nodes */
    /* The publisher: every frame this process sends goes through one FIFO
     * (so frames keep the order they were sent in, whatever the subject)
     * to one thread that publishes runs of frames for one subject as one
     * BATCH message, written at once (SendAsap: no flusher delay). The
     * loops never write to the NATS socket, so a slow bus never stalls
     * them: past OUT_MAX_BYTES waiting, frames are refused. */
    pthread_t pub_thread;
    int pub_running;
    pthread_mutex_t out_mu;
    pthread_cond_t out_cv;
    outmsg *out_head, *out_tail;
    size_t out_bytes;
    int out_stop; /* drain what is queued, then exit */
    atomic_uint_fast64_t batches;
};

/* ---- frames ---- */

static void buf_reserve(tomo_cluster_buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + n)
        cap *= 2;
    b->p = tomo_xrealloc(b->p, cap);
    b->cap = cap;
}

void tomo_cluster_put_u8(tomo_cluster_buf *b, unsigned v)
{
    buf_reserve(b, 1);
    b->p[b->len++] = (uint8_t)v;
}

void tomo_cluster_put_u32(tomo_cluster_buf *b, uint32_t v)
{
    buf_reserve(b, 4);
    for (int i = 3; i >= 0; i--)
        b->p[b->len++] = (uint8_t)(v >> (i * 8));
}

void tomo_cluster_put_u64(tomo_cluster_buf *b, uint64_t v)
{
    tomo_cluster_put_u32(b, (uint32_t)(v >> 32));
    tomo_cluster_put_u32(b, (uint32_t)v);
}

void tomo_cluster_put_bytes(tomo_cluster_buf *b, const void *p, size_t n)
{
    tomo_cluster_put_u32(b, (uint32_t)n);
    buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void tomo_cluster_put_str(tomo_cluster_buf *b, const char *s)
{
    tomo_cluster_put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

static int need(tomo_cluster_buf *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

unsigned tomo_cluster_get_u8(tomo_cluster_buf *r)
{
    if (!need(r, 1))
        return 0;
    return r->p[r->pos++];
}

uint32_t tomo_cluster_get_u32(tomo_cluster_buf *r)
{
    if (!need(r, 4))
        return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | r->p[r->pos++];
    return v;
}

uint64_t tomo_cluster_get_u64(tomo_cluster_buf *r)
{
    uint64_t hi = tomo_cluster_get_u32(r);
    return (hi << 32) | tomo_cluster_get_u32(r);
}

const char *tomo_cluster_get_bytes(tomo_cluster_buf *r, size_t *n)
{
    size_t len = tomo_cluster_get_u32(r);
    if (!need(r, len)) {
        *n = 0;
        return NULL;
    }
    const char *p = (const char *)r->p + r->pos;
    r->pos += len;
    *n = len;
    return p;
}

char *tomo_cluster_get_str(tomo_cluster_buf *r)
{
    size_t n;
    const char *p = tomo_cluster_get_bytes(r, &n);
    return p ? tomo_xstrndup(p, n) : tomo_xstrdup("");
}

void tomo_cluster_get_strn(tomo_cluster_buf *r, char *buf, size_t cap)
{
    size_t n;
    const char *p = tomo_cluster_get_bytes(r, &n);
    if (!p || n >= cap) {
        r->bad = 1;
        buf[0] = '\0';
        return;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
}

void tomo_cluster_buf_free(tomo_cluster_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Header: magic, version, kind, flags, sender name (u8 length + bytes),
 * sender instance (u64), sender start time (u64 ms; so that the first
 * frame heard from a node already places it in the age order
 * tomo_cluster_elder reads). */
void tomo_cluster_buf_begin(tomo_cluster *c, tomo_cluster_buf *b, int kind, int flags)
{
    b->len = b->pos = 0;
    b->bad = 0;
    b->kind = kind;
    b->flags = flags;
    size_t nl = strlen(c->name);
    buf_reserve(b, 5 + nl + 16);
    b->p[b->len++] = MAGIC;
    b->p[b->len++] = VERSION;
    b->p[b->len++] = (uint8_t)kind;
    b->p[b->len++] = (uint8_t)flags;
    b->p[b->len++] = (uint8_t)nl;
    memcpy(b->p + b->len, c->name, nl);
    b->len += nl;
    tomo_cluster_put_u64(b, c->instance);
    tomo_cluster_put_u64(b, (uint64_t)c->started_ms);
}

/* Parse a header: sender name into name[64], instance, start time.
 * Returns 0 or -1. */
static int read_header(tomo_cluster_buf *r, char name[64], uint64_t *instance, int64_t *started)
{
    if (r->len < 5 || r->p[0] != MAGIC || r->p[1] != VERSION)
        return -1;
    r->kind = r->p[2];
    r->flags = r->p[3];
    size_t nl = r->p[4];
    r->pos = 5;
    if (nl == 0 || nl > 63 || !need(r, nl))
        return -1;
    memcpy(name, r->p + r->pos, nl);
    name[nl] = '\0';
    r->pos += nl;
    *instance = tomo_cluster_get_u64(r);
    *started = (int64_t)tomo_cluster_get_u64(r);
    return r->bad ? -1 : 0;
}

/* ---- metrics ---- */

static tomo_cluster *g_metrics_c; /* the node's cluster (one per process) */

static double m_nodes(void *a)
{
    (void)a;
    tomo_cluster *c = g_metrics_c;
    return c ? 1.0 + (double)atomic_load(&c->live) : 1.0;
}
static double m_bus(void *a)
{
    (void)a;
    return g_metrics_c && tomo_cluster_connected(g_metrics_c);
}
#define COUNTER_FN(fname, field)                                                                   \
    static double fname(void *a)                                                                   \
    {                                                                                              \
        (void)a;                                                                                   \
        return g_metrics_c ? (double)atomic_load(&g_metrics_c->field) : 0;                         \
    }
COUNTER_FN(m_sent, sent)
COUNTER_FN(m_received, received)
COUNTER_FN(m_bytes_sent, bytes_sent)
COUNTER_FN(m_bytes_received, bytes_received)
COUNTER_FN(m_send_errors, send_errors)
COUNTER_FN(m_batches, batches)

static void register_metrics(tomo_cluster *c)
{
    g_metrics_c = c;
    tomo_metrics_gauge_fn("cluster_nodes", "Live cluster nodes, this one included", m_nodes, NULL);
    tomo_metrics_gauge_fn("cluster_bus_connected",
                          "1 when this node is connected to the cluster bus (NATS) as a member",
                          m_bus, NULL);
    tomo_metrics_counter_fn("cluster_messages_sent_total", "Messages published to other nodes",
                            m_sent, NULL);
    tomo_metrics_counter_fn("cluster_messages_received_total",
                            "Messages received from other nodes", m_received, NULL);
    tomo_metrics_counter_fn("cluster_bytes_sent_total", "Bytes published to other nodes",
                            m_bytes_sent, NULL);
    tomo_metrics_counter_fn("cluster_bytes_received_total", "Bytes received from other nodes",
                            m_bytes_received, NULL);
    tomo_metrics_counter_fn("cluster_batches_sent_total",
                            "Bus messages that carried several frames for one subject at once",
                            m_batches, NULL);
    tomo_metrics_counter_fn("cluster_send_errors_total",
                            "Messages the bus refused (disconnected and its buffer full)",
                            m_send_errors, NULL);
}

/* ---- NATS callbacks (NATS threads) ---- */

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    tomo_cluster *c = closure;
    inmsg *m = tomo_xmalloc(sizeof(*m));
    m->next = NULL;
    m->msg = msg;
    pthread_mutex_lock(&c->mu);
    if (c->stopped) {
        pthread_mutex_unlock(&c->mu);
        natsMsg_Destroy(msg);
        free(m);
        return;
    }
    if (c->in_tail)
        c->in_tail->next = m;
    else
        c->in_head = m;
    c->in_tail = m;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
}

static void on_probe(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    tomo_cluster *c = closure;
    const char *reply = natsMsg_GetReply(msg);
    if (reply && *reply && !atomic_load(&c->conflicted)) {
        char body[96];
        snprintf(body, sizeof(body), "%016llx %lld", (unsigned long long)c->instance,
                 (long long)c->started_ms);
        natsConnection_PublishString(nc, reply, body);
    }
    natsMsg_Destroy(msg);
}

static void on_conn_event(tomo_cluster *c, int up)
{
    atomic_store(&c->bus_up, up);
    atomic_store(&c->bus_changed, 1);
    pthread_mutex_lock(&c->mu);
    int stopped = c->stopped;
    pthread_mutex_unlock(&c->mu);
    if (!stopped && c->started)
        uv_async_send(&c->async);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    on_conn_event(closure, 0);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    tomo_cluster *c = closure;
    atomic_store(&c->reconnected, 1);
    on_conn_event(c, 1);
}

/* ---- membership (loop thread) ---- */

static void node_up(tomo_cluster *c, int slot, int resync)
{
    node *n = &c->nodes[slot];
    TOMO_LOGI(TOMO_CLUSTER, "%s node=%s", resync ? "resync with" : "node joined", n->name);
    if (c->h.node_up)
        c->h.node_up(c->h.ctx, (uint32_t)slot + 1, n->name, resync);
}

static void node_down(tomo_cluster *c, int slot, const char *why)
{
    char name[64];
    pthread_mutex_lock(&c->mu);
    snprintf(name, sizeof(name), "%s", c->nodes[slot].name);
    c->nodes[slot].used = 0;
    atomic_fetch_sub(&c->live, 1);
    pthread_mutex_unlock(&c->mu);
    TOMO_LOGW(TOMO_CLUSTER, "node left node=%s reason=%s", name, why);
    if (c->h.node_down)
        c->h.node_down(c->h.ctx, (uint32_t)slot + 1, name);
}

static int find_node(tomo_cluster *c, const char *name)
{
    for (int i = 0; i < TOMO_CLUSTER_MAX_NODES; i++)
        if (c->nodes[i].used && !strcmp(c->nodes[i].name, name))
            return i;
    return -1;
}

/* The node a frame came from, made alive (node_up) when new. -1: ignore. */
static int sender_slot(tomo_cluster *c, const char *name, uint64_t instance, int kind,
                       int64_t started_ms)
{
    int s = find_node(c, name);
    if (s >= 0 && c->nodes[s].instance != instance)
        node_down(c, s, "restarted"), s = -1;
    if (s >= 0) {
        c->nodes[s].last_seen_ms = tomo_now_ms();
        if (started_ms && !c->nodes[s].started_ms) {
            pthread_mutex_lock(&c->mu);
            c->nodes[s].started_ms = started_ms;
            pthread_mutex_unlock(&c->mu);
        }
        return s;
    }
    if (kind == TOMO_CLUSTER_BYE)
        return -1;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < TOMO_CLUSTER_MAX_NODES; i++)
        if (!c->nodes[i].used) {
            node *n = &c->nodes[i];
            memset(n, 0, sizeof(*n));
            n->used = 1;
            snprintf(n->name, sizeof(n->name), "%s", name);
            n->instance = instance;
            n->last_seen_ms = tomo_now_ms();
            n->started_ms = started_ms;
            snprintf(n->subject, sizeof(n->subject), "%s.node.%s",
                     c->cfg->cluster.subject_prefix, name);
            atomic_fetch_add(&c->live, 1);
            pthread_mutex_unlock(&c->mu);
            node_up(c, i, 0);
            return i;
        }
    pthread_mutex_unlock(&c->mu);
    TOMO_LOGE(TOMO_CLUSTER, "node table full, ignoring node=%s max=%d", name,
              TOMO_CLUSTER_MAX_NODES);
    return -1;
}

static void leave_cluster(tomo_cluster *c, const char *msg)
{
    snprintf(c->conflict, sizeof(c->conflict), "%s", msg);
    atomic_store(&c->conflicted, 1);
    TOMO_LOGE(TOMO_CLUSTER, "%s", msg);
    for (int i = 0; i < TOMO_CLUSTER_MAX_NODES; i++)
        if (c->nodes[i].used)
            node_down(c, i, "this node left the cluster");
    if (c->sub_self)
        natsSubscription_Unsubscribe(c->sub_self);
    if (c->sub_all)
        natsSubscription_Unsubscribe(c->sub_all);
}

static void handle_frame(tomo_cluster *c, const uint8_t *p, size_t len, const char *subject)
{
    tomo_cluster_buf r = {0};
    r.p = (uint8_t *)p;
    r.len = len;
    char name[64];
    uint64_t instance;
    int64_t started = 0;
    atomic_fetch_add(&c->received, 1);
    if (read_header(&r, name, &instance, &started) < 0) {
        TOMO_LOGW(TOMO_CLUSTER, "dropping a malformed message subject=%s bytes=%zu", subject, len);
        return;
    }
    if (r.kind == TOMO_CLUSTER_BATCH) {
        /* frames of one sender in the order it sent them, each whole */
        while (!r.bad && r.pos < r.len) {
            size_t n;
            const char *f = tomo_cluster_get_bytes(&r, &n);
            if (!f)
                break;
            if (n > 5 && (uint8_t)f[2] == TOMO_CLUSTER_BATCH)
                break; /* no nesting */
            handle_frame(c, (const uint8_t *)f, n, subject);
        }
        if (r.bad)
            TOMO_LOGW(TOMO_CLUSTER, "a malformed batch, its tail dropped subject=%s bytes=%zu",
                      subject, len);
        atomic_fetch_sub(&c->received, 1); /* the frames inside were counted */
        return;
    }
    if (!strcmp(name, c->name)) {
        if (instance == c->instance || c->conflict[0])
            return;
        /* Another live node carries this name: the one that started
         * first keeps it. */
        int64_t their_start = started;
        if (their_start < c->started_ms ||
            (their_start == c->started_ms && instance < c->instance)) {
            char m[256];
            snprintf(m, sizeof(m),
                     "another live node is named %s and started first: this node left the "
                     "cluster and serves node-local only; give it a unique `name` and restart",
                     c->name);
            leave_cluster(c, m);
        }
        return;
    }
    if (c->conflict[0])
        return;
    int known = find_node(c, name) >= 0 && c->nodes[find_node(c, name)].instance == instance;
    int s = sender_slot(c, name, instance, r.kind, started);
    if (s < 0)
        return;
    switch (r.kind) {
    case TOMO_CLUSTER_HEARTBEAT:
        break;
    case TOMO_CLUSTER_HELLO:
        /* it (re)connected and may have missed messages: send it our state
         * (a new node got it from sender_slot already) */
        if (known && (r.flags & 1))
            node_up(c, s, 1);
        break;
    case TOMO_CLUSTER_BYE:
        node_down(c, s, "shut down");
        break;
    default:
        if (r.kind >= TOMO_CLUSTER_KIND_USER && c->h.message)
            c->h.message(c->h.ctx, (uint32_t)s + 1, &r);
        break;
    }
}

static void handle(tomo_cluster *c, natsMsg *msg)
{
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    atomic_fetch_add(&c->bytes_received, len);
    handle_frame(c, (const uint8_t *)natsMsg_GetData(msg), len, natsMsg_GetSubject(msg));
}

/* ---- the publisher (any thread enqueues; its own thread publishes) ---- */

static outmsg *out_make(const char *subj, const uint8_t *p, size_t len)
{
    outmsg *m = tomo_xmalloc(sizeof(*m) + len);
    m->next = NULL;
    snprintf(m->subject, sizeof(m->subject), "%s", subj);
    m->len = len;
    memcpy(m->p, p, len);
    return m;
}

static void out_free_list(outmsg *m)
{
    while (m) {
        outmsg *next = m->next;
        free(m);
        m = next;
    }
}

/* Hand frames head..tail (n of them, bytes long) to the publisher: 0, or
 * TOMO_EUNAVAIL (all refused) when too much already waits or it stopped. */
static int out_push(tomo_cluster *c, outmsg *head, outmsg *tail, size_t bytes, unsigned n)
{
    pthread_mutex_lock(&c->out_mu);
    if (!c->pub_running || c->out_bytes + bytes > OUT_MAX_BYTES) {
        pthread_mutex_unlock(&c->out_mu);
        out_free_list(head);
        atomic_fetch_add(&c->send_errors, n);
        return TOMO_EUNAVAIL;
    }
    int was_empty = c->out_head == NULL;
    if (c->out_tail)
        c->out_tail->next = head;
    else
        c->out_head = head;
    c->out_tail = tail;
    c->out_bytes += bytes;
    pthread_mutex_unlock(&c->out_mu);
    /* the thread sleeps only on an empty queue */
    if (was_empty)
        pthread_cond_signal(&c->out_cv);
    return 0;
}

static int out_push1(tomo_cluster *c, const char *subj, const uint8_t *p, size_t len)
{
    outmsg *m = out_make(subj, p, len);
    return out_push(c, m, m, len, 1);
}

static void publish_run(tomo_cluster *c, const char *subj, const uint8_t *p, size_t len,
                        unsigned frames)
{
    natsStatus s = natsConnection_Publish(c->nc, subj, p, (int)len);
    if (s == NATS_OK) {
        atomic_fetch_add(&c->sent, frames);
        atomic_fetch_add(&c->bytes_sent, len);
    } else {
        atomic_fetch_add(&c->send_errors, frames);
    }
}

static void *publisher(void *arg)
{
    tomo_cluster *c = arg;
    tomo_cluster_buf batch = {0};
    for (;;) {
        pthread_mutex_lock(&c->out_mu);
        while (!c->out_head && !c->out_stop)
            pthread_cond_wait(&c->out_cv, &c->out_mu);
        outmsg *m = c->out_head;
        c->out_head = c->out_tail = NULL;
        c->out_bytes = 0;
        int stop = c->out_stop;
        pthread_mutex_unlock(&c->out_mu);
        if (!m && stop)
            break;
        while (m) {
            /* the run of frames for m's subject, in order */
            outmsg *end = m->next;
            unsigned n = 1;
            while (end && !strcmp(end->subject, m->subject))
                end = end->next, n++;
            if (n == 1) {
                publish_run(c, m->subject, m->p, m->len, 1);
            } else {
                tomo_cluster_buf_begin(c, &batch, TOMO_CLUSTER_BATCH, 0);
                for (outmsg *q = m; q != end; q = q->next)
                    tomo_cluster_put_bytes(&batch, q->p, q->len);
                publish_run(c, m->subject, batch.p, batch.len, n);
                atomic_fetch_add(&c->batches, 1);
            }
            while (m != end) {
                outmsg *next = m->next;
                free(m);
                m = next;
            }
        }
    }
    tomo_cluster_buf_free(&batch);
    return NULL;
}

static void publisher_start(tomo_cluster *c)
{
    c->pub_running = 1;
    if (pthread_create(&c->pub_thread, NULL, publisher, c) != 0) {
        c->pub_running = 0;
        TOMO_LOGE(TOMO_CLUSTER, "cannot start the cluster publisher thread: frames will be refused");
    }
}

/* Publish what is queued, then stop the thread (shutdown). */
static void publisher_stop(tomo_cluster *c)
{
    pthread_mutex_lock(&c->out_mu);
    int running = c->pub_running;
    c->out_stop = 1;
    pthread_mutex_unlock(&c->out_mu);
    pthread_cond_signal(&c->out_cv);
    if (running)
        pthread_join(c->pub_thread, NULL);
    pthread_mutex_lock(&c->out_mu);
    c->pub_running = 0;
    outmsg *m = c->out_head;
    c->out_head = c->out_tail = NULL;
    pthread_mutex_unlock(&c->out_mu);
    out_free_list(m);
}

static void publish_control(tomo_cluster *c, int kind, int flags)
{
    tomo_cluster_buf b = {0};
    tomo_cluster_buf_begin(c, &b, kind, flags);
    tomo_cluster_put_u64(&b, (uint64_t)c->started_ms);
    const char *subj = kind == TOMO_CLUSTER_HEARTBEAT ? c->subj_hb : c->subj_all;
    out_push1(c, subj, b.p, b.len);
    tomo_cluster_buf_free(&b);
}

static void bus_check(tomo_cluster *c)
{
    if (!atomic_exchange(&c->bus_changed, 0))
        return;
    int up = atomic_load(&c->bus_up);
    if (up != c->bus_logged) {
        if (up)
            TOMO_LOGI(TOMO_CLUSTER, "cluster bus connected url=%s", c->url_shown);
        else
            TOMO_LOGW(TOMO_CLUSTER, "cluster bus disconnected, serving node-local until it is "
                                    "back url=%s", c->url_shown);
        c->bus_logged = up;
    }
    if (up && atomic_exchange(&c->reconnected, 0) && !c->conflict[0]) {
        /* Messages from the others may have been lost while we were away:
         * ask each for its state and send ours. */
        publish_control(c, TOMO_CLUSTER_HELLO, 1);
        for (int i = 0; i < TOMO_CLUSTER_MAX_NODES; i++)
            if (c->nodes[i].used)
                node_up(c, i, 1);
    }
}

static void on_async(uv_async_t *a)
{
    tomo_cluster *c = a->data;
    bus_check(c);
    pthread_mutex_lock(&c->mu);
    inmsg *m = c->in_head;
    c->in_head = c->in_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (m) {
        inmsg *next = m->next;
        if (!c->stopped)
            handle(c, m->msg);
        natsMsg_Destroy(m->msg);
        free(m);
        m = next;
    }
}

static void on_timer(uv_timer_t *t)
{
    tomo_cluster *c = t->data;
    bus_check(c);
    if (c->conflict[0])
        return;
    if (atomic_load(&c->bus_up))
        publish_control(c, TOMO_CLUSTER_HEARTBEAT, 0);
    int64_t now = tomo_now_ms();
    for (int i = 0; i < TOMO_CLUSTER_MAX_NODES; i++)
        if (c->nodes[i].used && now - c->nodes[i].last_seen_ms > c->cfg->cluster.dead_after_ms)
            node_down(c, i, "no heartbeat");
}

/* ---- life cycle ---- */

static void show_url(const char *url, char *out, size_t cap)
{
    char *r = tomo_redact_dsn(url);
    snprintf(out, cap, "%s", r);
    free(r);
}

static int name_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '*' || *s == '>' || *s == '.' || (unsigned char)*s <= 0x20)
            return 0;
    return 1;
}

/* Is another live node already carrying our name? 1 yes (message in err). */
static int probe_name(tomo_cluster *c, char *err, size_t errlen)
{
    natsMsg *reply = NULL;
    char body[32];
    snprintf(body, sizeof(body), "%016llx", (unsigned long long)c->instance);
    natsStatus s = natsConnection_RequestString(&reply, c->nc, c->subj_probe, body, 700);
    if (s != NATS_OK)
        return 0; /* no responders / timeout: the name is free */
    snprintf(err, errlen,
             "another live node is already named %s (cluster.nats_url %s; its instance %.*s): "
             "every node needs a unique `name`",
             c->name, c->url_shown, natsMsg_GetDataLength(reply) < 16 ? natsMsg_GetDataLength(reply) : 16,
             natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    return 1;
}

int tomo_cluster_new(const tomo_config *cfg, tomo_loop *loop, tomo_cluster **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    const char *prefix = cfg->cluster.subject_prefix;
    if (!*prefix || strchr(prefix, '*') || strchr(prefix, '>') || strchr(prefix, ' ')) {
        snprintf(err, errlen, "config key cluster.subject_prefix: must be a NATS subject "
                              "without wildcards");
        return TOMO_EINVAL;
    }
    if (!name_ok(cfg->name) || strlen(cfg->name) > 63) {
        snprintf(err, errlen, "config key name: a cluster node name must not contain '*' or '>'");
        return TOMO_EINVAL;
    }
    if (cfg->cluster.dead_after_ms <= cfg->cluster.heartbeat_ms) {
        snprintf(err, errlen, "config key cluster.dead_after_ms (%d) must be more than "
                              "cluster.heartbeat_ms (%d)",
                 cfg->cluster.dead_after_ms, cfg->cluster.heartbeat_ms);
        return TOMO_EINVAL;
    }
    natsStatus s = nats_Open(-1);
    if (s != NATS_OK) {
        snprintf(err, errlen, "cannot initialise the NATS library: %s", natsStatus_GetText(s));
        return TOMO_EIO;
    }
    /* one delivery thread for every subscription: frames from one node
     * reach the loop in the order it sent them, whatever the subject */
    nats_SetMessageDeliveryPoolSize(1);
    tomo_cluster *c = tomo_xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    c->loop = loop;
    snprintf(c->name, sizeof(c->name), "%s", cfg->name);
    tomo_random_bytes(&c->instance, sizeof(c->instance));
    c->started_ms = tomo_now_ms();
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->out_mu, NULL);
    pthread_cond_init(&c->out_cv, NULL);
    show_url(cfg->cluster.nats_url, c->url_shown, sizeof(c->url_shown));
    snprintf(c->subj_hb, sizeof(c->subj_hb), "%s.hb", prefix);
    snprintf(c->subj_all, sizeof(c->subj_all), "%s.all", prefix);
    snprintf(c->subj_self, sizeof(c->subj_self), "%s.node.%s", prefix, c->name);
    snprintf(c->subj_probe, sizeof(c->subj_probe), "%s.probe.%s", prefix, c->name);
    uv_async_init(tomo_loop_uv(loop), &c->async, on_async);
    c->async.data = c;
    uv_timer_init(tomo_loop_uv(loop), &c->timer);
    c->timer.data = c;

    natsOptions_Create(&c->opts);
    natsOptions_SetURL(c->opts, cfg->cluster.nats_url);
    char cname[96];
    snprintf(cname, sizeof(cname), "tomo-%s", c->name);
    natsOptions_SetName(c->opts, cname);
    natsOptions_SetNoEcho(c->opts, true);
    natsOptions_SetAllowReconnect(c->opts, true);
    natsOptions_SetMaxReconnect(c->opts, -1);
    natsOptions_SetReconnectWait(c->opts, 250);
    natsOptions_SetReconnectJitter(c->opts, 100, 100);
    natsOptions_SetReconnectBufSize(c->opts, 8 * 1024 * 1024);
    natsOptions_SetTimeout(c->opts, 1000);
    natsOptions_SetPingInterval(c->opts, 1000);
    natsOptions_SetMaxPingsOut(c->opts, 2);
    natsOptions_SetMaxPendingMsgs(c->opts, 1 << 20);
    /* the publisher thread batches; each of its publishes goes out at once */
    natsOptions_SetSendAsap(c->opts, true);
    natsOptions_UseGlobalMessageDelivery(c->opts, true);
    natsOptions_SetDisconnectedCB(c->opts, on_disconnected, c);
    natsOptions_SetReconnectedCB(c->opts, on_reconnected, c);
    natsOptions_SetRetryOnFailedConnect(c->opts, true, on_reconnected, c);
    s = natsConnection_Connect(&c->nc, c->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        snprintf(err, errlen, "cluster.nats_url %s: %s", c->url_shown, natsStatus_GetText(s));
        c->started = 0;
        *out = c;
        return TOMO_EINVAL; /* caller frees */
    }
    publisher_start(c);
    if (s == NATS_OK) {
        atomic_store(&c->bus_up, 1);
        c->bus_logged = 1;
        if (probe_name(c, err, errlen)) {
            *out = c;
            return TOMO_ECONFLICT;
        }
        TOMO_LOGI(TOMO_CLUSTER, "cluster bus connected url=%s node=%s", c->url_shown, c->name);
    } else {
        TOMO_LOGW(TOMO_CLUSTER, "cluster bus unreachable at start-up, serving node-local and "
                                "retrying url=%s", c->url_shown);
    }
    natsConnection_Subscribe(&c->sub_probe, c->nc, c->subj_probe, on_probe, c);
    natsConnection_Subscribe(&c->sub_hb, c->nc, c->subj_hb, on_msg, c);
    natsConnection_Subscribe(&c->sub_all, c->nc, c->subj_all, on_msg, c);
    natsConnection_Subscribe(&c->sub_self, c->nc, c->subj_self, on_msg, c);
    natsSubscription *subs[] = {c->sub_hb, c->sub_all, c->sub_self};
    for (size_t i = 0; i < 3; i++)
        if (subs[i])
            natsSubscription_SetPendingLimits(subs[i], -1, -1);
    register_metrics(c);
    *out = c;
    return 0;
}

void tomo_cluster_start(tomo_cluster *c, const tomo_cluster_handler *h)
{
    if (h)
        c->h = *h;
    c->started = 1;
    if (atomic_load(&c->bus_up))
        publish_control(c, TOMO_CLUSTER_HELLO, 0);
    uv_timer_start(&c->timer, on_timer, (uint64_t)c->cfg->cluster.heartbeat_ms,
                   (uint64_t)c->cfg->cluster.heartbeat_ms);
    /* a connection that came up before start: make the loop look */
    atomic_store(&c->bus_changed, 1);
    uv_async_send(&c->async);
}

static void on_close(uv_handle_t *h) { (void)h; }

void tomo_cluster_stop(tomo_cluster *c)
{
    if (!c || c->stopped)
        return;
    if (c->started && atomic_load(&c->bus_up) && !c->conflict[0]) {
        publish_control(c, TOMO_CLUSTER_BYE, 0);
        publisher_stop(c);
        natsConnection_FlushTimeout(c->nc, 500);
    }
    publisher_stop(c);
    pthread_mutex_lock(&c->mu);
    c->stopped = 1;
    pthread_mutex_unlock(&c->mu);
    natsSubscription *subs[] = {c->sub_hb, c->sub_all, c->sub_self, c->sub_probe};
    for (size_t i = 0; i < 4; i++)
        if (subs[i])
            natsSubscription_Unsubscribe(subs[i]);
    if (c->nc)
        natsConnection_Close(c->nc);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_close);
    uv_close((uv_handle_t *)&c->async, on_close);
}

void tomo_cluster_free(tomo_cluster *c)
{
    if (!c)
        return;
    if (!c->stopped) {
        /* never started (a refused start): close the handles first */
        tomo_cluster_stop(c);
        uv_run(tomo_loop_uv(c->loop), UV_RUN_NOWAIT);
    }
    natsSubscription *subs[] = {c->sub_hb, c->sub_all, c->sub_self, c->sub_probe};
    for (size_t i = 0; i < 4; i++)
        natsSubscription_Destroy(subs[i]);
    natsConnection_Destroy(c->nc);
    natsOptions_Destroy(c->opts);
    inmsg *m = c->in_head;
    while (m) {
        inmsg *next = m->next;
        natsMsg_Destroy(m->msg);
        free(m);
        m = next;
    }
    if (g_metrics_c == c)
        g_metrics_c = NULL;
    publisher_stop(c); /* a refused start never stopped it */
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->out_mu);
    pthread_cond_destroy(&c->out_cv);
    free(c);
    nats_CloseAndWait(2000);
}

/* ---- queries and sending (any thread) ---- */

/* The subject for node id (or all) into subj[192]: 0 or TOMO_ENOTFOUND. */
static int subject_of(tomo_cluster *c, uint32_t nodeid, char subj[192])
{
    if (nodeid == TOMO_CLUSTER_ALL) {
        snprintf(subj, 192, "%s", c->subj_all);
        return 0;
    }
    pthread_mutex_lock(&c->mu);
    int ok = nodeid <= TOMO_CLUSTER_MAX_NODES && c->nodes[nodeid - 1].used;
    if (ok)
        memcpy(subj, c->nodes[nodeid - 1].subject, 192);
    pthread_mutex_unlock(&c->mu);
    return ok ? 0 : TOMO_ENOTFOUND;
}

int tomo_cluster_send(tomo_cluster *c, uint32_t nodeid, const tomo_cluster_buf *b)
{
    char subj[192];
    if (atomic_load(&c->conflicted))
        return TOMO_EUNAVAIL;
    int rc = subject_of(c, nodeid, subj);
    return rc ? rc : out_push1(c, subj, b->p, b->len);
}

int tomo_cluster_stage_send(tomo_cluster *c, tomo_cluster_stage *st, uint32_t nodeid,
                            const tomo_cluster_buf *b)
{
    char subj[192];
    if (atomic_load(&c->conflicted))
        return TOMO_EUNAVAIL;
    int rc = subject_of(c, nodeid, subj);
    if (rc)
        return rc;
    outmsg *m = out_make(subj, b->p, b->len);
    if (st->tail)
        st->tail->next = m;
    else
        st->head = m;
    st->tail = m;
    st->bytes += b->len;
    st->n++;
    return 0;
}

void tomo_cluster_flush(tomo_cluster *c, tomo_cluster_stage *st)
{
    if (!st->head)
        return;
    out_push(c, st->head, st->tail, st->bytes, st->n);
    memset(st, 0, sizeof(*st));
}

void tomo_cluster_stage_drop(tomo_cluster_stage *st)
{
    out_free_list(st->head);
    memset(st, 0, sizeof(*st));
}

int tomo_cluster_connected(const tomo_cluster *c)
{
    tomo_cluster *m = (tomo_cluster *)c;
    return m && atomic_load(&m->bus_up) && !atomic_load(&m->conflicted);
}

size_t tomo_cluster_nodes(tomo_cluster *c, uint32_t *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < TOMO_CLUSTER_MAX_NODES && n < max; i++)
        if (c->nodes[i].used)
            out[n++] = (uint32_t)i + 1;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void tomo_cluster_node_name(tomo_cluster *c, uint32_t nodeid, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (nodeid < 1 || nodeid > TOMO_CLUSTER_MAX_NODES)
        return;
    pthread_mutex_lock(&c->mu);
    if (c->nodes[nodeid - 1].used)
        snprintf(buf, cap, "%s", c->nodes[nodeid - 1].name);
    pthread_mutex_unlock(&c->mu);
}

uint32_t tomo_cluster_node_id(tomo_cluster *c, const char *name)
{
    pthread_mutex_lock(&c->mu);
    int slot = find_node(c, name);
    pthread_mutex_unlock(&c->mu);
    return slot < 0 ? 0 : (uint32_t)slot + 1;
}

uint32_t tomo_cluster_elder(tomo_cluster *c)
{
    if (atomic_load(&c->conflicted))
        return 0;
    int64_t best = c->started_ms;
    const char *best_name = c->name;
    int slot = -1;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < TOMO_CLUSTER_MAX_NODES; i++) {
        const node *n = &c->nodes[i];
        if (!n->used || !n->started_ms)
            continue; /* not heard from with its start time yet */
        if (n->started_ms < best || (n->started_ms == best && strcmp(n->name, best_name) < 0)) {
            best = n->started_ms;
            best_name = n->name;
            slot = i;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return slot < 0 ? 0 : (uint32_t)slot + 1;
}

const char *tomo_cluster_self(const tomo_cluster *c) { return c->name; }

const char *tomo_cluster_conflict(const tomo_cluster *c)
{
    return c && atomic_load(&((tomo_cluster *)c)->conflicted) ? c->conflict : NULL;
}

json_t *tomo_cluster_status_json(tomo_cluster *c)
{
    json_t *names = json_array();
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < TOMO_CLUSTER_MAX_NODES; i++)
        if (c->nodes[i].used)
            json_array_append_new(names, json_string(c->nodes[i].name));
    pthread_mutex_unlock(&c->mu);
    const char *bus = c->conflict[0]                ? "conflict"
                      : atomic_load(&c->bus_up) ? "connected"
                                                    : "disconnected";
    json_t *o = json_pack("{s:s, s:s, s:o, s:s}", "node", c->name, "bus", bus, "nodes", names,
                          "url", c->url_shown);
    if (c->conflict[0])
        json_object_set_new(o, "error", json_string(c->conflict));
    return o;
}
