/* api/channel.c: GET /v2/channel/{channel_id}, chat history over REST
 * (svc/chat.h tomo_svc_chat_history). Threads: worker. */
#include "handlers.h"

#include "../core/common.h"
#include "../svc/chat.h"

int tomo_api_channel_messages_list(tomo_api_ctx *ctx)
{
    const char *channel_id = tomo_api_param(ctx, "channel_id");
    if (!channel_id || !*channel_id)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid channel ID.");
    int bad = 0;
    long long limit = tomo_api_query_int(ctx, "limit", TOMO_CHAT_LIST_DEFAULT, &bad);
    if (bad || limit < 1 || limit > TOMO_CHAT_LIST_MAX)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    int forward = tomo_api_query_bool(ctx, "forward", 1, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid forward value.");
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller me = tomo_api_caller(ctx);
    tomo_err err;
    if (tomo_svc_chat_history(&ctx->srv->svc, db, &me, channel_id, (int)limit, forward,
                              tomo_api_query(ctx, "cursor"), &ctx->out, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}
