/* api/channel.c: GET /v2/channel/{channel_id}, chat history over REST
 * (store side in svc/chat.h). Threads: worker. */
#include "handlers.h"

#include <string.h>

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
    tomo_chat_channel ch;
    if (tomo_chat_id_parse(channel_id, &ch) < 0)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid channel ID.");
    /* A DM's history belongs to its two users only (Nakama 3.40). */
    if (ch.mode == TOMO_CHAT_DM && strcmp(ch.subject, ctx->session.user_id) != 0 &&
        strcmp(ch.subcontext, ctx->session.user_id) != 0)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Channel not found.");
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    int rc;
    if (ch.mode == TOMO_CHAT_GROUP) {
        rc = tomo_chat_group_check(db, ch.subject, ctx->session.user_id);
        if (rc == TOMO_ENOTFOUND)
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Group not found.");
        if (rc < 0)
            return tomo_api_db_error(ctx, rc, "group membership");
    }
    rc = tomo_chat_history_list(db, &ch, channel_id, (int)limit, forward,
                                    tomo_api_query(ctx, "cursor"), &ctx->out);
    if (rc == TOMO_EINVAL)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Cursor is invalid or expired.");
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, "channel message list");
    return 0;
}
