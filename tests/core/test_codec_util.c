/* tests/core/test_codec_util.c: the one base64, percent-decoder, query
 * reader and connection-string redactor every layer uses. */
#include "core/codec_util.h"
#include "core/common.h"
#include "tt.h"

#include <stdlib.h>
#include <string.h>

static void test_b64_encode(void)
{
    static const struct {
        const char *in, *std, *url;
    } cases[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"\xfb\xff", "+/8=", "-_8"},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        size_t n = strlen(cases[i].in);
        char *a = tomo_b64_encode(cases[i].in, n, 0), *b = tomo_b64_encode(cases[i].in, n, 1);
        TT_STR_EQ(a, cases[i].std);
        TT_STR_EQ(b, cases[i].url);
        TT_EQ(tomo_b64_encoded_len(n, 0), strlen(cases[i].std));
        TT_EQ(tomo_b64_encoded_len(n, 1), strlen(cases[i].url));
        free(a);
        free(b);
    }
}

static void test_b64_decode(void)
{
    static const struct {
        const char *in;
        int ok;
        const char *out;
        size_t outlen;
    } cases[] = {
        {"", 1, "", 0},
        {"Zg==", 1, "f", 1},
        {"Zg", 1, "f", 1},
        {"Zm8=", 1, "fo", 2},
        {"Zm9vYg", 1, "foob", 4},
        {"+/8=", 1, "\xfb\xff", 2},
        {"-_8", 1, "\xfb\xff", 2},
        {"-_8=", 1, "\xfb\xff", 2},
        {"+_8=", 0, NULL, 0},  /* alphabets never mix */
        {"Zg===", 0, NULL, 0}, /* at most two '=' */
        {"Zg=", 0, NULL, 0},   /* padding only on a multiple of 4 */
        {"Z", 0, NULL, 0},
        {"Zm9v!", 0, NULL, 0},
        {"Zm 9v", 0, NULL, 0},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        uint8_t *out = NULL;
        size_t n = 0;
        int rc = tomo_b64_decode(cases[i].in, strlen(cases[i].in), &out, &n);
        if (!cases[i].ok) {
            if (rc != TOMO_EINVAL)
                TT_FAIL("decode(\"%s\") should fail", cases[i].in);
            continue;
        }
        TT_OK(rc);
        TT_EQ(n, cases[i].outlen);
        TT_TRUE(memcmp(out, cases[i].out, n) == 0);
        TT_EQ(out[n], 0);
        free(out);
        /* The buffer variant agrees. */
        uint8_t buf[16];
        TT_TRUE(tomo_b64_decoded_max(strlen(cases[i].in)) <= sizeof(buf));
        TT_OK(tomo_b64_decode_to(cases[i].in, strlen(cases[i].in), buf, &n));
        TT_EQ(n, cases[i].outlen);
    }
}

static void test_pct(void)
{
    static const struct {
        const char *in;
        int plus;
        const char *out;
    } cases[] = {
        {"", 1, ""},
        {"abc", 1, "abc"},
        {"a+b", 1, "a b"},
        {"a+b", 0, "a+b"},
        {"%41%62c", 0, "Abc"},
        {"%2f%2F", 0, "//"},
        {"100%", 1, "100%"},     /* a bare '%' stays */
        {"%4", 1, "%4"},         /* truncated escape stays */
        {"%zz%41", 1, "%zzA"},   /* not hex: stays */
        {"2...my%20room", 0, "2...my room"},
        {"%e2%82%ac", 0, "\xe2\x82\xac"},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        char *o = tomo_pct_decode(cases[i].in, strlen(cases[i].in), cases[i].plus);
        TT_STR_EQ(o, cases[i].out);
        free(o);
        /* In place. */
        char *d = tomo_xstrdup(cases[i].in);
        size_t n = tomo_pct_decode_to(d, strlen(d), cases[i].plus, d);
        TT_EQ(n, strlen(cases[i].out));
        TT_STR_EQ(d, cases[i].out);
        free(d);
    }
    /* %00 decodes to a NUL byte: the length says so. */
    char buf[8];
    TT_EQ(tomo_pct_decode_to("a%00b", 5, 0, buf), 3);
    TT_EQ(buf[1], 0);
}

static void test_query(void)
{
    const char *q = "token=a%2Bb+c&format=protobuf&status&lang=&x=1&token=second";
    char *v = tomo_query_get(q, "token");
    TT_STR_EQ(v, "a+b c"); /* first value wins */
    free(v);
    v = tomo_query_get(q, "format");
    TT_STR_EQ(v, "protobuf");
    free(v);
    v = tomo_query_get(q, "status");
    TT_STR_EQ(v, "");
    free(v);
    v = tomo_query_get(q, "lang");
    TT_STR_EQ(v, "");
    free(v);
    TT_TRUE(tomo_query_get(q, "missing") == NULL);
    TT_TRUE(tomo_query_get(q, "tok") == NULL); /* whole names only */
    TT_TRUE(tomo_query_get(NULL, "token") == NULL);
    TT_TRUE(tomo_query_get("", "token") == NULL);
}

static void test_redact(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"postgres://u:pw123@h:5432/db", "postgres://u:<redacted>@h:5432/db"},
        {"postgres://u@h/db?password=hunter2", "postgres://u@h/db?password=<redacted>"},
        {"postgres://u@h/db?sslmode=disable&password=hunter2&x=1",
         "postgres://u@h/db?sslmode=disable&password=<redacted>&x=1"},
        {"postgres://u:a@h/db?PASSWORD=b&sslpassword=c",
         "postgres://u:<redacted>@h/db?PASSWORD=<redacted>&sslpassword=<redacted>"},
        /* the '@' in a query value is not the user-info's */
        {"postgres://h/db?application_name=a:b@c", "postgres://h/db?application_name=a:b@c"},
        {"postgres://u:p%40ss@h/db", "postgres://u:<redacted>@h/db"},
        {"host=h user=u password=hunter2 dbname=d", "host=h user=u password=<redacted> dbname=d"},
        {"host=h password='a \\' b' dbname=d", "host=h password=<redacted> dbname=d"},
        {"sqlite:/var/lib/tomo.db", "sqlite:/var/lib/tomo.db"},
        /* Nakama's short form: user:password@host:port[/db] */
        {"tomo:hunter2@127.0.0.1:5432", "tomo:<redacted>@127.0.0.1:5432"},
        {"tomo:hunter2@127.0.0.1:5432/x?password=y", "tomo:<redacted>@127.0.0.1:5432/x?password=<redacted>"},
        {"root@127.0.0.1:26257", "root@127.0.0.1:26257"},
        {"postgres://u@h/db?password=", "postgres://u@h/db?password="},
        {"", ""},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        char *r = tomo_redact_dsn(cases[i].in);
        TT_STR_EQ(r, cases[i].out);
        free(r);
    }
}

int main(void)
{
    TT_RUN(test_b64_encode);
    TT_RUN(test_b64_decode);
    TT_RUN(test_pct);
    TT_RUN(test_query);
    TT_RUN(test_redact);
    return tt_finish();
}
