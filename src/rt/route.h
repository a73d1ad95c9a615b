/* rt/route.h: the routing seam: where a message for a stream or a user goes
 * when some of its recipients are not on this loop.
 * Owns: tomo_rt_routing (the interface) and the delivery entry points every
 *       rt module uses for streams and users (tomo_rt_route_*).
 * Borrows: the loop context (tomo_rt), the tracker.
 * Threads: the tomo_rt_route_* functions run on the calling loop's thread;
 *          the routing implementation's functions are called there too and
 *          must copy what they need and return at once.
 *
 * Today every session lives on the one loop, so delivery is local: the
 * tracker's members get the envelope, encoded once per format. When several
 * loops (socket.loops) or a cluster bus exist, the composition root installs
 * a tomo_rt_routing on each loop: after the local delivery, rt hands the
 * same message to `to_stream` / `to_user` once, and the implementation
 * forwards it once per other loop or node (which then delivers locally with
 * tomo_rt_route_stream_local / tomo_rt_send_to_user on its own thread,
 * keeping per-sender order: one queue per destination, FIFO). Nothing in rt
 * needs to know how many loops or nodes there are.
 *
 * Envelopes are canonical protojson trees (borrowed). An implementation
 * that queues one must deep-copy it (jansson counts are not atomic) or
 * encode it (tomo_frame is atomically refcounted and may cross threads).
 *
 * Presences: every loop's tracker holds the whole process's presences
 * (rt/tracker.h, remote presences on ghost sessions). `presence` tells the
 * implementation of each local change, in order, to replicate; on the
 * other side it calls tomo_tracker_track_remote / untrack_remote and then
 * tomo_rt_route_flush. Origins (uint32_t) are opaque to rt: the loop
 * router uses the loop index; the cluster (node_slot << 8) | loop. */
#ifndef TOMO_RT_ROUTE_H
#define TOMO_RT_ROUTE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker.h"

typedef struct tomo_rt_routing {
    void *ctx;
    /* Members of stream st that are not on loop `from`: deliver env to
     * them, leaving out the session skip_session_id (NULL: none).
     * json_frame (may be NULL) is env encoded as a JSON text frame, as in
     * to_sessions: ref it to hand it on instead of a copy of env. */
    void (*to_stream)(void *ctx, tomo_rt *from, const tomo_stream *st, json_t *env,
                      tomo_frame *json_frame, const char *skip_session_id);
    /* Sessions of a user that are not on loop `from`. */
    void (*to_user)(void *ctx, tomo_rt *from, const char *user_id, json_t *env);
    /* Close the sessions of a user that are not on loop `from`. */
    void (*disconnect_user)(void *ctx, tomo_rt *from, const char *user_id);
    /* A local presence changed (op TOMO_TRACKER_TRACK / UPDATE / UNTRACK;
     * status NULL unless a status stream; everything borrowed). */
    void (*presence)(void *ctx, tomo_rt *from, int op, const tomo_rt_session *s,
                     const tomo_stream *st, int persistence, int hidden, const char *status);
    /* Sessions of one origin (ghosts' ids): send env to each, encoded once
     * per format there. json_frame (may be NULL) is env already encoded as
     * a JSON text frame (atomically refcounted: ref it to keep it); with a
     * frame, env may be NULL (the tree is then parsed from the frame's text
     * where a protobuf recipient needs it). */
    void (*to_sessions)(void *ctx, tomo_rt *from, uint32_t origin, const char *const *session_ids,
                        size_t n, json_t *env, tomo_frame *json_frame);
    /* Close one remote session (a ghost: g->origin, g->id); final_env may
     * be NULL; as tomo_rt_session_close would. */
    void (*close_session)(void *ctx, tomo_rt *from, const tomo_rt_session *g, json_t *final_env,
                          int ws_code, const char *reason);
    /* Untrack the user's sessions that are not on `from` from st (a group
     * kick: svc push stream_user_leave). May be NULL. */
    void (*user_stream_leave)(void *ctx, tomo_rt *from, const tomo_stream *st,
                              const char *user_id);
    /* Apply now what other origins already handed to this loop (rt calls it
     * before it handles an envelope, a push or a listing, so that what a
     * client saw answered elsewhere is visible here). May be NULL. */
    void (*pump)(void *ctx, tomo_rt *rt);
    /* After this loop's I/O callbacks, and again before it waits for I/O
     * (timers and close callbacks run outside the check phase), and at its
     * shutdown: send what the implementation held back to send together.
     * May be NULL. */
    void (*flush)(void *ctx, tomo_rt *rt);
    /* Single owners (parties, the matchmaker, authoritative matches): an
     * envelope session s (local to `from`) sent for something `owner` (an
     * origin, see tomo_rt_owner_of) holds. The owner runs it with
     * tomo_rt_route_forwarded. env borrowed; type is its oneof member.
     * May be NULL (everything is handled where it arrives). */
    void (*forward)(void *ctx, tomo_rt *from, uint32_t owner, const tomo_rt_session *s,
                    json_t *env, const char *type);
    /* This loop changed a presence of ghost g itself (an owner tracking a
     * party or match member that lives elsewhere): g's origin applies the
     * change to the real session with tomo_rt_route_apply, which then
     * replicates as usual (the replica is a no-op here). May be NULL. */
    void (*ghost_presence)(void *ctx, tomo_rt *from, int op, const tomo_rt_session *g,
                           const tomo_stream *st, int persistence, int hidden,
                           const char *status);
    /* The origin of the home loop of another node, by node name (an
     * authoritative match's id names the node that runs it), or 0 when no
     * live node has that name. tomo_rt_owner_of then sends joins and data
     * for that node's matches through `forward`. May be NULL (one node). */
    uint32_t (*node_origin)(void *ctx, const char *node_name);
    /* The origin of the home loop of the node that runs the cluster's
     * matchmaker, or 0 when it is this node. matchmaker_add / _remove go
     * there through `forward`. May be NULL (one node). */
    uint32_t (*matchmaker_origin)(void *ctx);
} tomo_rt_routing;

