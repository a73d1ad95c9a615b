/* tests/fuzz/fuzz_net.c: see fuzz_net.h. The handler routes with the
 * router (a few of Nakama's path shapes), echoes the path parameters, query
 * and body, and upgrades /ws to a WebSocket whose messages are echoed back
 * (text and binary) so the send path runs too. */
#define _GNU_SOURCE
#include "fuzz_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"
#include "net/http.h"
#include "net/loop.h"
#include "net/router.h"
#include "net/ws.h"

static tomo_loop *g_loop;
static tomo_ws_loop *g_wsl;
static tomo_http_server *g_srv;
static tomo_router *g_router;
static int g_port;
static int g_open_ws;

static void ws_message(tomo_ws *ws, int opcode, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    tomo_frame *f = tomo_frame_new(opcode, data, len);
    if (tomo_ws_send(ws, f) < 0)
        tomo_ws_close(ws, TOMO_WS_CLOSE_POLICY, "slow");
    tomo_frame_unref(f);
    if (len && data[0] == 'q')
        tomo_ws_close(ws, TOMO_WS_CLOSE_NORMAL, "bye");
}
static void ws_activity(tomo_ws *ws, void *ud)
{
    (void)ws;
    (void)ud;
}
static void ws_closed(tomo_ws *ws, int code, void *ud)
{
    (void)ws;
    (void)code;
    (void)ud;
    g_open_ws--;
}
static const tomo_ws_callbacks g_ws_cb = {ws_message, ws_activity, ws_closed};

static void upgrade(tomo_http_req *req)
{
    const char *why = NULL;
    if (tomo_ws_handshake_check(req, &why) < 0) {
        tomo_http_respond(req, 400, NULL, why, strlen(why));
        return;
    }
    char accept[29], head[256];
    tomo_ws_accept_key(tomo_http_header_get(req, "sec-websocket-key"), accept);
    snprintf(head, sizeof(head),
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n",
             accept);
    tomo_sock *tcp = NULL;
    char *left = NULL;
    size_t nleft = 0;
    if (tomo_http_upgrade(req, head, &tcp, &left, &nleft) < 0)
        return;
    tomo_ws_config wc = {.max_message_bytes = 4096, .max_queued_writes = 64, .close_wait_ms = 50};
    tomo_ws *ws = tomo_ws_new(g_wsl, tcp, &wc, &g_ws_cb, NULL);
    g_open_ws++;
    tomo_ws_start(ws, left, nleft);
    free(left);
}

static void handler(tomo_http_req *req, void *ud)
{
    (void)ud;
    if (req->upgrade && !strcmp(req->path, "/ws")) {
        upgrade(req);
        return;
    }
    tomo_route_match m;
    int rc = tomo_router_match(g_router, req->method, req->path, &m);
    if (rc < 0) {
        tomo_http_respond(req, rc == TOMO_EPERM ? 405 : 404, NULL, NULL, 0);
        return;
    }
    size_t cap = 64 + strlen(req->query) + req->body_len;
    for (size_t i = 0; i < m.nparams; i++)
        cap += strlen(m.values[i]) + 1;
    char *out = tomo_xmalloc(cap);
    size_t o = (size_t)snprintf(out, cap, "%d|", m.id);
    for (size_t i = 0; i < m.nparams; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s|", m.values[i]);
    o += (size_t)snprintf(out + o, cap - o, "%s|", req->query);
    if (req->body_len)
        memcpy(out + o, req->body, req->body_len);
    o += req->body_len;
    const char *hdrs[] = {"Content-Type: text/plain", NULL};
    tomo_http_respond(req, 200, hdrs, out, o);
    free(out);
    tomo_route_match_clear(&m);
}

void fuzz_net_init(void)
{
    if (g_srv)
        return;
    g_loop = tomo_loop_new();
    g_wsl = tomo_ws_loop_new(g_loop);
    g_router = tomo_router_new();
    tomo_router_add(g_router, TOMO_HTTP_GET, "/healthcheck", 1);
    tomo_router_add(g_router, TOMO_HTTP_POST, "/v2/account/authenticate/device", 2);
    tomo_router_add(g_router, TOMO_HTTP_GET, "/v2/storage/{collection}", 3);
    tomo_router_add(g_router, TOMO_HTTP_GET, "/v2/storage/{collection}/{user_id}", 4);
    tomo_router_add(g_router, TOMO_HTTP_PUT, "/v2/storage", 5);
    tomo_router_add(g_router, TOMO_HTTP_GET, "/v2/channel/{channel_id}", 6);
    tomo_router_add(g_router, TOMO_HTTP_DELETE, "/v2/friend", 7);
    tomo_http_limits lim = {.max_body_bytes = 4096,
                            .max_header_bytes = 4096,
                            .max_header_count = 32,
                            .read_timeout_ms = 200,
                            .idle_timeout_ms = 1000,
                            .write_timeout_ms = 1000,
                            .max_pipeline = 8};
    g_srv = tomo_http_server_new(g_loop, &lim, handler, NULL, "fuzz");
    char err[256];
    if (tomo_http_server_listen(g_srv, "127.0.0.1", 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    g_port = tomo_http_server_port(g_srv);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fuzz_net_exchange(const char *prefix, size_t plen, const uint8_t *data, size_t len)
{
    uv_loop_t *uv = tomo_loop_uv(g_loop);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = -1;
    for (int attempt = 0; attempt < 50; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        /* a shared box can run out of ephemeral ports for a moment; libFuzzer's
         * timeout alarm (SIGALRM each second) can interrupt the blocking connect */
        int e = errno;
        close(fd);
        fd = -1;
        errno = e;
        if (e != EADDRNOTAVAIL && e != EAGAIN && e != ECONNREFUSED && e != EINTR)
            break;
        uv_run(uv, UV_RUN_NOWAIT);
        usleep(20000);
    }
    if (fd < 0) {
        /* EMFILE here means the server leaks connections (same process) */
        fprintf(stderr, "fuzz: connect failed: %s (server connections %zu, open ws %d)\n",
                strerror(errno), tomo_http_server_connections(g_srv), g_open_ws);
        abort();
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    char *buf = tomo_xmalloc(plen + len + 1);
    memcpy(buf, prefix, plen);
    if (len)
        memcpy(buf + plen, data, len);
    size_t total = plen + len, sent = 0;
    int shut = 0, eof = 0;
    uint64_t deadline = now_ms() + 2000;
    char rbuf[65536];
    while (!eof && now_ms() < deadline) {
        if (sent < total) {
            ssize_t w = write(fd, buf + sent, total - sent);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                sent = total; /* the server closed on us */
        }
        if (sent == total && !shut) {
            shutdown(fd, SHUT_WR);
            shut = 1;
        }
        uv_run(uv, UV_RUN_NOWAIT);
        ssize_t r = read(fd, rbuf, sizeof(rbuf));
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            eof = 1;
    }
    free(buf);
    close(fd);
    /* let the server notice and free the connection */
    for (int i = 0; i < 200 && (tomo_http_server_connections(g_srv) || g_open_ws); i++)
        uv_run(uv, UV_RUN_NOWAIT);
}
