/* net/tls.c: server TLS contexts and the TLS stream type (OpenSSL over
 * memory BIOs: ciphertext moves through the stream's TCP handle, plaintext
 * goes to and comes from the user's libuv-style callbacks). */
#include "tls.h"

#include "../core/common.h"
#include "../core/log.h"
#include "sock.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tomo_tls {
    char *cert_file, *key_file;
    SSL_CTX *ctx;
    int h2; /* ALPN h2 (the gRPC port) instead of http/1.1 */
    char desc[512];
};

static int g_h2_marker; /* the ALPN callback's arg for h2 contexts */

static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, file, reason);
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    static const unsigned char h11[] = "\x08http/1.1";
    static const unsigned char h2[] = "\x02h2";
    const unsigned char *want = arg ? h2 : h11;
    unsigned wantlen = arg ? sizeof(h2) - 1 : sizeof(h11) - 1;
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, want, wantlen, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *make_ctx(const char *cert, const char *key, int h2, char *desc, size_t desclen,
                         char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_err(err, errlen, "cannot create a TLS context for", cert);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* TLS 1.2: forward secrecy and AEAD only (TLS 1.3 suites are all fine) */
    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, h2 ? (void *)&g_h2_marker : NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ssl_err(err, errlen, "cannot load certificate", cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "cannot load private key", key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errlen, "private key does not match certificate", cert);
        goto fail;
    }
    X509 *x = SSL_CTX_get0_certificate(ctx);
    char subj[256] = "?", until[64] = "?";
    if (x) {
        X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
        BIO *b = BIO_new(BIO_s_mem());
        if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
            int n = BIO_read(b, until, sizeof(until) - 1);
            until[n > 0 ? n : 0] = '\0';
        }
        BIO_free(b);
    }
    snprintf(desc, desclen, "subject=\"%s\" not_after=\"%s\"", subj, until);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

tomo_tls *tomo_tls_new_alpn(const char *cert_file, const char *key_file, int h2, char *err,
                            size_t errlen)
{
    tomo_tls *t = tomo_xcalloc(1, sizeof(*t));
    t->cert_file = tomo_xstrdup(cert_file);
    t->key_file = tomo_xstrdup(key_file);
    t->h2 = h2;
    t->ctx = make_ctx(cert_file, key_file, h2, t->desc, sizeof(t->desc), err, errlen);
    if (!t->ctx) {
        tomo_tls_free(t);
        return NULL;
    }
    return t;
}

tomo_tls *tomo_tls_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    return tomo_tls_new_alpn(cert_file, key_file, 0, err, errlen);
}

int tomo_tls_reload(tomo_tls *t, char *err, size_t errlen)
{
    char desc[sizeof(t->desc)];
    SSL_CTX *n = make_ctx(t->cert_file, t->key_file, t->h2, desc, sizeof(desc), err, errlen);
    if (!n)
        return TOMO_EINVAL;
    /* open connections hold their own reference to the old context */
    SSL_CTX_free(t->ctx);
    t->ctx = n;
    memcpy(t->desc, desc, sizeof(desc));
    return 0;
}

const char *tomo_tls_describe(tomo_tls *t) { return t->desc; }

void *tomo_tls_ctx(tomo_tls *t) { return t->ctx; }

void tomo_tls_free(tomo_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}

/* ---- the TLS stream ---- */

typedef struct tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    uv_alloc_cb alloc;
    uv_read_cb read_cb;
    uv_close_cb user_close;
    uv_timer_t drain; /* delivers buffered plaintext after a read_start */
    uint8_t reading, tcp_reading, drain_init, closing, parts, done;
} tls_conn;

typedef struct twreq {
    uv_write_t w;
    char *data;
    uv_write_t *user;
    uv_write_cb cb;
} twreq;

void tomo_tls_stream_attach(tomo_sock *s, tomo_tls *tls);

