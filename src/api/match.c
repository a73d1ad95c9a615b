/* api/match.c: GET /v2/match, the match listing (authoritative matches by
 * label or query, relayed ones: rt/amatch.h). Runs on the loop thread
 * (TOMO_ROUTE_LOOP) because relayed matches are realtime state. */
#include "handlers.h"

#include "../rt/amatch.h"

#include <string.h>

int tomo_api_match_list(tomo_api_ctx *ctx)
{
    int bad = 0;
    long long limit = tomo_api_query_int(ctx, "limit", 10, &bad);
    if (bad || limit < 1 || limit > 100)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    int auth_set = tomo_api_query(ctx, "authoritative") && *tomo_api_query(ctx, "authoritative");
    int authoritative = tomo_api_query_bool(ctx, "authoritative", 0, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid authoritative value.");
    const char *label = tomo_api_query(ctx, "label");
    const char *query = tomo_api_query(ctx, "query");
    if (label && auth_set && !authoritative)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Label filtering is not supported for non-authoritative matches.");
    if (query && auth_set && !authoritative)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Query filtering is not supported for non-authoritative matches.");
    long long min = tomo_api_query_int(ctx, "min_size", -1, &bad);
    long long max = tomo_api_query_int(ctx, "max_size", -1, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid size value.");
    int has_min = tomo_api_query(ctx, "min_size") != NULL;
    int has_max = tomo_api_query(ctx, "max_size") != NULL;
    if (has_min && min < 0)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Minimum size must be 0 or above.");
    if (has_max && max < 0)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Maximum size must be 0 or above.");
    if (has_min && has_max && min > max)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Maximum size must be greater than or equal to minimum size when "
                              "both are specified.");
    json_t *matches = json_array();
    tomo_match_query q = {.limit = (int)limit,
                          .authoritative = auth_set ? authoritative : -1,
                          .label = label,
                          .min_size = has_min ? (int)min : -1,
                          .max_size = has_max ? (int)max : -1,
                          .query = query};
    if (tomo_rt_match_list_all(tomo_rt_of_thread(ctx->srv->rt), &q, matches) < 0) {
        json_decref(matches);
        return tomo_api_error(ctx, TOMO_GRPC_INTERNAL, "Error listing matches.");
    }
    /* protojson leaves zero values out (the Lua tables keep size = 0) */
    size_t i;
    json_t *m;
    json_array_foreach(matches, i, m)
    {
        if (json_integer_value(json_object_get(m, "size")) == 0)
            json_object_del(m, "size");
    }
    ctx->out = json_object();
    if (json_array_size(matches))
        json_object_set(ctx->out, "matches", matches);
    json_decref(matches);
    return 0;
}
