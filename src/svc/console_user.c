/* svc/console_user.c: console users in the database (see console_user.h). */
#define _GNU_SOURCE
#include "console_user.h"

#include "auth.h"
#include "password.h"

#include "../core/codec_util.h"
#include "../core/common.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int system_only(const tomo_caller *caller, tomo_err *err)
{
    if (tomo_caller_is_system(caller))
        return 0;
    return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Only the system may do this.");
}

/* Nakama's rule: 3-20 bytes, letters, digits, '_' and '.', starting with a
 * letter or digit and ending with one. */
static int username_ok(const char *u)
{
    size_t n = strlen(u);
    if (n < 3 || n > 20 || !isalnum((unsigned char)u[0]) || !isalnum((unsigned char)u[n - 1]))
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (!isalnum((unsigned char)u[i]) && u[i] != '_' && u[i] != '.')
            return 0;
    return 1;
}

/* At least 8 bytes with a digit and an upper-case letter. */
static int password_ok(const char *p)
{
    int digit = 0, upper = 0;
    for (const char *c = p; *c; c++) {
        digit |= isdigit((unsigned char)*c) != 0;
        upper |= isupper((unsigned char)*c) != 0;
    }
    return strlen(p) >= 8 && digit && upper;
}

int tomo_svc_console_user_add(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              const char *username, const char *email, const char *password,
                              int role, const char *reserved, tomo_err *err)
{
    (void)svc;
    int rc = system_only(caller, err);
    if (rc < 0)
        return rc;
    if (!username || !*username)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Username is required");
    if (!username_ok(username))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Username must be 3-20 long sequence of alphanumeric characters _ or "
                            ". and cannot start and end with _ or .");
    char *uname = tomo_auth_lower(username);
    char *mail = NULL, *hash = NULL;
    if (!strcmp(uname, "admin") || (reserved && !strcasecmp(uname, reserved))) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                          "Username cannot be the console configured username");
        goto out;
    }
    if (!email || !*email) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Email is required");
        goto out;
    }
    size_t el = strlen(email);
    if (el < 3 || el > 254 || tomo_auth_has_space_or_cntrl(email) ||
        !tomo_auth_email_format_ok(email)) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Not a valid email address");
        goto out;
    }
    if (!password || !*password) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Password is required");
        goto out;
    }
    if (!password_ok(password)) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                          "Password must be at least 8 characters long and contain 1 number and "
                          "1 upper case character");
        goto out;
    }
    if (role < 1 || role > 4) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                          "Role must be 1 (admin), 2 (developer), 3 (maintainer) or 4 (readonly)");
        goto out;
    }
    mail = tomo_auth_lower(email);
    hash = tomo_password_hash(password);
    if (!hash) {
        rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Internal Server Error");
        goto out;
    }
    char id[37];
    tomo_uuid_v4(id);
    int64_t now = tomo_now_ms();
    tomo_dbval p[6] = {{TOMO_DBV_TEXT, 0, id}, TOMO_DBTEXT(uname), TOMO_DBTEXT(mail),
                       TOMO_DBTEXT(hash), TOMO_DBINT(role),   TOMO_DBINT(now)};
    rc = tomo_db_exec(db,
                      "INSERT INTO console_user (id, username, email, password, role, "
                      "create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                      p, 6, NULL);
    if (rc == TOMO_ECONFLICT)
        rc = tomo_err_set(err, TOMO_GRPC_FAILED_PRECONDITION, "Username or Email already exists");
    else if (rc < 0)
        rc = tomo_err_db_conn(err, db, rc, "add console user");
out:
    free(uname);
    free(mail);
    free(hash);
    return rc;
}

int tomo_svc_console_user_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                               json_t **out, tomo_err *err)
{
    (void)svc;
    *out = NULL;
    int rc = system_only(caller, err);
    if (rc < 0)
        return rc;
    tomo_dbres *r = NULL;
    rc = tomo_db_exec(db, "SELECT username, email, role FROM console_user ORDER BY username",
                      NULL, 0, &r);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "list console users");
    json_t *users = json_array();
    for (size_t i = 0; i < tomo_dbres_rows(r); i++)
        json_array_append_new(users, json_pack("{s:s,s:s,s:I}", "username",
                                               tomo_dbres_text(r, i, 0), "email",
                                               tomo_dbres_text(r, i, 1), "role",
                                               (json_int_t)tomo_dbres_int(r, i, 2)));
    tomo_dbres_free(r);
    *out = json_pack("{s:o}", "users", users);
    return 0;
}

int tomo_svc_console_user_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 const char *username, char *id_out, tomo_err *err)
{
    (void)svc;
    int rc = system_only(caller, err);
    if (rc < 0)
        return rc;
    char *uname = tomo_auth_lower(username ? username : "");
    tomo_dbval p[1] = {TOMO_DBTEXT(uname)};
    tomo_dbres *r = NULL;
    rc = tomo_db_exec(db, "DELETE FROM console_user WHERE username = $1 RETURNING id", p, 1, &r);
    free(uname);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "delete console user");
    if (tomo_dbres_rows(r) == 0)
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "User not found");
    else if (id_out)
        snprintf(id_out, 37, "%s", tomo_dbres_text(r, 0, 0));
    tomo_dbres_free(r);
    return rc;
}

/* A bcrypt hash of nothing anyone knows: checked for an unknown name so an
 * unknown user costs the same time as a wrong password. */
#define DUMMY_HASH "$2b$10$CwTycUXWue0Thq9StjUM0uJ8.1/XQ9B1Lx3Q1ANNd0mGQmzEkY1y."

int tomo_svc_console_user_login(tomo_svc *svc, tomo_dbconn *db, const char *name_or_email,
                                const char *password, tomo_console_user *out, tomo_err *err)
{
    (void)svc;
    memset(out, 0, sizeof(*out));
    char *name = tomo_auth_lower(name_or_email);
    tomo_dbval p[1] = {TOMO_DBTEXT(name)};
    tomo_dbres *r = NULL;
    int rc = tomo_db_exec(db,
                          "SELECT id, username, email, role, password, disable_time "
                          "FROM console_user WHERE username = $1 OR email = $1",
                          p, 1, &r);
    free(name);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "console login");
    if (tomo_dbres_rows(r) == 0) {
        (void)tomo_password_check(password, DUMMY_HASH);
        tomo_dbres_free(r);
        return tomo_err_set(err, TOMO_GRPC_UNAUTHENTICATED, "Invalid credentials.");
    }
    int ok = tomo_password_check(password, tomo_dbres_text(r, 0, 4));
    if (tomo_dbres_int(r, 0, 5) != 0) {
        tomo_dbres_free(r);
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Invalid credentials.");
    }
    if (!ok) {
        tomo_dbres_free(r);
        return tomo_err_set(err, TOMO_GRPC_UNAUTHENTICATED, "Invalid credentials.");
    }
    snprintf(out->id, sizeof(out->id), "%s", tomo_dbres_text(r, 0, 0));
    snprintf(out->username, sizeof(out->username), "%s", tomo_dbres_text(r, 0, 1));
    snprintf(out->email, sizeof(out->email), "%s", tomo_dbres_text(r, 0, 2));
    out->role = (int)tomo_dbres_int(r, 0, 3);
    tomo_dbres_free(r);
    return 0;
}
