/* console/auth.c: console login (POST /v2/console/authenticate), logout,
 * and the check every other console call goes through: a token signed with
 * console.signing_key (HS256; Nakama's claims id, usn, ema, rol, exp, cki)
 * or Basic auth with console.username/password (role admin), or with
 * console.readonly_username/password when set (role read-only: the routes
 * open to Nakama's readonly role), or a console user kept in the database
 * (svc/console_user.h; bcrypt). Passwords compare in
 * constant time; login attempts are limited per client address with the
 * rate_limit.auth_* settings (core/ratelimit.h), whether or not
 * rate_limit.enabled is set. Threads: worker. */
#define _GNU_SOURCE
#include "console_int.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jwt.h"
#include "../core/log.h"
#include "../core/ratelimit.h"
#include "../svc/console_user.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NIL_UUID "00000000-0000-0000-0000-000000000000"
#define MSG_REQUIRED "Console authentication required."
#define MSG_INVALID "Console authentication invalid."

/* A logged-out token (its signature) until it expires. */
typedef struct revoked {
    char sig[64];
    int64_t exp;
    struct revoked *next;
} revoked;

static const char *token_sig(const char *token)
{
    const char *dot = strrchr(token, '.');
    return dot ? dot + 1 : token;
}

/* key: a token's signature (a logout) or "id:<user id>" (a deleted
 * console user: every token it holds). */
