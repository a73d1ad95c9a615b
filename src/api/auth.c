/* api/auth.c: authenticate (device, custom, email, username+password),
 * session refresh and logout: the REST adapter over svc/auth.h (find or
 * create the account) and svc/session.h (the session). The identity
 * providers that need their vendor's servers (Apple, Facebook, Game Center,
 * Google, Steam) are not routed here and answer 501.
 * Threads: worker (handlers block on the database and on bcrypt). */
#define _GNU_SOURCE
#include "handlers.h"

#include "../svc/auth.h"
#include "../svc/provider.h"
#include "../svc/session.h"

#include "../core/common.h"

#include <stdint.h>
#include <string.h>

/* The `create` query parameter (default true); 0 or an error recorded. */
static int query_create(tomo_api_ctx *ctx, int *create)
{
    int bad = 0;
    *create = tomo_api_query_bool(ctx, "create", 1, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid value for query parameter create: expected a boolean.");
    return 0;
}

/* The `username` query parameter (NULL when absent) checked, then
 * `create`: 0 or an error recorded. */
static int query_username_create(tomo_api_ctx *ctx, int required, const char **username,
                                 int *create)
{
    tomo_err err;
    *username = tomo_api_query(ctx, "username");
    if (tomo_svc_auth_check_username(*username, required, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return query_create(ctx, create);
}

/* Issue the session for the account svc found or created (svc/session.h:
 * single_session revokes the user's older tokens first) and set ctx->out. */
static int respond_session(tomo_api_ctx *ctx, tomo_dbconn *db, const tomo_auth_account *a,
                           const json_t *vars)
{
    tomo_err err;
    tomo_session_pair s;
    if (tomo_svc_session_start(&ctx->srv->svc, db, a->user_id, a->username, a->disable_time,
                               vars, &s, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    json_t *o = json_object();
    if (a->created)
        json_object_set_new(o, "created", json_true());
    json_object_set_new(o, "token", json_string(s.token));
    json_object_set_new(o, "refresh_token", json_string(s.refresh_token));
    tomo_session_pair_clear(&s);
    ctx->out = o;
    return 0;
}

/* ---- authenticate ---- */

int tomo_api_route_kind(const tomo_api_ctx *ctx)
{
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {
        {"Device", TOMO_UNLINK_DEVICE},
        {"Custom", TOMO_UNLINK_CUSTOM},
        {"Email", TOMO_UNLINK_EMAIL},
        {"Apple", TOMO_UNLINK_APPLE},
        {"Facebook", TOMO_UNLINK_FACEBOOK},
        {"FacebookInstantGame", TOMO_UNLINK_FACEBOOK_INSTANT_GAME},
        {"GameCenter", TOMO_UNLINK_GAMECENTER},
        {"Google", TOMO_UNLINK_GOOGLE},
        {"Steam", TOMO_UNLINK_STEAM},
    };
    static const char *const verbs[] = {"Authenticate", "Unlink", "Link"};
    const char *n = ctx->route->name;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        size_t len = strlen(verbs[i]);
        if (!strncmp(n, verbs[i], len)) {
            n += len;
            break;
        }
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(n, kinds[i].name))
            return kinds[i].kind;
    abort(); /* a route table row this adapter does not serve */
}

static int authenticate_by_id(tomo_api_ctx *ctx, int kind)
{
    const json_t *body, *vars;
    const char *id, *username;
    int create = 0;
    tomo_err err;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "id", "", &id) < 0 ||
        tomo_api_field_str_map(ctx, body, "vars", &vars) < 0)
        return -1;
    if (tomo_svc_auth_check_id(kind, id, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    if (query_username_create(ctx, 0, &username, &create) < 0)
        return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_auth_account a;
    if (tomo_svc_auth_id(&ctx->srv->svc, db, kind, id, username, create, &a, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return respond_session(ctx, db, &a, vars);
}

/* Device or custom id: the route says which. */
int tomo_api_authenticate_id(tomo_api_ctx *ctx)
{
    return authenticate_by_id(ctx, tomo_api_route_kind(ctx));
}

int tomo_api_authenticate_email(tomo_api_ctx *ctx)
{
    const json_t *body, *vars;
    const char *email, *password, *username;
    int create = 0;
    tomo_err err;
    if (tomo_api_body(ctx, &body) < 0)
        return -1;
    if (!body)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Email address and password is required.");
    if (tomo_api_field_str(ctx, body, "email", "", &email) < 0 ||
        tomo_api_field_str(ctx, body, "password", "", &password) < 0 ||
        tomo_api_field_str_map(ctx, body, "vars", &vars) < 0)
        return -1;
    int by_username = !*email;
    if ((!by_username && tomo_svc_auth_check_email(email, &err) < 0) ||
        tomo_svc_auth_check_password(password, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    if (query_username_create(ctx, by_username, &username, &create) < 0)
        return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_auth_account a;
    if (tomo_svc_auth_email(&ctx->srv->svc, db, email, password, username, create, &a, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return respond_session(ctx, db, &a, vars);
}

/* ---- social providers (svc/provider.h) ---- */

int tomo_api_provider_account(tomo_api_ctx *ctx, const json_t *acct, int kind,
                              tomo_provider_account *a)
{
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->present = acct != NULL;
    if (acct && !json_is_object(acct))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid value for field account: expected an object.");
    if (kind == TOMO_UNLINK_FACEBOOK_INSTANT_GAME)
        return tomo_api_field_str(ctx, acct, "signed_player_info", "", &a->token);
    if (kind != TOMO_UNLINK_GAMECENTER)
        return tomo_api_field_str(ctx, acct, "token", "", &a->token);
    if (tomo_api_field_str(ctx, acct, "player_id", "", &a->player_id) < 0 ||
        tomo_api_field_str(ctx, acct, "bundle_id", "", &a->bundle_id) < 0 ||
        tomo_api_field_str(ctx, acct, "salt", "", &a->salt) < 0 ||
        tomo_api_field_str(ctx, acct, "signature", "", &a->signature) < 0 ||
        tomo_api_field_str(ctx, acct, "public_key_url", "", &a->public_key_url) < 0)
        return -1;
    return tomo_api_field_int(ctx, acct, "timestamp_seconds", 0, INT64_MIN, INT64_MAX,
                              &a->timestamp_seconds);
}

/* The body is the provider account; `sync` (Facebook, Steam) only reads
 * friends from the vendor, which tomo never reaches. */
int tomo_api_authenticate_social(tomo_api_ctx *ctx)
{
    int kind = tomo_api_route_kind(ctx);
    const json_t *body, *vars;
    tomo_provider_account a;
    int create = 0, sync = 0, bad = 0;
    tomo_err err;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_provider_account(ctx, body, kind, &a) < 0 ||
        tomo_api_field_str_map(ctx, body, "vars", &vars) < 0 || query_create(ctx, &create) < 0)
        return -1;
    sync = tomo_api_query_bool(ctx, "sync", 0, &bad);
    (void)sync;
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid value for query parameter sync: expected a boolean.");
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_auth_account acct;
    if (tomo_svc_auth_social(&ctx->srv->svc, db, &a, tomo_api_query(ctx, "username"), create,
                             &acct, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return respond_session(ctx, db, &acct, vars);
}

/* ---- session refresh and logout ---- */

int tomo_api_session_refresh(tomo_api_ctx *ctx)
{
    const json_t *body, *vars;
    const char *token;
    tomo_dbconn *db;
    tomo_session_pair s;
    tomo_err err;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "token", "", &token) < 0 ||
        tomo_api_field_str_map(ctx, body, "vars", &vars) < 0)
        return -1;
    if (!*token)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Refresh token is required.");
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (tomo_svc_session_refresh(&ctx->srv->svc, db, token, vars, &s, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    ctx->out = json_pack("{s:s,s:s}", "token", s.token, "refresh_token", s.refresh_token);
    tomo_session_pair_clear(&s);
    return 0;
}

int tomo_api_session_logout(tomo_api_ctx *ctx)
{
    const json_t *body;
    const char *token, *refresh;
    tomo_dbconn *db;
    tomo_err err;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "token", "", &token) < 0 ||
        tomo_api_field_str(ctx, body, "refresh_token", "", &refresh) < 0)
        return -1;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    tomo_caller me = tomo_api_caller(ctx);
    if (tomo_svc_session_logout(&ctx->srv->svc, db, &me, token, refresh, &err) < 0)
        return tomo_api_svc_error(ctx, &err);
    return 0;
}
