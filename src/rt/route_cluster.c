/* rt/route_cluster.c: streams, presences and sessions across nodes over the
 * cluster bus (route_cluster.h; frames in docs/CLUSTER.md). */
#define _GNU_SOURCE
#include "route_cluster.h"

#include "../core/common.h"
#include "../core/hmap.h"
#include "../core/log.h"
#include "../svc/revoke.h"
#include "amatch.h"
#include "envelope.h"
#include "online.h"
#include "route.h"
#include "rt_int.h"
#include "session.h"
#include "tracker.h"

#include <stdatomic.h>
#include <stdio.h>
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
    K_SESSION = 22,    /* an envelope for sessions of one loop (target loop, ids) */
    K_CLOSE = 23,      /* close one session (target loop; optional final envelope) */
    K_REVOKE = 24,     /* a token or a user's tokens revoked (all nodes) */
    K_STREAM_LEAVE = 25, /* a user's sessions leave a stream (all nodes) */
    K_MATCH = 26,        /* an authoritative match's listing summary, or its end (all) */
    K_APPLY = 27,        /* a presence change another node made on a ghost: apply it (one loop) */
    K_FORWARD = 28,      /* an envelope a session sent for something the receiver owns (one loop) */
};

/* A remote session with a notifications presence: the online table counts
 * it (a user online on any node is online everywhere). Loop 0 only. */
typedef struct remote_sess {
    char id[40], user_id[40];
    unsigned loop; /* its loop on its node (the origin's low byte) */
} remote_sess;

/* Internal kinds posted from loop 0 to the other loops of this process
 * (never on the bus). */
enum { K_LOCAL_NODE_DOWN = 250, K_LOCAL_SNAPSHOT = 251 };

/* One loop of this process: its routing state. The routing callbacks of
 * rt run with this as ctx, on rt's thread. */
typedef struct cl_loop {
    struct tomo_rt_cluster *rc;
    tomo_rt *rt;
    unsigned idx;
    tomo_rt_routing inner; /* the loop router (rt/loops.c) or zero with one loop */
    tomo_cluster_buf out;  /* this loop's frames, reused */
    tomo_cluster_stage stage; /* frames of this iteration, flushed by r_flush */
    tomo_hmap shadows;        /* session id -> mm_shadow (this loop's sessions) */
} cl_loop;

/* What this loop's session s asked another node's matchmaker for, kept so
 * that the tickets can be added again on the next matchmaker node when
 * that one dies: recs is [{cid, ticket ("" until the answer), node, body}]. */
typedef struct mm_shadow {
    char sid[40]; /* the map's key */
    json_t *recs;
} mm_shadow;

struct tomo_rt_cluster {
    tomo_cluster *bus;
    int n;
    cl_loop *loops;                               /* [n]; loops[0] gets the bus */
    tomo_hmap online[TOMO_CLUSTER_MAX_NODES + 1]; /* per node: session id -> remote_sess */
    /* per node: the loop indexes its presences came from (drop on down) */
    uint8_t node_loops[TOMO_CLUSTER_MAX_NODES + 1][32];
    int64_t revoke_loaded_ms; /* last revocation reload */
    atomic_int stopping;
};

static uint32_t origin_of(uint32_t node, unsigned loop) { return node << 8 | (loop & 0xff); }
static uint32_t node_of(uint32_t origin) { return origin >> 8; }

static tomo_tracker *tracker(cl_loop *L) { return L->rt->tracker; }

/* Members of st on L's own loop. */
static size_t local_members(cl_loop *L, const tomo_stream *st)
{
    return tomo_tracker_count(tracker(L), st) - tomo_tracker_remote_count(tracker(L), st);
}

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

/* The JSON text the sender's own clients got, when there is one (not
 * rendered again), else env rendered now. */
