/* tests/net/test_router.c: literal and {param} matching, 404 vs 405. */
#include "core/common.h"
#include "net/http.h"
#include "net/router.h"
#include "tt.h"

static void test_table(void)
{
    tomo_router *r = tomo_router_new();
    tomo_router_add(r, TOMO_HTTP_GET, "/v2/account", 1);
    tomo_router_add(r, TOMO_HTTP_PUT, "/v2/account", 2);
    tomo_router_add(r, TOMO_HTTP_GET, "/v2/storage/{collection}", 3);
    tomo_router_add(r, TOMO_HTTP_GET, "/v2/storage/{collection}/{user_id}", 4);
    tomo_router_add(r, TOMO_HTTP_PUT, "/v2/storage/delete", 5);
    static const struct {
        int method;
        const char *path;
        int rc, id;
        const char *param, *value;
    } cases[] = {
        {TOMO_HTTP_GET, "/v2/account", 0, 1, NULL, NULL},
        {TOMO_HTTP_PUT, "/v2/account", 0, 2, NULL, NULL},
        {TOMO_HTTP_DELETE, "/v2/account", TOMO_EPERM, 0, NULL, NULL},
        {TOMO_HTTP_GET, "/v2/accounts", TOMO_ENOTFOUND, 0, NULL, NULL},
        {TOMO_HTTP_GET, "/v2/storage/saves", 0, 3, "collection", "saves"},
        {TOMO_HTTP_GET, "/v2/storage/saves/u1", 0, 4, "user_id", "u1"},
        {TOMO_HTTP_PUT, "/v2/storage/delete", 0, 5, NULL, NULL},
        {TOMO_HTTP_GET, "/v2/storage/", TOMO_ENOTFOUND, 0, NULL, NULL},
        {TOMO_HTTP_GET, "/", TOMO_ENOTFOUND, 0, NULL, NULL},
        {TOMO_HTTP_GET, "/v2/storage/a/b/c", TOMO_ENOTFOUND, 0, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tomo_route_match m = {0};
        int rc = tomo_router_match(r, cases[i].method, cases[i].path, &m);
        TT_EQ(rc, cases[i].rc);
        if (rc == 0) {
            TT_EQ(m.id, cases[i].id);
            if (cases[i].param)
                TT_STR_EQ(tomo_route_param(&m, cases[i].param), cases[i].value);
        }
        tomo_route_match_clear(&m);
    }
    tomo_router_free(r);
}

int main(void)
{
    TT_RUN(test_table);
    return tt_finish();
}
