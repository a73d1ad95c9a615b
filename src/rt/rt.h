/* rt/rt.h: the realtime layer's entry points for the composition root.
 * Owns: tomo_rt, the realtime context of one loop: its session registry,
 *       tracker, status follows, channels' per-session state, dispatch
 *       table, counters, WebSocket state (net/ws.h), matchmaker and
 *       parties. Nothing realtime is a process global, so several loops
 *       (socket.loops) are several tomo_rt, each with its own deps.loop,
 *       joined by the routing seam (rt/route.h). Also the /ws upgrade, the
 *       liveness scanner (pings, pong deadlines) and the realtime metrics.
 * Borrows: everything in tomo_rt_deps (owned by serve.c).
 * Threads: a tomo_rt belongs to its loop thread; only the functions that
 *          say so may be called elsewhere (the push seam, rt/svc_push.c). */
#ifndef TOMO_RT_RT_H
#define TOMO_RT_RT_H

#include "../core/config.h"
#include "../net/http.h"
#include "../net/loop.h"
#include "../store/db.h"
#include "../svc/svc.h"

struct tomo_tracker;
typedef struct tomo_rt tomo_rt;

/* What the realtime layer needs from the server (filled by serve.c; the
 * pointers stay valid until tomo_rt_free). */
typedef struct tomo_rt_deps {
    const tomo_config *cfg;
    tomo_loop *loop; /* the loop this context belongs to */
    tomo_pool *pool; /* blocking work (token checks, chat writes) */
    tomo_db *db;
    tomo_svc *svc;   /* svc calls and token verification (svc/session.h) */
    struct tomo_ratelimit *ratelimit; /* rate_limit.socket_* (core/ratelimit.h), or NULL */
} tomo_rt_deps;

/* Create the realtime context of deps->loop (on that loop's thread, before
 * it runs): registers every module's envelope handlers (rt/modules.c) and
 * starts the liveness scanner. */
tomo_rt *tomo_rt_new(const tomo_rt_deps *deps);
/* HTTP handler of the dedicated WebSocket port (socket.ws_port); ud is the
 * tomo_rt. */
void tomo_rt_handle_ws_port(tomo_http_req *req, void *ud);
/* The /ws upgrade (API-port route, TOMO_ROUTE_RAW). */
void tomo_rt_handle_upgrade(tomo_rt *rt, tomo_http_req *req);
/* Stop accepting sockets and tell clients the server is going away. */
void tomo_rt_shutdown(tomo_rt *rt);
/* Close every socket now. */
void tomo_rt_close_all(tomo_rt *rt);
void tomo_rt_free(tomo_rt *rt);

/* The realtime context of the loop the calling thread runs (set with
 * tomo_rt_bind_thread by each loop thread before it runs), or fallback:
 * what the API layer uses for /ws and listings with several loops. */
void tomo_rt_bind_thread(tomo_rt *rt);
tomo_rt *tomo_rt_of_thread(tomo_rt *fallback);

/* The tracker (rt/tracker.h). */
struct tomo_tracker *tomo_rt_tracker(tomo_rt *rt);

/* Services for the layers above. All run on the loop thread: from a
 * worker, use the push seam (svc.push) or tomo_loop_post. */

/* Send an envelope (a JSON object in canonical protojson form, e.g.
 * {"notifications":{"notifications":[...]}}; borrowed) to every live socket
 * of a user, in each socket's format: this loop's sockets now, the others
 * through the routing seam (rt/route.h). Returns the number of this loop's
 * sockets reached. The _local forms stop at this loop (what a routing
 * implementation calls on the destination loop). */
int tomo_rt_send_to_user(tomo_rt *rt, const char *user_id, struct json_t *envelope);
int tomo_rt_send_to_user_local(tomo_rt *rt, const char *user_id, struct json_t *envelope);
/* Close every socket of a user (account deleted, banned), on every loop. */
void tomo_rt_disconnect_user(tomo_rt *rt, const char *user_id);
void tomo_rt_disconnect_user_local(tomo_rt *rt, const char *user_id);
/* Fill the service layer's push seam (svc/svc.h) with rt's delivery
 * (rt/svc_push.c): any thread, posted to the loop that owns the sockets;
 * ctx is rt. Main thread, at start-up. */
void tomo_rt_svc_push_fill(tomo_rt *rt, tomo_svc_push *out);
/* Number of live sockets of a user (status, DM notifications). */
int tomo_rt_user_online(tomo_rt *rt, const char *user_id);

/* Relayed matches for GET /v2/match (loop thread): appends up to `limit`
 * {match_id, authoritative:false, label?, size} objects to `out` with sizes
 * within [min_size, max_size] (negative = no bound). */
void tomo_rt_match_list(tomo_rt *rt, int limit, int min_size, int max_size,
                        const char *label, struct json_t *out);

#endif
