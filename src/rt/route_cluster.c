/* rt/route_cluster.c: streams, presences and sessions across nodes over the
 * cluster bus (route_cluster.h; frames in docs/CLUSTER.md). */
#define _GNU_SOURCE
#include "route_cluster.h"

#include "../core/common.h"
#include "../core/hmap.h"
#include "../core/log.h"
#include "../svc/revoke.h"
#include "online.h"
#include "route.h"
#include "rt_int.h"
#include "session.h"
#include "tracker.h"

#include <stdlib.h>
#include <string.h>

#define TOMO_CLUSTER_LOG "cluster"

/* Routing frame kinds (cluster.h: >= TOMO_CLUSTER_KIND_USER). */
enum {
    K_PRESENCE = 16,   /* a presence tracked / updated / untracked (all nodes) */
    K_SNAP_BEGIN = 17, /* this node's presences follow (to one node) */
    K_SNAP_END = 18,
    K_STREAM = 19,     /* an envelope for a stream's members on the receiver */
    K_USER = 20,       /* an envelope for a user's sessions on the receiver */
    K_DISCONNECT = 21, /* close a user's sessions (all nodes) */
    K_SESSION = 22,    /* an envelope for one session */
    K_CLOSE = 23,      /* close one session (optional final envelope) */
    K_REVOKE = 24,     /* a token or a user's tokens revoked (all nodes) */
};

/* A remote session with a notifications presence: the online table counts
 * it (a user online on any node is online everywhere). */
typedef struct remote_sess {
    char id[40], user_id[40];
} remote_sess;

struct tomo_rt_cluster {
    tomo_rt *rt;
    tomo_cluster *bus;
    tomo_hmap online[TOMO_CLUSTER_MAX_NODES + 1]; /* per node: session id -> remote_sess */
    tomo_cluster_buf out;                         /* reused for every frame */
    int64_t revoke_loaded_ms;                     /* last revocation reload */
};

static uint32_t origin_of(uint32_t node) { return node << 8; }
static uint32_t node_of(uint32_t origin) { return origin >> 8; }

static tomo_tracker *tracker(tomo_rt_cluster *rc) { return rc->rt->tracker; }

/* ---- framing helpers ---- */

static void put_stream(tomo_cluster_buf *b, const tomo_stream *st)
{
    tomo_cluster_put_u8(b, (unsigned)st->mode);
    tomo_cluster_put_str(b, st->subject);
    tomo_cluster_put_str(b, st->subcontext);
    tomo_cluster_put_str(b, st->label);
}

/* Strings point into the frame's own copies (st_buf). */
typedef struct stream_in {
    char subject[256], subcontext[256], label[512];
    tomo_stream st;
} stream_in;

static void get_stream(tomo_cluster_buf *r, stream_in *in)
{
    in->st.mode = (int)tomo_cluster_get_u8(r);
    tomo_cluster_get_strn(r, in->subject, sizeof(in->subject));
    tomo_cluster_get_strn(r, in->subcontext, sizeof(in->subcontext));
    tomo_cluster_get_strn(r, in->label, sizeof(in->label));
    in->st.subject = in->subject;
    in->st.subcontext = in->subcontext;
    in->st.label = in->label;
}

static void put_env(tomo_cluster_buf *b, json_t *env)
{
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    tomo_cluster_put_str(b, text ? text : "");
    free(text);
}

/* The envelope of a frame (new reference), or NULL when empty or bad. */
static json_t *get_env(tomo_cluster_buf *r)
{
    size_t n;
    const char *p = tomo_cluster_get_bytes(r, &n);
    if (!p || !n)
        return NULL;
    json_t *env = json_loadb(p, n, 0, NULL);
    if (!json_is_object(env)) {
        json_decref(env);
        r->bad = 1;
        return NULL;
    }
    return env;
}

static void send_to(tomo_rt_cluster *rc, uint32_t node)
{
    tomo_cluster_send(rc->bus, node, &rc->out);
}