static void put_env_frame(tomo_cluster_buf *b, json_t *env, tomo_frame *json_frame)
{
    if (!json_frame) {
        put_env(b, env);
        return;
    }
    size_t len;
    const uint8_t *text = tomo_frame_payload(json_frame, &len);
    tomo_cluster_put_bytes(b, text, len);
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

static int send_to(cl_loop *L, uint32_t node)
{
    return tomo_cluster_stage_send(L->rc->bus, &L->stage, node, &L->out);
}

static void begin(cl_loop *L, int kind)
{
    /* flags: the sending loop (the receiver's ghosts get origin node|loop) */
    tomo_cluster_buf_begin(L->rc->bus, &L->out, kind, (int)L->idx);
}

/* The distinct remote nodes with members on st (origins >= 256). */
static size_t stream_nodes(cl_loop *L, const tomo_stream *st, uint32_t *nodes)
{
    uint32_t origins[TOMO_CLUSTER_MAX_NODES * 4];
    size_t no = tomo_tracker_origins(tracker(L), st, origins, TOMO_ARRAY_LEN(origins));
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

/* ---- the routing (rt/route.h), on the calling loop's thread ----
 * Each callback hands the loops of this process to the loop router first
 * (inner), then frames what concerns other nodes. */

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

static uint32_t r_matchmaker_origin(void *ctx);
static void r_forward(void *ctx, tomo_rt *from, uint32_t owner, const tomo_rt_session *s,
                      json_t *env, const char *type);

/* ---- matchmaker tickets held on another node (re-homed when it dies) ---- */

static void shadow_drop(cl_loop *L, const char *sid)
{
    mm_shadow *sh = tomo_hmap_del(&L->shadows, sid);
    if (sh) {
        json_decref(sh->recs);
        free(sh);
    }
}

static void shadow_add(cl_loop *L, const tomo_rt_session *s, json_t *env, uint32_t node)
{
    json_t *body = json_object_get(env, "matchmaker_add");
    if (!json_is_object(body))
        return;
    mm_shadow *sh = tomo_hmap_get(&L->shadows, s->id);
    if (!sh) {
        sh = tomo_xcalloc(1, sizeof(*sh));
        snprintf(sh->sid, sizeof(sh->sid), "%s", s->id);
        sh->recs = json_array();
        tomo_hmap_put(&L->shadows, sh->sid, sh);
    }
    const char *cid = json_string_value(json_object_get(env, "cid"));
    json_array_append_new(sh->recs, json_pack("{s:s,s:s,s:I,s:O}", "cid", cid ? cid : "",
                                              "ticket", "", "node", (json_int_t)node, "body",
                                              body));
}

/* Forget the record of ticket (or, ticket NULL, the pending one of cid). */
static void shadow_forget(cl_loop *L, const char *sid, const char *ticket, const char *cid)
{
    mm_shadow *sh = tomo_hmap_get(&L->shadows, sid);
    if (!sh)
        return;
    size_t i;
    json_t *r;
    json_array_foreach (sh->recs, i, r) {
        const char *t = json_string_value(json_object_get(r, "ticket"));
        const char *c = json_string_value(json_object_get(r, "cid"));
        if (ticket ? !strcmp(t, ticket) : (!*t && cid && !strcmp(c, cid))) {
            json_array_remove(sh->recs, i);
            break;
        }
    }
    if (!json_array_size(sh->recs))
        shadow_drop(L, sid);
}

/* An envelope from the matchmaker node reaching session sid here: learn
 * its ticket, or forget it once matched or refused. */
static void shadow_reply(cl_loop *L, const char *sid, json_t *env)
{
    mm_shadow *sh = tomo_hmap_get(&L->shadows, sid);
    if (!sh)
        return;
    const char *cid = json_string_value(json_object_get(env, "cid"));
    json_t *v;
    if ((v = json_object_get(env, "matchmaker_ticket"))) {
        const char *ticket = json_string_value(json_object_get(v, "ticket"));
        size_t i;
        json_t *r;
        json_array_foreach (sh->recs, i, r) {
            const char *c = json_string_value(json_object_get(r, "cid"));
            if (ticket && !*json_string_value(json_object_get(r, "ticket")) &&
                (!cid || !strcmp(c, cid))) {
                json_object_set_new(r, "ticket", json_string(ticket));
                break;
            }
        }
    } else if ((v = json_object_get(env, "matchmaker_matched"))) {
        const char *ticket = json_string_value(json_object_get(v, "ticket"));
        if (ticket)
            shadow_forget(L, sid, ticket, NULL);
    } else if (cid && json_object_get(env, "error")) {
        shadow_forget(L, sid, NULL, cid);
    }
}

/* The matchmaker node `dead` is gone: this loop's sessions' tickets that
 * it held go to the next matchmaker node (the client keeps its ticket id:
 * that node answers to it); an add still waiting for its answer is sent
 * there again as it was (before hooks are not run twice). */
static void shadow_rehome(cl_loop *L, uint32_t dead)
{
    if (!L->shadows.count)
        return;
    uint32_t owner = r_matchmaker_origin(L);
    uint32_t node = node_of(owner);
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&L->shadows, i, &k, &v)) != 0;) {
        mm_shadow *sh = v;
        tomo_rt_session *s = tomo_rt_route_session(L->rt, sh->sid);
        if (!s) {
            shadow_drop(L, sh->sid);
            continue;
        }
        for (size_t j = json_array_size(sh->recs); j-- > 0;) {
            json_t *r = json_array_get(sh->recs, j);
            if ((uint32_t)json_integer_value(json_object_get(r, "node")) != dead)
                continue;
            const char *ticket = json_string_value(json_object_get(r, "ticket"));
            if (!*ticket) {
                /* its answer died with the node: ask the next one (the
                 * answer reaches the client under its cid) */
                json_t *env = json_pack("{s:O}", "matchmaker_add", json_object_get(r, "body"));
                const char *cid = json_string_value(json_object_get(r, "cid"));
                if (*cid)
                    json_object_set_new(env, "cid", json_string(cid));
                json_array_remove(sh->recs, j);
                if (node)
                    r_forward(L, L->rt, owner, s, env, "matchmaker_add"); /* shadowed again */
                else if (L->idx == 0)
                    tomo_rt_dispatch_handler(s, env, "matchmaker_add",
                                             tomo_rt_handler_of(L->rt, "matchmaker_add"), 1);
                else if (L->inner.forward)
                    L->inner.forward(L->inner.ctx, L->rt, tomo_rt_origin(L->rc->loops[0].rt), s,
                                     env, "matchmaker_add");
                json_decref(env);
                continue;
            }
            json_t *body = json_deep_copy(json_object_get(r, "body"));
            json_object_set_new(body, "ticket", json_string(ticket));
            if (node) {
                json_t *env = json_pack("{s:o}", "cluster_matchmaker_readd", body);
                r_forward(L, L->rt, owner, s, env, "cluster_matchmaker_readd");
                json_decref(env);
                json_object_set_new(r, "node", json_integer(node));
                continue;
            }
            /* this node is the matchmaker node now: its home loop adds it */
            if (L->idx == 0) {
                tomo_rt_mm_readd(L->rt, s, body);
                json_decref(body);
            } else if (L->inner.forward) {
                json_t *env = json_pack("{s:o}", "cluster_matchmaker_readd", body);
                L->inner.forward(L->inner.ctx, L->rt, tomo_rt_origin(L->rc->loops[0].rt), s, env,
                                 "cluster_matchmaker_readd");
                json_decref(env);
            } else {
                json_decref(body);
            }
            json_array_remove(sh->recs, j);
        }
        if (!json_array_size(sh->recs))
            shadow_drop(L, sh->sid);
    }
}

