/* tests/core/test_cron.c: cron parsing and next/prev ticks (tables), plus a
 * brute-force cross-check of next/prev against a per-minute scan. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

#include "core/common.h"
#include "core/cron.h"
#include "tt.h"

/* "YYYY-MM-DD HH:MM:SS" (UTC) -> unix seconds, through libc. */
static int64_t ts(const char *s)
{
    struct tm tm = {0};
    if (!strptime(s, "%Y-%m-%d %H:%M:%S", &tm))
        abort();
    return (int64_t)timegm(&tm);
}

static const struct {
    const char *expr, *from, *next;
} next_cases[] = {
    {"* * * * *", "2024-01-15 12:30:00", "2024-01-15 12:31:00"},
    {"* * * * *", "2024-01-15 12:30:15", "2024-01-15 12:31:00"},
    {"0 0 * * *", "2024-01-15 12:30:00", "2024-01-16 00:00:00"},
    {"0 0 * * *", "2024-01-16 00:00:00", "2024-01-17 00:00:00"},
    {"@daily", "2024-01-15 12:30:00", "2024-01-16 00:00:00"},
    {"  @hourly ", "2024-01-15 12:30:00", "2024-01-15 13:00:00"},
    {"@minutely", "2024-01-15 12:30:00", "2024-01-15 12:31:00"},
    {"@weekly", "2024-01-15 12:30:00", "2024-01-21 00:00:00"},
    {"@monthly", "2024-01-15 12:30:00", "2024-02-01 00:00:00"},
    {"@yearly", "2024-01-15 12:30:00", "2025-01-01 00:00:00"},
    {"@annually", "2024-12-31 23:59:59", "2025-01-01 00:00:00"},
    {"0 0 29 2 *", "2024-03-01 00:00:00", "2028-02-29 00:00:00"},
    {"*/15 * * * *", "2024-01-15 12:31:00", "2024-01-15 12:45:00"},
    {"*/15 * * * *", "2024-01-15 12:59:00", "2024-01-15 13:00:00"},
    {"3-59/15 * * * *", "2024-01-15 12:31:00", "2024-01-15 12:33:00"},
    {"10/20 * * * *", "2024-01-15 12:31:00", "2024-01-15 12:50:00"},
    {"0 9 * * MON-FRI", "2024-01-20 10:00:00", "2024-01-22 09:00:00"},
    {"0 9 * * mon-fri", "2024-01-22 09:00:00", "2024-01-23 09:00:00"},
    {"0 0 1,15 * *", "2024-01-15 12:30:00", "2024-02-01 00:00:00"},
    {"0 0 L * *", "2024-02-10 00:00:00", "2024-02-29 00:00:00"},
    {"0 0 L * *", "2023-02-10 00:00:00", "2023-02-28 00:00:00"},
    {"0 0 LW * *", "2024-03-01 00:00:00", "2024-03-29 00:00:00"},
    {"0 0 15W * *", "2024-06-01 00:00:00", "2024-06-14 00:00:00"},
    {"0 0 1W * *", "2024-05-31 00:00:00", "2024-06-03 00:00:00"},
    {"0 0 * * 5L", "2024-01-01 00:00:00", "2024-01-26 00:00:00"},
    {"0 0 * * 1#2", "2024-01-01 00:00:00", "2024-01-08 00:00:00"},
    {"0 0 * * FRI#5", "2024-01-01 00:00:00", "2024-03-29 00:00:00"},
    {"0 0 13 * 5", "2024-01-01 00:00:00", "2024-01-05 00:00:00"},
    {"0 0 13 * 5", "2024-01-12 00:00:00", "2024-01-13 00:00:00"},
    {"0 0 ? * 0", "2024-01-15 00:00:00", "2024-01-21 00:00:00"},
    {"0 0 * * 7", "2024-01-15 00:00:00", "2024-01-21 00:00:00"},
    {"0 0 * * 5-7", "2024-01-20 00:00:00", "2024-01-21 00:00:00"},
    {"0 0 1 JAN *", "2024-01-15 00:00:00", "2025-01-01 00:00:00"},
    {"0 0 1 jun-aug/2 *", "2024-07-15 00:00:00", "2024-08-01 00:00:00"},
    {"30 10 * * * 2025", "2024-01-15 00:00:00", "2025-01-01 10:30:00"},
    {"*/10 * * * * * *", "2024-01-15 12:30:15", "2024-01-15 12:30:20"},
    {"5 4 3 2 1 * 2030", "2024-01-15 00:00:00", "2030-01-02 03:04:05"},
    {"0 0 0 1 1 * * ignored", "2024-01-15 00:00:00", "2025-01-01 00:00:00"},
    {"59 23 31 12 *", "2024-12-31 23:59:00", "2025-12-31 23:59:00"},
};

