/* tests/cluster/test_frame.c: the cluster frame fields (write, read back,
 * truncated frames are flagged, never over-read). */
#include "cluster/cluster.h"
#include "tt.h"

#include <stdlib.h>
#include <string.h>

static void test_roundtrip(void)
{
    tomo_cluster_buf b = {0};
    tomo_cluster_put_u8(&b, 7);
    tomo_cluster_put_u32(&b, 0xdeadbeefu);
    tomo_cluster_put_u64(&b, 0x0102030405060708ull);
    tomo_cluster_put_str(&b, "room with spaces.and.dots");
    tomo_cluster_put_str(&b, NULL);
    tomo_cluster_put_bytes(&b, "\0x", 2);
    tomo_cluster_buf r = {.p = b.p, .len = b.len};
    TT_EQ(tomo_cluster_get_u8(&r), 7);
    TT_EQ(tomo_cluster_get_u32(&r), 0xdeadbeefu);
    TT_TRUE(tomo_cluster_get_u64(&r) == 0x0102030405060708ull);
    char *s = tomo_cluster_get_str(&r);
    TT_STR_EQ(s, "room with spaces.and.dots");
    free(s);
    char small[4];
    tomo_cluster_get_strn(&r, small, sizeof(small));
    TT_STR_EQ(small, "");
    size_t n;
    const char *p = tomo_cluster_get_bytes(&r, &n);
    TT_EQ(n, 2);
    TT_TRUE(p && p[0] == 0 && p[1] == 'x');
    TT_EQ(r.bad, 0);
    TT_EQ(r.pos, r.len);
    tomo_cluster_buf_free(&b);
}

static void test_truncated(void)
{
    tomo_cluster_buf b = {0};
    tomo_cluster_put_str(&b, "hello world");
    /* every prefix shorter than the whole frame is bad, and reads nothing */
    for (size_t cut = 0; cut < b.len; cut++) {
        tomo_cluster_buf r = {.p = b.p, .len = cut};
        size_t n = 99;
        TT_TRUE(tomo_cluster_get_bytes(&r, &n) == NULL);
        TT_EQ(n, 0);
        TT_EQ(r.bad, 1);
        TT_EQ(tomo_cluster_get_u32(&r), 0); /* stays bad */
    }
    /* a length that does not fit the buffer given to get_strn */
    tomo_cluster_buf r = {.p = b.p, .len = b.len};
    char small[5];
    tomo_cluster_get_strn(&r, small, sizeof(small));
    TT_EQ(r.bad, 1);
    TT_STR_EQ(small, "");
    tomo_cluster_buf_free(&b);
}

int main(void)
{
    TT_RUN(test_roundtrip);
    TT_RUN(test_truncated);
    return tt_finish();
}
