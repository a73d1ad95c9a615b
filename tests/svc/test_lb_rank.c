/* tests/svc/test_lb_rank.c: the rank set against a brute-force model
 * (random puts/removes on both orders), fill-mode precedence, threads. */
#include "tt.h"

#include "core/common.h"
#include "svc/lb_rank.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N 400

typedef struct ent {
    int present;
    int64_t s, ss;
} ent;

static void owner(int i, uint8_t o[16])
{
    memset(o, 0, 16);
    o[0] = (uint8_t)(i * 37);
    o[15] = (uint8_t)i;
    o[14] = (uint8_t)(i >> 8);
}

/* 1 if a ranks before b (model). */
static int before(int desc, const ent *a, int ai, const ent *b, int bi)
{
    uint8_t oa[16], ob[16];
    owner(ai, oa);
    owner(bi, ob);
    int c = a->s != b->s ? (a->s < b->s ? -1 : 1)
            : a->ss != b->ss ? (a->ss < b->ss ? -1 : 1)
                             : memcmp(oa, ob, 16);
    return desc ? c > 0 : c < 0;
}

static void model_check(tomo_lb_rank *r, int desc, ent *m)
{
    int64_t count = 0;
    for (int i = 0; i < N; i++)
        count += m[i].present;
    TT_EQ(tomo_lb_rank_count(r), count);
    for (int i = 0; i < N; i++) {
        uint8_t o[16];
        owner(i, o);
        int64_t want = 0;
        if (m[i].present) {
            want = 1;
            for (int j = 0; j < N; j++)
                if (j != i && m[j].present && before(desc, &m[j], j, &m[i], i))
                    want++;
        }
        int64_t got = tomo_lb_rank_get(r, o);
        if (got != want) {
            TT_FAIL("desc=%d owner %d: rank %lld, want %lld", desc, i, (long long)got,
                    (long long)want);
            return;
        }
    }
    tt_checks++;
}

static void test_model(void)
{
    srand(7);
    for (int desc = 0; desc <= 1; desc++) {
        tomo_lb_rank *r = tomo_lb_rank_new(desc);
        ent m[N];
        memset(m, 0, sizeof(m));
        for (int step = 0; step < 6000; step++) {
            int i = rand() % N;
            uint8_t o[16];
            owner(i, o);
            if (rand() % 5 == 0) {
                tomo_lb_rank_remove(r, o);
                m[i].present = 0;
            } else {
                m[i].present = 1;
                m[i].s = rand() % 20; /* many ties: subscore and owner break them */
                m[i].ss = rand() % 3;
                int64_t rank = tomo_lb_rank_put(r, o, m[i].s, m[i].ss);
                if (rank != tomo_lb_rank_get(r, o))
                    TT_FAIL("put rank %lld != get", (long long)rank);
            }
            int64_t ks = -1, kss = -1;
            int krc = tomo_lb_rank_key(r, o, &ks, &kss);
            if (m[i].present ? (krc != 0 || ks != m[i].s || kss != m[i].ss) : krc != TOMO_ENOTFOUND)
                TT_FAIL("key of owner %d: rc %d, %lld/%lld", i, krc, (long long)ks, (long long)kss);
            if (step % 1000 == 999)
                model_check(r, desc, m);
        }
        uint8_t o[16];
        owner(N + 5, o);
        TT_EQ(tomo_lb_rank_get(r, o), 0);
        tomo_lb_rank_unref(r);
    }
}

static void test_order(void)
{
    uint8_t a[16], b[16];
    TT_OK(tomo_lb_uuid_parse("00000000-0000-4000-8000-00000000000a", a));
    TT_OK(tomo_lb_uuid_parse("00000000-0000-4000-8000-00000000000B", b));
    char s[37];
    tomo_lb_uuid_format(b, s);
    TT_STR_EQ(s, "00000000-0000-4000-8000-00000000000b");
    TT_EQ(tomo_lb_uuid_parse("00000000-0000-4000-8000-00000000000", a), -1);
    TT_EQ(tomo_lb_uuid_parse("00000000x0000-4000-8000-00000000000a", a), -1);
    TT_EQ(tomo_lb_uuid_parse("0000000g-0000-4000-8000-00000000000a", a), -1);
    TT_OK(tomo_lb_uuid_parse("00000000-0000-4000-8000-00000000000a", a));
    tomo_lb_rank *d = tomo_lb_rank_new(1), *as = tomo_lb_rank_new(0);
    /* equal scores: desc puts the greater owner first, asc the smaller */
    tomo_lb_rank_put(d, a, 5, 5);
    tomo_lb_rank_put(d, b, 5, 5);
    tomo_lb_rank_put(as, a, 5, 5);
    tomo_lb_rank_put(as, b, 5, 5);
    TT_EQ(tomo_lb_rank_get(d, b), 1);
    TT_EQ(tomo_lb_rank_get(as, a), 1);
    /* subscore before owner */
    TT_EQ(tomo_lb_rank_put(d, a, 5, 6), 1);
    TT_EQ(tomo_lb_rank_of_key(d, b, 100, 0), 1);
    TT_EQ(tomo_lb_rank_of_key(d, b, 0, 0), 3);
    tomo_lb_rank_unref(d);
    tomo_lb_rank_unref(as);
}

static void test_fill(void)
{
    tomo_lb_rank *r = tomo_lb_rank_new(1);
    uint8_t a[16], b[16], c[16];
    owner(1, a);
    owner(2, b);
    owner(3, c);
    tomo_lb_rank_fill_begin(r);
    TT_TRUE(tomo_lb_rank_filling(r));
    tomo_lb_rank_put(r, a, 50, 0); /* a live write before the loader reaches a */
    tomo_lb_rank_remove(r, b);     /* a live delete before the loader reaches b */
    tomo_lb_rank_fill(r, a, 10, 0);
    tomo_lb_rank_fill(r, b, 20, 0);
    tomo_lb_rank_fill(r, c, 30, 0);
    tomo_lb_rank_fill_end(r);
    TT_TRUE(!tomo_lb_rank_filling(r));
    TT_EQ(tomo_lb_rank_get(r, a), 1);
    TT_EQ(tomo_lb_rank_get(r, b), 0);
    TT_EQ(tomo_lb_rank_get(r, c), 2);
    TT_EQ(tomo_lb_rank_count(r), 2);
    tomo_lb_rank_put(r, b, 40, 0);
    TT_EQ(tomo_lb_rank_get(r, b), 2);
    tomo_lb_rank_unref(r);
}

static tomo_lb_rank *shared;

static void *worker(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < 5000; i++) {
        uint8_t o[16];
        owner(base + i % 500, o);
        o[1] = (uint8_t)base;
        tomo_lb_rank_put(shared, o, i % 97, 0);
        tomo_lb_rank_get(shared, o);
        if (i % 7 == 0)
            tomo_lb_rank_remove(shared, o);
    }
    return NULL;
}

static void test_threads(void)
{
    shared = tomo_lb_rank_new(1);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)(i + 1));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int64_t n = tomo_lb_rank_count(shared);
    TT_TRUE(n > 0 && n <= 2000);
    tomo_lb_rank_unref(shared);
}

int main(void)
{
    TT_RUN(test_model);
    TT_RUN(test_order);
    TT_RUN(test_fill);
    TT_RUN(test_threads);
    return tt_finish();
}
