/* svc/account.c: get, update and delete an account (see account.h). */
#define _GNU_SOURCE
#include "account.h"

#include "auth.h"

#include "friend.h"
#include "group.h"
#include "leaderboard.h"
#include "password.h"
#include "provider.h"
#include "revoke.h"
#include "users.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The account the caller acts on, into out[37]. */
static int target(const tomo_caller *caller, const char *user_id, char out[37], tomo_err *err)
{
    if (tomo_caller_is_system(caller)) {
        if (!user_id || !tomo_uuid_valid(user_id))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid user ID.");
        snprintf(out, 37, "%s", user_id);
        return 0;
    }
    if (user_id && *user_id && strcasecmp(user_id, caller->user_id))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED,
                            "A user may only act on their own account.");
    snprintf(out, 37, "%s", caller->user_id);
    return 0;
}

int tomo_svc_account_get(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *user_id, json_t **out, tomo_err *err)
{
    char id[37];
    tomo_dbres *r = NULL, *d = NULL;
    int rc;
    *out = NULL;
    if ((rc = target(caller, user_id, id, err)) < 0)
        return rc;
    tomo_dbval p[1] = {{TOMO_DBV_TEXT, 0, id}};
    rc = tomo_db_exec(db,
                      "SELECT " TOMO_USERS_COLS
                      ", wallet, email, custom_id, verify_time, disable_time "
                      "FROM users WHERE id = $1",
                      p, 1, &r);
    if (rc == 0)
        rc = tomo_db_exec(db, "SELECT id FROM user_device WHERE user_id = $1 ORDER BY id", p, 1,
                          &d);
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "get account");
        goto out;
    }
    if (!tomo_dbres_rows(r)) {
        rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Account not found.");
        goto out;
    }
    const size_t k = TOMO_USERS_NCOLS;
    json_t *a = json_object();
    json_t *user = tomo_users_user_json(r, 0, 0);
    json_t *one = json_pack("[O]", user);
    tomo_svc_users_fill_online(svc, one);
    json_decref(one);
    json_object_set_new(a, "user", user);
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
    *out = a;
    rc = 0;
out:
    tomo_dbres_free(r);
    tomo_dbres_free(d);
    return rc;
}

int tomo_svc_account_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *user_id, const tomo_account_update *u, tomo_err *err)
{
    (void)svc;
    struct {
        const char *col, *val;
    } fields[] = {{"display_name", u->display_name}, {"avatar_url", u->avatar_url},
                  {"lang_tag", u->lang_tag},         {"location", u->location},
                  {"timezone", u->timezone}};
    char id[37];
    int rc;
    if ((rc = target(caller, user_id, id, err)) < 0)
        return rc;
    tomo_dbval p[12];
    size_t n = 0;
    char sql[768];
    int off = snprintf(sql, sizeof(sql), "UPDATE users SET update_time = $2");
    p[n++] = (tomo_dbval){TOMO_DBV_TEXT, 0, id};
    p[n++] = TOMO_DBINT(tomo_now_ms());
    int changes = 0;
    if (u->username) {
        if (!*u->username || strlen(u->username) > 128)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "Username invalid, must be 1-128 bytes.");
        if (tomo_auth_username_invalid(u->username))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "Username invalid, no spaces or control characters allowed.");
        p[n++] = TOMO_DBTEXT(u->username);
        off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", username = $%zu", n);
        changes++;
    }
    for (size_t i = 0; i < TOMO_ARRAY_LEN(fields); i++) {
        const char *s = fields[i].val;
        if (!s)
            continue;
        changes++;
        /* An empty value clears the field (lang_tag is NOT NULL: ""). */
        if (!*s && strcmp(fields[i].col, "lang_tag")) {
            off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", %s = NULL", fields[i].col);
            continue;
        }
        p[n++] = TOMO_DBTEXT(s);
        off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", %s = $%zu", fields[i].col, n);
    }
    /* The system's fields (the console). */
    const char *sys_fields[][2] = {{"metadata", u->metadata}, {"custom_id", u->custom_id},
                                   {"email", u->email}};
    char *email = NULL;
    for (size_t i = 0; i < TOMO_ARRAY_LEN(sys_fields); i++) {
        const char *col = sys_fields[i][0], *s = sys_fields[i][1];
        if (!s)
            continue;
        if (!tomo_caller_is_system(caller))
            return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Only the system may set %s.",
                                col);
        changes++;
        if (!strcmp(col, "metadata")) {
            json_t *m = json_loads(s, JSON_DECODE_ANY, NULL);
            int ok = json_is_object(m);
            json_decref(m);
            if (!ok)
                return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                    "Metadata must be a valid JSON object.");
        } else if (!*s) {
            off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", %s = NULL", col);
            continue;
        } else if (!strcmp(col, "email")) {
            email = tomo_xstrdup(s);
            for (char *c = email; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            s = email;
        }
        p[n++] = TOMO_DBTEXT(s);
        off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", %s = $%zu", col, n);
    }
    if (!changes)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "No fields to update.");
    snprintf(sql + off, sizeof(sql) - (size_t)off, " WHERE id = $1");
    tomo_dbres *r = NULL;
    rc = tomo_db_exec(db, sql, p, n, &r);
    int64_t hit = rc == 0 ? tomo_dbres_changes(r) : 0;
    tomo_dbres_free(r);
    free(email);
    if (rc == TOMO_ECONFLICT)
        return tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS,
                            u->username ? "Username is already in use."
                                        : "Custom ID or email is already in use.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "update account");
    if (hit == 0 && tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Account not found.");
    return 0;
}

