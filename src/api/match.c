/* api/match.c: GET /v2/match, the match listing. Runs on the loop thread
 * (TOMO_ROUTE_LOOP) because it reads realtime state. Only relayed matches
 * exist until the runtime hosts authoritative ones. */
#include "handlers.h"

#include "../rt/rt.h"

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
    /* Nakama 3.15 lists relayed matches only without label and query
     * filters (those search authoritative match labels) and unless
     * authoritative=true. */
    if (!(auth_set && authoritative) && !query && !label)
        tomo_rt_match_list(ctx->srv->rt, (int)limit, has_min ? (int)min : -1, has_max ? (int)max : -1,
                           NULL, matches);
    ctx->out = json_object();
    if (json_array_size(matches))
        json_object_set(ctx->out, "matches", matches);
    json_decref(matches);
    return 0;
}
