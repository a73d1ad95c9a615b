/* rt/rt.c: realtime entry points. Placeholder until the realtime core lands:
 * the dedicated WebSocket port answers health checks and refuses /ws. */
#include "rt.h"

#include <string.h>

void tomo_rt_init(tomo_server *srv) { (void)srv; }

void tomo_rt_handle_ws_port(tomo_http_req *req, void *ud)
{
    (void)ud;
    if (!strcmp(req->path, "/healthcheck")) {
        tomo_http_respond_raw(req, 200, "Content-Type: application/json\r\n", "{}", 2);
        return;
    }
    static const char body[] = "{\"code\":5,\"message\":\"Not Found\"}";
    tomo_http_respond_raw(req, 404, "Content-Type: application/json\r\n", body, sizeof(body) - 1);
}

void tomo_rt_shutdown(tomo_server *srv) { (void)srv; }
void tomo_rt_close_all(tomo_server *srv) { (void)srv; }
void tomo_rt_free(tomo_server *srv) { (void)srv; }

int tomo_rt_send_to_user(tomo_server *srv, const char *user_id, struct json_t *envelope)
{
    (void)srv, (void)user_id, (void)envelope;
    return 0;
}

void tomo_rt_disconnect_user(tomo_server *srv, const char *user_id) { (void)srv, (void)user_id; }

int tomo_rt_user_online(tomo_server *srv, const char *user_id)
{
    (void)srv, (void)user_id;
    return 0;
}