static int set_disable_time(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *user_id, int64_t when, tomo_err *err)
{
    (void)svc;
    char id[37];
    int rc;
    if (!tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Only the system may ban users.");
    if ((rc = target(caller, user_id, id, err)) < 0)
        return rc;
    tomo_dbval p[2] = {{TOMO_DBV_TEXT, 0, id}, TOMO_DBINT(when)};
    tomo_dbres *r = NULL;
    rc = tomo_db_exec(db, "UPDATE users SET disable_time = $2 WHERE id = $1", p, 2, &r);
    int64_t hit = rc == 0 ? tomo_dbres_changes(r) : 0;
    tomo_dbres_free(r);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "ban account");
    if (!hit)
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Account not found.");
    return 0;
}

int tomo_svc_account_ban(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *user_id, tomo_err *err)
{
    int rc = set_disable_time(svc, db, caller, user_id, tomo_now_ms(), err);
    if (rc < 0)
        return rc;
    /* Nakama bans the user's sessions: every token issued so far stops
     * working at once, and the live sockets close. */
    if ((rc = tomo_revoke_user(svc, db, user_id)) < 0)
        return tomo_err_db_conn(err, db, rc, "ban account");
    TOMO_LOGI(TOMO_SVC, "account banned user=%s", user_id);
    if (svc->push.disconnect_user)
        svc->push.disconnect_user(svc->push.ctx, user_id);
    return 0;
}

int tomo_svc_account_unban(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, tomo_err *err)
{
    int rc = set_disable_time(svc, db, caller, user_id, 0, err);
    if (rc == 0)
        TOMO_LOGI(TOMO_SVC, "account unbanned user=%s", user_id);
    return rc;
}

/* ---- link ---- */