void tomo_tls_stream_attach(tomo_sock *s, tomo_tls *tls)
{
    tls_conn *t = tomo_xcalloc(1, sizeof(*t));
    t->ssl = SSL_new(tls->ctx);
    if (!t->ssl)
        abort(); /* out of memory */
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    s->tls = t;
    s->type = &tomo_sock_tls;
}

static void on_wr(uv_write_t *w, int status)
{
    twreq *r = (twreq *)w;
    free(r->data);
    if (r->cb)
        r->cb(r->user, status);
    free(r);
}

/* Send whatever ciphertext OpenSSL produced; user's req/cb (may be NULL)
 * complete with it. Returns 0 or a libuv error (then cb is not called). */
static int flush_out(tomo_sock *s, uv_write_t *user, uv_write_cb cb)
{
    tls_conn *t = s->tls;
    size_t n = (size_t)BIO_ctrl_pending(t->wbio);
    if (!n && !cb)
        return 0;
    twreq *r = tomo_xcalloc(1, sizeof(*r));
    r->data = tomo_xmalloc(n ? n : 1);
    if (n && BIO_read(t->wbio, r->data, (int)n) != (int)n)
        abort(); /* a memory BIO hands back what it holds */
    r->user = user;
    r->cb = cb;
    if (user)
        user->handle = (uv_stream_t *)&s->tcp;
    uv_buf_t b = uv_buf_init(r->data, (unsigned)n);
    int rc = uv_write(&r->w, (uv_stream_t *)&s->tcp, &b, 1, on_wr);
    if (rc < 0) {
        free(r->data);
        free(r);
    }
    return rc;
}

static void deliver_error(tomo_sock *s, ssize_t code)
{
    tls_conn *t = s->tls;
    if (!t->reading || t->closing || t->done)
        return;
    t->done = 1;
    uv_buf_t b = uv_buf_init(NULL, 0);
    t->read_cb((uv_stream_t *)&s->tcp, code, &b);
}

/* Run the handshake, then hand plaintext to the user while it reads. */
static void pump(tomo_sock *s)
{
    tls_conn *t = s->tls;
    if (t->closing || t->done)
        return;
    if (!SSL_is_init_finished(t->ssl)) {
        int r = SSL_do_handshake(t->ssl);
        flush_out(s, NULL, NULL);
        if (r <= 0) {
            int e = SSL_get_error(t->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            unsigned long why = ERR_peek_error();
            char reason[160] = "";
            if (why)
                ERR_error_string_n(why, reason, sizeof(reason));
            ERR_clear_error();
            TOMO_LOGD(TOMO_NET, "tls handshake failed error=%s", reason);
            deliver_error(s, UV_EPROTO);
            return;
        }
    }
    while (t->reading && !t->closing && !t->done) {
        uv_buf_t b = uv_buf_init(NULL, 0);
        t->alloc((uv_handle_t *)&s->tcp, 65536, &b);
        if (!b.base || !b.len) {
            t->read_cb((uv_stream_t *)&s->tcp, UV_ENOBUFS, &b);
            return;
        }
        int r = SSL_read(t->ssl, b.base, (int)b.len);
        if (r > 0) {
            t->read_cb((uv_stream_t *)&s->tcp, r, &b);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        flush_out(s, NULL, NULL); /* post-handshake messages, alerts */
        if (e == SSL_ERROR_WANT_READ) {
            t->read_cb((uv_stream_t *)&s->tcp, 0, &b); /* gives the buffer back */
            return;
        }
        ERR_clear_error();
        t->done = 1;
        t->read_cb((uv_stream_t *)&s->tcp, e == SSL_ERROR_ZERO_RETURN ? UV_EOF : UV_EPROTO, &b);
        return;
    }
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static _Thread_local char buf[65536];
    *b = uv_buf_init(buf, sizeof(buf));
}

static void tcp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    tomo_sock *s = (tomo_sock *)st;
    tls_conn *t = s->tls;
    if (n < 0) {
        deliver_error(s, n);
        return;
    }
    if (n == 0 || t->closing)
        return;
    BIO_write(t->rbio, b->base, (int)n);
    pump(s);
}

static void on_drain(uv_timer_t *tm)
{
    pump(tm->data);
}

static int s_read_start(tomo_sock *s, uv_alloc_cb a, uv_read_cb cb)
{
    tls_conn *t = s->tls;
    t->alloc = a;
    t->read_cb = cb;
    t->reading = 1;
    if (!t->tcp_reading) {
        int rc = uv_read_start((uv_stream_t *)&s->tcp, tcp_alloc, tcp_read);
        if (rc < 0)
            return rc;
        t->tcp_reading = 1;
    }
    /* plaintext or ciphertext held back while the user was not reading */
    if (SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->rbio) > 0) {
        if (!t->drain_init) {
            uv_timer_init(s->tcp.loop, &t->drain);
            t->drain.data = s;
            t->drain_init = 1;
        }
        uv_timer_start(&t->drain, on_drain, 0, 0);
    }
    return 0;
}

