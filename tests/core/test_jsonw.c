/* tests/core/test_jsonw.c: core/jsonw.h writes what jansson's
 * json_dumps(JSON_COMPACT) prints for the same tree, on random strings
 * (control characters, quotes, multi-byte and invalid UTF-8), integers and
 * nesting. */
#include "core/jsonw.h"
#include "tt.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static unsigned seed = 7;
static unsigned rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static void random_string(char *s, size_t cap)
{
    static const char *pieces[] = {"a",
                                   "Z",
                                   "\"",
                                   "\\",
                                   "/",
                                   "\n",
                                   "\t",
                                   "\x01",
                                   "\x1f",
                                   "\x7f",
                                   "\xc3\xa9",
                                   "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80",
                                   "\xc3",
                                   "\xed\xa0\x80",
                                   "\xc0\xaf",
                                   "\xf4\x90\x80\x80",
                                   "\xff",
                                   " ",
                                   "{}",
                                   "\b",
                                   "\f",
                                   "\r"};
    size_t n = rnd() % 8, len = 0;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(*pieces))];
        size_t l = strlen(p);
        if (len + l + 1 >= cap)
            break;
        memcpy(s + len, p, l + 1);
        len += l;
    }
}

/* The same random content into a jansson tree and a writer. */
static void fill(json_t *obj, tomo_jw *w, int depth)
{
    size_t n = rnd() % 6;
    for (size_t i = 0; i < n; i++) {
        char key[16], v[64];
        snprintf(key, sizeof(key), "k%zu", i);
        switch (rnd() % (depth < 2 ? 5 : 3)) {
        case 0:
            random_string(v, sizeof(v));
            json_object_set_new(obj, key, json_string(v));
            tomo_jw_str(w, key, v);
            break;
        case 1: {
            long long x = (long long)rnd() - (1 << 22);
            if (rnd() % 4 == 0)
                x *= 1000000007LL;
            json_object_set_new(obj, key, json_integer(x));
            tomo_jw_int(w, key, x);
            break;
        }
        case 2:
            json_object_set_new(obj, key, json_true());
            tomo_jw_raw(w, key, "true");
            break;
        case 3: {
            json_t *o = json_object();
            tomo_jw_obj(w, key);
            fill(o, w, depth + 1);
            tomo_jw_obj_end(w);
            json_object_set_new(obj, key, o);
            break;
        }
        default: {
            json_t *a = json_array();
            tomo_jw_arr(w, key);
            size_t m = rnd() % 4;
            for (size_t j = 0; j < m; j++) {
                json_t *o = json_object();
                tomo_jw_obj(w, NULL);
                fill(o, w, depth + 1);
                tomo_jw_obj_end(w);
                json_array_append_new(a, o);
            }
            tomo_jw_arr_end(w);
            json_object_set_new(obj, key, a);
        }
        }
    }
}

static void test_same_as_jansson(void)
{
    for (int round = 0; round < 2000; round++) {
        json_t *obj = json_object();
        tomo_jw w;
        tomo_jw_init(&w);
        tomo_jw_obj(&w, NULL);
        fill(obj, &w, 0);
        tomo_jw_obj_end(&w);
        size_t len = 0;
        char *mine = tomo_jw_take(&w, &len);
        char *ref = json_dumps(obj, JSON_COMPACT);
        TT_STR_EQ(mine, ref);
        TT_EQ(len, strlen(ref));
        free(mine);
        free(ref);
        json_decref(obj);
    }
}

static void test_utf8(void)
{
    TT_TRUE(tomo_jw_utf8_ok("plain \xc3\xa9 \xf0\x9f\x98\x80"));
    TT_TRUE(!tomo_jw_utf8_ok("\xc3"));
    TT_TRUE(!tomo_jw_utf8_ok("\xed\xa0\x80"));     /* surrogate */
    TT_TRUE(!tomo_jw_utf8_ok("\xe0\x80\xaf"));     /* overlong */
    TT_TRUE(!tomo_jw_utf8_ok("\xf4\x90\x80\x80")); /* past U+10FFFF */
    tomo_jw w;
    tomo_jw_init(&w);
    tomo_jw_arr(&w, NULL);
    TT_EQ(tomo_jw_str(&w, NULL, "\xff"), -1);
    tomo_jw_int(&w, NULL, 1);
    tomo_jw_arr_end(&w);
    char *t = tomo_jw_take(&w, NULL);
    TT_STR_EQ(t, "[1]");
    free(t);
    t = tomo_jw_take(&w, NULL); /* empty writer: "" */
    TT_STR_EQ(t, "");
    free(t);
    tomo_jw_free(&w);
}

int main(void)
{
    TT_RUN(test_same_as_jansson);
    TT_RUN(test_utf8);
    return tt_finish();
}
