/* bench/sc_selftest.c: `tomo-bench selftest`: checks the load generator's
 * own pieces that need no server (histogram quantiles, the base64 it uses, JWT uid,
 * envelope scanners) and prints "N passed, M failed".
 * Threads: main thread only (the workers stay idle). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/codec_util.h"

#include "nakama.h"
#include "scenarios.h"

static int passed, failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                 \
        }                                                                                          \
    } while (0)

static void test_hist(void)
{
    static lg_hist h;
    lg_hist_init(&h);
    CHECK(lg_hist_quantile(&h, 0.5) == 0);
    for (uint64_t v = 1; v <= 100000; v++)
        lg_hist_add(&h, v * 1000); /* 1 us .. 100 ms */
    CHECK(h.count == 100000 && h.min == 1000 && h.max == 100000000);
    double p50 = (double)lg_hist_quantile(&h, 0.50), p99 = (double)lg_hist_quantile(&h, 0.99);
    CHECK(p50 >= 50e6 * 0.99 && p50 <= 50e6 * 1.04);
    CHECK(p99 >= 99e6 * 0.99 && p99 <= 99e6 * 1.04);
    CHECK(lg_hist_quantile(&h, 1.0) == 100000000);
    CHECK(lg_hist_quantile(&h, 0.0) >= 1000 && lg_hist_quantile(&h, 0.0) <= 1040);
    static lg_hist a, b;
    lg_hist_init(&a);
    lg_hist_init(&b);
    for (uint64_t v = 0; v < 32; v++)
        lg_hist_add(&a, v); /* exact below 32 */
    lg_hist_add(&b, UINT64_MAX);
    lg_hist_merge(&a, &b);
    CHECK(a.count == 33 && a.max == UINT64_MAX && a.min == 0);
    CHECK(lg_hist_quantile(&a, 0.5) == 16);
}

/* tomo-bench's base64 is core/codec_util's: these are the uses it relies on
 * (Basic auth and WebSocket keys out, JWT payloads and match data in). */
static void test_base64(void)
{
    char *out = tomo_b64_encode("defaultkey:", 11, 0);
    CHECK(strcmp(out, "ZGVmYXVsdGtleTo=") == 0);
    free(out);
    out = tomo_b64_encode("ab", 2, 0);
    CHECK(strcmp(out, "YWI=") == 0);
    free(out);
    uint8_t *dec = NULL;
    size_t n = 0;
    CHECK(tomo_b64_decode("ZGVmYXVsdGtleTo=", 16, &dec, &n) == 0 && n == 11 &&
          memcmp(dec, "defaultkey:", 11) == 0);
    free(dec);
    CHECK(tomo_b64_decode("ZGVmYXVsdGtleTo", 15, &dec, &n) == 0 && n == 11); /* unpadded */
    free(dec);
    CHECK(tomo_b64_decode("-_-_", 4, &dec, &n) == 0 && n == 3 && dec[0] == 0xfb && dec[1] == 0xff &&
          dec[2] == 0xbf); /* URL-safe */
    free(dec);
    CHECK(tomo_b64_decode("ab$c", 4, &dec, &n) != 0);
}

static void test_jwt(void)
{
    /* {"alg":"HS256","typ":"JWT"} . {"uid":"4c2b...","usn":"x","exp":1} . sig */
    char payload[128], p64[200], jwt[300], uid[64];
    snprintf(payload, sizeof(payload),
             "{\"uid\":\"4c2b7c5e-0000-4000-8000-000000000001\",\"usn\":\"x\",\"exp\":1}");
    char *b64 = tomo_b64_encode(payload, strlen(payload), 1); /* base64url, unpadded */
    snprintf(p64, sizeof(p64), "%s", b64);
    free(b64);
    snprintf(jwt, sizeof(jwt), "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.%s.c2ln", p64);
    CHECK(lg_jwt_uid(jwt, uid, sizeof(uid)) == 0);
    CHECK(strcmp(uid, "4c2b7c5e-0000-4000-8000-000000000001") == 0);
    CHECK(lg_jwt_uid("nodots", uid, sizeof(uid)) == -1);
    CHECK(lg_jwt_uid(jwt, uid, 8) == -1);
}

static void test_scan(void)
{
    const char *env = "{\"match_data\":{\"match_id\":\"a.\",\"presence\":{\"user_id\":\"u\"},"
                      "\"op_code\":\"1\",\"data\":\"QUJD\\\"x\"}}";
    size_t n = strlen(env), vl = 0;
    CHECK(lg_has_key(env, n, "match_data"));
    CHECK(!lg_has_key(env, n, "match"));
    const char *v = lg_scan_str(env, n, "data", &vl);
    CHECK(v && vl == 7 && memcmp(v, "QUJD\\\"x", 7) == 0);
    CHECK(lg_scan_str(env, n, "nope", &vl) == NULL);
    CHECK(lg_scan_str("{\"data\":\"unterminated", 20, "data", &vl) == NULL);
}

/* Writing to a socket whose peer is gone fails with EPIPE instead of killing
 * tomo-bench with SIGPIPE (main ignores the signal). */
static void test_sigpipe(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]);
    errno = 0;
    CHECK(write(sv[0], "x", 1) == -1 && errno == EPIPE);
    close(sv[0]);
}

static int run(lg_ctx *ctx)
{
    (void)ctx;
    test_hist();
    test_base64();
    test_jwt();
    test_scan();
    test_sigpipe();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

static void on_phase(lg_worker *w, int phase)
{
    (void)w;
    (void)phase;
}

const lg_scenario lg_sc_selftest = {"selftest", "check tomo-bench's own parts (no server needed)",
                                    run, on_phase};