static int s_read_stop(tomo_sock *s)
{
    tls_conn *t = s->tls;
    t->reading = 0;
    if (t->drain_init)
        uv_timer_stop(&t->drain);
    if (t->tcp_reading) {
        t->tcp_reading = 0;
        return uv_read_stop((uv_stream_t *)&s->tcp);
    }
    return 0;
}

static int s_write(tomo_sock *s, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                   uv_write_cb cb)
{
    tls_conn *t = s->tls;
    if (t->closing || !SSL_is_init_finished(t->ssl))
        return UV_ENOTCONN;
    for (unsigned i = 0; i < n; i++) {
        if (!bufs[i].len)
            continue;
        /* a memory BIO takes everything: SSL_write completes or fails */
        if (SSL_write(t->ssl, bufs[i].base, (int)bufs[i].len) <= 0) {
            ERR_clear_error();
            return UV_EPROTO;
        }
    }
    return flush_out(s, req, cb);
}

static int s_try_write(tomo_sock *s, const uv_buf_t *bufs, unsigned n)
{
    (void)s;
    (void)bufs;
    (void)n;
    return UV_EAGAIN; /* callers queue with tomo_sock_write */
}

static int s_shutdown(tomo_sock *s, uv_shutdown_t *req, uv_shutdown_cb cb)
{
    tls_conn *t = s->tls;
    if (SSL_is_init_finished(t->ssl) && !t->closing) {
        SSL_shutdown(t->ssl); /* close_notify */
        ERR_clear_error();
        flush_out(s, NULL, NULL);
    }
    return uv_shutdown(req, (uv_stream_t *)&s->tcp, cb);
}

static void part_closed(uv_handle_t *h)
{
    tomo_sock *s = h->type == UV_TIMER ? h->data : (tomo_sock *)h;
    tls_conn *t = s->tls;
    if (--t->parts)
        return;
    uv_close_cb cb = t->user_close;
    SSL_free(t->ssl);
    free(t);
    s->tls = NULL;
    if (cb)
        cb((uv_handle_t *)&s->tcp);
}

static void s_close(tomo_sock *s, uv_close_cb cb)
{
    tls_conn *t = s->tls;
    if (t->closing)
        return;
    t->closing = 1;
    t->user_close = cb;
    t->parts = 1;
    if (t->drain_init) {
        t->parts++;
        uv_close((uv_handle_t *)&t->drain, part_closed);
    }
    uv_close((uv_handle_t *)&s->tcp, part_closed);
}

const tomo_sock_type tomo_sock_tls = {
    .name = "tls",
    .read_start = s_read_start,
    .read_stop = s_read_stop,
    .write = s_write,
    .try_write = s_try_write,
    .shutdown = s_shutdown,
    .close = s_close,
};
