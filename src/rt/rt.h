/* rt/rt.h: the realtime layer's entry points for the server.
 * Owns: the realtime state hung on tomo_server.rt (session registry,
 *       tracker, status follows), the /ws upgrade, the single liveness
 *       scanner (pings, pong deadlines) and the realtime metrics.
 * Threads: loop thread only. */
#ifndef TOMO_RT_RT_H
#define TOMO_RT_RT_H

#include "../api/server.h"

struct tomo_tracker;

void tomo_rt_init(tomo_server *srv);
/* HTTP handler of the dedicated WebSocket port (socket.ws_port). */
void tomo_rt_handle_ws_port(tomo_http_req *req, void *srv);
/* The /ws upgrade (API-port route, TOMO_ROUTE_RAW). */
void tomo_rt_handle_upgrade(tomo_server *srv, tomo_http_req *req);
/* Stop accepting sockets and tell clients the server is going away. */
void tomo_rt_shutdown(tomo_server *srv);
/* Close every socket now. */
void tomo_rt_close_all(tomo_server *srv);
void tomo_rt_free(tomo_server *srv);

/* The tracker (rt/tracker.h). */
struct tomo_tracker *tomo_rt_tracker(tomo_server *srv);

/* Services for the API layer. All run on the loop thread: from a worker,
 * schedule them with ctx->after_fn or tomo_loop_post. */

/* Send an envelope (a JSON object in canonical protojson form, e.g.
 * {"notifications":{"notifications":[...]}}) to every live socket of a
 * user, in each socket's format. Returns the number of sockets reached. */
int tomo_rt_send_to_user(tomo_server *srv, const char *user_id, struct json_t *envelope);
/* Close every socket of a user (account deleted, banned). */
void tomo_rt_disconnect_user(tomo_server *srv, const char *user_id);
/* Fill the service layer's push seam (svc/svc.h) with rt's delivery
 * (rt/svc_push.c); ctx is srv. Main thread, at start-up. */
void tomo_rt_svc_push_fill(tomo_server *srv, tomo_svc_push *out);
/* Number of live sockets of a user (status, DM notifications). */
int tomo_rt_user_online(tomo_server *srv, const char *user_id);

/* Relayed matches for GET /v2/match (loop thread): appends up to `limit`
 * {match_id, authoritative:false, label?, size} objects to `out` with sizes
 * within [min_size, max_size] (negative = no bound). */
void tomo_rt_match_list(tomo_server *srv, int limit, int min_size, int max_size,
                        const char *label, struct json_t *out);

#endif
