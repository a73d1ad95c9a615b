/* svc/auth.c: authenticate by device, custom id, email or username (see
 * auth.h). Nakama 3.x semantics and messages. */
#define _GNU_SOURCE
#include "auth.h"

#include "password.h"
#include "provider.h"

#include "../core/codec_util.h"
#include "../core/common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_BANNED "User account banned."
#define MSG_NOT_FOUND "User account not found."
#define MSG_USERNAME_TAKEN "Username is already in use."

/* ---- input checks ---- */

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

char *tomo_auth_lower(const char *s)
{
    char *o = tomo_xstrdup(s);
    for (char *p = o; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return o;
}

int tomo_svc_auth_check_email(const char *email, tomo_err *err)
{
    if (tomo_auth_has_space_or_cntrl(email))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid email address, no spaces or control characters allowed.");
    if (!tomo_auth_email_format_ok(email))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid email address format.");
    size_t n = strlen(email);
    if (n < 10 || n > 255)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid email address, must be 10-255 bytes.");
    return 0;
}

int tomo_svc_auth_check_password(const char *password, tomo_err *err)
{
    if (!password || strlen(password) < 8)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Password must be at least 8 characters long.");
    return 0;
}

int tomo_svc_auth_check_username(const char *u, int required, tomo_err *err)
{
    if (!u || !*u)
        return required ? tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                       "Username is required when email address is not "
                                       "supplied.")
                        : 0;
    if (tomo_auth_username_invalid(u))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Username invalid, no spaces or control characters allowed.");
    if (strlen(u) > 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Username invalid, must be 1-128 bytes.");
    return 0;
}

/* Device and custom-id logins differ only in their messages, length bounds,
 * lookup query and where a new account keeps the id. */
typedef struct id_login {
    const char *required, *bad_chars, *bad_len;
    size_t min, max;
    const char *lookup_sql, *what;
    int in_device_table; /* device ids live in user_device, custom ids on the row */
} id_login;

static const char SQL_BY_DEVICE[] =
    "SELECT u.id, u.username, u.disable_time FROM user_device d JOIN users u ON u.id = d.user_id "
    "WHERE d.id = $1";
static const char SQL_BY_CUSTOM[] =
    "SELECT id, username, disable_time FROM users WHERE custom_id = $1";
static const char SQL_BY_EMAIL[] =
    "SELECT id, username, disable_time, password FROM users WHERE email = $1";
static const char SQL_BY_USERNAME[] =
    "SELECT id, username, disable_time, password FROM users WHERE username = $1";

static const id_login device_login = {
    "Device ID is required.", "Device ID invalid, no spaces or control characters allowed.",
    "Device ID invalid, must be 10-128 bytes.", 10, 128, SQL_BY_DEVICE, "find device account", 1};
static const id_login custom_login = {
    "Custom ID is required.", "Custom ID invalid, no spaces or control characters allowed.",
    "Custom ID invalid, must be 6-128 bytes.", 6, 128, SQL_BY_CUSTOM, "find custom account", 0};

static const id_login *id_kind(int kind)
{
    return kind == TOMO_UNLINK_DEVICE ? &device_login
           : kind == TOMO_UNLINK_CUSTOM ? &custom_login
                                        : NULL;
}

int tomo_svc_auth_check_id(int kind, const char *id, tomo_err *err)
{
    const id_login *k = id_kind(kind);
    if (!k)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Unknown identifier.");
    if (!id || !*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "%s", k->required);
    if (tomo_auth_has_space_or_cntrl(id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "%s", k->bad_chars);
    size_t n = strlen(id);
    if (n < k->min || n > k->max)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "%s", k->bad_len);
    return 0;
}

/* ---- account lookup and creation ---- */

typedef struct login_acct {
    tomo_auth_account a;
    char *password; /* email/username logins only; heap */
} login_acct;

/* Fill a from columns id, username, disable_time[, password] of row 0.
 * Returns 1 when there is a row. */
static int acct_from(login_acct *l, tomo_dbres *r, int with_password)
{
    if (!tomo_dbres_rows(r))
        return 0;
    snprintf(l->a.user_id, sizeof(l->a.user_id), "%s", tomo_dbres_text(r, 0, 0));
    snprintf(l->a.username, sizeof(l->a.username), "%s", tomo_dbres_text(r, 0, 1));
    l->a.disable_time = tomo_dbres_int(r, 0, 2);
    if (with_password) {
        const char *p = tomo_dbres_text(r, 0, 3);
        free(l->password);
        l->password = p ? tomo_xstrdup(p) : NULL;
    }
    return 1;
}

/* Run a one-parameter lookup; 1 found, 0 not, <0 store error. */
static int lookup(tomo_dbconn *db, const char *sql, const char *arg, login_acct *l,
                  int with_password)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[1] = {TOMO_DBTEXT(arg)};
    int rc = tomo_db_exec(db, sql, p, 1, &r);
    if (rc == 0)
        rc = acct_from(l, r, with_password);
    tomo_dbres_free(r);
    return rc;
}

