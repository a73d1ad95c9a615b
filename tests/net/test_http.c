/* tests/net/test_http.c: the HTTP server over real sockets: keep-alive,
 * pipelining order, body/header limits, malformed input, read timeout, and
 * that the server keeps serving others after each bad client; answers
 * written by a worker (tomo_http_lend / tomo_http_respond_worker), and the
 * loop taking that back for pipelining, EOF, a reset and a full socket. */
#define _GNU_SOURCE
#include "core/common.h"
#include "net/http.h"
#include "net/loop.h"
#include "tt.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* /lent/N: answered by the worker after N ms, written from the worker when
 * the loop lent the request, else (or when the loop took it back) through
 * the loop. /lent/big: an 8 MiB answer (more than one send() takes). */
static atomic_int g_direct, g_fallback, g_notlent, g_handed;

typedef struct lent {
    tomo_http_req *req;
    int ms, big, lent;
} lent;

static void lent_done(void *a)
{
    lent *l = a;
    tomo_http_respond(l->req, 200, NULL, l->req->path, strlen(l->req->path));
    free(l);
}

static void lent_work(void *a)
{
    lent *l = a;
    usleep((useconds_t)l->ms * 1000);
    size_t n = l->big ? (size_t)8 << 20 : strlen(l->req->path);
    char *body = l->big ? malloc(n) : tomo_xstrdup(l->req->path);
    if (l->big)
        memset(body, 'b', n);
    int was_lent = l->lent;
    /* a big answer goes back through the loop when not lent; never here */
    if (tomo_http_respond_worker(l->req, 200, NULL, body, n)) {
        /* l->req is the HTTP layer's now */
        atomic_fetch_add(&g_direct, 1);
        free(l);
    } else {
        atomic_fetch_add(was_lent ? &g_fallback : &g_notlent, 1);
        tomo_loop_post(g_loop, lent_done, l);
    }
    free(body);
}

/* /slow/N answers after N ms on a worker, everything else at once with the
 * path (or the body for POST) as the response body. */
static void handler(tomo_http_req *req, void *ud)
{
    (void)ud;
    if (!strncmp(req->path, "/lent/", 6)) {
        lent *l = tomo_xcalloc(1, sizeof(*l));
        l->req = req;
        l->big = !strcmp(req->path, "/lent/big");
        l->ms = l->big ? 0 : atoi(req->path + 6);
        l->lent = tomo_http_lend(req);
        tomo_pool_submit(g_pool, lent_work, NULL, l);
        atomic_fetch_add(&g_handed, 1);
        return;
    }
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

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

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

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* One request at a time on a keep-alive connection: every answer written by
 * its worker, in order, and the connection stays usable. */
static void test_lent_keepalive(void)
{
    int d0 = atomic_load(&g_direct), f0 = atomic_load(&g_fallback);
    int fd = dial();
    for (int i = 0; i < 50; i++) {
        char q[80], want[40];
        int n = snprintf(q, sizeof(q), "GET /lent/0/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        snprintf(want, sizeof(want), "/lent/0/%d", i);
        send_all(fd, q, (size_t)n);
        char *r = read_until(fd, want, 1);
        TT_CONTAINS(r, "HTTP/1.1 200");
        TT_CONTAINS(r, want);
        TT_TRUE(!strstr(r, "Connection: close"));
        free(r);
    }
    close(fd);
    /* the worker counts after its send: the last answer can arrive first */
    for (int i = 0; i < 100 && atomic_load(&g_direct) - d0 < 50; i++)
        usleep(10000);
    TT_EQ(atomic_load(&g_direct) - d0, 50);
    TT_EQ(atomic_load(&g_fallback) - f0, 0);
}

/* A request pipelined behind a lent one takes the loan back: the worker's
 * answer goes through the loop, both in order. */
static void test_lent_pipelined(void)
{
    int f0 = atomic_load(&g_fallback);
    int fd = dial();
    const char reqs[] = "GET /lent/150 HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, reqs, sizeof(reqs) - 1);
    char *r = read_until(fd, "/fast", 1);
    const char *a = strstr(r, "/lent/150"), *b = strstr(r, "/fast");
    TT_TRUE(a && b && a < b);
    TT_EQ(count(r, "HTTP/1.1 200"), 2);
    free(r);
    close(fd);
    TT_EQ(atomic_load(&g_fallback) - f0, 1);
}

/* The client half-closes, or resets, while its request is lent: the
 * half-closed one still gets its answer and then the close; the reset one
 * is dropped (the conn outlives the loan); the server keeps serving. */
static void test_lent_eof_and_reset(void)
{
    int fd = dial();
    send_str(fd, "GET /lent/100 HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(fd, SHUT_WR);
    char *r = read_until(fd, NULL, 0); /* until the server closes */
    TT_CONTAINS(r, "HTTP/1.1 200");
    TT_CONTAINS(r, "/lent/100");
    free(r);
    close(fd);
    int f0 = atomic_load(&g_fallback) + atomic_load(&g_direct);
    int h0 = atomic_load(&g_handed);
    fd = dial();
    send_str(fd, "GET /lent/100 HTTP/1.1\r\nHost: x\r\n\r\n");
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    /* reset only once the server has read the request and handed it on */
    for (int i = 0; i < 300 && atomic_load(&g_handed) == h0; i++)
        usleep(10000);
    TT_EQ(atomic_load(&g_handed) - h0, 1);
    close(fd); /* RST */
    for (int i = 0; i < 100 && atomic_load(&g_fallback) + atomic_load(&g_direct) == f0; i++)
        usleep(10000);
    TT_EQ(atomic_load(&g_fallback) + atomic_load(&g_direct) - f0, 1);
    fd = dial();
    send_str(fd, "GET /lent/0 HTTP/1.1\r\nHost: x\r\n\r\n");
    r = read_until(fd, "/lent/0", 1);
    TT_CONTAINS(r, "/lent/0");
    free(r);
    close(fd);
}

/* An answer larger than the socket takes at once: the worker sends what
 * fits, the loop writes the rest in order, the connection carries on. */
static void test_lent_partial_write(void)
{
    int d0 = atomic_load(&g_direct);
    int fd = dial();
    send_str(fd, "GET /lent/big HTTP/1.1\r\nHost: x\r\n\r\n");
    /* read only once the worker's one send() is over (it met a full socket
     * and posted the rest to the loop) */
    for (int i = 0; i < 300 && atomic_load(&g_direct) == d0; i++)
        usleep(10000);
    TT_EQ(atomic_load(&g_direct) - d0, 1);
    size_t cap = (9u << 20), len = 0;
    char *buf = malloc(cap);
    size_t want = 0;
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        char *eoh = strstr(buf, "\r\n\r\n");
        if (eoh && !want)
            want = (size_t)(eoh + 4 - buf) + ((size_t)8 << 20);
        if (want && len >= want)
            break;
    }
    TT_TRUE(want && len == want);
    TT_CONTAINS(buf, "Content-Length: 8388608");
    TT_TRUE(buf[len - 1] == 'b');
    free(buf);
    send_str(fd, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    char *r = read_until(fd, "/after", 1);
    TT_CONTAINS(r, "HTTP/1.1 200");
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
    TT_RUN(test_lent_keepalive);
    TT_RUN(test_lent_pipelined);
    TT_RUN(test_lent_eof_and_reset);
    TT_RUN(test_lent_partial_write);
    tomo_loop_post(g_loop, stop_cb, NULL);
    pthread_join(th, NULL);
    tomo_pool_free(g_pool);
    tomo_loop_free(g_loop);
    return tt_finish();
}
