/* core/jwt.c: HS256 sign and verify with OpenSSL HMAC. */
#include "jwt.h"

#include "codec_util.h"
#include "common.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; /* {"alg":"HS256","typ":"JWT"} */

void tomo_jwt_hmac_sha256(const char *key, size_t keylen, const char *data, size_t n,
                          uint8_t out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, n, out, &len);
}

char *tomo_jwt_sign(const json_t *claims, const char *key, size_t keylen)
{
    char *payload = json_dumps(claims, JSON_COMPACT);
    char *tok = tomo_jwt_sign_payload(payload, strlen(payload), key, keylen);
    free(payload);
    return tok;
}

char *tomo_jwt_sign_payload(const char *payload, size_t n, const char *key, size_t keylen)
{
    char *p64 = tomo_b64_encode(payload, n, 1);
    char *signing = tomo_xasprintf("%s.%s", header_b64, p64);
    free(p64);
    uint8_t mac[32];
    tomo_jwt_hmac_sha256(key, keylen, signing, strlen(signing), mac);
    char *s64 = tomo_b64_encode(mac, sizeof(mac), 1);
    char *tok = tomo_xasprintf("%s.%s", signing, s64);
    free(signing);
    free(s64);
    return tok;
}

int tomo_jwt_verify(const char *token, const char *key, size_t keylen, long long now_sec,
                    json_t **claims_out)
{
    *claims_out = NULL;
    const char *d1 = strchr(token, '.');
    if (!d1)
        return TOMO_EINVAL;
    const char *d2 = strchr(d1 + 1, '.');
    if (!d2 || strchr(d2 + 1, '.'))
        return TOMO_EINVAL;
    /* Header must say HS256 (never "none"). */
    uint8_t *hdr = NULL;
    size_t hl = 0;
    if (tomo_b64_decode(token, (size_t)(d1 - token), &hdr, &hl) < 0)
        return TOMO_EINVAL;
    json_t *h = json_loadb((const char *)hdr, hl, 0, NULL);
    free(hdr);
    const char *alg = h ? json_string_value(json_object_get(h, "alg")) : NULL;
    int alg_ok = alg && !strcmp(alg, "HS256");
    json_decref(h);
    if (!alg_ok)
        return TOMO_EINVAL;

    uint8_t mac[32];
    tomo_jwt_hmac_sha256(key, keylen, token, (size_t)(d2 - token), mac);
    uint8_t *sig = NULL;
    size_t sl = 0;
    if (tomo_b64_decode(d2 + 1, strlen(d2 + 1), &sig, &sl) < 0)
        return TOMO_EINVAL;
    int ok = tomo_ct_equal(sig, sl, mac, sizeof(mac));
    free(sig);
    if (!ok)
        return TOMO_EINVAL;

    uint8_t *pl = NULL;
    size_t pn = 0;
    if (tomo_b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), &pl, &pn) < 0)
        return TOMO_EINVAL;
    json_t *claims = json_loadb((const char *)pl, pn, 0, NULL);
    free(pl);
    if (!claims || !json_is_object(claims)) {
        json_decref(claims);
        return TOMO_EINVAL;
    }
    json_t *exp = json_object_get(claims, "exp");
    if (!json_is_integer(exp) && !json_is_real(exp)) {
        json_decref(claims);
        return TOMO_EINVAL;
    }
    long long e;
    if (json_is_integer(exp)) {
        e = json_integer_value(exp);
    } else {
        /* A real outside long long's range (or NaN) would be undefined to
         * convert; anything that large is far future, NaN never valid. */
        double r = json_real_value(exp);
        if (r != r) {
            json_decref(claims);
            return TOMO_EINVAL;
        }
        e = r >= 9.2e18 ? LLONG_MAX : r <= -9.2e18 ? LLONG_MIN : (long long)r;
    }
    if (e <= now_sec) {
        json_decref(claims);
        return TOMO_ETIMEOUT;
    }
    *claims_out = claims;
    return 0;
}

char *tomo_jwt_sign_rs256(const json_t *claims, const char *pem, char *why, size_t why_cap)
{
    static const char rs_header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        snprintf(why, why_cap, "%s", key ? "not an RSA key" : "no valid blocks found");
        EVP_PKEY_free(key);
        return NULL;
    }
    char *payload = json_dumps(claims, JSON_COMPACT);
    char *h64 = tomo_b64_encode(rs_header, sizeof(rs_header) - 1, 1);
    char *p64 = tomo_b64_encode(payload, strlen(payload), 1);
    char *signing = tomo_xasprintf("%s.%s", h64, p64);
    free(payload);
    free(h64);
    free(p64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t sl = (size_t)EVP_PKEY_size(key);
    unsigned char *sig = tomo_xmalloc(sl);
    char *tok = NULL;
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(md, sig, &sl, (const unsigned char *)signing, strlen(signing)) == 1) {
        char *s64 = tomo_b64_encode(sig, sl, 1);
        tok = tomo_xasprintf("%s.%s", signing, s64);
        free(s64);
    } else {
        snprintf(why, why_cap, "signing failed");
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    free(sig);
    free(signing);
    return tok;
}