/* Install the routing of a loop (start-up, before sockets arrive; copied).
 * NULL or unset members: this loop is the only one (local delivery only).
 * origin is this loop's origin id (its sessions' `origin`). */
void tomo_rt_set_routing(tomo_rt *rt, const tomo_rt_routing *routing, uint32_t origin);
uint32_t tomo_rt_origin(const tomo_rt *rt);
/* The loop of this process that holds the single owners (parties, the
 * matchmaker, the authoritative-match registry and the runtime's seam):
 * itself unless set (the loop router sets loop 0 on every loop). */
void tomo_rt_set_home(tomo_rt *rt, tomo_rt *home);
/* Where an envelope must run: the origin of the owner of what it names
 * (the home loop for party_*, matchmaker_* and the joins and leaves of an
 * authoritative match or by matchmaker token; another node's home loop,
 * through routing.node_origin, for a join by id or match data of a match
 * that node runs), else this loop's origin. */
uint32_t tomo_rt_owner_of(tomo_rt *rt, const char *type, json_t *body);
/* What a forwarded envelope carries of its session beyond the ghost's ids:
 * match join attempts and after hooks read it (vars borrowed). */
typedef struct tomo_rt_session_meta {
    json_t *vars;
    int64_t expiry;
    char client_ip[64], client_port[8];
} tomo_rt_session_meta;
/* On the owner: run envelope env (borrowed) that remote session
 * session_id sent, with the session's ghost as req->session (meta copied
 * onto the ghost). Dropped when the ghost is gone (the session closed
 * meanwhile). */
void tomo_rt_route_forwarded(tomo_rt *rt, const char *session_id, json_t *env, const char *type,
                             const tomo_rt_session_meta *meta);
/* On the session's origin: apply a presence change its owner made (op
 * TOMO_TRACKER_*) to local session session_id. TOMO_ENOTFOUND when the
 * session is gone (the routing then replicates an untrack so the owner
 * drops its copy). */
int tomo_rt_route_apply(tomo_rt *rt, int op, const char *session_id, const tomo_stream *st,
                        int persistence, int hidden, const char *status);
/* A session by id that a send can reach: local and alive, or a ghost
 * (NULL if neither). What owners use to answer members anywhere. */
tomo_rt_session *tomo_rt_route_reach(tomo_rt *rt, const char *session_id);
/* routing.pump, if any (see above). */
void tomo_rt_route_pump(tomo_rt *rt);
/* After injecting remote presences: deliver the events they queued (to
 * this loop's sessions) and update the presences gauge. */
void tomo_rt_route_flush(tomo_rt *rt);
/* A local session by id (NULL if none or closing): where a routing
 * implementation delivers to_session / close_session on the destination. */
tomo_rt_session *tomo_rt_route_session(tomo_rt *rt, const char *session_id);

/* Send env (borrowed) to every member of a stream, wherever it lives:
 * members on this loop now (encoded once per format), the others through
 * the routing. skip (may be NULL) is left out. Returns the local recipients
 * reached. */
size_t tomo_rt_route_stream(tomo_rt *rt, const tomo_stream *st, json_t *env,
                            const tomo_rt_session *skip);
/* Send to ghosts (remote sessions) g[0..n): one to_sessions call per
 * origin. env borrowed; either env or json_frame may be NULL, not both
 * (see to_sessions). */
void tomo_rt_route_ghosts(tomo_rt *rt, tomo_rt_session *const *g, size_t n, json_t *env,
                          tomo_frame *json_frame);
/* A broadcast to sessions ss[0..n) wherever they are: local ones through
 * o, ghosts through tomo_rt_route_ghosts (o's tree built if it is lazy).
 * Returns the local recipients reached. */
size_t tomo_rt_route_out(tomo_rt *rt, tomo_rt_out *o, tomo_rt_session *const *ss, size_t n);
/* On the destination: send env to this loop's sessions ids[0..n), sharing
 * one encoding per format (json_frame, if given, is the JSON one; env may
 * then be NULL: the tree is parsed from the frame's text, and only if a
 * protobuf recipient needs it). */
size_t tomo_rt_route_sessions_local(tomo_rt *rt, const char *const *ids, size_t n, json_t *env,
                                    tomo_frame *json_frame);
/* Only this loop's members (what a routing implementation calls on the
 * destination loop). skip_session_id may be NULL; json_frame as in
 * tomo_rt_route_sessions_local (env may then be NULL). */
size_t tomo_rt_route_stream_local(tomo_rt *rt, const tomo_stream *st, json_t *env,
                                  tomo_frame *json_frame, const char *skip_session_id);

#endif
