/* net/tls.h: server TLS (OpenSSL): certificate, key and protocol settings.
 * Owns: tomo_tls, the current SSL_CTX. A reload builds a new context and
 *       swaps it in: new connections use it, open ones keep the one they
 *       started with (each SSL holds a reference), so nothing is dropped.
 * Threads: loop thread (new connections, reload from the SIGHUP handler).
 *
 * TLS 1.2 and 1.3 only; TLS 1.2 with ECDHE and AEAD ciphers (forward
 * secrecy); no renegotiation, no compression; ALPN "http/1.1" (or "h2" for
 * the gRPC port). */
#ifndef TOMO_NET_TLS_H
#define TOMO_NET_TLS_H

#include <stddef.h>

typedef struct tomo_tls tomo_tls;

/* Load cert_file (PEM, leaf first, then the chain) and key_file (PEM).
 * NULL with a message naming the file and OpenSSL's reason in err. */
tomo_tls *tomo_tls_new(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* The same with ALPN "h2" only when h2 is non-zero (HTTP/2: the gRPC port). */
tomo_tls *tomo_tls_new_alpn(const char *cert_file, const char *key_file, int h2, char *err,
                            size_t errlen);
/* Load the files again; on failure the current certificate stays and err
 * says why (TOMO_EINVAL). */
int tomo_tls_reload(tomo_tls *t, char *err, size_t errlen);
/* Subject and notAfter of the loaded certificate, for logs (static buffer
 * inside t, valid until the next reload). */
const char *tomo_tls_describe(tomo_tls *t);
/* The current SSL_CTX (an SSL_CTX *; new connections take a reference). */
void *tomo_tls_ctx(tomo_tls *t);
void tomo_tls_free(tomo_tls *t);

#endif