static void r_presence(void *ctx, tomo_rt *from, int op, const tomo_rt_session *s,
                       const tomo_stream *st, int persistence, int hidden, const char *status)
{
    cl_loop *L = ctx;
    if (L->inner.presence)
        L->inner.presence(L->inner.ctx, from, op, s, st, persistence, hidden, status);
    if (s->_ghost)
        return; /* the session's own loop replicates it once it applied it */
    if (op == TOMO_TRACKER_UNTRACK && L->shadows.count && !tomo_rt_session_alive(s))
        shadow_drop(L, s->id); /* it is closing */
    begin(L, K_PRESENCE);
    put_presence(&L->out, op, s, st, persistence, hidden, status);
    send_to(L, TOMO_CLUSTER_ALL);
}

static void r_to_stream(void *ctx, tomo_rt *from, const tomo_stream *st, json_t *env,
                        tomo_frame *json_frame, const char *skip_session_id)
{
    cl_loop *L = ctx;
    if (L->inner.to_stream)
        L->inner.to_stream(L->inner.ctx, from, st, env, json_frame, skip_session_id);
    uint32_t nodes[TOMO_CLUSTER_MAX_NODES];
    size_t n = stream_nodes(L, st, nodes);
    if (!n)
        return;
    /* one frame, encoded once, published once per node with members */
    begin(L, K_STREAM);
    put_stream(&L->out, st);
    tomo_cluster_put_str(&L->out, skip_session_id);
    put_env_frame(&L->out, env, json_frame);
    for (size_t i = 0; i < n; i++)
        send_to(L, nodes[i]);
}

static void r_to_user(void *ctx, tomo_rt *from, const char *user_id, json_t *env)
{
    cl_loop *L = ctx;
    if (L->inner.to_user)
        L->inner.to_user(L->inner.ctx, from, user_id, env);
    tomo_stream notif = {TOMO_STREAM_NOTIFICATIONS, user_id, NULL, NULL};
    uint32_t nodes[TOMO_CLUSTER_MAX_NODES];
    size_t n = stream_nodes(L, &notif, nodes);
    if (!n)
        return;
    begin(L, K_USER);
    tomo_cluster_put_str(&L->out, user_id);
    put_env(&L->out, env);
    for (size_t i = 0; i < n; i++)
        send_to(L, nodes[i]);
}

static void r_disconnect_user(void *ctx, tomo_rt *from, const char *user_id)
{
    cl_loop *L = ctx;
    if (L->inner.disconnect_user)
        L->inner.disconnect_user(L->inner.ctx, from, user_id);
    /* to every node: a session may be connecting there right now */
    begin(L, K_DISCONNECT);
    tomo_cluster_put_str(&L->out, user_id);
    send_to(L, TOMO_CLUSTER_ALL);
}

static void r_user_stream_leave(void *ctx, tomo_rt *from, const tomo_stream *st,
                                const char *user_id)
{
    cl_loop *L = ctx;
    if (L->inner.user_stream_leave)
        L->inner.user_stream_leave(L->inner.ctx, from, st, user_id);
    begin(L, K_STREAM_LEAVE);
    tomo_cluster_put_str(&L->out, user_id);
    put_stream(&L->out, st);
    send_to(L, TOMO_CLUSTER_ALL);
}

