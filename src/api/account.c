/* api/account.c: GET/PUT/DELETE /v2/account and GET /v2/user.
 * Threads: worker. Deleting an account revokes its tokens and closes its
 * sockets from the loop thread (ctx->after_fn). */
#define _GNU_SOURCE
#include "account.h"

#include "auth.h"
#include "handlers.h"
#include "revoke.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../rt/rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *tomo_account_user_json(const tomo_dbres *r, size_t row, size_t c)
{
    json_t *u = json_object();
    static const char *const names[] = {"id",           "username",    "display_name",
                                        "avatar_url",   "lang_tag",    "location",
                                        "timezone",     "metadata",    "facebook_id",
                                        "google_id",    "gamecenter_id", "steam_id"};
    for (size_t i = 0; i < TOMO_ARRAY_LEN(names); i++)
        tomo_json_set_str(u, names[i], tomo_dbres_text(r, row, c + i));
    long long edges = tomo_dbres_int(r, row, c + 12);
    if (edges)
        json_object_set_new(u, "edge_count", json_integer(edges));
    tomo_json_set_time(u, "create_time", tomo_dbres_int(r, row, c + 13));
    tomo_json_set_time(u, "update_time", tomo_dbres_int(r, row, c + 14));
    tomo_json_set_str(u, "facebook_instant_game_id", tomo_dbres_text(r, row, c + 15));
    tomo_json_set_str(u, "apple_id", tomo_dbres_text(r, row, c + 16));
    return u;
}

/* ---- GET /v2/account ---- */

int tomo_api_account_get(tomo_api_ctx *ctx)
{
    tomo_dbconn *db;
    tomo_dbres *r = NULL, *d = NULL;
    int rc;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        return rc;
    tomo_dbval p[1] = {TOMO_DBTEXT(ctx->session.user_id)};
    rc = tomo_db_exec(db,
                      "SELECT " TOMO_ACCOUNT_USER_COLS
                      ", wallet, email, custom_id, verify_time, disable_time FROM users WHERE id = $1",
                      p, 1, &r);
    if (rc == 0)
        rc = tomo_db_exec(db, "SELECT id FROM user_device WHERE user_id = $1 ORDER BY id", p, 1,
                          &d);
    if (rc < 0) {
        rc = tomo_api_db_error(ctx, rc, "get account");
        goto out;
    }
    if (!tomo_dbres_rows(r)) {
        rc = tomo_api_error(ctx, TOMO_GRPC_NOT_FOUND, "Account not found.");
        goto out;
    }
    const size_t k = TOMO_ACCOUNT_USER_NCOLS;
    json_t *a = json_object();
    json_object_set_new(a, "user", tomo_account_user_json(r, 0, 0));
    const char *wallet = tomo_dbres_text(r, 0, k);
    json_object_set_new(a, "wallet", json_string(wallet && *wallet ? wallet : "{}"));
    tomo_json_set_str(a, "email", tomo_dbres_text(r, 0, k + 1));
    if (tomo_dbres_rows(d)) {
        json_t *devs = json_array();
        for (size_t i = 0; i < tomo_dbres_rows(d); i++)
            json_array_append_new(devs, json_pack("{s:s}", "id", tomo_dbres_text(d, i, 0)));
        json_object_set_new(a, "devices", devs);
    }
    tomo_json_set_str(a, "custom_id", tomo_dbres_text(r, 0, k + 2));
    tomo_json_set_time(a, "verify_time", tomo_dbres_int(r, 0, k + 3));
    tomo_json_set_time(a, "disable_time", tomo_dbres_int(r, 0, k + 4));
    ctx->out = a;
    rc = 0;
out:
    tomo_dbres_free(r);
    tomo_dbres_free(d);
    return rc;
}
