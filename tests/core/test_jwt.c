/* tests/core/test_jwt.c: HS256 sign/verify, tampering, expiry, alg checks. */
#include "core/codec_util.h"
#include "core/common.h"
#include "core/jwt.h"
#include "tt.h"

#include <stdlib.h>

static void test_roundtrip(void)
{
    json_t *c = json_pack("{s:s,s:s,s:I}", "uid", "u1", "usn", "bob", "exp", (json_int_t)4000000000);
    char *tok = tomo_jwt_sign(c, "k", 1);
    json_t *out = NULL;
    TT_OK(tomo_jwt_verify(tok, "k", 1, 1000, &out));
    TT_STR_EQ(json_string_value(json_object_get(out, "usn")), "bob");
    json_decref(out);
    TT_EQ(tomo_jwt_verify(tok, "other", 5, 1000, &out), TOMO_EINVAL);
    TT_EQ(tomo_jwt_verify(tok, "k", 1, 4000000001LL, &out), TOMO_ETIMEOUT);
    /* flip a payload byte */
    char *dot = strchr(tok, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    TT_EQ(tomo_jwt_verify(tok, "k", 1, 1000, &out), TOMO_EINVAL);
    free(tok);
    /* a pre-formatted payload signs to the same token */
    char *a = tomo_jwt_sign(c, "k", 1);
    char *p = json_dumps(c, JSON_COMPACT);
    char *b = tomo_jwt_sign_payload(p, strlen(p), "k", 1);
    TT_STR_EQ(a, b);
    free(a);
    free(b);
    free(p);
    json_decref(c);
}

static void test_known_vector(void)
{
    /* A token made with a different library (python's hmac + base64) for the
     * claims {"exp":4000000000,"uid":"x"} and key "secret". */
    const char *tok = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                      "eyJleHAiOjQwMDAwMDAwMDAsInVpZCI6IngifQ."
                      "idDvVP6iXkOgv01g2xLH-gJjyvEYaUrIFMbImMI8upA";
    json_t *out = NULL;
    TT_OK(tomo_jwt_verify(tok, "secret", 6, 1000, &out));
    TT_STR_EQ(json_string_value(json_object_get(out, "uid")), "x");
    json_decref(out);
    TT_EQ(tomo_jwt_verify(tok, "secreT", 6, 1000, &out), TOMO_EINVAL);
}

static void test_malformed(void)
{
    const char *bad[] = {"", "a", "a.b", "a.b.c.d", "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.",
                         "!!!.###.$$$"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *out = NULL;
        TT_EQ(tomo_jwt_verify(bad[i], "k", 1, 0, &out), TOMO_EINVAL);
        TT_TRUE(out == NULL);
    }
}

static void test_real_exp(void)
{
    /* exp as a JSON real: in range it counts as seconds; far beyond long
     * long's range it is far future (not undefined behaviour); NaN-like
     * values cannot be written in JSON, so only the ranges are tested. */
    const char *payloads[] = {"{\"exp\":4000000000.5}", "{\"exp\":1e25}", "{\"exp\":-1e25}"};
    int want[] = {0, 0, TOMO_ETIMEOUT};
    for (size_t i = 0; i < 3; i++) {
        char *tok = tomo_jwt_sign_payload(payloads[i], strlen(payloads[i]), "k", 1);
        json_t *out = NULL;
        TT_EQ(tomo_jwt_verify(tok, "k", 1, 1000, &out), want[i]);
        json_decref(out);
        free(tok);
    }
}

static void test_b64(void)
{
    char *e = tomo_b64_encode("hello?", 6, 0);
    TT_STR_EQ(e, "aGVsbG8/");
    uint8_t *d;
    size_t n;
    TT_OK(tomo_b64_decode("aGVsbG8_", 8, &d, &n));
    TT_STR_EQ((char *)d, "hello?");
    free(d);
    TT_OK(tomo_b64_decode("aGk", 3, &d, &n)); /* unpadded */
    TT_STR_EQ((char *)d, "hi");
    free(d);
    TT_EQ(tomo_b64_decode("a", 1, &d, &n), TOMO_EINVAL);
    free(e);
    char u[37];
    tomo_uuid_v5_dns("example.com", 11, u);
    TT_STR_EQ(u, "cfbff0d1-9375-5685-968c-48ce8b15ae17");
    tomo_uuid_v4(u);
    TT_TRUE(tomo_uuid_valid(u));
    TT_TRUE(!tomo_uuid_valid("not-a-uuid"));
}

int main(void)
{
    TT_RUN(test_roundtrip);
    TT_RUN(test_known_vector);
    TT_RUN(test_malformed);
    TT_RUN(test_real_exp);
    TT_RUN(test_b64);
    return tt_finish();
}
