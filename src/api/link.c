/* api/link.c: link and unlink device, custom and email identifiers to the
 * caller's account (Nakama's core_link.go / core_unlink.go semantics: an
 * identifier held by someone else is a conflict, and the last way to log in
 * can never be removed). Threads: worker. */
#define _GNU_SOURCE
#include "auth.h"
#include "handlers.h"
#include "password.h"

#include "../core/common.h"
#include "../svc/account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Body with one string field (id or email); 0 or an error recorded. */
static int body_str(tomo_api_ctx *ctx, const char *field, const char **out)
{
    const json_t *body;
    if (tomo_api_body(ctx, &body) < 0)
        return -1;
    return tomo_api_field_str(ctx, body, field, "", out);
}

/* ---- link ---- */

int tomo_api_link_device(tomo_api_ctx *ctx)
{
    const char *id;
    if (body_str(ctx, "id", &id) < 0)
        return -1;
    if (!*id)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Device ID is required.");
    if (tomo_auth_has_space_or_cntrl(id))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Device ID invalid, no spaces or control characters allowed.");
    if (strlen(id) < 10 || strlen(id) > 128)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Device ID invalid, must be 10-128 bytes.");
    tomo_dbconn *db;
    tomo_dbres *r = NULL;
    int rc;
    if ((rc = tomo_api_db(ctx, &db)) < 0)
        return rc;
    const char *me = ctx->session.user_id;
    tomo_dbval p[3] = {TOMO_DBTEXT(id), TOMO_DBTEXT(me), TOMO_DBINT(tomo_now_ms())};
    if ((rc = tomo_db_begin(db)) < 0)
        goto out;
    rc = tomo_db_exec(db, "SELECT user_id FROM user_device WHERE id = $1", p, 1, &r);
    if (rc == 0 && tomo_dbres_rows(r) && strcmp(tomo_dbres_text(r, 0, 0), me)) {
        tomo_db_rollback(db);
        rc = tomo_api_error(ctx, TOMO_GRPC_ALREADY_EXISTS, "Device ID already in use.");
        goto out;
    }
    if (rc == 0 && !tomo_dbres_rows(r))
        rc = tomo_db_exec(db, "INSERT INTO user_device (id, user_id) VALUES ($1, $2)", p, 2,
                          NULL);
    if (rc == 0)
        rc = tomo_db_exec(db, "UPDATE users SET update_time = $3 WHERE id = $2", p, 3, NULL);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        if (rc == TOMO_ECONFLICT) /* a concurrent link of the same device */
            rc = tomo_api_error(ctx, TOMO_GRPC_ALREADY_EXISTS, "Device ID already in use.");
        else
            rc = tomo_api_db_error(ctx, rc, "link device");
    }
out:
    tomo_dbres_free(r);
    return rc < 0 ? rc : 0;
}

int tomo_api_link_custom(tomo_api_ctx *ctx)
{
    const char *id;
    if (body_str(ctx, "id", &id) < 0)
        return -1;
    if (!*id)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Custom ID is required.");
    if (tomo_auth_has_space_or_cntrl(id))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid custom ID, no spaces or control characters allowed.");
    if (strlen(id) < 6 || strlen(id) > 128)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid custom ID, must be 6-128 bytes.");
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_dbval p[3] = {TOMO_DBTEXT(ctx->session.user_id), TOMO_DBTEXT(id),
                       TOMO_DBINT(tomo_now_ms())};
    int64_t n = 0;
    int rc = tomo_db_exec_changes(db,
                          "UPDATE users SET custom_id = $2, update_time = $3 WHERE id = $1 AND "
                          "NOT EXISTS (SELECT id FROM users WHERE custom_id = $2 AND id <> $1)",
                          p, 3, &n);
    if (rc == TOMO_ECONFLICT || (rc == 0 && n == 0))
        return tomo_api_error(ctx, TOMO_GRPC_ALREADY_EXISTS, "Custom ID is already in use.");
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, "link custom");
    return 0;
}

int tomo_api_link_email(tomo_api_ctx *ctx)
{
    const json_t *body;
    const char *email, *password;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "email", "", &email) < 0 ||
        tomo_api_field_str(ctx, body, "password", "", &password) < 0)
        return -1;
    /* Nakama's order for link differs from authenticate. */
    if (!*email || !*password)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Email address and password is required.");
    if (tomo_auth_has_space_or_cntrl(email))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid email address, no spaces or control characters allowed.");
    if (strlen(password) < 8)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Password must be at least 8 characters long.");
    if (tomo_auth_check_email(ctx, email) < 0)
        return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    char *clean = tomo_auth_lower(email);
    char *hash = tomo_password_hash(password);
    int rc;
    if (!hash) {
        rc = tomo_api_error(ctx, TOMO_GRPC_INTERNAL, "Error while trying to link email.");
        goto out;
    }
    tomo_dbval p[4] = {TOMO_DBTEXT(ctx->session.user_id), TOMO_DBTEXT(clean), TOMO_DBTEXT(hash),
                       TOMO_DBINT(tomo_now_ms())};
    int64_t n = 0;
    rc = tomo_db_exec_changes(db,
                      "UPDATE users SET email = $2, password = $3, update_time = $4 WHERE id = $1 "
                      "AND NOT EXISTS (SELECT id FROM users WHERE email = $2 AND id <> $1)",
                      p, 4, &n);
    if (rc == TOMO_ECONFLICT || (rc == 0 && n == 0))
        rc = tomo_api_error(ctx, TOMO_GRPC_ALREADY_EXISTS, "Email is already in use.");
    else if (rc < 0)
        rc = tomo_api_db_error(ctx, rc, "link email");
out:
    free(clean);
    free(hash);
    return rc;
}

/* ---- unlink (svc/account.h) ---- */

static int unlink_kind(tomo_api_ctx *ctx, int kind, const char *field)
{
    const char *v;
    if (body_str(ctx, field, &v) < 0)
        return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller caller = tomo_api_caller(ctx);
    tomo_err err;
    if (tomo_svc_account_unlink(&ctx->srv->svc, db, &caller, NULL, kind, v, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}

int tomo_api_unlink_device(tomo_api_ctx *ctx) { return unlink_kind(ctx, TOMO_UNLINK_DEVICE, "id"); }

int tomo_api_unlink_custom(tomo_api_ctx *ctx) { return unlink_kind(ctx, TOMO_UNLINK_CUSTOM, "id"); }

int tomo_api_unlink_email(tomo_api_ctx *ctx)
{
    return unlink_kind(ctx, TOMO_UNLINK_EMAIL, "email");
}