static void r_to_sessions(void *ctx, tomo_rt *from, uint32_t origin, const char *const *ids,
                          size_t n, json_t *env, tomo_frame *json_frame)
{
    cl_loop *L = ctx;
    uint32_t node = node_of(origin);
    if (!node) {
        if (L->inner.to_sessions)
            L->inner.to_sessions(L->inner.ctx, from, origin, ids, n, env, json_frame);
        return;
    }
    /* one frame per origin: its loop sends to each id */
    begin(L, K_SESSION);
    tomo_cluster_put_u8(&L->out, origin & 0xff);
    tomo_cluster_put_u32(&L->out, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        tomo_cluster_put_str(&L->out, ids[i]);
    put_env_frame(&L->out, env, json_frame);
    send_to(L, node);
}

static void r_close_session(void *ctx, tomo_rt *from, const tomo_rt_session *g, json_t *final_env,
                            int ws_code, const char *reason)
{
    cl_loop *L = ctx;
    uint32_t node = node_of(g->origin);
    if (!node) {
        if (L->inner.close_session)
            L->inner.close_session(L->inner.ctx, from, g, final_env, ws_code, reason);
        return;
    }
    begin(L, K_CLOSE);
    tomo_cluster_put_u8(&L->out, g->origin & 0xff);
    tomo_cluster_put_str(&L->out, g->id);
    tomo_cluster_put_u32(&L->out, (uint32_t)ws_code);
    tomo_cluster_put_str(&L->out, reason);
    put_env(&L->out, final_env);
    send_to(L, node);
}

/* Owners (parties, the matchmaker, authoritative matches): this process's
 * home loop (the loop router forwards) or another node's (K_FORWARD: the
 * envelope with what the owner's ghost of s lacks; the ghost itself is
 * there already, its presences went out earlier on this connection). */
static void r_forward(void *ctx, tomo_rt *from, uint32_t owner, const tomo_rt_session *s,
                      json_t *env, const char *type)
{
    cl_loop *L = ctx;
    uint32_t node = node_of(owner);
    if (!node) {
        if (L->inner.forward)
            L->inner.forward(L->inner.ctx, from, owner, s, env, type);
        return;
    }
    begin(L, K_FORWARD);
    tomo_cluster_put_u8(&L->out, owner & 0xff);
    tomo_cluster_put_str(&L->out, s->id);
    tomo_cluster_put_str(&L->out, type);
    put_env(&L->out, env);
    put_env(&L->out, json_is_object(s->vars) ? s->vars : NULL);
    tomo_cluster_put_u64(&L->out, (uint64_t)s->expiry);
    tomo_cluster_put_str(&L->out, s->client_ip);
    tomo_cluster_put_str(&L->out, s->client_port);
    int sent = send_to(L, node);
    if (sent == 0 && !s->_ghost) {
        if (!strcmp(type, "matchmaker_add"))
            shadow_add(L, s, env, node);
        else if (!strcmp(type, "matchmaker_remove") && L->shadows.count)
            shadow_forget(L, s->id,
                          json_string_value(json_object_get(
                              json_object_get(env, "matchmaker_remove"), "ticket")),
                          NULL);
    }
    if (sent != 0 && strcmp(type, "match_data_send")) {
        /* the owner is gone or the bus refused: the client waits for an
         * answer, give it one */
        tomo_rt_req *r = tomo_rt_req_new((tomo_rt_session *)s, env, type);
        int rc = !strcmp(type, "match_join")
                     ? tomo_rt_reply_error(r, TOMO_RT_ERR_MATCH_NOT_FOUND, "Match not found")
                     : tomo_rt_reply_error(r, TOMO_RT_ERR_RUNTIME_EXCEPTION, "Cluster node unreachable");
        tomo_rt_req_finish(r, rc);
    }
}

/* The home loop (0) of the oldest live node: it runs the matchmaker. */
static uint32_t r_matchmaker_origin(void *ctx)
{
    cl_loop *L = ctx;
    uint32_t node = tomo_cluster_connected(L->rc->bus) ? tomo_cluster_elder(L->rc->bus) : 0;
    return node ? origin_of(node, 0) : 0;
}

/* The home loop (0) of the live node named name. */
static uint32_t r_node_origin(void *ctx, const char *name)
{
    cl_loop *L = ctx;
    uint32_t node = tomo_cluster_node_id(L->rc->bus, name);
    return node ? origin_of(node, 0) : 0;
}

/* This loop changed a presence of ghost g: g's own loop applies it, here
 * (loop router) or on g's node (K_APPLY). */
static void r_ghost_presence(void *ctx, tomo_rt *from, int op, const tomo_rt_session *g,
                             const tomo_stream *st, int persistence, int hidden,
                             const char *status)
{
    cl_loop *L = ctx;
    uint32_t node = node_of(g->origin);
    if (!node) {
        if (L->inner.ghost_presence)
            L->inner.ghost_presence(L->inner.ctx, from, op, g, st, persistence, hidden, status);
        return;
    }
    begin(L, K_APPLY);
    tomo_cluster_put_u8(&L->out, g->origin & 0xff);
    put_presence(&L->out, op, g, st, persistence, hidden, status);
    send_to(L, node);
}

static void r_pump(void *ctx, tomo_rt *rt)
{
    cl_loop *L = ctx;
    if (L->inner.pump)
        L->inner.pump(L->inner.ctx, rt);
}

/* End of this loop's iteration: what it staged goes to the bus. */
static void r_flush(void *ctx, tomo_rt *rt)
{
    cl_loop *L = ctx;
    if (L->inner.flush)
        L->inner.flush(L->inner.ctx, rt);
    tomo_cluster_flush(L->rc->bus, &L->stage);
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
    tomo_rt *rt = rc->loops[0].rt;
    tomo_pool_submit(rt->pool, revoke_reload_work, revoke_reload_done, rt->svc);
}

/* ---- inbound (the bus delivers on loop 0; see apply / inject) ---- */

/* The online table follows remote notifications presences (one per
 * socket); loop 0 only. loop < 0: every loop of the node. */
static void online_clear(tomo_rt_cluster *rc, uint32_t node, int loop)
{
    tomo_hmap *m = &rc->online[node];
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(m, i, NULL, &v)) != 0;) {
        remote_sess *r = v;
        if (loop >= 0 && r->loop != (unsigned)loop)
            continue;
        tomo_rt_online_remove(r->user_id);
        tomo_hmap_del(m, r->id);
        free(r);
    }
}

static void online_note(tomo_rt_cluster *rc, uint32_t node, unsigned loop, int op,
                        const char *session_id, const char *user_id, const tomo_stream *st)
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
        r->loop = loop;
        tomo_hmap_put(m, r->id, r);
        tomo_rt_online_add(user_id);
    }
}

/* A presence as put_presence framed it (status: heap, free()). */
typedef struct pres_in {
    int op, persistence, hidden, has_status;
    char sid[40], uid[40], uname[256];
    stream_in in;
    char *status;
} pres_in;

