/* rt/rt.h: the realtime layer's entry points for the server.
 * Owns: the realtime state hung on tomo_server.rt (sessions, tracker, ...).
 * Threads: loop thread only. */
#ifndef TOMO_RT_RT_H
#define TOMO_RT_RT_H

#include "../api/server.h"

void tomo_rt_init(tomo_server *srv);
/* HTTP handler of the dedicated WebSocket port (socket.ws_port). */
void tomo_rt_handle_ws_port(tomo_http_req *req, void *srv);
/* Stop accepting sockets and tell clients the server is going away. */
void tomo_rt_shutdown(tomo_server *srv);
/* Close every socket now. */
void tomo_rt_close_all(tomo_server *srv);
void tomo_rt_free(tomo_server *srv);

/* Services for the API layer. All run on the loop thread: from a worker,
 * schedule them with ctx->after_fn or tomo_loop_post. */

/* Send an envelope (a JSON object in canonical protojson form, e.g.
 * {"notifications":{"notifications":[...]}}) to every live socket of a
 * user, in each socket's format. Returns the number of sockets reached. */
int tomo_rt_send_to_user(tomo_server *srv, const char *user_id, struct json_t *envelope);
/* Close every socket of a user (account deleted, banned). */
void tomo_rt_disconnect_user(tomo_server *srv, const char *user_id);
/* Number of live sockets of a user (status, DM notifications). */
int tomo_rt_user_online(tomo_server *srv, const char *user_id);

#endif
