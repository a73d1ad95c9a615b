/* net/compress.h: HTTP content coding (gzip / deflate) with zlib.
 * Owns: nothing; pure functions.
 * Threads: any (the API runs them on workers, never on the loop thread). */
#ifndef TOMO_NET_COMPRESS_H
#define TOMO_NET_COMPRESS_H

#include <stddef.h>

/* Bodies smaller than this are sent as they are: compressing a few hundred
 * bytes costs more CPU than it saves on the wire. */
#define TOMO_HTTP_GZIP_MIN_BYTES 1024

/* Decode a request body sent with Content-Encoding gzip or deflate (zlib or
 * raw deflate streams are both accepted). At most max bytes are produced:
 * more is TOMO_ETOOBIG (a small bomb must not inflate past the request
 * limit). Corrupt data is TOMO_EINVAL. *out is heap (free()), NUL-terminated. */
int tomo_http_inflate(const char *in, size_t n, size_t max, char **out, size_t *outlen);

/* gzip-encode a response body; *out is heap. Returns 0 or TOMO_EINVAL. */
int tomo_http_gzip(const char *in, size_t n, char **out, size_t *outlen);

/* 1 if an Accept-Encoding header value allows gzip (q=0 excluded). */
int tomo_http_accepts_gzip(const char *accept_encoding);

#endif