static int get_presence(tomo_cluster_buf *r, pres_in *p)
{
    p->op = (int)tomo_cluster_get_u8(r);
    tomo_cluster_get_strn(r, p->sid, sizeof(p->sid));
    tomo_cluster_get_strn(r, p->uid, sizeof(p->uid));
    tomo_cluster_get_strn(r, p->uname, sizeof(p->uname));
    get_stream(r, &p->in);
    p->persistence = (int)tomo_cluster_get_u8(r);
    p->hidden = (int)tomo_cluster_get_u8(r);
    p->has_status = (int)tomo_cluster_get_u8(r);
    p->status = tomo_cluster_get_str(r);
    return r->bad ? -1 : 0;
}

static void in_presence(cl_loop *L, uint32_t node, tomo_cluster_buf *r)
{
    pres_in p;
    if (get_presence(r, &p) < 0) {
        free(p.status);
        return;
    }
    unsigned loop = (unsigned)r->flags & 0xff;
    if (p.op == TOMO_TRACKER_UNTRACK)
        tomo_tracker_untrack_remote(tracker(L), p.sid, &p.in.st);
    else
        tomo_tracker_track_remote(tracker(L), origin_of(node, loop), p.sid, p.uid, p.uname,
                                  &p.in.st, p.persistence, p.hidden,
                                  p.has_status ? p.status : NULL);
    if (L->idx == 0) {
        L->rc->node_loops[node][loop >> 3] |= (uint8_t)(1u << (loop & 7));
        online_note(L->rc, node, loop, p.op, p.sid, p.uid, &p.in.st);
    }
    free(p.status);
}

/* K_APPLY on the session's loop: another node (the owner of a party or
 * match, or nk.stream_* there) changed a presence of our session; apply it
 * (it then replicates as usual). A session gone meanwhile: tell every node
 * it is not there (the owner drops its copy). */
static void in_apply(cl_loop *L, tomo_cluster_buf *r)
{
    (void)tomo_cluster_get_u8(r); /* the target loop: this one */
    pres_in p;
    if (get_presence(r, &p) == 0 &&
        tomo_rt_route_apply(L->rt, p.op, p.sid, &p.in.st, p.persistence, p.hidden,
                            p.has_status ? p.status : NULL) == TOMO_ENOTFOUND &&
        p.op != TOMO_TRACKER_UNTRACK) {
        tomo_rt_session gone = {0};
        memcpy(gone.id, p.sid, sizeof(gone.id) - 1); /* 36 chars: get_strn NUL-ends */
        begin(L, K_PRESENCE);
        put_presence(&L->out, TOMO_TRACKER_UNTRACK, &gone, &p.in.st, 0, 0, NULL);
        send_to(L, TOMO_CLUSTER_ALL);
    }
    free(p.status);
}

/* K_FORWARD on the owner's home loop: run the envelope on the sender's
 * ghost (dropped if the ghost is gone: the session closed meanwhile). */
static void in_forward(cl_loop *L, tomo_cluster_buf *r)
{
    (void)tomo_cluster_get_u8(r); /* the target loop: this one */
    char sid[40], type[64];
    tomo_cluster_get_strn(r, sid, sizeof(sid));
    tomo_cluster_get_strn(r, type, sizeof(type));
    json_t *env = r->bad ? NULL : get_env(r);
    tomo_rt_session_meta meta = {0};
    meta.vars = r->bad ? NULL : get_env(r);
    meta.expiry = (int64_t)tomo_cluster_get_u64(r);
    tomo_cluster_get_strn(r, meta.client_ip, sizeof(meta.client_ip));
    tomo_cluster_get_strn(r, meta.client_port, sizeof(meta.client_port));
    if (env && !r->bad && json_object_get(env, type))
        tomo_rt_route_forwarded(L->rt, sid, env, type, &meta);
    else
        r->bad = 1;
    json_decref(meta.vars);
    json_decref(env);
}

/* Drop what this loop holds of node (loop < 0: all its loops). */
/* Drop what loop `loop` of node held here, or (loop < 0) every loop of it
 * named in the bitmap `loops` (32 bytes): a copy loop 0 took when the node
 * went down, because loop 0 clears the shared table before the other
 * loops run their copy of the news. */
static void drop_node(cl_loop *L, uint32_t node, int loop, const uint8_t *loops)
{
    tomo_rt_cluster *rc = L->rc;
    if (loop >= 0) {
        tomo_tracker_untrack_origin(tracker(L), origin_of(node, (unsigned)loop));
    } else {
        for (unsigned k = 0; k < 256; k++)
            if (loops[k >> 3] & (1u << (k & 7)))
                tomo_tracker_untrack_origin(tracker(L), origin_of(node, k));
    }
    if (L->idx == 0) {
        online_clear(rc, node, loop);
        if (loop < 0)
            memset(rc->node_loops[node], 0, sizeof(rc->node_loops[node]));
    }
}

/* ---- authoritative matches: the listing directory ---- */

static void put_match(tomo_cluster_buf *b, const tomo_amatch_info *mi)
{
    tomo_cluster_put_str(b, mi->id);
    tomo_cluster_put_u8(b, mi->label == NULL); /* ended */
    tomo_cluster_put_str(b, mi->label);
    tomo_cluster_put_str(b, mi->handler_name);
    tomo_cluster_put_u32(b, (uint32_t)mi->size);
    tomo_cluster_put_u32(b, (uint32_t)mi->tick_rate);
    tomo_cluster_put_u64(b, (uint64_t)mi->create_ms);
}

