/* core/codec_util.c: base64, hex, UUIDs. */
#include "codec_util.h"

#include "common.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <string.h>
#include <uuid/uuid.h>

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t tomo_b64_encoded_len(size_t n, int url)
{
    return url ? n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0) : (n + 2) / 3 * 4;
}

size_t tomo_b64_encode_to(const void *vp, size_t n, int url, char *out)
{
    const uint8_t *p = vp;
    const char *tab = url ? b64url : b64std;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tab[(v >> 6) & 63];
        else if (!url)
            out[o++] = '=';
        if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

char *tomo_b64_encode(const void *p, size_t n, int url)
{
    char *out = tomo_xmalloc(tomo_b64_encoded_len(n, url) + 1);
    tomo_b64_encode_to(p, n, url, out);
    return out;
}

static int b64val(int c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

size_t tomo_b64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

int tomo_b64_decode_to(const char *s, size_t n, uint8_t *out, size_t *outlen)
{
    /* protojson's rule: '-' or '_' selects the URL alphabet (the two are
     * never mixed); a length that is a multiple of 4 may end in one or two
     * '=', any other length is unpadded. */
    int url = memchr(s, '-', n) != NULL || memchr(s, '_', n) != NULL;
    if (n % 4 == 0) {
        if (n >= 1 && s[n - 1] == '=')
            n--;
        if (n >= 1 && s[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return TOMO_EINVAL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i], url);
        if (v < 0)
            return TOMO_EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *outlen = o;
    return 0;
}

int tomo_b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    uint8_t *buf = tomo_xmalloc(tomo_b64_decoded_max(n) + 1);
    size_t o = 0;
    if (tomo_b64_decode_to(s, n, buf, &o) < 0) {
        free(buf);
        return TOMO_EINVAL;
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

/* ---- percent-encoding ---- */

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t tomo_pct_decode_to(const char *s, size_t n, int plus_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (plus_space && s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexv((unsigned char)s[i + 1]) >= 0 &&
                   hexv((unsigned char)s[i + 2]) >= 0) {
            out[o++] = (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

char *tomo_pct_decode(const char *s, size_t n, int plus_space)
{
    char *out = tomo_xmalloc(n + 1);
    tomo_pct_decode_to(s, n, plus_space, out);
    return out;
}

char *tomo_query_get(const char *q, const char *name)
{
    size_t nl = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        if (kl == nl && !memcmp(q, name, nl))
            return eq ? tomo_pct_decode(eq + 1, len - kl - 1, 1) : tomo_xstrdup("");
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

void tomo_hex(const void *vp, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    const uint8_t *p = vp;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[p[i] >> 4];
        out[2 * i + 1] = h[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void tomo_uuid_v4(char out[37])
{
    uint8_t b[16];
    tomo_random_bytes(b, sizeof(b));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    uuid_unparse_lower(b, out);
}

static pthread_mutex_t v7_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t v7_last_ms;
static uint32_t v7_seq;

int64_t tomo_uuid_v7(char out[37])
{
    uint8_t b[16];
    tomo_random_bytes(b, sizeof(b));
    uint64_t ms = (uint64_t)tomo_now_ms();
    pthread_mutex_lock(&v7_lock);
    /* Never step back and count within a millisecond; when the 12-bit
     * counter runs out, borrow the next millisecond. */
    if (ms <= v7_last_ms) {
        ms = v7_last_ms;
        if (++v7_seq > 0xFFF) {
            ms++;
            v7_seq = 0;
        }
    } else {
        v7_seq = 0;
    }
    v7_last_ms = ms;
    uint32_t seq = v7_seq;
    pthread_mutex_unlock(&v7_lock);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | ((seq >> 8) & 0x0F));
    b[7] = (uint8_t)(seq & 0xFF);
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3F));
    uuid_unparse_lower(b, out);
    return (int64_t)ms;
}

void tomo_uuid_v1(char out[37])
{
    uuid_t u;
    uuid_generate_time(u);
    uuid_unparse_lower(u, out);
}

void tomo_uuid_v5_dns(const char *name, size_t n, char out[37])
{
    /* RFC 4122 DNS namespace 6ba7b810-9dad-11d1-80b4-00c04fd430c8 */
    static const uint8_t ns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, ns, sizeof(ns));
    EVP_DigestUpdate(ctx, name, n);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    md[6] = (uint8_t)((md[6] & 0x0f) | 0x50);
    md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
    uuid_unparse_lower(md, out);
}

int tomo_uuid_valid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

json_t *tomo_query_params(const char *q)
{
    json_t *obj = json_object();
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t kl = eq ? (size_t)(eq - q) : len;
            char *k = tomo_pct_decode(q, kl, 1);
            char *v = eq ? tomo_pct_decode(eq + 1, len - kl - 1, 1) : tomo_xstrdup("");
            json_t *arr = json_object_get(obj, k);
            if (!arr) {
                arr = json_array();
                json_object_set_new(obj, k, arr);
            }
            json_t *sv = json_string(v); /* NULL for invalid UTF-8 */
            json_array_append_new(arr, sv ? sv : json_string(""));
            free(k);
            free(v);
        }
        q = amp ? amp + 1 : NULL;
    }
    return obj;
}