/* The distinct remote nodes with members on st (origins >= 256). */
static size_t stream_nodes(tomo_rt_cluster *rc, const tomo_stream *st, uint32_t *nodes)
{
    uint32_t origins[TOMO_CLUSTER_MAX_NODES * 2];
    size_t no = tomo_tracker_origins(tracker(rc), st, origins, TOMO_ARRAY_LEN(origins));
    size_t n = 0;
    for (size_t i = 0; i < no; i++) {
        uint32_t node = node_of(origins[i]);
        if (node == 0 || node > TOMO_CLUSTER_MAX_NODES)
            continue;
        int dup = 0;
        for (size_t j = 0; j < n && !dup; j++)
            dup = nodes[j] == node;
        if (!dup)
            nodes[n++] = node;
    }
    return n;
}

/* ---- the routing (rt/route.h), called on the loop thread ---- */

static void put_presence(tomo_cluster_buf *b, int op, const tomo_rt_session *s,
                         const tomo_stream *st, int persistence, int hidden, const char *status)
{
    tomo_cluster_put_u8(b, (unsigned)op);
    tomo_cluster_put_str(b, s->id);
    tomo_cluster_put_str(b, s->user_id);
    tomo_cluster_put_str(b, s->username);
    put_stream(b, st);
    tomo_cluster_put_u8(b, (unsigned)persistence);
    tomo_cluster_put_u8(b, (unsigned)hidden);
    tomo_cluster_put_u8(b, status != NULL);
    tomo_cluster_put_str(b, status);
}

static void r_presence(void *ctx, tomo_rt *from, int op, const tomo_rt_session *s,
                       const tomo_stream *st, int persistence, int hidden, const char *status)
{
    (void)from;
    tomo_rt_cluster *rc = ctx;
    tomo_cluster_buf_begin(rc->bus, &rc->out, K_PRESENCE, 0);
    put_presence(&rc->out, op, s, st, persistence, hidden, status);
    send_to(rc, TOMO_CLUSTER_ALL);
}

static void r_to_stream(void *ctx, tomo_rt *from, const tomo_stream *st, json_t *env,
                        const char *skip_session_id)
{
    (void)from;
    tomo_rt_cluster *rc = ctx;
    uint32_t nodes[TOMO_CLUSTER_MAX_NODES];
    size_t n = stream_nodes(rc, st, nodes);
    if (!n)
        return;
    /* one frame, encoded once, published once per node with members */
    tomo_cluster_buf_begin(rc->bus, &rc->out, K_STREAM, 0);
    put_stream(&rc->out, st);
    tomo_cluster_put_str(&rc->out, skip_session_id);
    put_env(&rc->out, env);
    for (size_t i = 0; i < n; i++)
        send_to(rc, nodes[i]);
}

static void r_to_user(void *ctx, tomo_rt *from, const char *user_id, json_t *env)
{
    (void)from;
    tomo_rt_cluster *rc = ctx;
    tomo_stream notif = {TOMO_STREAM_NOTIFICATIONS, user_id, NULL, NULL};
    uint32_t nodes[TOMO_CLUSTER_MAX_NODES];
    size_t n = stream_nodes(rc, &notif, nodes);
    if (!n)
        return;
    tomo_cluster_buf_begin(rc->bus, &rc->out, K_USER, 0);
    tomo_cluster_put_str(&rc->out, user_id);
    put_env(&rc->out, env);
    for (size_t i = 0; i < n; i++)
        send_to(rc, nodes[i]);
}

static void r_disconnect_user(void *ctx, tomo_rt *from, const char *user_id)
{
    (void)from;
    tomo_rt_cluster *rc = ctx;
    /* to every node: a session may be connecting there right now */
    tomo_cluster_buf_begin(rc->bus, &rc->out, K_DISCONNECT, 0);
    tomo_cluster_put_str(&rc->out, user_id);
    send_to(rc, TOMO_CLUSTER_ALL);
}