static int link_device(tomo_dbconn *db, const char *me, const char *id, tomo_err *err)
{
    if (!*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Device ID is required.");
    if (tomo_auth_has_space_or_cntrl(id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Device ID invalid, no spaces or control characters allowed.");
    if (strlen(id) < 10 || strlen(id) > 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Device ID invalid, must be 10-128 bytes.");
    tomo_dbres *r = NULL;
    tomo_dbval p[3] = {TOMO_DBTEXT(id), TOMO_DBTEXT(me), TOMO_DBINT(tomo_now_ms())};
    int rc;
    if ((rc = tomo_db_begin(db)) < 0)
        return tomo_err_db_conn(err, db, rc, "link device");
    rc = tomo_db_exec(db, "SELECT user_id FROM user_device WHERE id = $1", p, 1, &r);
    if (rc == 0 && tomo_dbres_rows(r) && strcmp(tomo_dbres_text(r, 0, 0), me)) {
        tomo_db_rollback(db);
        tomo_dbres_free(r);
        return tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, "Device ID already in use.");
    }
    if (rc == 0 && !tomo_dbres_rows(r))
        rc = tomo_db_exec(db, "INSERT INTO user_device (id, user_id) VALUES ($1, $2)", p, 2,
                          NULL);
    tomo_dbres_free(r);
    if (rc == 0)
        rc = tomo_db_exec(db, "UPDATE users SET update_time = $3 WHERE id = $2", p, 3, NULL);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        if (rc == TOMO_ECONFLICT) /* a concurrent link of the same device */
            return tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, "Device ID already in use.");
        return tomo_err_db_conn(err, db, rc, "link device");
    }
    return 0;
}

static int link_custom(tomo_dbconn *db, const char *me, const char *id, tomo_err *err)
{
    if (!*id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Custom ID is required.");
    if (tomo_auth_has_space_or_cntrl(id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid custom ID, no spaces or control characters allowed.");
    if (strlen(id) < 6 || strlen(id) > 128)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid custom ID, must be 6-128 bytes.");
    tomo_dbval p[3] = {TOMO_DBTEXT(me), TOMO_DBTEXT(id), TOMO_DBINT(tomo_now_ms())};
    int64_t n = 0;
    int rc = tomo_db_exec_changes(
        db,
        "UPDATE users SET custom_id = $2, update_time = $3 WHERE id = $1 AND "
        "NOT EXISTS (SELECT id FROM users WHERE custom_id = $2 AND id <> $1)",
        p, 3, &n);
    if (rc == TOMO_ECONFLICT || (rc == 0 && n == 0))
        return tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, "Custom ID is already in use.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "link custom");
    return 0;
}

static int link_email(tomo_dbconn *db, const char *me, const char *email, const char *password,
                      tomo_err *err)
{
    /* Nakama's order for link differs from authenticate. */
    if (!*email || !*password)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Email address and password is required.");
    if (tomo_auth_has_space_or_cntrl(email))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid email address, no spaces or control characters allowed.");
    int rc;
    if ((rc = tomo_svc_auth_check_password(password, err)) < 0 ||
        (rc = tomo_svc_auth_check_email(email, err)) < 0)
        return rc;
    char *clean = tomo_auth_lower(email);
    char *hash = tomo_password_hash(password);
    if (!hash) {
        rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error while trying to link email.");
        goto out;
    }
    tomo_dbval p[4] = {TOMO_DBTEXT(me), TOMO_DBTEXT(clean), TOMO_DBTEXT(hash),
                       TOMO_DBINT(tomo_now_ms())};
    int64_t n = 0;
    rc = tomo_db_exec_changes(
        db,
        "UPDATE users SET email = $2, password = $3, update_time = $4 WHERE id = $1 "
        "AND NOT EXISTS (SELECT id FROM users WHERE email = $2 AND id <> $1)",
        p, 4, &n);
    if (rc == TOMO_ECONFLICT || (rc == 0 && n == 0))
        rc = tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, "Email is already in use.");
    else if (rc < 0)
        rc = tomo_err_db_conn(err, db, rc, "link email");
out:
    free(clean);
    free(hash);
    return rc;
}

int tomo_svc_account_link(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *user_id, int kind, const char *value, const char *password,
                          tomo_err *err)
{
    (void)svc;
    char id[37];
    int rc;
    if (kind < TOMO_UNLINK_DEVICE || kind > TOMO_UNLINK_STEAM)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Unknown identifier.");
    if (kind > TOMO_UNLINK_EMAIL) /* tomo_svc_account_link_social */
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Unknown identifier.");
    if ((rc = target(caller, user_id, id, err)) < 0)
        return rc;
    if (!value)
        value = "";
    if (kind == TOMO_UNLINK_DEVICE)
        return link_device(db, id, value, err);
    if (kind == TOMO_UNLINK_CUSTOM)
        return link_custom(db, id, value, err);
    return link_email(db, id, value, password ? password : "", err);
}

/* ---- unlink ---- */

#define MSG_LAST_LINK \
    "Cannot unlink last account identifier. Check profile exists and is not last link."

/* The users columns that are a way to log in, besides devices. */
static const char *const login_cols[] = {
    [TOMO_UNLINK_CUSTOM] = "custom_id",   [TOMO_UNLINK_EMAIL] = "email",
    [TOMO_UNLINK_APPLE] = "apple_id",     [TOMO_UNLINK_FACEBOOK] = "facebook_id",
    [TOMO_UNLINK_FACEBOOK_INSTANT_GAME] = "facebook_instant_game_id",
    [TOMO_UNLINK_GAMECENTER] = "gamecenter_id", [TOMO_UNLINK_GOOGLE] = "google_id",
    [TOMO_UNLINK_STEAM] = "steam_id",
};

/* "(a IS NOT NULL OR b IS NOT NULL ...)" over every login column but skip. */
static void other_ids(int skip, char *out, size_t cap)
{
    int off = snprintf(out, cap, "(");
    const char *sep = "";
    for (int k = TOMO_UNLINK_CUSTOM; k <= TOMO_UNLINK_STEAM; k++) {
        if (k == skip)
            continue;
        off += snprintf(out + off, cap - (size_t)off, "%s%s IS NOT NULL", sep, login_cols[k]);
        sep = " OR ";
    }
    snprintf(out + off, cap - (size_t)off, ")");
}

int tomo_svc_account_unlink(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *user_id, int kind, const char *value, tomo_err *err)
{
    (void)svc;
    char id[37], others[512], sql[1024];
    int rc;
    if (kind < TOMO_UNLINK_DEVICE || kind > TOMO_UNLINK_STEAM)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Unknown identifier.");
    if ((rc = target(caller, user_id, id, err)) < 0)
        return rc;
    if (!value)
        value = "";
    other_ids(kind, others, sizeof(others));
    int64_t n = 0;
    if (kind == TOMO_UNLINK_DEVICE) {
        if (!*value)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "A device ID must be supplied.");
        tomo_dbval p[3] = {{TOMO_DBV_TEXT, 0, id}, TOMO_DBTEXT(value), TOMO_DBINT(tomo_now_ms())};
        snprintf(sql, sizeof(sql),
                 "DELETE FROM user_device WHERE id = $2 AND user_id = $1 AND ("
                 "EXISTS (SELECT id FROM users WHERE id = $1 AND %s) "
                 "OR EXISTS (SELECT id FROM user_device WHERE user_id = $1 AND id <> $2))",
                 others);
        rc = tomo_db_begin(db);
        if (rc == 0)
            rc = tomo_db_exec_changes(db, sql, p, 2, &n);
        if (rc == 0 && n == 0) {
            tomo_db_rollback(db);
            return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, MSG_LAST_LINK);
        }
        if (rc == 0)
            rc = tomo_db_exec(db, "UPDATE users SET update_time = $3 WHERE id = $1", p, 3, NULL);
        if (rc == 0)
            rc = tomo_db_commit(db);
        if (rc < 0) {
            tomo_db_rollback(db);
            return tomo_err_db_conn(err, db, rc, "unlink device");
        }
        return 0;
    }
    const char *col = login_cols[kind];
    char *clean = tomo_xstrdup(value);
    if (kind == TOMO_UNLINK_EMAIL)
        for (char *c = clean; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    tomo_dbval p[3] = {{TOMO_DBV_TEXT, 0, id}, TOMO_DBINT(tomo_now_ms()), TOMO_DBTEXT(clean)};
    snprintf(sql, sizeof(sql),
             "UPDATE users SET %s = NULL%s, update_time = $2 WHERE id = $1%s%s%s AND (%s OR "
             "EXISTS (SELECT id FROM user_device WHERE user_id = $1))",
             col, kind == TOMO_UNLINK_EMAIL ? ", password = NULL" : "", *clean ? " AND " : "",
             *clean ? col : "", *clean ? " = $3" : "", others);
    rc = tomo_db_exec_changes(db, sql, p, *clean ? 3 : 2, &n);
    free(clean);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "unlink");
    if (n == 0)
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, MSG_LAST_LINK);
    return 0;
}

