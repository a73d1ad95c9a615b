/* svc/storage_util.c: cursor codec, value syntax check and version hash for
 * the storage API. */
#include "storage_util.h"

#include "../core/codec_util.h"
#include "../core/common.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- cursor ----
 * Layout before base64url: format byte (1), read byte, 8-byte scope tag,
 * the owner UUID of the last row as 16 bytes, then the key of the last row
 * (the rest). The position is a sort key, not an offset, so a page boundary
 * stays put while other clients insert or delete rows. The scope tag binds the
 * cursor to its listing (mode, collection, owner) without carrying them. */

#define CURSOR_FORMAT 1
#define CURSOR_HEAD 26

static void scope_tag(int mode, const char *collection, const char *owner, uint8_t tag[8])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (!x)
        abort();
    uint8_t m = (uint8_t)mode, zero = 0;
    EVP_DigestInit_ex(x, EVP_md5(), NULL);
    EVP_DigestUpdate(x, &m, 1);
    EVP_DigestUpdate(x, collection, strlen(collection));
    EVP_DigestUpdate(x, &zero, 1);
    if (owner)
        EVP_DigestUpdate(x, owner, strlen(owner));
    EVP_DigestFinal_ex(x, md, &mdlen);
    EVP_MD_CTX_free(x);
    memcpy(tag, md, 8);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int uuid_to_bytes(const char *s, uint8_t out[16])
{
    if (!s || !tomo_uuid_valid(s))
        return TOMO_EINVAL;
    size_t o = 0;
    for (size_t i = 0; s[i] && o < 16; i++) {
        if (s[i] == '-')
            continue;
        out[o++] = (uint8_t)(hexval(s[i]) * 16 + hexval(s[i + 1]));
        i++;
    }
    return 0;
}

static void bytes_to_uuid(const uint8_t b[16], char out[37])
{
    char hex[33];
    tomo_hex(b, 16, hex);
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
}

char *tomo_storage_cursor_encode(int mode, const char *collection, const char *owner, int read,
                                 const char *key, const char *user_id)
{
    size_t klen = strlen(key);
    uint8_t *buf = tomo_xmalloc(CURSOR_HEAD + klen);
    char *out = NULL;
    buf[0] = CURSOR_FORMAT;
    buf[1] = (uint8_t)read;
    scope_tag(mode, collection, owner, buf + 2);
    if (uuid_to_bytes(user_id, buf + 10) < 0)
        goto out;
    memcpy(buf + CURSOR_HEAD, key, klen);
    out = tomo_b64_encode(buf, CURSOR_HEAD + klen, 1);
out:
    free(buf);
    return out;
}

int tomo_storage_cursor_decode(const char *text, int mode, const char *collection,
                               const char *owner, tomo_storage_cursor *out)
{
    uint8_t *b = NULL;
    size_t n = 0;
    int rc = TOMO_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!text || !*text || tomo_b64_decode(text, strlen(text), &b, &n) < 0)
        goto out;
    if (n <= CURSOR_HEAD || n > CURSOR_HEAD + TOMO_STORAGE_MAX_NAME_BYTES || b[0] != CURSOR_FORMAT)
        goto out;
    uint8_t tag[8];
    scope_tag(mode, collection, owner, tag);
    if (memcmp(tag, b + 2, 8))
        goto out;
    /* Only positions the listing itself can produce: a client listing never
     * sees read 0, and the public listings see read 2 only (the system's
     * listings see every read value). Anything else is
     * forged and could otherwise widen the keyset range. */
    int read = b[1];
    int lo = mode == TOMO_STORAGE_LIST_OWN                                     ? 1
             : mode == TOMO_STORAGE_LIST_ALL || mode == TOMO_STORAGE_LIST_OWNER ? 0
                                                                                : 2;
    if (read < lo || read > 2)
        goto out;
    if (memchr(b + CURSOR_HEAD, '\0', n - CURSOR_HEAD))
        goto out;
    out->read = read;
    bytes_to_uuid(b + 10, out->user_id);
    out->key = tomo_xstrndup((const char *)b + CURSOR_HEAD, n - CURSOR_HEAD);
    rc = 0;
out:
    free(b);
    return rc;
}

void tomo_storage_cursor_clear(tomo_storage_cursor *c)
{
    if (!c)
        return;
    free(c->key);
    c->key = NULL;
}

/* ---- value syntax check ----
 * Recursive descent over the text; depth is capped so a hostile value cannot
 * exhaust the worker's stack (1 MiB). */

#define MAX_DEPTH 512

typedef struct scan {
    const unsigned char *p, *end;
    int depth;
} scan;

static int value(scan *s);

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int expect(scan *s, int c)
{
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

static int literal(scan *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
        return 0;
    s->p += n;
    return 1;
}

static int string(scan *s)
{
    if (!expect(s, '"'))
        return 0;
    while (s->p < s->end) {
        unsigned char c = *s->p++;
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return 0;
        c = *s->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++)
                if (s->p >= s->end || hexval(*s->p++) < 0)
                    return 0;
        } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
            return 0;
        }
    }
    return 0;
}

static int digits(scan *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

static int number(scan *s)
{
    expect(s, '-');
    if (expect(s, '0')) {
        /* no leading zeros */
    } else if (!digits(s)) {
        return 0;
    }
    if (expect(s, '.') && !digits(s))
        return 0;
    if (expect(s, 'e') || expect(s, 'E')) {
        if (!expect(s, '+'))
            expect(s, '-');
        if (!digits(s))
            return 0;
    }
    return 1;
}

/* '{' or '[' already current; close is '}' or ']'. */
static int container(scan *s, int close)
{
    if (++s->depth > MAX_DEPTH)
        return 0;
    s->p++;
    skip_ws(s);
    if (expect(s, close)) {
        s->depth--;
        return 1;
    }
    for (;;) {
        if (close == '}') {
            if (!string(s))
                return 0;
            skip_ws(s);
            if (!expect(s, ':'))
                return 0;
        }
        if (!value(s))
            return 0;
        skip_ws(s);
        if (expect(s, close))
            break;
        if (!expect(s, ','))
            return 0;
        skip_ws(s);
    }
    s->depth--;
    return 1;
}

/* One value, leading whitespace allowed. */
static int value(scan *s)
{
    skip_ws(s);
    if (s->p >= s->end)
        return 0;
    switch (*s->p) {
    case '{': return container(s, '}');
    case '[': return container(s, ']');
    case '"': return string(s);
    case 't': return literal(s, "true");
    case 'f': return literal(s, "false");
    case 'n': return literal(s, "null");
    default: return number(s);
    }
}

int tomo_storage_value_is_object(const char *str, size_t n)
{
    scan s = {(const unsigned char *)str, (const unsigned char *)str + n, 0};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return 0;
    if (!value(&s))
        return 0;
    skip_ws(&s);
    return s.p == s.end;
}

/* ---- version ---- */

void tomo_storage_version(const char *value, size_t n, char out[33])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(value, n, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
        abort(); /* only fails on allocation failure, which aborts everywhere */
    tomo_hex(md, 16, out);
}
