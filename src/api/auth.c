/* api/auth.c: authenticate (device, custom, email, username+password),
 * session refresh and logout. Nakama 3.x semantics and messages; the
 * identity providers that need their vendor's servers (Apple, Facebook,
 * Game Center, Google, Steam) are not routed here and answer 501.
 * Threads: worker (handlers block on the database and on bcrypt). */
#define _GNU_SOURCE
#include "auth.h"

#include "handlers.h"
#include "password.h"

#include "../svc/session.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_BANNED "User account banned."
#define MSG_NOT_FOUND "User account not found."
#define MSG_USERNAME_TAKEN "Username is already in use."

/* ---- input checks (shared with link.c through auth.h) ---- */

/* Nakama's invalidCharsRegex: control characters or white space. */
int tomo_auth_has_space_or_cntrl(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == ' ')
            return 1;
    }
    return 0;
}

/* Nakama's invalidUsernameRegex: control characters (a plain space is fine). */
int tomo_auth_username_invalid(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

/* ^.+@.+\..+$ : an '@' after the first byte, then a '.' at least two bytes
 * after it that is not the last byte. The first such '@' leaves the most
 * room, so it decides. */
int tomo_auth_email_format_ok(const char *e)
{
    const char *at = e[0] ? strchr(e + 1, '@') : NULL;
    if (!at)
        return 0;
    size_t n = strlen(e), a = (size_t)(at - e);
    for (size_t j = a + 2; j + 1 < n; j++)
        if (e[j] == '.')
            return 1;
    return 0;
}

void tomo_auth_random_username(char out[11])
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint8_t r[10];
    tomo_random_bytes(r, sizeof(r));
    for (int i = 0; i < 10; i++)
        out[i] = alpha[r[i] % 52]; /* 256 % 52 bias is irrelevant for names */
    out[10] = '\0';
}

/* The `username` query parameter, or a random one. 0 or an error recorded. */
static int query_username(tomo_api_ctx *ctx, int allow_generate, char buf[11],
                          const char **out)
{
    const char *u = tomo_api_query(ctx, "username");
    if (!u || !*u) {
        if (!allow_generate)
            return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                                  "Username is required when email address is not supplied.");
        tomo_auth_random_username(buf);
        *out = buf;
        return 0;
    }
    if (tomo_auth_username_invalid(u))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Username invalid, no spaces or control characters allowed.");
    if (strlen(u) > 128)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Username invalid, must be 1-128 bytes.");
    *out = u;
    return 0;
}

static int query_create(tomo_api_ctx *ctx, int *create)
{
    int bad = 0;
    *create = tomo_api_query_bool(ctx, "create", 1, &bad);
    if (bad)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid value for query parameter create: expected a boolean.");
    return 0;
}

/* ---- account lookup and creation ---- */

typedef struct login_acct {
    char id[37];
    char username[129];
    int64_t disable_time;
    char *password; /* email/username logins only; heap */
    int created;
} login_acct;

/* Fill a from columns id, username, disable_time[, password] of row 0.
 * Returns 1 when there is a row. */
static int acct_from(login_acct *a, tomo_dbres *r, int with_password)
{
    if (!tomo_dbres_rows(r))
        return 0;
    snprintf(a->id, sizeof(a->id), "%s", tomo_dbres_text(r, 0, 0));
    snprintf(a->username, sizeof(a->username), "%s", tomo_dbres_text(r, 0, 1));
    a->disable_time = tomo_dbres_int(r, 0, 2);
    if (with_password) {
        const char *p = tomo_dbres_text(r, 0, 3);
        free(a->password);
        a->password = p ? tomo_xstrdup(p) : NULL;
    }
    return 1;
}

/* Run a one-parameter lookup; 1 found, 0 not, <0 store error. */
static int lookup(tomo_dbconn *db, const char *sql, const char *arg, login_acct *a,
                  int with_password)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[1] = {TOMO_DBTEXT(arg)};
    int rc = tomo_db_exec(db, sql, p, 1, &r);
    if (rc == 0)
        rc = acct_from(a, r, with_password);
    tomo_dbres_free(r);
    return rc;
}

static const char SQL_BY_DEVICE[] =
    "SELECT u.id, u.username, u.disable_time FROM user_device d JOIN users u ON u.id = d.user_id "
    "WHERE d.id = $1";
static const char SQL_BY_CUSTOM[] =
    "SELECT id, username, disable_time FROM users WHERE custom_id = $1";
static const char SQL_BY_EMAIL[] =
    "SELECT id, username, disable_time, password FROM users WHERE email = $1";
static const char SQL_BY_USERNAME[] =
    "SELECT id, username, disable_time, password FROM users WHERE username = $1";