const char *tomo_svc_account_login_column(int kind)
{
    return kind >= TOMO_UNLINK_CUSTOM && kind <= TOMO_UNLINK_STEAM ? login_cols[kind] : NULL;
}

int tomo_svc_account_link_social(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 const char *user_id, const tomo_provider_account *a,
                                 tomo_err *err)
{
    char id[37], pid[TOMO_PROVIDER_ID_MAX], sql[256];
    int rc;
    if ((rc = target(caller, user_id, id, err)) < 0 ||
        (rc = tomo_svc_provider_check(TOMO_PROVIDER_LINK, a, err)) < 0 ||
        (rc = tomo_svc_provider_verify(svc->cfg, TOMO_PROVIDER_LINK, a, pid, err)) < 0)
        return rc;
    const char *col = login_cols[a->kind];
    snprintf(sql, sizeof(sql),
             "UPDATE users SET %s = $2, update_time = $3 WHERE id = $1 AND "
             "NOT EXISTS (SELECT id FROM users WHERE %s = $2 AND id <> $1)",
             col, col);
    tomo_dbval p[3] = {{TOMO_DBV_TEXT, 0, id}, {TOMO_DBV_TEXT, 0, pid}, TOMO_DBINT(tomo_now_ms())};
    int64_t n = 0;
    rc = tomo_db_exec_changes(db, sql, p, 3, &n);
    if (rc == TOMO_ECONFLICT || (rc == 0 && n == 0))
        return tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, "%s ID is already in use.",
                            tomo_svc_provider_name(a->kind));
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "link social");
    return 0;
}

