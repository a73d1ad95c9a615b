/* tests/net/test_http.c: the HTTP server over real sockets: keep-alive,
 * pipelining order, body/header limits, malformed input, read timeout, and
 * that the server keeps serving others after each bad client. */
#define _GNU_SOURCE
#include "core/common.h"
#include "net/http.h"
#include "net/loop.h"
#include "tt.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static tomo_loop *g_loop;
static tomo_http_server *g_srv;
static tomo_pool *g_pool;
static int g_port;

typedef struct delayed {
    tomo_http_req *req;
    int ms;
} delayed;

static void slow_work(void *a) { usleep((useconds_t)((delayed *)a)->ms * 1000); }
static void slow_done(void *a)
{
    delayed *d = a;
    tomo_http_respond(d->req, 200, NULL, d->req->path, strlen(d->req->path));
    free(d);
}

/* /slow/N answers after N ms on a worker, everything else at once with the
 * path (or the body for POST) as the response body. */
static void handler(tomo_http_req *req, void *ud)
{
    (void)ud;
    if (!strncmp(req->path, "/slow/", 6)) {
        delayed *d = tomo_xcalloc(1, sizeof(*d));
        d->req = req;
        d->ms = atoi(req->path + 6);
        tomo_pool_submit(g_pool, slow_work, slow_done, d);
        return;
    }
    if (req->method == TOMO_HTTP_POST)
        tomo_http_respond(req, 200, NULL, req->body, req->body_len);
    else
        tomo_http_respond(req, 200, NULL, req->path, strlen(req->path));
}

static void *loop_main(void *a)
{
    (void)a;
    tomo_loop_run(g_loop);
    return NULL;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        abort();
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Read until the peer closes or `want` bytes matched count responses. */
static char *read_until(int fd, const char *stop, int count)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (!stop)
            continue;
        int seen = 0;
        for (const char *p = buf; (p = strstr(p, stop)); p++)
            seen++;
        if (seen >= count)
            break;
    }
    buf[len] = '\0';
    return buf;
}

static void test_keepalive_and_pipelining(void)
{
    int fd = dial();
    const char reqs[] = "GET /slow/150 HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
                        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    send_all(fd, reqs, sizeof(reqs) - 1);
    char *r = read_until(fd, "HTTP/1.1 200", 3);
    /* wait for the last body */
    while (!strstr(r, "hello")) {
        char *more = read_until(fd, "hello", 1);
        char *j = tomo_xasprintf("%s%s", r, more);
        free(r);
        free(more);
        r = j;
        if (!strstr(r, "hello"))
            break;
    }
    const char *a = strstr(r, "/slow/150"), *b = strstr(r, "/fast"), *c = strstr(r, "hello");
    TT_TRUE(a && b && c && a < b && b < c); /* answered in request order */
    free(r);
    close(fd);
}

static void expect_status(const char *raw, size_t n, const char *status)
{
    int fd = dial();
    send_all(fd, raw, n);
    char *r = read_until(fd, NULL, 0);
    TT_CONTAINS(r, status);
    TT_CONTAINS(r, "Connection: close");
    free(r);
    close(fd);
}

static void test_bad_requests(void)
{
    expect_status("GARBAGE\r\n\r\n", 11, "HTTP/1.1 400");
    expect_status("GET / HTTP/9.9\r\n\r\n", 18, "HTTP/1.1 505");
    char big[200];
    int n = snprintf(big, sizeof(big), "POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    expect_status(big, (size_t)n, "HTTP/1.1 413");
    /* too many headers */
    char *many = tomo_xstrdup("GET / HTTP/1.1\r\n");
    for (int i = 0; i < 40; i++) {
        char *m = tomo_xasprintf("%sX-H%d: v\r\n", many, i);
        free(many);
        many = m;
    }
    char *m2 = tomo_xasprintf("%s\r\n", many);
    expect_status(m2, strlen(m2), "HTTP/1.1 431");
    free(many);
    free(m2);
}

static void test_half_request_times_out(void)
{
    int fd = dial();
    send_all(fd, "GET / HTTP/1.1\r\nHo", 18);
    char *r = read_until(fd, NULL, 0); /* server must answer 408 and close */
    TT_CONTAINS(r, "HTTP/1.1 408");
    free(r);
    close(fd);
    /* and still serves others */
    fd = dial();
    send_all(fd, "GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n", 39);
    r = read_until(fd, NULL, 0);
    TT_CONTAINS(r, "HTTP/1.1 200");
    TT_CONTAINS(r, "/ok");
    free(r);
    close(fd);
}

/* A client that sends its requests and then half-closes still gets every
 * answer, including the ones a worker produces later; then the server closes. */
static void test_half_close(void)
{
    int fd = dial();
    const char reqs[] = "GET /slow/100 HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /after HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, reqs, sizeof(reqs) - 1);
    shutdown(fd, SHUT_WR);
    char *r = read_until(fd, NULL, 0); /* until the server closes */
    const char *a = strstr(r, "/slow/100"), *b = strstr(r, "/after");
    TT_TRUE(a && b && a < b);
    free(r);
    close(fd);
    /* a partial request then EOF: closed without an answer, nothing leaks */
    fd = dial();
    send_all(fd, "GET /x HTTP/1.1\r\nHo", 19);
    shutdown(fd, SHUT_WR);
    r = read_until(fd, NULL, 0);
    TT_STR_EQ(r, "");
    free(r);
    close(fd);
}

static void stop_cb(void *a)
{
    (void)a;
    tomo_http_server_free(g_srv);
    tomo_loop_close(g_loop);
}

int main(void)
{
    g_loop = tomo_loop_new();
    g_pool = tomo_pool_new(g_loop, 2, 100);
    tomo_http_limits lim = {.max_body_bytes = 1024,
                            .max_header_bytes = 4096,
                            .max_header_count = 32,
                            .read_timeout_ms = 300,
                            .idle_timeout_ms = 5000,
                            .write_timeout_ms = 5000};
    g_srv = tomo_http_server_new(g_loop, &lim, handler, NULL, "test");
    char err[256];
    if (tomo_http_server_listen(g_srv, "127.0.0.1", 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    g_port = tomo_http_server_port(g_srv);
    pthread_t th;
    pthread_create(&th, NULL, loop_main, NULL);
    TT_RUN(test_keepalive_and_pipelining);
    TT_RUN(test_bad_requests);
    TT_RUN(test_half_request_times_out);
    TT_RUN(test_half_close);
    tomo_loop_post(g_loop, stop_cb, NULL);
    pthread_join(th, NULL);
    tomo_pool_free(g_pool);
    tomo_loop_free(g_loop);
    return tt_finish();
}