/* Insert a user row with one identifier column set (col NULL: none). */
static int insert_user(tomo_dbconn *db, const login_acct *a, const char *col, const char *val,
                       const char *password)
{
    char sql[256];
    int64_t now = tomo_now_ms();
    tomo_dbval p[5] = {TOMO_DBTEXT(a->id), TOMO_DBTEXT(a->username), TOMO_DBINT(now),
                       TOMO_DBTEXT(val), TOMO_DBTEXT(password)};
    size_t n = 3;
    if (!col)
        snprintf(sql, sizeof(sql),
                 "INSERT INTO users (id, username, create_time, update_time) "
                 "VALUES ($1, $2, $3, $3)");
    else if (!password)
        snprintf(sql, sizeof(sql),
                 "INSERT INTO users (id, username, create_time, update_time, %s) "
                 "VALUES ($1, $2, $3, $3, $4)",
                 col), n = 4;
    else
        snprintf(sql, sizeof(sql),
                 "INSERT INTO users (id, username, create_time, update_time, %s, password) "
                 "VALUES ($1, $2, $3, $3, $4, $5)",
                 col), n = 5;
    return tomo_db_exec(db, sql, p, n, NULL);
}

/* Device: user row and device row in one transaction. A device conflict
 * means a concurrent request created it: use that account. */
static int device_create(tomo_api_ctx *ctx, tomo_dbconn *db, const char *device_id, login_acct *a)
{
    tomo_uuid_v4(a->id);
    int rc = tomo_db_begin(db);
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, "begin");
    rc = insert_user(db, a, NULL, NULL, NULL);
    if (rc == 0) {
        tomo_dbval p[2] = {TOMO_DBTEXT(device_id), TOMO_DBTEXT(a->id)};
        rc = tomo_db_exec(db, "INSERT INTO user_device (id, user_id) VALUES ($1, $2)", p, 2,
                          NULL);
        if (rc == 0)
            rc = tomo_db_commit(db);
    }
    if (rc == 0) {
        a->created = 1;
        return 0;
    }
    tomo_db_rollback(db);
    if (rc != TOMO_ECONFLICT)
        return tomo_api_db_error(ctx, rc, "create device account");
    rc = lookup(db, SQL_BY_DEVICE, device_id, a, 0);
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, "find device account");
    if (rc == 0)
        return tomo_api_error(ctx, TOMO_GRPC_ALREADY_EXISTS, MSG_USERNAME_TAKEN);
    return 0;
}

/* Custom and email: one row; a conflict is either the identifier (a
 * concurrent creation: use it) or the username. */
static int single_row_create(tomo_api_ctx *ctx, tomo_dbconn *db, const char *col, const char *val,
                             const char *password, const char *find_sql, login_acct *a)
{
    tomo_uuid_v4(a->id);
    int rc = insert_user(db, a, col, val, password);
    if (rc == 0) {
        a->created = 1;
        return 1;
    }
    if (rc != TOMO_ECONFLICT)
        return tomo_api_db_error(ctx, rc, "create account");
    rc = lookup(db, find_sql, val, a, password != NULL);
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, "find account");
    if (rc == 0)
        return tomo_api_error(ctx, TOMO_GRPC_ALREADY_EXISTS, MSG_USERNAME_TAKEN);
    return 0; /* found: caller checks it like an existing account */
}

/* ---- responses ---- */

/* Issue the session (single_session revokes the user's older tokens first)
 * and set ctx->out. */
static int respond_session(tomo_api_ctx *ctx, tomo_dbconn *db, const login_acct *a,
                           const json_t *vars)
{
    tomo_err err;
    tomo_session_pair s;
    if (tomo_svc_session_start(&ctx->srv->svc, db, a->id, a->username, a->disable_time, vars, &s,
                               &err) < 0)
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

/* Device and custom-id logins differ only in their messages, length bounds,
 * lookup query and where a new account keeps the id. */
typedef struct id_login {
    const char *required, *bad_chars, *bad_len;
    size_t min, max;
    const char *lookup_sql, *what;
    int in_device_table; /* device ids live in user_device, custom ids on the row */
} id_login;

static const id_login device_login = {
    "Device ID is required.", "Device ID invalid, no spaces or control characters allowed.",
    "Device ID invalid, must be 10-128 bytes.", 10, 128, SQL_BY_DEVICE, "find device account", 1};
static const id_login custom_login = {
    "Custom ID is required.", "Custom ID invalid, no spaces or control characters allowed.",
    "Custom ID invalid, must be 6-128 bytes.", 6, 128, SQL_BY_CUSTOM, "find custom account", 0};

static int authenticate_by_id(tomo_api_ctx *ctx, const id_login *k)
{
    const json_t *body, *vars;
    const char *id, *username;
    char ubuf[11];
    int create;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "id", "", &id) < 0 ||
        tomo_api_field_str_map(ctx, body, "vars", &vars) < 0)
        return -1;
    if (!*id)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "%s", k->required);
    if (tomo_auth_has_space_or_cntrl(id))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "%s", k->bad_chars);
    size_t n = strlen(id);
    if (n < k->min || n > k->max)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "%s", k->bad_len);
    if (query_username(ctx, 1, ubuf, &username) < 0 || query_create(ctx, &create) < 0)
        return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    login_acct a = {0};
    int rc = lookup(db, k->lookup_sql, id, &a, 0);
    if (rc < 0)
        return tomo_api_db_error(ctx, rc, k->what);
    if (rc == 0) {
        if (!create)
            return tomo_api_error(ctx, TOMO_GRPC_NOT_FOUND, MSG_NOT_FOUND);
        snprintf(a.username, sizeof(a.username), "%s", username);
        rc = k->in_device_table
                 ? device_create(ctx, db, id, &a)
                 : single_row_create(ctx, db, "custom_id", id, NULL, k->lookup_sql, &a);
        if (rc < 0)
            return -1;
    }
    return respond_session(ctx, db, &a, vars);
}