int tomo_svc_account_unlink_social(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                   const char *user_id, const tomo_provider_account *a,
                                   tomo_err *err)
{
    char pid[TOMO_PROVIDER_ID_MAX];
    int rc;
    if ((rc = tomo_svc_provider_check(TOMO_PROVIDER_UNLINK, a, err)) < 0 ||
        (rc = tomo_svc_provider_verify(svc->cfg, TOMO_PROVIDER_UNLINK, a, pid, err)) < 0)
        return rc;
    return tomo_svc_account_unlink(svc, db, caller, user_id, a->kind, pid, err);
}

int tomo_svc_account_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *user_id, tomo_err *err)
{
    /* The users row goes first among the user's own rows: it locks the
     * account, so a concurrent storage write (which share-locks it) either
     * finished before and its rows are deleted below, or finds no owner. */
    static const char *const sqls[] = {
        "DELETE FROM users WHERE id = $1",
        "DELETE FROM user_device WHERE user_id = $1",
        "DELETE FROM storage WHERE user_id = $1",
        "DELETE FROM notification WHERE user_id = $1",
    };
    char id[37];
    int rc;
    if ((rc = target(caller, user_id, id, err)) < 0)
        return rc;
    tomo_dbval p[1] = {{TOMO_DBV_TEXT, 0, id}};
    rc = tomo_db_begin(db);
    /* Friends and groups first: the other sides' counts drop with the edges. */
    if (rc == 0)
        rc = tomo_svc_friend_remove_user(db, id);
    if (rc == 0)
        rc = tomo_svc_group_remove_user(db, id);
    if (rc == 0)
        rc = tomo_svc_leaderboard_owner_delete(svc, db, id);
    for (size_t i = 0; rc == 0 && i < TOMO_ARRAY_LEN(sqls); i++)
        rc = tomo_db_exec(db, sqls[i], p, 1, NULL);
    /* Inside the transaction: the account never disappears while its
     * tokens stay valid. */
    if (rc == 0)
        rc = tomo_revoke_user(svc, db, id);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        return tomo_err_db_conn(err, db, rc, "delete account");
    }
    tomo_svc_leaderboard_owner_forget(svc, id); /* ranks, after the commit */
    TOMO_LOGI(TOMO_SVC, "account deleted user=%s", id);
    if (svc->push.disconnect_user)
        svc->push.disconnect_user(svc->push.ctx, id);
    return 0;
}
