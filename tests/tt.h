/* tests/tt.h: a tiny test harness. Each test file is one executable whose
 * main() calls TT_RUN for each case and returns tt_finish(). */
#ifndef TOMO_TT_H
#define TOMO_TT_H

#include <stdio.h>
#include <string.h>

static int tt_failures, tt_checks;

#define TT_FAIL(...)                                                                               \
    do {                                                                                           \
        tt_failures++;                                                                             \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
    } while (0)
#define TT_EQ(a, b)                                                                                \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        tt_checks++;                                                                               \
        if (_a != _b)                                                                              \
            TT_FAIL("%s == %s: got %lld, want %lld", #a, #b, _a, _b);                              \
    } while (0)
#define TT_TRUE(x) TT_EQ(!!(x), 1)
#define TT_OK(rc) TT_EQ((rc), 0)
#define TT_STR_EQ(a, b)                                                                            \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        tt_checks++;                                                                               \
        if (!_a || !_b || strcmp(_a, _b))                                                          \
            TT_FAIL("%s == %s: got \"%s\", want \"%s\"", #a, #b, _a ? _a : "(null)",              \
                    _b ? _b : "(null)");                                                           \
    } while (0)
#define TT_CONTAINS(hay, needle)                                                                   \
    do {                                                                                           \
        const char *_h = (hay), *_n = (needle);                                                    \
        tt_checks++;                                                                               \
        if (!_h || !strstr(_h, _n))                                                                \
            TT_FAIL("%s contains \"%s\": got \"%s\"", #hay, _n, _h ? _h : "(null)");              \
    } while (0)
#define TT_RUN(fn)                                                                                 \
    do {                                                                                           \
        int _before = tt_failures;                                                                 \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", tt_failures == _before ? "ok  " : "FAIL", #fn);                \
    } while (0)

static inline int tt_finish(void)
{
    fprintf(stderr, "%d checks, %d failures\n", tt_checks, tt_failures);
    return tt_failures ? 1 : 0;
}

#endif