static void test_next(void)
{
    for (size_t i = 0; i < TOMO_ARRAY_LEN(next_cases); i++) {
        tomo_cron c;
        int rc = tomo_cron_parse(next_cases[i].expr, &c);
        if (rc != 0) {
            TT_FAIL("parse \"%s\": %d", next_cases[i].expr, rc);
            continue;
        }
        int64_t got = tomo_cron_next(&c, ts(next_cases[i].from));
        int64_t want = ts(next_cases[i].next);
        if (got != want)
            TT_FAIL("next(\"%s\", %s) = %lld, want %lld (%s)", next_cases[i].expr,
                    next_cases[i].from, (long long)got, (long long)want, next_cases[i].next);
        tt_checks++;
    }
}

static const struct {
    const char *expr, *from, *prev;
} prev_cases[] = {
    {"0 0 * * *", "2024-01-15 12:30:00", "2024-01-15 00:00:00"},
    {"0 0 * * *", "2024-01-15 00:00:00", "2024-01-15 00:00:00"},
    {"0 0 * * *", "2024-01-14 23:59:59", "2024-01-14 00:00:00"},
    {"@weekly", "2024-01-15 12:30:00", "2024-01-14 00:00:00"},
    {"0 0 29 2 *", "2024-03-01 00:00:00", "2024-02-29 00:00:00"},
    {"0 0 29 2 *", "2024-02-28 00:00:00", "2020-02-29 00:00:00"},
    {"*/15 * * * *", "2024-01-15 12:44:59", "2024-01-15 12:30:00"},
    {"0 0 L * *", "2024-03-15 00:00:00", "2024-02-29 00:00:00"},
    {"0 0 * * 1#2", "2024-01-31 00:00:00", "2024-01-08 00:00:00"},
    {"0 0 1 1 * 1970", "2024-01-31 00:00:00", "1970-01-01 00:00:00"},
};

static void test_prev(void)
{
    for (size_t i = 0; i < TOMO_ARRAY_LEN(prev_cases); i++) {
        tomo_cron c;
        TT_OK(tomo_cron_parse(prev_cases[i].expr, &c));
        int64_t got = tomo_cron_prev(&c, ts(prev_cases[i].from));
        int64_t want = ts(prev_cases[i].prev);
        if (got != want)
            TT_FAIL("prev(\"%s\", %s) = %lld, want %lld", prev_cases[i].expr,
                    prev_cases[i].from, (long long)got, (long long)want);
        tt_checks++;
    }
}

static void test_none(void)
{
    tomo_cron c;
    TT_OK(tomo_cron_parse("0 0 * * * 1980", &c));
    TT_EQ(tomo_cron_next(&c, ts("2024-01-01 00:00:00")), -1);
    TT_EQ(tomo_cron_prev(&c, ts("1975-01-01 00:00:00")), -1);
    TT_OK(tomo_cron_parse("0 0 0 30 2 * *", &c)); /* February 30th never comes */
    TT_EQ(tomo_cron_next(&c, ts("2024-01-01 00:00:00")), -1);
    TT_OK(tomo_cron_parse("0 0 1 1 *", &c));
    TT_EQ(tomo_cron_next(&c, ts("2099-01-01 00:00:00")), -1);
    TT_EQ(tomo_cron_next(&c, 0), ts("1971-01-01 00:00:00"));
}