static void r_to_sessions(void *ctx, tomo_rt *from, uint32_t origin, const char *const *ids,
                          size_t n, json_t *env, tomo_frame *json_frame)
{
    (void)from;
    (void)json_frame;
    tomo_rt_cluster *rc = ctx;
    uint32_t node = node_of(origin);
    if (!node)
        return;
    for (size_t i = 0; i < n; i++) {
        tomo_cluster_buf_begin(rc->bus, &rc->out, K_SESSION, 0);
        tomo_cluster_put_str(&rc->out, ids[i]);
        put_env(&rc->out, env);
        send_to(rc, node);
    }
}

static void r_close_session(void *ctx, tomo_rt *from, const tomo_rt_session *g, json_t *final_env,
                            int ws_code, const char *reason)
{
    (void)from;
    tomo_rt_cluster *rc = ctx;
    uint32_t node = node_of(g->origin);
    if (!node)
        return;
    tomo_cluster_buf_begin(rc->bus, &rc->out, K_CLOSE, 0);
    tomo_cluster_put_str(&rc->out, g->id);
    tomo_cluster_put_u32(&rc->out, (uint32_t)ws_code);
    tomo_cluster_put_str(&rc->out, reason);
    put_env(&rc->out, final_env);
    send_to(rc, node);
}

/* svc/revoke.h notify: any thread (a worker, after the database write). */
static void revoke_notify(void *ud, int kind, const char *key, int64_t v)
{
    tomo_rt_cluster *rc = ud;
    tomo_cluster_buf b = {0};
    tomo_cluster_buf_begin(rc->bus, &b, K_REVOKE, 0);
    tomo_cluster_put_u8(&b, (unsigned)kind);
    tomo_cluster_put_str(&b, key);
    tomo_cluster_put_u64(&b, (uint64_t)v);
    tomo_cluster_send(rc->bus, TOMO_CLUSTER_ALL, &b);
    tomo_cluster_buf_free(&b);
}

/* Revocations made while we could not hear them (a node back, or we
 * reconnected): read the tables again, on a worker. */
static void revoke_reload_work(void *arg) { tomo_revoke_load(arg); }
static void revoke_reload_done(void *arg) { (void)arg; }

static void revoke_reload(tomo_rt_cluster *rc)
{
    int64_t now = tomo_now_ms();
    if (now - rc->revoke_loaded_ms < 2000)
        return;
    rc->revoke_loaded_ms = now;
    tomo_pool_submit(rc->rt->pool, revoke_reload_work, revoke_reload_done, rc->rt->svc);
}

/* ---- the bus handler (cluster.h), loop thread ---- */

static void online_clear(tomo_rt_cluster *rc, uint32_t node)
{
    tomo_hmap *m = &rc->online[node];
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(m, i, NULL, &v)) != 0;) {
        remote_sess *r = v;
        tomo_rt_online_remove(r->user_id);
        tomo_hmap_del(m, r->id);
        free(r);
    }
}

/* The online table follows remote notifications presences (one per socket). */
static void online_note(tomo_rt_cluster *rc, uint32_t node, int op, const char *session_id,
                        const char *user_id, const tomo_stream *st)
{
    if (st->mode != TOMO_STREAM_NOTIFICATIONS || strcmp(st->subject, user_id))
        return;
    tomo_hmap *m = &rc->online[node];
    remote_sess *r = tomo_hmap_get(m, session_id);
    if (op == TOMO_TRACKER_UNTRACK) {
        if (r) {
            tomo_hmap_del(m, r->id);
            tomo_rt_online_remove(r->user_id);
            free(r);
        }
    } else if (!r) {
        r = tomo_xcalloc(1, sizeof(*r));
        snprintf(r->id, sizeof(r->id), "%s", session_id);
        snprintf(r->user_id, sizeof(r->user_id), "%s", user_id);
        tomo_hmap_put(m, r->id, r);
        tomo_rt_online_add(user_id);
    }
}

