/* tests/core/test_template.c: `tomo config render` expansion rules, as a table. */
#include "core/common.h"
#include "core/template.h"
#include "tt.h"

#include <stdlib.h>

static char *env[] = {"KEY=abc123", "EMPTY=", "PORT=7350", "WITH_EQ=a=b", "KEYX=other", NULL};

static void test_table(void)
{
    static const struct {
        const char *in, *want; /* want NULL: refused, err contains werr */
        const char *werr;
    } cases[] = {
        {"plain text\n", "plain text\n", NULL},
        {"", "", NULL},
        {"k: ${KEY}\n", "k: abc123\n", NULL},
        {"${KEY}${PORT}", "abc1237350", NULL},
        {"${KEYX}", "other", NULL},
        {"${WITH_EQ}", "a=b", NULL},
        {"${EMPTY}", "", NULL},
        {"${EMPTY:-dflt}", "dflt", NULL},
        {"${UNSET:-}", "", NULL},
        {"${UNSET:-x y:z}", "x y:z", NULL},
        {"${KEY:-dflt}", "abc123", NULL},
        {"price $5 and $HOME", "price $5 and $HOME", NULL},
        {"$${KEY}", "${KEY}", NULL},
        {"$$", "$", NULL},
        {"end $", "end $", NULL},
        {"a\nb\n${UNSET}", NULL, "line 3: environment variable UNSET is not set"},
        {"${}", NULL, "line 1: malformed"},
        {"${1A}", NULL, "malformed"},
        {"${KEY", NULL, "unterminated ${KEY"},
        {"${KEY:-abc\n}", NULL, "unterminated"},
        {"${KEY-x}", NULL, "unterminated"},
    };
    for (size_t i = 0; i < TOMO_ARRAY_LEN(cases); i++) {
        char *out = (char *)1, err[256] = "";
        size_t n = 99;
        int rc = tomo_template_render(cases[i].in, strlen(cases[i].in), env, &out, &n, err,
                                      sizeof(err));
        if (cases[i].want) {
            TT_OK(rc);
            TT_STR_EQ(out, cases[i].want);
            TT_EQ(n, strlen(cases[i].want));
        } else {
            TT_EQ(rc, TOMO_EINVAL);
            TT_TRUE(out == NULL);
            TT_CONTAINS(err, cases[i].werr);
        }
        free(out);
    }
}

static void test_null_env_and_embedded_nul(void)
{
    char *out, err[128];
    TT_EQ(tomo_template_render("${A}", 4, NULL, &out, NULL, err, sizeof(err)), TOMO_EINVAL);
    TT_CONTAINS(err, "A is not set");
    /* the length bounds the input, not a NUL */
    TT_OK(tomo_template_render("${KEY}zzz", 6, env, &out, NULL, err, sizeof(err)));
    TT_STR_EQ(out, "abc123");
    free(out);
}

static void test_large(void)
{
    size_t n = 100000;
    char *in = malloc(n * 6 + 1), *out, err[64];
    for (size_t i = 0; i < n; i++)
        memcpy(in + 6 * i, "${KEY}", 6);
    in[6 * n] = 0;
    size_t on;
    TT_OK(tomo_template_render(in, 6 * n, env, &out, &on, err, sizeof(err)));
    TT_EQ(on, 6 * n);
    TT_EQ(memcmp(out, "abc123abc123", 12), 0);
    free(in);
    free(out);
}

int main(void)
{
    TT_RUN(test_table);
    TT_RUN(test_null_env_and_embedded_nul);
    TT_RUN(test_large);
    return tt_finish();
}
