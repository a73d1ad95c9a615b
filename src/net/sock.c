/* net/sock.c: the plain TCP stream type, stream creation and accept. */
#include "sock.h"

#include "../core/common.h"

#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

static int t_read_start(tomo_sock *s, uv_alloc_cb a, uv_read_cb cb)
{
    return uv_read_start((uv_stream_t *)&s->tcp, a, cb);
}

static int t_read_stop(tomo_sock *s) { return uv_read_stop((uv_stream_t *)&s->tcp); }

static int t_write(tomo_sock *s, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                   uv_write_cb cb)
{
    return uv_write(req, (uv_stream_t *)&s->tcp, bufs, n, cb);
}

static int t_try_write(tomo_sock *s, const uv_buf_t *bufs, unsigned n)
{
    return uv_try_write((uv_stream_t *)&s->tcp, bufs, n);
}

static int t_shutdown(tomo_sock *s, uv_shutdown_t *req, uv_shutdown_cb cb)
{
    return uv_shutdown(req, (uv_stream_t *)&s->tcp, cb);
}

static void t_close(tomo_sock *s, uv_close_cb cb)
{
    if (!uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, cb);
}

const tomo_sock_type tomo_sock_tcp = {
    .name = "tcp",
    .read_start = t_read_start,
    .read_stop = t_read_stop,
    .write = t_write,
    .try_write = t_try_write,
    .shutdown = t_shutdown,
    .close = t_close,
};

/* net/tls.c */
void tomo_tls_stream_attach(tomo_sock *s, tomo_tls *tls);

tomo_sock *tomo_sock_new(uv_loop_t *loop, tomo_tls *tls)
{
    tomo_sock *s = tomo_xcalloc(1, sizeof(*s));
    uv_tcp_init(loop, &s->tcp);
    s->type = &tomo_sock_tcp;
    if (tls)
        tomo_tls_stream_attach(s, tls);
    return s;
}

int tomo_sock_accept(uv_stream_t *listener, tomo_sock *s)
{
    return uv_accept(listener, (uv_stream_t *)&s->tcp);
}

void tomo_sock_peer_ip(tomo_sock *s, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    buf[0] = '\0';
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, buf, len);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, buf, len);
}

int tomo_sock_peer_port(tomo_sock *s)
{
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

static void on_listener_failed(uv_handle_t *h) { free(h); }

int tomo_sock_listen(uv_loop_t *loop, const char *host, int port, uv_connection_cb cb, void *data,
                     uv_tcp_t **out, int *bound_port, char *err, size_t errlen)
{
    return tomo_sock_listen_ex(loop, host, port, 0, cb, data, out, bound_port, err, errlen);
}

int tomo_sock_listen_ex(uv_loop_t *loop, const char *host, int port, int reuseport,
                        uv_connection_cb cb, void *data, uv_tcp_t **out, int *bound_port,
                        char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    const char *h = host && *host ? host : "0.0.0.0";
    int rc = strchr(h, ':') ? uv_ip6_addr(h, port, (struct sockaddr_in6 *)&addr)
                            : uv_ip4_addr(h, port, (struct sockaddr_in *)&addr);
    if (rc < 0) {
        snprintf(err, errlen, "bad listen address %s: %s", h, uv_strerror(rc));
        return TOMO_EIO;
    }
    uv_tcp_t *t = tomo_xmalloc(sizeof(*t));
    uv_tcp_init_ex(loop, t, addr.ss_family);
    t->data = data;
    if (reuseport) {
        /* several loops accept on the same port; the kernel spreads the
         * connections (socket.loops) */
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno((uv_handle_t *)t, &fd) == 0)
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
    rc = uv_tcp_bind(t, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)t, 4096, cb);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", h, port, uv_strerror(rc));
        t->data = NULL;
        uv_close((uv_handle_t *)t, on_listener_failed);
        return TOMO_EIO;
    }
    struct sockaddr_storage bound;
    int bl = sizeof(bound);
    uv_tcp_getsockname(t, (struct sockaddr *)&bound, &bl);
    *bound_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    *out = t;
    return 0;
}