static void in_presence(tomo_rt_cluster *rc, uint32_t node, tomo_cluster_buf *r)
{
    int op = (int)tomo_cluster_get_u8(r);
    char sid[40], uid[40], uname[256];
    tomo_cluster_get_strn(r, sid, sizeof(sid));
    tomo_cluster_get_strn(r, uid, sizeof(uid));
    tomo_cluster_get_strn(r, uname, sizeof(uname));
    stream_in in;
    get_stream(r, &in);
    int persistence = (int)tomo_cluster_get_u8(r);
    int hidden = (int)tomo_cluster_get_u8(r);
    int has_status = (int)tomo_cluster_get_u8(r);
    char *status = tomo_cluster_get_str(r);
    if (r->bad) {
        free(status);
        return;
    }
    if (op == TOMO_TRACKER_UNTRACK)
        tomo_tracker_untrack_remote(tracker(rc), sid, &in.st);
    else
        tomo_tracker_track_remote(tracker(rc), origin_of(node), sid, uid, uname, &in.st,
                                  persistence, hidden, has_status ? status : NULL);
    online_note(rc, node, op, sid, uid, &in.st);
    free(status);
}

static void drop_node(tomo_rt_cluster *rc, uint32_t node)
{
    tomo_tracker_untrack_origin(tracker(rc), origin_of(node));
    online_clear(rc, node);
}

static void h_message(void *ctx, uint32_t node, tomo_cluster_buf *r)
{
    tomo_rt_cluster *rc = ctx;
    tomo_rt *rt = rc->rt;
    if (node == 0 || node > TOMO_CLUSTER_MAX_NODES)
        return;
    switch (r->kind) {
    case K_PRESENCE:
        in_presence(rc, node, r);
        tomo_rt_route_flush(rt);
        break;
    case K_SNAP_BEGIN:
        /* its state follows in full: what we held of it may be stale
         * (messages lost while one of us was away) */
        drop_node(rc, node);
        break;
    case K_SNAP_END:
        tomo_rt_route_flush(rt);
        break;
    case K_STREAM: {
        stream_in in;
        get_stream(r, &in);
        char skip[40];
        tomo_cluster_get_strn(r, skip, sizeof(skip));
        json_t *env = get_env(r);
        if (env && !r->bad)
            tomo_rt_route_stream_local(rt, &in.st, env, skip[0] ? skip : NULL);
        json_decref(env);
        break;
    }
    case K_USER: {
        char uid[40];
        tomo_cluster_get_strn(r, uid, sizeof(uid));
        json_t *env = get_env(r);
        if (env && !r->bad)
            tomo_rt_send_to_user_local(rt, uid, env);
        json_decref(env);
        break;
    }
    case K_DISCONNECT: {
        char uid[40];
        tomo_cluster_get_strn(r, uid, sizeof(uid));
        if (!r->bad)
            tomo_rt_disconnect_user_local(rt, uid);
        break;
    }
    case K_SESSION: {
        char sid[40];
        tomo_cluster_get_strn(r, sid, sizeof(sid));
        json_t *env = get_env(r);
        tomo_rt_session *s = r->bad ? NULL : tomo_rt_route_session(rt, sid);
        if (s && env)
            tomo_rt_session_send(s, env);
        json_decref(env);
        break;
    }
    case K_CLOSE: {
        char sid[40], reason[128];
        tomo_cluster_get_strn(r, sid, sizeof(sid));
        int code = (int)tomo_cluster_get_u32(r);
        tomo_cluster_get_strn(r, reason, sizeof(reason));
        json_t *env = get_env(r);
        tomo_rt_session *s = r->bad ? NULL : tomo_rt_route_session(rt, sid);
        if (s)
            tomo_rt_session_close(s, env, code, reason);
        json_decref(env);
        tomo_rt_route_flush(rt);
        break;
    }
    case K_REVOKE: {
        int kind = (int)tomo_cluster_get_u8(r);
        char key[64];
        tomo_cluster_get_strn(r, key, sizeof(key));
        int64_t v = (int64_t)tomo_cluster_get_u64(r);
        if (!r->bad)
            tomo_revoke_apply(kind, key, v);
        break;
    }
    default:
        break;
    }
    if (r->bad)
        TOMO_LOGW(TOMO_CLUSTER_LOG, "dropping a malformed routing frame kind=%d", r->kind);
}

