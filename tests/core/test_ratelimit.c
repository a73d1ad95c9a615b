/* tests/core/test_ratelimit.c: buckets, the bounded table, trusted proxies and
 * the X-Forwarded-For rule, refusal metrics. */
#include "core/common.h"
#include "core/metrics.h"
#include "core/ratelimit.h"
#include "tt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void test_bucket(void)
{
    tomo_bucket b;
    tomo_bucket_init(&b, 3, 1000);
    int64_t wait = -1;
    for (int i = 0; i < 3; i++)
        TT_OK(tomo_bucket_take(&b, 2, 3, 1000, &wait));
    TT_EQ(tomo_bucket_take(&b, 2, 3, 1000, &wait), TOMO_EAGAIN);
    TT_EQ(wait, 500); /* 2 tokens/s: one every 500 ms */
    TT_EQ(tomo_bucket_take(&b, 2, 3, 1250, &wait), TOMO_EAGAIN);
    TT_EQ(wait, 250);
    TT_OK(tomo_bucket_take(&b, 2, 3, 1500, &wait));
    /* refill is capped at the burst */
    for (int i = 0; i < 3; i++)
        TT_OK(tomo_bucket_take(&b, 2, 3, 100000, NULL));
    TT_EQ(tomo_bucket_take(&b, 2, 3, 100000, NULL), TOMO_EAGAIN);
    /* time going backwards does not mint tokens */
    TT_EQ(tomo_bucket_take(&b, 2, 3, 50, NULL), TOMO_EAGAIN);
    /* rate 0: never limits */
    for (int i = 0; i < 100; i++)
        TT_OK(tomo_bucket_take(&b, 0, 1, 0, NULL));
}

static void test_table(void)
{
    tomo_metrics_reset();
    tomo_ratelimit_metrics_init();
    tomo_ratelimit *rl = tomo_ratelimit_new(64);
    int64_t wait;
    /* keys and classes are separate buckets */
    TT_OK(tomo_ratelimit_take(rl, TOMO_RL_AUTH, "1.2.3.4", 7, 1, 2, 0, &wait));
    TT_OK(tomo_ratelimit_take(rl, TOMO_RL_AUTH, "1.2.3.4", 7, 1, 2, 0, &wait));
    TT_EQ(tomo_ratelimit_take(rl, TOMO_RL_AUTH, "1.2.3.4", 7, 1, 2, 0, &wait), TOMO_EAGAIN);
    TT_EQ(wait, 1000);
    TT_OK(tomo_ratelimit_take(rl, TOMO_RL_DEFAULT, "1.2.3.4", 7, 1, 2, 0, &wait));
    TT_OK(tomo_ratelimit_take(rl, TOMO_RL_AUTH, "1.2.3.5", 7, 1, 2, 0, &wait));
    TT_OK(tomo_ratelimit_take(rl, TOMO_RL_AUTH, "1.2.3.4", 7, 1, 2, 1000, &wait));
    tomo_metric *m = tomo_metrics_counter("rate_limit_refusals_total", "", "class");
    TT_EQ(tomo_metric_value(m, (const char *[]){"auth"}), 1);
    TT_EQ(tomo_metric_value(m, (const char *[]){"default"}), 0);
    char *text = tomo_metrics_render();
    TT_CONTAINS(text, "rate_limit_refusals_total{class=\"chat\"} 0");
    free(text);
    /* bounded: many keys never grow the table past its size */
    for (int i = 0; i < 10000; i++) {
        char k[32];
        int n = snprintf(k, sizeof(k), "10.0.%d.%d", i / 256, i % 256);
        TT_OK(tomo_ratelimit_take(rl, TOMO_RL_DEFAULT, k, (size_t)n, 1, 5, 2000 + i, NULL));
    }
    TT_EQ(tomo_ratelimit_size(rl), 64);
    tomo_ratelimit_free(rl);
    tomo_ratelimit_free(NULL);
    /* a tiny table still works (one set) */
    rl = tomo_ratelimit_new(1);
    TT_OK(tomo_ratelimit_take(rl, TOMO_RL_USER, "u", 1, 1, 1, 0, NULL));
    TT_EQ(tomo_ratelimit_take(rl, TOMO_RL_USER, "u", 1, 1, 1, 0, NULL), TOMO_EAGAIN);
    tomo_ratelimit_free(rl);
    tomo_metrics_reset();
}