/* Insert a user row with one identifier column set (col NULL: none). */
static int insert_user(tomo_dbconn *db, const tomo_auth_account *a, const char *col,
                       const char *val, const char *password)
{
    char sql[256];
    int64_t now = tomo_now_ms();
    tomo_dbval p[5] = {TOMO_DBTEXT(a->user_id), TOMO_DBTEXT(a->username), TOMO_DBINT(now),
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
static int device_create(tomo_dbconn *db, const char *device_id, login_acct *l, tomo_err *err)
{
    tomo_uuid_v4(l->a.user_id);
    int rc = tomo_db_begin(db);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "begin");
    rc = insert_user(db, &l->a, NULL, NULL, NULL);
    if (rc == 0) {
        tomo_dbval p[2] = {TOMO_DBTEXT(device_id), TOMO_DBTEXT(l->a.user_id)};
        rc = tomo_db_exec(db, "INSERT INTO user_device (id, user_id) VALUES ($1, $2)", p, 2,
                          NULL);
        if (rc == 0)
            rc = tomo_db_commit(db);
    }
    if (rc == 0) {
        l->a.created = 1;
        return 0;
    }
    tomo_db_rollback(db);
    if (rc != TOMO_ECONFLICT)
        return tomo_err_db_conn(err, db, rc, "create device account");
    rc = lookup(db, SQL_BY_DEVICE, device_id, l, 0);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "find device account");
    if (rc == 0)
        return tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, MSG_USERNAME_TAKEN);
    return 0;
}

/* Custom and email: one row; a conflict is either the identifier (a
 * concurrent creation: use it) or the username. 1 created, 0 found. */
static int single_row_create(tomo_dbconn *db, const char *col, const char *val,
                             const char *password, const char *find_sql, login_acct *l,
                             tomo_err *err)
{
    tomo_uuid_v4(l->a.user_id);
    int rc = insert_user(db, &l->a, col, val, password);
    if (rc == 0) {
        l->a.created = 1;
        return 1;
    }
    if (rc != TOMO_ECONFLICT)
        return tomo_err_db_conn(err, db, rc, "create account");
    rc = lookup(db, find_sql, val, l, password != NULL);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "find account");
    if (rc == 0)
        return tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, MSG_USERNAME_TAKEN);
    return 0; /* found: caller checks it like an existing account */
}

/* The username a new account gets (username NULL or "": random). */
static void new_username(login_acct *l, const char *username)
{
    if (username && *username)
        snprintf(l->a.username, sizeof(l->a.username), "%s", username);
    else
        tomo_auth_random_username(l->a.username);
}

/* ---- authenticate ---- */

int tomo_svc_auth_id(tomo_svc *svc, tomo_dbconn *db, int kind, const char *id,
                     const char *username, int create, tomo_auth_account *out, tomo_err *err)
{
    (void)svc;
    int rc;
    memset(out, 0, sizeof(*out));
    if ((rc = tomo_svc_auth_check_id(kind, id, err)) < 0 ||
        (rc = tomo_svc_auth_check_username(username, 0, err)) < 0)
        return rc;
    const id_login *k = id_kind(kind);
    login_acct l = {0};
    rc = lookup(db, k->lookup_sql, id, &l, 0);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, k->what);
    if (rc == 0) {
        if (!create)
            return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, MSG_NOT_FOUND);
        new_username(&l, username);
        rc = k->in_device_table ? device_create(db, id, &l, err)
                                : single_row_create(db, "custom_id", id, NULL, k->lookup_sql, &l,
                                                    err);
        if (rc < 0)
            return rc;
    }
    if (l.a.disable_time > 0)
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, MSG_BANNED);
    *out = l.a;
    return 0;
}

