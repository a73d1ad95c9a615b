/* tests/net/test_ws.c: WebSocket handshake checks, accept key, frames. */
#include "net/ws.h"
#include "tt.h"

#include <stdlib.h>
#include <string.h>

static void test_accept_key(void)
{
    /* RFC 6455 section 1.3 example */
    char out[29];
    tomo_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    TT_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_frames(void)
{
    static const struct {
        size_t n;
        size_t hl;
        uint8_t b1;
    } cases[] = {{0, 2, 0}, {125, 2, 125}, {126, 4, 126}, {65535, 4, 126}, {65536, 10, 127}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = calloc(1, cases[i].n + 1);
        memset(p, 'x', cases[i].n);
        tomo_frame *f = tomo_frame_new(TOMO_WS_TEXT, p, cases[i].n);
        TT_EQ(f->len, cases[i].n + cases[i].hl);
        TT_EQ(f->data[0], 0x81);
        TT_EQ(f->data[1], cases[i].b1);
        size_t n;
        const uint8_t *pl = tomo_frame_payload(f, &n);
        TT_EQ(n, cases[i].n);
        TT_TRUE(n == 0 || memcmp(pl, p, n) == 0);
        if (cases[i].hl == 4)
            TT_EQ((f->data[2] << 8) | f->data[3], cases[i].n);
        TT_EQ(f->refs, 1);
        tomo_frame_ref(f);
        TT_EQ(f->refs, 2);
        tomo_frame_unref(f);
        tomo_frame_unref(f);
        free(p);
    }
    tomo_frame *b = tomo_frame_new(TOMO_WS_BINARY, "\x01\x02", 2);
    TT_EQ(b->data[0], 0x82);
    tomo_frame_unref(b);
    tomo_frame_unref(NULL);
}

/* A frame with the caller's bytes in its block: the frame is the same, the
 * extra bytes aligned, after the payload, writable, freed with the frame
 * (ASan sees an overlap or a leak). */
static void test_frame_extra(void)
{
    size_t sizes[] = {0, 1, 125, 126, 300, 70000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *p = calloc(1, sizes[i] + 1);
        memset(p, 'y', sizes[i]);
        void *extra = NULL;
        tomo_frame *f = tomo_frame_new_extra(TOMO_WS_TEXT, p, sizes[i], 100, &extra);
        tomo_frame *g = tomo_frame_new(TOMO_WS_TEXT, p, sizes[i]);
        TT_EQ(f->len, g->len);
        TT_TRUE(memcmp(f->data, g->data, f->len) == 0);
        TT_TRUE(extra != NULL);
        TT_EQ((uintptr_t)extra % _Alignof(max_align_t), 0);
        TT_TRUE((uint8_t *)extra >= f->data + f->len);
        memset(extra, 0xab, 100);
        size_t n;
        const uint8_t *pl = tomo_frame_payload(f, &n);
        TT_EQ(n, sizes[i]);
        TT_TRUE(n == 0 || memcmp(pl, p, n) == 0);
        tomo_frame_unref(g);
        tomo_frame_unref(f);
        free(p);
    }
    void *none = (void *)1;
    tomo_frame *h = tomo_frame_new_extra(TOMO_WS_BINARY, "a", 1, 0, &none);
    TT_TRUE(none == NULL);
    tomo_frame_unref(h);
}

static tomo_http_header hdrs[8];
static tomo_http_req mkreq(int method, const char *upgrade, const char *conn, const char *ver,
                           const char *key)
{
    tomo_http_req r;
    memset(&r, 0, sizeof(r));
    r.method = method;
    size_t n = 0;
    if (upgrade)
        hdrs[n++] = (tomo_http_header){"upgrade", (char *)upgrade};
    if (conn)
        hdrs[n++] = (tomo_http_header){"connection", (char *)conn};
    if (ver)
        hdrs[n++] = (tomo_http_header){"sec-websocket-version", (char *)ver};
    if (key)
        hdrs[n++] = (tomo_http_header){"sec-websocket-key", (char *)key};
    r.headers = hdrs;
    r.nheaders = n;
    return r;
}

static void test_handshake(void)
{
    const char *k = "dGhlIHNhbXBsZSBub25jZQ==";
    static const struct {
        int method;
        const char *up, *conn, *ver, *key;
        int ok;
        const char *why;
    } cases[] = {
        {TOMO_HTTP_GET, "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", 1, NULL},
        {TOMO_HTTP_GET, "WebSocket", "keep-alive, Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", 1,
         NULL},
        {TOMO_HTTP_POST, "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", 0, "GET"},
        {TOMO_HTTP_GET, NULL, "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", 0, "Upgrade"},
        {TOMO_HTTP_GET, "websocket", "close", "13", "dGhlIHNhbXBsZSBub25jZQ==", 0, "Connection"},
        {TOMO_HTTP_GET, "websocket", "Upgrade", "8", "dGhlIHNhbXBsZSBub25jZQ==", 0, "Version"},
        {TOMO_HTTP_GET, "websocket", "Upgrade", NULL, "dGhlIHNhbXBsZSBub25jZQ==", 0, "Version"},
        {TOMO_HTTP_GET, "websocket", "Upgrade", "13", NULL, 0, "Key"},
        {TOMO_HTTP_GET, "websocket", "Upgrade", "13", "short", 0, "Key"},
        {TOMO_HTTP_GET, "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ=!", 0, "Key"},
    };
    (void)k;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tomo_http_req r = mkreq(cases[i].method, cases[i].up, cases[i].conn, cases[i].ver,
                                cases[i].key);
        const char *why = NULL;
        int rc = tomo_ws_handshake_check(&r, &why);
        TT_EQ(rc == 0, cases[i].ok);
        if (!cases[i].ok)
            TT_CONTAINS(why, cases[i].why);
    }
}

int main(void)
{
    TT_RUN(test_accept_key);
    TT_RUN(test_frames);
    TT_RUN(test_frame_extra);
    TT_RUN(test_handshake);
    return tt_finish();
}