static int is_revoked(tomo_console *c, const char *key, int64_t now)
{
    const char *sig = key;
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    for (revoked **p = &c->revoked; *p;) {
        if ((*p)->exp <= now) {
            revoked *dead = *p;
            *p = dead->next;
            free(dead);
            continue;
        }
        if (!strncmp((*p)->sig, sig, sizeof((*p)->sig) - 1))
            hit = 1;
        p = &(*p)->next;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void revoke_add(tomo_console *c, const char *key, int64_t exp)
{
    revoked *r = tomo_xcalloc(1, sizeof(*r));
    snprintf(r->sig, sizeof(r->sig), "%s", key);
    r->exp = exp;
    pthread_mutex_lock(&c->mu);
    r->next = c->revoked;
    c->revoked = r;
    pthread_mutex_unlock(&c->mu);
}

void tomo_console_revoke_user(tomo_console *c, const char *user_id)
{
    char key[64];
    snprintf(key, sizeof(key), "id:%s", user_id);
    revoke_add(c, key, tomo_now_sec() + c->d.cfg->console.token_expiry_sec + 1);
}

void tomo_console_auth_free(tomo_console *c)
{
    while (c->revoked) {
        revoked *n = c->revoked->next;
        free(c->revoked);
        c->revoked = n;
    }
}

/* The role of a username and password: the admin's (console.username /
 * password), the read-only user's (console.readonly_*, when both are set),
 * or TOMO_ROLE_UNKNOWN. Every comparison runs every time, in constant time. */
static int credentials_role(const tomo_config *cfg, const char *user, size_t ul,
                            const char *pass, size_t pl)
{
    int u = tomo_ct_equal(user, ul, cfg->console.username, strlen(cfg->console.username));
    int p = tomo_ct_equal(pass, pl, cfg->console.password, strlen(cfg->console.password));
    const char *ru = cfg->console.readonly_username ? cfg->console.readonly_username : "";
    const char *rp = cfg->console.readonly_password ? cfg->console.readonly_password : "";
    int ro = tomo_ct_equal(user, ul, ru, strlen(ru)) & tomo_ct_equal(pass, pl, rp, strlen(rp)) &
             (*ru != '\0') & (*rp != '\0');
    return (u & p) ? TOMO_ROLE_ADMIN : ro ? TOMO_ROLE_READONLY : TOMO_ROLE_UNKNOWN;
}

/* One login attempt from the client's address; 0 or an error recorded. */
static int limit_login(tomo_console_ctx *ctx)
{
    const tomo_config *cfg = ctx->con->d.cfg;
    char key[80];
    snprintf(key, sizeof(key), "console:%s", ctx->client_ip);
    int64_t wait = 0;
    if (tomo_ratelimit_take(ctx->con->login_limit, TOMO_RL_AUTH, key, strlen(key),
                            cfg->rate_limit.auth_per_sec, cfg->rate_limit.auth_burst,
                            (int64_t)(tomo_mono_ns() / 1000000), &wait) == 0)
        return 0;
    ctx->retry_after_sec = (int)((wait + 999) / 1000);
    TOMO_LOGW(TOMO_CONSOLE, "console login rate limited client=%s", ctx->client_ip);
    return tomo_console_error(ctx, TOMO_GRPC_RESOURCE_EXHAUSTED, "Rate limit exceeded.");
}

int tomo_console_login(tomo_console_ctx *ctx)
{
    if (limit_login(ctx) < 0)
        return -1;
    const char *user = tomo_console_body_str(ctx, "username");
    const char *pass = tomo_console_body_str(ctx, "password");
    const tomo_config *cfg = ctx->con->d.cfg;
    int role = user && pass ? credentials_role(cfg, user, strlen(user), pass, strlen(pass))
                            : TOMO_ROLE_UNKNOWN;
    tomo_console_user dbu = {.id = NIL_UUID};
    snprintf(dbu.username, sizeof(dbu.username), "%s", user ? user : "");
    if (role == TOMO_ROLE_UNKNOWN && user && pass && *user &&
        strcmp(user, cfg->console.username) != 0) {
        /* Not a configured user: a console user from the database, by
         * username or email (Nakama's order). */
        tomo_dbconn *db;
        if (tomo_console_db(ctx, &db) < 0)
            return -1;
        tomo_err err;
        if (tomo_svc_console_user_login(ctx->con->d.svc, db, user, pass, &dbu, &err) < 0) {
            TOMO_LOGW(TOMO_CONSOLE, "console login refused user=%s client=%s", user,
                      ctx->client_ip);
            return tomo_console_svc_error(ctx, &err);
        }
        role = dbu.role;
    }
    if (role == TOMO_ROLE_UNKNOWN) {
        TOMO_LOGW(TOMO_CONSOLE, "console login refused user=%s client=%s", user ? user : "",
                  ctx->client_ip);
        return tomo_console_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Invalid credentials.");
    }
    user = dbu.username;
    int64_t exp = tomo_now_sec() + cfg->console.token_expiry_sec;
    /* tid: two logins in one second get two tokens (a logout revokes one) */
    char tid[37];
    tomo_uuid_v4(tid);
    json_t *claims = json_pack("{s:s,s:s,s:i,s:I,s:s,s:s}", "id", dbu.id, "usn", user, "rol",
                               role, "exp", (json_int_t)exp, "cki",
                               ctx->con->node_cookie, "tid", tid);
    if (*dbu.email)
        json_object_set_new(claims, "ema", json_string(dbu.email));
    char *tok = tomo_jwt_sign(claims, cfg->console.signing_key, strlen(cfg->console.signing_key));
    json_decref(claims);
    ctx->out = json_pack("{s:s}", "token", tok);
    free(tok);
    snprintf(ctx->user, sizeof(ctx->user), "%s", user);
    ctx->role = role;
    TOMO_LOGI(TOMO_CONSOLE, "console login user=%s role=%d client=%s", user, role, ctx->client_ip);
    return 0;
}

/* Claims of a valid, unexpired, not logged-out token; NULL otherwise. */
static json_t *verify(tomo_console *c, const char *token)
{
    const char *key = c->d.cfg->console.signing_key;
    json_t *claims = NULL;
    int64_t now = tomo_now_sec();
    if (tomo_jwt_verify(token, key, strlen(key), now, &claims) < 0)
        return NULL;
    json_t *exp = json_object_get(claims, "exp");
    if (!json_is_integer(exp) || json_integer_value(exp) <= now ||
        !json_is_string(json_object_get(claims, "usn")) ||
        !json_is_integer(json_object_get(claims, "rol")) || is_revoked(c, token_sig(token), now)) {
        json_decref(claims);
        return NULL;
    }
    /* A deleted console user's tokens die with it. */
    const char *id = json_string_value(json_object_get(claims, "id"));
    char idkey[64];
    snprintf(idkey, sizeof(idkey), "id:%s", id ? id : "");
    if (id && strcmp(id, NIL_UUID) != 0 && is_revoked(c, idkey, now)) {
        json_decref(claims);
        return NULL;
    }
    return claims;
}

int tomo_console_logout(tomo_console_ctx *ctx)
{
    const char *tok = tomo_console_body_str(ctx, "token");
    json_t *claims = tok && *tok ? verify(ctx->con, tok) : NULL;
    if (claims) {
        revoke_add(ctx->con, token_sig(tok), json_integer_value(json_object_get(claims, "exp")));
        snprintf(ctx->user, sizeof(ctx->user), "%s",
                 json_string_value(json_object_get(claims, "usn")));
        json_decref(claims);
    }
    /* Nakama answers {} whatever the token was */
    return 0;
}

int tomo_console_check_auth(tomo_console_ctx *ctx)
{
    const char *h = tomo_http_header_get(ctx->http, "authorization");
    if (!h || !*h)
        return tomo_console_error(ctx, TOMO_GRPC_UNAUTHENTICATED, MSG_REQUIRED);
    if (!strncasecmp(h, "Bearer ", 7)) {
        const char *tok = h + 7;
        while (*tok == ' ')
            tok++;
        json_t *claims = verify(ctx->con, tok);
        if (!claims)
            return tomo_console_error(ctx, TOMO_GRPC_UNAUTHENTICATED, MSG_INVALID);
        snprintf(ctx->user, sizeof(ctx->user), "%s",
                 json_string_value(json_object_get(claims, "usn")));
        ctx->role = (int)json_integer_value(json_object_get(claims, "rol"));
        json_decref(claims);
        return 0;
    }
    if (!strncasecmp(h, "Basic ", 6)) {
        /* Nakama takes the admin's username and password as Basic auth too;
         * each try counts as a login attempt. */
        if (limit_login(ctx) < 0)
            return -1;
        const char *b = h + 6;
        while (*b == ' ')
            b++;
        uint8_t *dec = NULL;
        size_t dl = 0;
        int role = TOMO_ROLE_UNKNOWN;
        if (tomo_b64_decode(b, strlen(b), &dec, &dl) == 0) {
            const char *colon = memchr(dec, ':', dl);
            if (colon) {
                size_t ul = (size_t)(colon - (const char *)dec);
                role = credentials_role(ctx->con->d.cfg, (const char *)dec, ul, colon + 1,
                                        dl - ul - 1);
                if (role != TOMO_ROLE_UNKNOWN)
                    snprintf(ctx->user, sizeof(ctx->user), "%.*s", (int)ul, (const char *)dec);
            }
        }
        free(dec);
        if (role == TOMO_ROLE_UNKNOWN)
            return tomo_console_error(ctx, TOMO_GRPC_UNAUTHENTICATED, MSG_INVALID);
        ctx->role = role;
        return 0;
    }
    return tomo_console_error(ctx, TOMO_GRPC_UNAUTHENTICATED, MSG_INVALID);
}