int tomo_svc_auth_social(tomo_svc *svc, tomo_dbconn *db, const tomo_provider_account *a,
                         const char *username, int create, tomo_auth_account *out,
                         tomo_err *err)
{
    char pid[TOMO_PROVIDER_ID_MAX], sql[128];
    int rc;
    memset(out, 0, sizeof(*out));
    /* Nakama's order: the provider's input, the username, then the
     * provider's verdict. */
    if ((rc = tomo_svc_provider_check(TOMO_PROVIDER_AUTHENTICATE, a, err)) < 0 ||
        (rc = tomo_svc_auth_check_username(username, 0, err)) < 0 ||
        (rc = tomo_svc_provider_verify(svc->cfg, TOMO_PROVIDER_AUTHENTICATE, a, pid, err)) < 0)
        return rc;
    const char *col = tomo_svc_account_login_column(a->kind);
    snprintf(sql, sizeof(sql), "SELECT id, username, disable_time FROM users WHERE %s = $1", col);
    login_acct l = {0};
    rc = lookup(db, sql, pid, &l, 0);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "find social account");
    if (rc == 0) {
        if (!create)
            return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, MSG_NOT_FOUND);
        new_username(&l, username);
        if ((rc = single_row_create(db, col, pid, NULL, sql, &l, err)) < 0)
            return rc;
    }
    if (l.a.disable_time > 0)
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, MSG_BANNED);
    *out = l.a;
    return 0;
}

/* An existing email/username account: ban first, then the password. */
static int check_login(const login_acct *l, const char *password, tomo_err *err)
{
    if (l->a.disable_time > 0)
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, MSG_BANNED);
    if (!tomo_password_check(password, l->password))
        return tomo_err_set(err, TOMO_GRPC_UNAUTHENTICATED, "Invalid credentials.");
    return 0;
}

int tomo_svc_auth_email(tomo_svc *svc, tomo_dbconn *db, const char *email, const char *password,
                        const char *username, int create, tomo_auth_account *out,
                        tomo_err *err)
{
    (void)svc;
    char *clean = NULL, *hash = NULL;
    login_acct l = {0};
    int rc;
    memset(out, 0, sizeof(*out));
    if (!email)
        email = "";
    if (!password)
        password = "";
    int by_username = !*email;
    if (!by_username && (rc = tomo_svc_auth_check_email(email, err)) < 0)
        return rc;
    if ((rc = tomo_svc_auth_check_password(password, err)) < 0)
        return rc;
    if ((rc = tomo_svc_auth_check_username(username, by_username, err)) < 0)
        return rc;
    if (by_username) {
        /* Login by username: never creates an account. */
        rc = lookup(db, SQL_BY_USERNAME, username, &l, 1);
        if (rc < 0)
            rc = tomo_err_db_conn(err, db, rc, "find account by username");
        else if (rc == 0)
            rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, MSG_NOT_FOUND);
        else
            rc = check_login(&l, password, err);
        goto out;
    }
    clean = tomo_auth_lower(email);
    rc = lookup(db, SQL_BY_EMAIL, clean, &l, 1);
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "find account by email");
        goto out;
    }
    if (rc == 0) {
        if (!create) {
            rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, MSG_NOT_FOUND);
            goto out;
        }
        hash = tomo_password_hash(password);
        if (!hash) {
            rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error finding or creating user account.");
            goto out;
        }
        new_username(&l, username);
        rc = single_row_create(db, "email", clean, hash, SQL_BY_EMAIL, &l, err);
        if (rc < 0)
            goto out;
    }
    rc = l.a.created ? 0 : check_login(&l, password, err);
out:
    if (rc >= 0)
        *out = l.a;
    free(clean);
    free(hash);
    free(l.password);
    return rc < 0 ? rc : 0;
}