/* amatch observer: any thread (the registry locked, so frames go out in
 * the order of the changes). */
static void match_observe(void *ud, const tomo_amatch_info *mi)
{
    tomo_rt_cluster *rc = ud;
    if (atomic_load(&rc->stopping))
        return;
    tomo_cluster_buf b = {0};
    tomo_cluster_buf_begin(rc->bus, &b, K_MATCH, 0);
    put_match(&b, mi);
    tomo_cluster_send(rc->bus, TOMO_CLUSTER_ALL, &b);
    tomo_cluster_buf_free(&b);
}

typedef struct snap_to {
    cl_loop *L;
    uint32_t node;
} snap_to;

static void match_snap(void *ud, const tomo_amatch_info *mi)
{
    snap_to *t = ud;
    begin(t->L, K_MATCH);
    put_match(&t->L->out, mi);
    send_to(t->L, t->node);
}

/* Loop 0: a match of node (K_MATCH) into the registry's directory. */
static void in_match(tomo_rt_cluster *rc, uint32_t node, tomo_cluster_buf *r)
{
    char id[TOMO_MATCH_ID_MAX], handler[128];
    tomo_cluster_get_strn(r, id, sizeof(id));
    int ended = (int)tomo_cluster_get_u8(r);
    char *label = tomo_cluster_get_str(r);
    tomo_cluster_get_strn(r, handler, sizeof(handler));
    tomo_amatch_info mi = {id, ended ? NULL : label, handler, 0, 0, 0};
    mi.size = (int)tomo_cluster_get_u32(r);
    mi.tick_rate = (int)tomo_cluster_get_u32(r);
    mi.create_ms = (int64_t)tomo_cluster_get_u64(r);
    if (!r->bad)
        tomo_rt_amatch_remote_put(rc->loops[0].rt, node, &mi);
    else
        TOMO_LOGW(TOMO_CLUSTER_LOG, "dropping a malformed routing frame kind=%d", r->kind);
    free(label);
}

/* Send node this loop's sessions' presences, framed by SNAP_BEGIN /
 * SNAP_END (the receiver replaces what it held of this loop). */
static void send_snapshot(cl_loop *L, uint32_t node)
{
    begin(L, K_SNAP_BEGIN);
    send_to(L, node);
    size_t n = 0;
    for (tomo_rt_session *s = L->rt->all; s; s = s->_all_next) {
        if (s->_ghost || !tomo_rt_session_alive(s))
            continue;
        for (tomo_presence *p = s->_presences; p; p = p->_next_of_session) {
            tomo_stream st;
            tomo_presence_stream(p, &st);
            begin(L, K_PRESENCE);
            put_presence(&L->out, TOMO_TRACKER_TRACK, s, &st, p->persistence, p->hidden,
                         p->status);
            send_to(L, node);
            n++;
        }
    }
    if (L->idx == 0) { /* and the process's authoritative matches */
        snap_to t = {L, node};
        tomo_rt_amatch_each(L->rt, match_snap, &t);
    }
    begin(L, K_SNAP_END);
    send_to(L, node);
    TOMO_LOGD(TOMO_CLUSTER_LOG, "presences sent to node=%u loop=%u count=%zu", node, L->idx, n);
}

/* The tree of a SESSION frame's JSON text, built only if a protobuf
 * recipient needs it (tomo_rt_out_init_json). */
typedef struct text_env {
    const char *p;
    size_t n;
} text_env;

static json_t *text_env_build(void *arg)
{
    text_env *t = arg;
    json_t *env = json_loadb(t->p, t->n, 0, NULL);
    if (!json_is_object(env)) {
        json_decref(env);
        return NULL;
    }
    return env;
}

/* K_SESSION's envelope to this loop's sessions ids[0..n). Relayed match data
 * (the hot one) goes out as the text it came in: JSON recipients get those
 * bytes, protobuf ones the tree parsed once; anything else is parsed. */
static void session_deliver(cl_loop *L, tomo_cluster_buf *r, const char *const *ids, uint32_t n)
{
    static const char md[] = "{\"match_data\":";
    size_t len;
    const char *text = tomo_cluster_get_bytes(r, &len);
    if (!text || !len)
        return;
    if (len > sizeof(md) - 1 && !memcmp(text, md, sizeof(md) - 1)) {
        text_env t = {text, len};
        tomo_rt_out o;
        tomo_rt_out_init_json(&o, "match_data", text, len, text_env_build, &t);
        for (uint32_t i = 0; i < n; i++) {
            tomo_rt_session *s = tomo_rt_session_find(L->rt, ids[i]);
            if (s)
                (void)tomo_rt_out_send(&o, s);
        }
        tomo_rt_out_clear(&o);
        return;
    }
    json_t *env = json_loadb(text, len, 0, NULL);
    if (json_is_object(env) && L->shadows.count)
        for (uint32_t i = 0; i < n; i++)
            shadow_reply(L, ids[i], env);
    if (json_is_object(env))
        tomo_rt_route_sessions_local(L->rt, ids, n, env, NULL);
    else
        r->bad = 1;
    json_decref(env);
}

/* Run a frame on loop L (loop 0: straight from the bus; the others: a copy
 * posted by inject). Everything here is about L's own sessions and
 * tracker. */
