/* tests/core/test_hmap.c: the shared string -> pointer hash map. */
#include "core/hmap.h"
#include "tt.h"

#include <stdio.h>
#include <stdlib.h>

#define N 5000

static void test_put_get_del(void)
{
    static char keys[N][16];
    tomo_hmap m;
    tomo_hmap_init(&m);
    TT_TRUE(tomo_hmap_get(&m, "x") == NULL); /* empty map */
    TT_TRUE(tomo_hmap_del(&m, "x") == NULL);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        TT_TRUE(tomo_hmap_put(&m, keys[i], &keys[i]) == NULL);
    }
    TT_EQ(m.count, N);
    /* Replace returns the old value. */
    TT_TRUE(tomo_hmap_put(&m, keys[7], keys[8]) == &keys[7]);
    TT_TRUE(tomo_hmap_get(&m, "k7") == keys[8]);
    tomo_hmap_put(&m, keys[7], &keys[7]);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += tomo_hmap_get(&m, keys[i]) != &keys[i];
    TT_EQ(bad, 0);
    /* Delete the odd keys while iterating (allowed for the current key). */
    const char *k;
    void *v;
    size_t seen = 0;
    for (size_t i = 0; (i = tomo_hmap_next(&m, i, &k, &v)) != 0;) {
        seen++;
        if (atoi(k + 1) % 2)
            TT_TRUE(tomo_hmap_del(&m, k) == v);
    }
    TT_EQ(seen, N);
    TT_EQ(m.count, N / 2);
    for (int i = 0; i < N; i++)
        bad += (tomo_hmap_get(&m, keys[i]) != NULL) != (i % 2 == 0);
    TT_EQ(bad, 0);
    /* Tombstones are reused: churn does not grow the table without bound. */
    size_t cap = m.cap;
    for (int r = 0; r < 20; r++)
        for (int i = 1; i < N; i += 2) {
            tomo_hmap_put(&m, keys[i], &keys[i]);
            tomo_hmap_del(&m, keys[i]);
        }
    TT_TRUE(m.cap <= cap * 2);
    for (int i = 0; i < N; i += 2)
        tomo_hmap_del(&m, keys[i]);
    TT_EQ(m.count, 0);
    TT_EQ(tomo_hmap_next(&m, 0, &k, &v), 0);
    tomo_hmap_free(&m);
    tomo_hmap_free(&m); /* idempotent */
}

int main(void)
{
    TT_RUN(test_put_get_del);
    return tt_finish();
}
