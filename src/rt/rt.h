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

#endif