static tomo_ratelimit *shared;
static int allowed[4];

static void *hammer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 20000; i++)
        if (tomo_ratelimit_take(shared, TOMO_RL_USER, "same-user", 9, 1, 1000, 0, NULL) == 0)
            allowed[id]++;
    return NULL;
}

static void test_threads(void)
{
    shared = tomo_ratelimit_new(1024);
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* exactly the burst gets through, however the threads interleave */
    TT_EQ(allowed[0] + allowed[1] + allowed[2] + allowed[3], 1000);
    tomo_ratelimit_free(shared);
    tomo_metrics_reset();
}

static void test_ipset(void)
{
    char *ok[] = {"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "172.16.0.0/12"};
    char err[128];
    tomo_ipset *s = tomo_ipset_parse(ok, 5, err, sizeof(err));
    TT_TRUE(s != NULL);
    static const struct {
        const char *ip;
        int in;
    } cases[] = {
        {"10.1.2.3", 1},          {"11.0.0.1", 0},       {"192.168.1.7", 1},
        {"192.168.1.8", 0},       {"fd12::5", 1},        {"fe80::1", 0},
        {"::1", 1},               {"172.31.255.255", 1}, {"172.32.0.0", 0},
        {"::ffff:10.9.9.9", 1},   {"garbage", 0},        {"", 0},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++)
        if (tomo_ipset_contains(s, cases[i].ip) != cases[i].in)
            TT_FAIL("contains(%s) != %d", cases[i].ip, cases[i].in);
    tomo_ipset_free(s);
    char *bad[][1] = {{"10.0.0.0/33"}, {"nope"}, {"1.2.3.4/"}, {"::1/129"}, {"1.2.3.4/8x"}};
    for (size_t i = 0; i < TOMO_ARRAY_LEN(bad); i++) {
        TT_TRUE(tomo_ipset_parse(bad[i], 1, err, sizeof(err)) == NULL);
        TT_CONTAINS(err, bad[i][0]);
    }
    s = tomo_ipset_parse(NULL, 0, err, sizeof(err));
    TT_EQ(tomo_ipset_contains(s, "127.0.0.1"), 0);
    tomo_ipset_free(s);
}

static void test_client_ip(void)
{
    char *tp[] = {"10.0.0.0/8"};
    char err[64], out[64];
    tomo_ipset *s = tomo_ipset_parse(tp, 1, err, sizeof(err));
    static const struct {
        const char *peer, *xff, *want;
    } cases[] = {
        {"1.2.3.4", "9.9.9.9", "1.2.3.4"},       /* untrusted peer: XFF ignored */
        {"10.0.0.1", NULL, "10.0.0.1"},          /* trusted, no header */
        {"10.0.0.1", "9.9.9.9", "9.9.9.9"},      /* one trusted hop */
        {"10.0.0.1", "6.6.6.6, 9.9.9.9, 10.0.0.2", "9.9.9.9"}, /* spoofed left entry ignored */
        {"10.0.0.1", " 9.9.9.9 ", "9.9.9.9"},
        {"10.0.0.1", "10.0.0.3,10.0.0.2", "10.0.0.3"}, /* all trusted: leftmost */
        {"10.0.0.1", "9.9.9.9, junk", "10.0.0.1"},    /* garbage: stop at the last good one */
        {"10.0.0.1", "2001:db8::1", "2001:db8::1"},
        {"10.0.0.1", "", "10.0.0.1"},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        tomo_ratelimit_client_ip(s, cases[i].peer, cases[i].xff, out, sizeof(out));
        TT_STR_EQ(out, cases[i].want);
    }
    tomo_ratelimit_client_ip(NULL, "1.1.1.1", "2.2.2.2", out, sizeof(out));
    TT_STR_EQ(out, "1.1.1.1");
    tomo_ipset_free(s);
}

int main(void)
{
    TT_RUN(test_bucket);
    TT_RUN(test_table);
    TT_RUN(test_threads);
    TT_RUN(test_ipset);
    TT_RUN(test_client_ip);
    return tt_finish();
}