int tomo_api_authenticate_device(tomo_api_ctx *ctx) { return authenticate_by_id(ctx, &device_login); }

int tomo_api_authenticate_custom(tomo_api_ctx *ctx) { return authenticate_by_id(ctx, &custom_login); }

/* Validate an email address the way Nakama does; 0 or an error recorded. */
int tomo_auth_check_email(tomo_api_ctx *ctx, const char *email)
{
    if (tomo_auth_has_space_or_cntrl(email))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid email address, no spaces or control characters allowed.");
    if (!tomo_auth_email_format_ok(email))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT, "Invalid email address format.");
    size_t n = strlen(email);
    if (n < 10 || n > 255)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid email address, must be 10-255 bytes.");
    return 0;
}

char *tomo_auth_lower(const char *s)
{
    char *o = tomo_xstrdup(s);
    for (char *p = o; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return o;
}

/* An existing email/username account: ban first, then the password. */
static int check_login(tomo_api_ctx *ctx, const login_acct *a, const char *password)
{
    if (a->disable_time > 0)
        return tomo_api_error(ctx, TOMO_GRPC_PERMISSION_DENIED, MSG_BANNED);
    if (!tomo_password_check(password, a->password))
        return tomo_api_error(ctx, TOMO_GRPC_UNAUTHENTICATED, "Invalid credentials.");
    return 0;
}

int tomo_api_authenticate_email(tomo_api_ctx *ctx)
{
    const json_t *body, *vars;
    const char *email, *password, *username;
    char ubuf[11];
    char *clean = NULL, *hash = NULL;
    int create, rc = -1;
    login_acct a = {0};
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
    if (!by_username && tomo_auth_check_email(ctx, email) < 0)
        return -1;
    if (strlen(password) < 8)
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Password must be at least 8 characters long.");
    if (query_username(ctx, !by_username, ubuf, &username) < 0 || query_create(ctx, &create) < 0)
        return -1;
    tomo_dbconn *db;
    if (tomo_api_db(ctx, &db) < 0)
        return -1;
    if (by_username) {
        /* Login by username: never creates an account. */
        rc = lookup(db, SQL_BY_USERNAME, username, &a, 1);
        if (rc < 0) {
            rc = tomo_api_db_error(ctx, rc, "find account by username");
            goto out;
        }
        if (rc == 0) {
            rc = tomo_api_error(ctx, TOMO_GRPC_NOT_FOUND, MSG_NOT_FOUND);
            goto out;
        }
        if ((rc = check_login(ctx, &a, password)) < 0)
            goto out;
        rc = respond_session(ctx, db, &a, vars);
        goto out;
    }
    clean = tomo_auth_lower(email);
    rc = lookup(db, SQL_BY_EMAIL, clean, &a, 1);
    if (rc < 0) {
        rc = tomo_api_db_error(ctx, rc, "find account by email");
        goto out;
    }
    if (rc == 0) {
        if (!create) {
            rc = tomo_api_error(ctx, TOMO_GRPC_NOT_FOUND, MSG_NOT_FOUND);
            goto out;
        }
        hash = tomo_password_hash(password);
        if (!hash) {
            rc = tomo_api_error(ctx, TOMO_GRPC_INTERNAL, "Error finding or creating user account.");
            goto out;
        }
        snprintf(a.username, sizeof(a.username), "%s", username);
        rc = single_row_create(ctx, db, "email", clean, hash, SQL_BY_EMAIL, &a);
        if (rc < 0)
            goto out;
    }
    if (!a.created && (rc = check_login(ctx, &a, password)) < 0)
        goto out;
    rc = respond_session(ctx, db, &a, vars);
out:
    free(clean);
    free(hash);
    free(a.password);
    return rc;
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
