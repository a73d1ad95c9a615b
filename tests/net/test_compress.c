/* tests/net/test_compress.c: gzip round trip, deflate variants, bomb limit,
 * corrupt input, Accept-Encoding parsing. */
#include "core/common.h"
#include "net/compress.h"
#include "tt.h"

#include <stdlib.h>
#include <zlib.h>

static void test_roundtrip(void)
{
    char in[5000];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)('a' + i % 7);
    char *z, *back;
    size_t zl, bl;
    TT_OK(tomo_http_gzip(in, sizeof(in), &z, &zl));
    TT_TRUE(zl < sizeof(in) / 4);
    TT_TRUE((unsigned char)z[0] == 0x1f && (unsigned char)z[1] == 0x8b); /* gzip magic */
    TT_OK(tomo_http_inflate(z, zl, 1 << 20, &back, &bl));
    TT_EQ(bl, sizeof(in));
    TT_TRUE(memcmp(in, back, bl) == 0);
    free(back);
    /* the limit counts decompressed bytes */
    TT_EQ(tomo_http_inflate(z, zl, 1000, &back, &bl), TOMO_ETOOBIG);
    TT_TRUE(back == NULL);
    /* truncated */
    TT_EQ(tomo_http_inflate(z, zl / 2, 1 << 20, &back, &bl), TOMO_EINVAL);
    free(z);
    TT_EQ(tomo_http_inflate("not compressed", 14, 1 << 20, &back, &bl), TOMO_EINVAL);
}

static void test_zlib_and_raw_deflate(void)
{
    const char *msg = "{\"id\":\"device-123456\"}";
    unsigned char zbuf[256];
    uLongf zlen = sizeof(zbuf);
    TT_EQ(compress2(zbuf, &zlen, (const Bytef *)msg, strlen(msg), 6), Z_OK); /* zlib format */
    char *out;
    size_t ol;
    TT_OK(tomo_http_inflate((const char *)zbuf, zlen, 1024, &out, &ol));
    TT_STR_EQ(out, msg);
    free(out);
    /* raw deflate: strip the 2-byte zlib header and 4-byte trailer */
    TT_OK(tomo_http_inflate((const char *)zbuf + 2, zlen - 6, 1024, &out, &ol));
    TT_STR_EQ(out, msg);
    free(out);
}

static void test_accept_encoding(void)
{
    static const struct {
        const char *h;
        int want;
    } cases[] = {
        {"gzip", 1},           {"gzip, deflate, br", 1}, {"br, GZIP;q=0.5", 1},
        {"deflate", 0},        {"gzip;q=0", 0},          {"*", 1},
        {"identity", 0},       {"", 0},                  {"x-gzipped", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        TT_EQ(tomo_http_accepts_gzip(cases[i].h), cases[i].want);
    TT_EQ(tomo_http_accepts_gzip(NULL), 0);
}

int main(void)
{
    TT_RUN(test_roundtrip);
    TT_RUN(test_zlib_and_raw_deflate);
    TT_RUN(test_accept_encoding);
    return tt_finish();
}