static void apply(cl_loop *L, uint32_t node, tomo_cluster_buf *r)
{
    tomo_rt *rt = L->rt;
    switch (r->kind) {
    case K_PRESENCE:
        in_presence(L, node, r);
        tomo_rt_route_flush(rt);
        break;
    case K_SNAP_BEGIN:
        /* that loop's state follows in full: what we held of it may be
         * stale (messages lost while one of us was away) */
        drop_node(L, node, r->flags & 0xff, NULL);
        if (L->idx == 0 && (r->flags & 0xff) == 0) /* its loop 0 sends its matches too */
            tomo_rt_amatch_remote_drop(rt, node);
        break;
    case K_SNAP_END:
        tomo_rt_route_flush(rt);
        break;
    case K_LOCAL_NODE_DOWN:
        /* its presences leave here, with presence events to our sessions */
        if (r->len < 32)
            break;
        drop_node(L, node, -1, r->p);
        if (L->idx == 0)
            tomo_rt_amatch_remote_drop(rt, node);
        shadow_rehome(L, node);
        tomo_rt_route_flush(rt);
        break;
    case K_LOCAL_SNAPSHOT:
        send_snapshot(L, node);
        break;
    case K_STREAM: {
        stream_in in;
        get_stream(r, &in);
        char skip[40];
        tomo_cluster_get_strn(r, skip, sizeof(skip));
        if (r->bad || !local_members(L, &in.st))
            break; /* nobody here: not even parsed */
        json_t *env = get_env(r);
        if (env && !r->bad)
            tomo_rt_route_stream_local(rt, &in.st, env, NULL, skip[0] ? skip : NULL);
        json_decref(env);
        break;
    }
    case K_USER: {
        char uid[40];
        tomo_cluster_get_strn(r, uid, sizeof(uid));
        tomo_stream notif = {TOMO_STREAM_NOTIFICATIONS, uid, NULL, NULL};
        if (r->bad || !local_members(L, &notif))
            break;
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
    case K_STREAM_LEAVE: {
        char uid[40];
        tomo_cluster_get_strn(r, uid, sizeof(uid));
        stream_in in;
        get_stream(r, &in);
        if (!r->bad)
            tomo_rt_user_stream_leave_local(rt, &in.st, uid);
        break;
    }
    case K_APPLY:
        in_apply(L, r);
        break;
    case K_FORWARD:
        in_forward(L, r);
        break;
    case K_SESSION: {
        (void)tomo_cluster_get_u8(r); /* the target loop: this one */
        uint32_t n = tomo_cluster_get_u32(r);
        if (r->bad || n > 100000) {
            r->bad = 1;
            break;
        }
        char(*ids)[40] = tomo_xcalloc(n ? n : 1, sizeof(*ids));
        const char **pp = tomo_xcalloc(n ? n : 1, sizeof(*pp));
        for (uint32_t i = 0; i < n; i++) {
            tomo_cluster_get_strn(r, ids[i], sizeof(ids[i]));
            pp[i] = ids[i];
        }
        if (!r->bad)
            session_deliver(L, r, pp, n);
        free(pp);
        free(ids);
        break;
    }
    case K_CLOSE: {
        char sid[40], reason[128];
        (void)tomo_cluster_get_u8(r);
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
    default:
        break;
    }
    if (r->bad)
        TOMO_LOGW(TOMO_CLUSTER_LOG, "dropping a malformed routing frame kind=%d", r->kind);
}

/* A frame copied for another loop of this process. */
typedef struct injected {
    cl_loop *L;
    uint32_t node;
    int kind, flags;
    size_t len, pos;
    uint8_t data[];
} injected;

static void run_injected(void *arg)
{
    injected *in = arg;
    if (!atomic_load(&in->L->rc->stopping)) {
        tomo_cluster_buf r = {.p = in->data, .len = in->len, .pos = in->pos,
                              .kind = in->kind, .flags = in->flags};
        apply(in->L, in->node, &r);
    }
    free(in);
}

/* Hand frame r (positioned after its header) to loop k (FIFO per loop:
 * the order of one node's frames holds on every loop). */
static void inject(tomo_rt_cluster *rc, int k, uint32_t node, const tomo_cluster_buf *r)
{
    if (atomic_load(&rc->stopping))
        return;
    injected *in = tomo_xcalloc(1, sizeof(*in) + r->len);
    in->L = &rc->loops[k];
    in->node = node;
    in->kind = r->kind;
    in->flags = r->flags;
    in->len = r->len;
    in->pos = r->pos;
    if (r->len) /* K_LOCAL_SNAPSHOT has no bytes */
        memcpy(in->data, r->p, r->len);
    tomo_loop_post(rc->loops[k].rt->loop, run_injected, in);
}

/* Loop 0 and a copy to every other loop (or only the one a frame names). */
static void dispatch(tomo_rt_cluster *rc, uint32_t node, tomo_cluster_buf *r)
{
    int only = -1;
    if (r->kind == K_SESSION || r->kind == K_CLOSE || r->kind == K_APPLY ||
        r->kind == K_FORWARD) {
        if (r->pos >= r->len) {
            TOMO_LOGW(TOMO_CLUSTER_LOG, "dropping a malformed routing frame kind=%d", r->kind);
            return;
        }
        only = r->p[r->pos]; /* the target loop, first byte of the body */
        if (only >= rc->n)
            return;
    }
    for (int k = 1; k < rc->n; k++)
        if (only < 0 || only == k)
            inject(rc, k, node, r);
    if (only <= 0)
        apply(&rc->loops[0], node, r);
}

/* ---- the bus handler (cluster.h), loop 0's thread ---- */

static void h_message(void *ctx, uint32_t node, tomo_cluster_buf *r)
{
    tomo_rt_cluster *rc = ctx;
    if (node == 0 || node > TOMO_CLUSTER_MAX_NODES)
        return;
    if (r->kind == K_REVOKE) { /* process-wide table */
        int kind = (int)tomo_cluster_get_u8(r);
        char key[64];
        tomo_cluster_get_strn(r, key, sizeof(key));
        int64_t v = (int64_t)tomo_cluster_get_u64(r);
        if (!r->bad)
            tomo_revoke_apply(kind, key, v);
        return;
    }
    if (r->kind == K_MATCH) { /* the home loop's registry */
        in_match(rc, node, r);
        return;
    }
    if (r->kind >= K_LOCAL_NODE_DOWN)
        return; /* never on the bus */
    dispatch(rc, node, r);
}

/* A node is alive (new, back, or after a reconnect): every loop sends it
 * its presences. */
static void h_node_up(void *ctx, uint32_t node, const char *name, int resync)
{
    (void)name;
    (void)resync;
    tomo_rt_cluster *rc = ctx;
    revoke_reload(rc);
    tomo_cluster_buf r = {.kind = K_LOCAL_SNAPSHOT};
    dispatch(rc, node, &r);
}

static void h_node_down(void *ctx, uint32_t node, const char *name)
{
    (void)name;
    tomo_rt_cluster *rc = ctx;
    if (node == 0 || node > TOMO_CLUSTER_MAX_NODES)
        return;
    /* the loops its presences came from, as they are now (every loop gets
     * this copy; loop 0 clears the table when it applies it) */
    uint8_t loops[32];
    memcpy(loops, rc->node_loops[node], sizeof(loops));
    tomo_cluster_buf r = {.kind = K_LOCAL_NODE_DOWN, .p = loops, .len = sizeof(loops)};
    dispatch(rc, node, &r);
}

tomo_rt_cluster *tomo_rt_cluster_attach(tomo_rt *const *rts, int n, tomo_cluster *bus)
{
    tomo_rt_cluster *rc = tomo_xcalloc(1, sizeof(*rc));
    rc->bus = bus;
    rc->n = n < 1 ? 1 : n > 256 ? 256 : n;
    rc->loops = tomo_xcalloc((size_t)rc->n, sizeof(*rc->loops));
    for (size_t i = 0; i < TOMO_ARRAY_LEN(rc->online); i++)
        tomo_hmap_init(&rc->online[i]);
    for (int k = 0; k < rc->n; k++) {
        cl_loop *L = &rc->loops[k];
        L->rc = rc;
        L->rt = rts[k];
        L->idx = (unsigned)k;
        tomo_hmap_init(&L->shadows);
        /* wrap what is there (the loop router with several loops) */
        L->inner = rts[k]->routing;
        /* only the members wrapped here: one ctx for all of them */
        tomo_rt_routing routing = {0};
        routing.ctx = L;
        routing.to_stream = r_to_stream;
        routing.to_user = r_to_user;
        routing.disconnect_user = r_disconnect_user;
        routing.presence = r_presence;
        routing.to_sessions = r_to_sessions;
        routing.close_session = r_close_session;
        routing.user_stream_leave = r_user_stream_leave;
        routing.pump = r_pump;
        routing.flush = r_flush;
        routing.forward = r_forward;
        routing.ghost_presence = r_ghost_presence;
        routing.node_origin = r_node_origin;
        routing.matchmaker_origin = r_matchmaker_origin;
        tomo_rt_set_routing(rts[k], &routing, tomo_rt_origin(rts[k]));
    }
    rc->revoke_loaded_ms = tomo_now_ms(); /* serve.c loaded them at start-up */
    tomo_revoke_set_notify(revoke_notify, rc);
    tomo_rt_amatch_observe(rc->loops[0].rt, match_observe, rc);
    tomo_cluster_handler h = {
        .ctx = rc, .node_up = h_node_up, .node_down = h_node_down, .message = h_message,
    };
    tomo_cluster_start(bus, &h);
    return rc;
}

void tomo_rt_cluster_stop(tomo_rt_cluster *rc)
{
    if (!rc)
        return;
    atomic_store(&rc->stopping, 1);
    tomo_rt_amatch_observe(rc->loops[0].rt, NULL, NULL);
}

void tomo_rt_cluster_free(tomo_rt_cluster *rc)
{
    if (!rc)
        return;
    tomo_revoke_set_notify(NULL, NULL);
    for (uint32_t i = 0; i < TOMO_ARRAY_LEN(rc->online); i++) {
        online_clear(rc, i, -1);
        tomo_hmap_free(&rc->online[i]);
    }
    for (int k = 0; k < rc->n; k++) {
        tomo_cluster_buf_free(&rc->loops[k].out);
        tomo_cluster_stage_drop(&rc->loops[k].stage);
        const char *key;
        void *v;
        for (size_t i = 0; (i = tomo_hmap_next(&rc->loops[k].shadows, i, &key, &v)) != 0;) {
            json_decref(((mm_shadow *)v)->recs);
            free(v);
        }
        tomo_hmap_free(&rc->loops[k].shadows);
    }
    free(rc->loops);
    free(rc);
}
