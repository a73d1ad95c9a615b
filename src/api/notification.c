/* api/notification.c: GET and DELETE /v2/notification, the REST face of
 * the notification store (svc/notification.h). Threads: worker. */
#include "handlers.h"

#include <stdlib.h>

#include "../core/common.h"
#include "../svc/notification.h"

int tomo_api_notification_list(tomo_api_ctx *ctx)
{
    int bad = 0;
    long long limit = tomo_api_query_int(ctx, "limit", TOMO_NOTIFY_LIST_DEFAULT, &bad);
    if (bad || limit < 1 || limit > TOMO_NOTIFY_LIST_MAX)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid limit - limit must be between 1 and 100.");
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    int rc = tomo_notify_list(db, ctx->session.user_id, (int)limit,
                              tomo_api_query(ctx, "cacheable_cursor"), &ctx->out);
    if (rc == TOMO_EINVAL)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Malformed cursor was used.");
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, "notification list");
    return 0;
}

int tomo_api_notification_delete(tomo_api_ctx *ctx)
{
    size_t n = tomo_api_query_count(ctx, "ids");
    if (n == 0)
        return 0;
    const char **ids = tomo_xcalloc(n, sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = tomo_api_query_at(ctx, "ids", i);
    tomo_dbconn *db;
    int rc = tomo_api_db(ctx, &db);
    if (rc == 0) {
        rc = tomo_notify_delete(db, ctx->session.user_id, ids, n);
        if (rc < 0)
            rc = tomo_api_db_error(ctx, rc, "notification delete");
    }
    free(ids);
    return rc;
}