static const char *const bad[] = {
    "", "   ", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 13 *",
    "* * * * 8", "a * * * *", "5-1 * * * *", "*/0 * * * *", "@never", "@daily extra",
    "* * * * * 1969", "* * * * * 2100", "? * * * *", "0 0 * * 1#6", "0 0 * * 1#0", "1,,2 * * * *",
    "-1 * * * *", "1- * * * *", "* * * FOO *", "* * * * FRX", "0 0 32W * *", "0 0 * * 8L",
    "1/ * * * *", "0 0 L-3 * *",
};

static void test_bad(void)
{
    tomo_cron c;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(bad); i++) {
        if (tomo_cron_parse(bad[i], &c) != TOMO_EINVAL)
            TT_FAIL("\"%s\" parsed", bad[i]);
        tt_checks++;
    }
    TT_EQ(tomo_cron_parse(NULL, &c), TOMO_EINVAL);
}

/* A naive matcher for expressions without L/W/#. */
static int matches(const tomo_cron *c, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    int y = tm.tm_year + 1900 - TOMO_CRON_YEAR_MIN;
    if (!((c->sec >> tm.tm_sec) & 1) || !((c->min >> tm.tm_min) & 1) ||
        !((c->hour >> tm.tm_hour) & 1) || !((c->mon >> (tm.tm_mon + 1)) & 1) ||
        !((c->year[y / 8] >> (y % 8)) & 1))
        return 0;
    int dom = (c->dom >> tm.tm_mday) & 1, dow = (c->dow >> tm.tm_wday) & 1;
    if (c->dom_restricted && c->dow_restricted)
        return dom || dow;
    if (c->dom_restricted)
        return dom;
    if (c->dow_restricted)
        return dow;
    return 1;
}

static void test_brute(void)
{
    static const char *const exprs[] = {
        "*/7 */5 * * *", "0 12 1-7 * 1", "15,45 3 * 2,8 *", "0 0 */10 * SAT", "30 */3 13 * 5",
        "0 0 * * 0,3", "59 23 28-31 * *",
    };
    int64_t start = ts("2023-12-20 00:00:00"), end = ts("2024-04-01 00:00:00");
    for (size_t i = 0; i < TOMO_ARRAY_LEN(exprs); i++) {
        tomo_cron c;
        TT_OK(tomo_cron_parse(exprs[i], &c));
        int64_t want = -1, t;
        /* walk minutes backwards so `want` is the next match after t */
        for (t = end; t >= start; t -= 60) {
            int64_t got = tomo_cron_next(&c, t - 1);
            if (matches(&c, t))
                want = t;
            if (want >= 0 && got != want) {
                TT_FAIL("next(\"%s\", %lld) = %lld, want %lld", exprs[i], (long long)(t - 1),
                        (long long)got, (long long)want);
                break;
            }
            if (matches(&c, t) && tomo_cron_prev(&c, t + 59) != t) {
                TT_FAIL("prev(\"%s\", %lld) != %lld", exprs[i], (long long)(t + 59),
                        (long long)t);
                break;
            }
        }
        tt_checks++;
    }
}

static void test_civil(void)
{
    int64_t y;
    unsigned m, d;
    TT_EQ(tomo_days_from_civil(1970, 1, 1), 0);
    TT_EQ(tomo_days_from_civil(2024, 2, 29) * 86400, 1709164800);
    tomo_civil_from_days(19782, &y, &m, &d);
    TT_EQ(y, 2024);
    TT_EQ(m, 2);
    TT_EQ(d, 29);
}

int main(void)
{
    TT_RUN(test_next);
    TT_RUN(test_prev);
    TT_RUN(test_none);
    TT_RUN(test_bad);
    TT_RUN(test_brute);
    TT_RUN(test_civil);
    return tt_finish();
}