/* A node is alive (new, back, or after a reconnect): send it every local
 * presence, framed by SNAP_BEGIN / SNAP_END. */
static void h_node_up(void *ctx, uint32_t node, const char *name, int resync)
{
    (void)name;
    (void)resync;
    tomo_rt_cluster *rc = ctx;
    tomo_rt *rt = rc->rt;
    revoke_reload(rc);
    tomo_cluster_buf_begin(rc->bus, &rc->out, K_SNAP_BEGIN, 0);
    send_to(rc, node);
    size_t n = 0;
    for (tomo_rt_session *s = rt->all; s; s = s->_all_next) {
        if (s->_ghost || !tomo_rt_session_alive(s))
            continue;
        for (tomo_presence *p = s->_presences; p; p = p->_next_of_session) {
            tomo_stream st;
            tomo_presence_stream(p, &st);
            tomo_cluster_buf_begin(rc->bus, &rc->out, K_PRESENCE, 0);
            put_presence(&rc->out, TOMO_TRACKER_TRACK, s, &st, p->persistence, p->hidden,
                         p->status);
            send_to(rc, node);
            n++;
        }
    }
    tomo_cluster_buf_begin(rc->bus, &rc->out, K_SNAP_END, 0);
    send_to(rc, node);
    TOMO_LOGD(TOMO_CLUSTER_LOG, "presences sent to node=%s count=%zu", name, n);
}

static void h_node_down(void *ctx, uint32_t node, const char *name)
{
    (void)name;
    tomo_rt_cluster *rc = ctx;
    if (node == 0 || node > TOMO_CLUSTER_MAX_NODES)
        return;
    /* its presences leave here, with presence events to our sessions */
    drop_node(rc, node);
    tomo_rt_route_flush(rc->rt);
}

tomo_rt_cluster *tomo_rt_cluster_attach(tomo_rt *rt, tomo_cluster *bus)
{
    tomo_rt_cluster *rc = tomo_xcalloc(1, sizeof(*rc));
    rc->rt = rt;
    rc->bus = bus;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(rc->online); i++)
        tomo_hmap_init(&rc->online[i]);
    tomo_rt_routing routing = {
        .ctx = rc,
        .to_stream = r_to_stream,
        .to_user = r_to_user,
        .disconnect_user = r_disconnect_user,
        .presence = r_presence,
        .to_sessions = r_to_sessions,
        .close_session = r_close_session,
    };
    tomo_rt_set_routing(rt, &routing, tomo_rt_origin(rt));
    rc->revoke_loaded_ms = tomo_now_ms(); /* serve.c loaded them at start-up */
    tomo_revoke_set_notify(revoke_notify, rc);
    tomo_cluster_handler h = {
        .ctx = rc, .node_up = h_node_up, .node_down = h_node_down, .message = h_message,
    };
    tomo_cluster_start(bus, &h);
    return rc;
}

void tomo_rt_cluster_free(tomo_rt_cluster *rc)
{
    if (!rc)
        return;
    tomo_revoke_set_notify(NULL, NULL);
    for (uint32_t i = 0; i < TOMO_ARRAY_LEN(rc->online); i++) {
        online_clear(rc, i);
        tomo_hmap_free(&rc->online[i]);
    }
    tomo_cluster_buf_free(&rc->out);
    free(rc);
}
