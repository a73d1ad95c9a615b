/* net/compress.c: zlib wrappers for request and response bodies. */
#include "compress.h"

#include "../core/common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

static int inflate_with(const char *in, size_t n, size_t max, int window_bits, char **out,
                        size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, window_bits) != Z_OK)
        return TOMO_EINVAL;
    size_t cap = n * 4 + 64 < max + 1 ? n * 4 + 64 : max + 1;
    char *buf = tomo_xmalloc(cap + 1);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    int rc = TOMO_EINVAL;
    for (;;) {
        zs.next_out = (Bytef *)buf + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        int z = inflate(&zs, Z_NO_FLUSH);
        if (zs.total_out > max) {
            rc = TOMO_ETOOBIG;
            break;
        }
        if (z == Z_STREAM_END) {
            rc = 0;
            break;
        }
        if (z != Z_OK && z != Z_BUF_ERROR)
            break;
        if (zs.avail_out == 0) {
            if (cap > max) {
                rc = TOMO_ETOOBIG;
                break;
            }
            cap = cap * 2 < max + 1 ? cap * 2 : max + 1;
            buf = tomo_xrealloc(buf, cap + 1);
            continue;
        }
        if (zs.avail_in == 0)
            break; /* truncated stream */
    }
    if (rc == 0) {
        buf[zs.total_out] = '\0';
        *out = buf;
        *outlen = zs.total_out;
    } else {
        free(buf);
    }
    inflateEnd(&zs);
    return rc;
}

int tomo_http_inflate(const char *in, size_t n, size_t max, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    /* 32+15: zlib or gzip header, detected automatically. */
    int rc = inflate_with(in, n, max, 32 + MAX_WBITS, out, outlen);
    if (rc == TOMO_EINVAL) /* some clients send raw deflate for "deflate" */
        rc = inflate_with(in, n, max, -MAX_WBITS, out, outlen);
    return rc;
}

int tomo_http_gzip(const char *in, size_t n, char **out, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* Level 1: most of the size win at a fraction of the CPU. */
    if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return TOMO_EINVAL;
    size_t cap = deflateBound(&zs, (uLong)n);
    char *buf = tomo_xmalloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    int z = deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    if (z != Z_STREAM_END) {
        free(buf);
        return TOMO_EINVAL;
    }
    *out = buf;
    *outlen = zs.total_out;
    return 0;
}

int tomo_http_accepts_gzip(const char *ae)
{
    if (!ae)
        return 0;
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t tl = (size_t)(p - tok);
        int match = (tl == 4 && !strncasecmp(tok, "gzip", 4)) || (tl == 1 && *tok == '*');
        double q = 1;
        while (*p && *p != ',') {
            if (*p == ';') {
                p++;
                while (*p == ' ')
                    p++;
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
                    q = strtod(p + 2, NULL);
            } else {
                p++;
            }
        }
        if (match && q > 0)
            return 1;
    }
    return 0;
}
