/* tests/core/test_common.c: tomo_rfc3339's arithmetic path prints what
 * gmtime_r + strftime print, at the edges of its range, around leap days
 * and month ends, and on random times in years 1000-9999 and beyond. */
#include "core/common.h"
#include "tt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void check(int64_t t)
{
    char got[32], want[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
    tomo_rfc3339(t, got);
    if (strcmp(got, want) != 0)
        TT_FAIL("%lld: got %s, want %s", (long long)t, got, want);
    tt_checks++;
}

static void test_edges(void)
{
    static const int64_t fixed[] = {0, -1, 1, 86399, 86400, -86400, -86401, 951782400,
                                    951868799, 951868800, 4107542400, 1796191059,
                                    -30610224000LL, -30610224001LL, 253402300799LL,
                                    253402300800LL, -62135596800LL, 1709164800, 1709251199};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check(fixed[i]);
    for (int64_t t = -30610224000LL - 86400 * 3; t < -30610224000LL + 86400 * 3; t += 3607)
        check(t);
    for (int64_t t = 253402300800LL - 86400 * 3; t < 253402300800LL + 86400 * 3; t += 3607)
        check(t);
}

static void test_random(void)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        /* years about 0-11000 */
        check((int64_t)(s % 409000000000ULL) - 62167219200LL);
    }
}

int main(void)
{
    TT_RUN(test_edges);
    TT_RUN(test_random);
    return tt_finish();
}
