/* tests/api/test_routes.c: the route table's gRPC columns: every API call
 * names its gRPC method and request message, rows of one method agree. */
#include "api/api.h"
#include "tt.h"

#include <string.h>

static void test_grpc_columns(void)
{
    size_t n;
    const tomo_api_route *r = tomo_api_routes(&n);
    TT_TRUE(n > 80);
    for (size_t i = 0; i < n; i++) {
        int rest_only = (r[i].flags & TOMO_ROUTE_RAW) || !strcmp(r[i].path, "/readyz");
        if (rest_only) {
            TT_TRUE(r[i].grpc_method == NULL && r[i].request == NULL);
            continue;
        }
        if (!r[i].grpc_method || !r[i].request) {
            TT_FAIL("route %s has no gRPC method/request", r[i].path);
            continue;
        }
        TT_TRUE(!strncmp(r[i].grpc_method, "/nakama.api.Nakama/", 19));
        TT_TRUE(!strncmp(r[i].request, "nakama.api.", 11) ||
                !strcmp(r[i].request, "google.protobuf.Empty"));
        for (size_t j = 0; j < i; j++)
            if (r[j].grpc_method && !strcmp(r[j].grpc_method, r[i].grpc_method))
                TT_STR_EQ(r[j].request, r[i].request);
    }
    /* spot checks */
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(r[i].path, "/v2/rpc/{id}"))
            TT_STR_EQ(r[i].grpc_method, "/nakama.api.Nakama/RpcFunc");
        if (!strcmp(r[i].path, "/v2/account/link/device"))
            TT_STR_EQ(r[i].request, "nakama.api.AccountDevice");
        if (!strcmp(r[i].path, "/v2/account") && r[i].method == TOMO_HTTP_GET)
            TT_STR_EQ(r[i].request, "google.protobuf.Empty");
    }
}

int main(void)
{
    TT_RUN(test_grpc_columns);
    return tt_finish();
}
