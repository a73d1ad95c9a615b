/* svc/admin.c: account search and export for the console (see admin.h). */
#define _GNU_SOURCE
#include "admin.h"

#include "account.h"
#include "friend.h"
#include "group.h"
#include "leaderboard.h"
#include "storage.h"
#include "users.h"
#include "wallet.h"

#include "../core/codec_util.h"
#include "../core/common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIL_UUID "00000000-0000-0000-0000-000000000000"

static int system_only(const tomo_caller *caller, tomo_err *err)
{
    if (tomo_caller_is_system(caller))
        return 0;
    return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Only the system may do this.");
}

int tomo_svc_admin_accounts_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 const char *filter, const char *cursor, int limit, json_t **out,
                                 tomo_err *err)
{
    *out = NULL;
    int rc = system_only(caller, err);
    if (rc < 0)
        return rc;
    if (limit < 1 || limit > 100)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid limit - must be 1-100.");
    if (!filter)
        filter = "";
    char *after = NULL;
    if (cursor && *cursor) {
        uint8_t *raw = NULL;
        size_t rl = 0;
        if (tomo_b64_decode(cursor, strlen(cursor), &raw, &rl) < 0 || !rl ||
            memchr(raw, '\0', rl)) {
            free(raw);
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Malformed cursor was used.");
        }
        after = tomo_xstrndup((const char *)raw, rl);
        free(raw);
    }
    char lowered[37];
    tomo_dbval p[4];
    size_t n = 0;
    char where[512];
    if (!*filter) {
        snprintf(where, sizeof(where), "id <> '" NIL_UUID "'");
    } else if (tomo_uuid_valid(filter)) {
        size_t i = 0;
        for (; filter[i] && i < 36; i++)
            lowered[i] = (char)(filter[i] >= 'A' && filter[i] <= 'F' ? filter[i] + 32 : filter[i]);
        lowered[i] = '\0';
        p[n++] = (tomo_dbval){TOMO_DBV_TEXT, 0, lowered};
        snprintf(where, sizeof(where), "id = $1 AND id <> '" NIL_UUID "'");
    } else if (strchr(filter, '%')) {
        p[n++] = TOMO_DBTEXT(filter);
        snprintf(where, sizeof(where), "lower(username) LIKE lower($1) AND id <> '" NIL_UUID "'");
    } else {
        p[n++] = TOMO_DBTEXT(filter);
        snprintf(where, sizeof(where),
                 "id <> '" NIL_UUID "' AND (username = $1 OR email = lower($1) OR custom_id = $1 "
                 "OR id IN (SELECT user_id FROM user_device WHERE id = $1))");
    }
    size_t nfilter = n;
    char sql[1024];
    tomo_dbres *r = NULL, *c = NULL;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE %s", where);
    rc = tomo_db_exec(db, sql, p, nfilter, &c);
    if (after)
        p[n++] = TOMO_DBTEXT(after);
    p[n++] = TOMO_DBINT(limit + 1);
    snprintf(sql, sizeof(sql),
             "SELECT " TOMO_USERS_COLS " FROM users WHERE %s%s%s ORDER BY username LIMIT $%zu",
             where, after ? " AND username > $" : "", after ? (n == 3 ? "2" : "1") : "", n);
    if (rc == 0)
        rc = tomo_db_exec(db, sql, p, n, &r);
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "list accounts");
        goto out;
    }
    size_t rows = tomo_dbres_rows(r);
    size_t shown = rows > (size_t)limit ? (size_t)limit : rows;
    json_t *users = json_array();
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(users, tomo_users_user_json(r, i, 0));
    tomo_svc_users_fill_online(svc, users);
    char *next = NULL;
    if (rows > shown) {
        const char *last = tomo_dbres_text(r, shown - 1, 1);
        next = tomo_b64_encode(last, strlen(last), 1);
    }
    *out = json_pack("{s:o,s:I,s:s}", "users", users, "total_count",
                     (json_int_t)tomo_dbres_int(c, 0, 0), "next_cursor", next ? next : "");
    free(next);
out:
    free(after);
    tomo_dbres_free(r);
    tomo_dbres_free(c);
    return rc;
}

/* Rows of a simple per-user query as objects: col_names[i] is the field
 * of column i, kinds[i] 's' string, 'i' integer, 'I' int64 as a string,
 * 't' unix ms as RFC 3339, 'T' unix seconds as RFC 3339, 'j' JSON text
 * kept as a string. */
static int rows_json(tomo_dbconn *db, const char *sql, const char *user_id,
                     const char *const *names, const char *kinds, json_t *into, const char *field,
                     tomo_err *err)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[1] = {TOMO_DBTEXT(user_id)};
    int rc = tomo_db_exec(db, sql, p, 1, &r);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, field);
    json_t *list = json_array();
    for (size_t i = 0; i < tomo_dbres_rows(r); i++) {
        json_t *o = json_object();
        for (size_t k = 0; names[k]; k++) {
            switch (kinds[k]) {
            case 'i':
                json_object_set_new(o, names[k], json_integer(tomo_dbres_int(r, i, k)));
                break;
            case 'I':
                tomo_json_set_i64(o, names[k], tomo_dbres_int(r, i, k));
                break;
            case 't':
                tomo_json_set_time(o, names[k], tomo_dbres_int(r, i, k));
                break;
            case 'T':
                tomo_json_set_time(o, names[k], tomo_dbres_int(r, i, k) * 1000);
                break;
            default:
                tomo_json_set_str(o, names[k], tomo_dbres_text(r, i, k));
                break;
            }
        }
        json_array_append_new(list, o);
    }
    tomo_dbres_free(r);
    json_object_set_new(into, field, list);
    return 0;
}

int tomo_svc_admin_account_export(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                  const char *user_id, json_t **out, tomo_err *err)
{
    *out = NULL;
    int rc = system_only(caller, err);
    json_t *account = NULL, *page = NULL;
    if (rc == 0)
        rc = tomo_svc_account_get(svc, db, caller, user_id, &account, err);
    if (rc < 0)
        return rc;
    const char *id = tomo_json_str(json_object_get(account, "user"), "id");
    json_t *x = json_pack("{s:o}", "account", account);
    /* storage: every object, page by page */
    json_t *objects = json_array();
    json_object_set_new(x, "objects", objects);
    char *cursor = NULL;
    do {
        rc = tomo_svc_storage_search(svc, db, caller, NULL, NULL, id, 1000, cursor, &page, err);
        free(cursor);
        cursor = NULL;
        if (rc < 0)
            goto fail;
        json_array_extend(objects, json_object_get(page, "objects"));
        const char *next = tomo_json_str(page, "next_cursor");
        if (next && *next)
            cursor = tomo_xstrdup(next);
        json_decref(page);
        page = NULL;
    } while (cursor);
    /* friends (every state) and groups */
    if ((rc = tomo_svc_friend_list(svc, db, caller, id, TOMO_FRIEND_LIST_MAX, -1, NULL, &page,
                                   err)) < 0)
        goto fail;
    json_t *friends = json_object_get(page, "friends");
    json_object_set_new(x, "friends", friends ? json_incref(friends) : json_array());
    json_decref(page);
    page = NULL;
    if ((rc = tomo_svc_group_user_groups(svc, db, caller, id, 100, -1, NULL, &page, err)) < 0)
        goto fail;
    json_t *groups = json_array(), *ug;
    size_t i;
    json_array_foreach(json_object_get(page, "user_groups"), i, ug)
        json_array_append(groups, json_object_get(ug, "group"));
    json_object_set_new(x, "groups", groups);
    json_decref(page);
    page = NULL;
    static const char *const msg_cols[] = {"message_id", "code", "sender_id", "username",
                                           "content", "create_time", "update_time", NULL};
    static const char *const lb_cols[] = {"leaderboard_id", "owner_id", "username", "score",
                                          "subscore", "num_score", "max_num_score", "metadata",
                                          "create_time", "update_time", "expiry_time", NULL};
    static const char *const n_cols[] = {"id", "subject", "content", "code", "sender_id",
                                         "create_time", NULL};
    static const char *const w_cols[] = {"id", "user_id", "changeset", "metadata", "create_time",
                                         "update_time", NULL};
    if ((rc = rows_json(db,
                        "SELECT id, code, sender_id, username, content, create_time, update_time "
                        "FROM message WHERE sender_id = $1 ORDER BY create_time, id",
                        id, msg_cols, "sisssttt", x, "messages", err)) < 0 ||
        (rc = rows_json(db,
                        "SELECT leaderboard_id, owner_id, username, score, subscore, num_score, "
                        "max_num_score, metadata, create_time, update_time, expiry_time FROM "
                        "leaderboard_record WHERE owner_id = $1 ORDER BY leaderboard_id, "
                        "expiry_time",
                        id, lb_cols, "sssIIiisttT", x, "leaderboard_records", err)) < 0 ||
        (rc = rows_json(db,
                        "SELECT id, subject, content, code, sender_id, create_time FROM "
                        "notification WHERE user_id = $1 ORDER BY create_time, id",
                        id, n_cols, "sssist", x, "notifications", err)) < 0 ||
        (rc = rows_json(db,
                        "SELECT id, user_id, changeset, metadata, create_time, update_time FROM "
                        "wallet_ledger WHERE user_id = $1 ORDER BY create_time, id",
                        id, w_cols, "sssstt", x, "wallet_ledgers", err)) < 0)
        goto fail;
    *out = x;
    return 0;
fail:
    json_decref(page);
    json_decref(x);
    return rc;
}

int tomo_svc_admin_accounts_delete_all(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                       int64_t *deleted, tomo_err *err)
{
    if (deleted)
        *deleted = 0;
    int rc = system_only(caller, err);
    if (rc < 0)
        return rc;
    /* In pages of ids, each account through the one delete path. */
    for (;;) {
        tomo_dbres *r = NULL;
        rc = tomo_db_exec(db,
                          "SELECT id FROM users WHERE id <> '" NIL_UUID "' ORDER BY id LIMIT 100",
                          NULL, 0, &r);
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "list accounts to delete");
        size_t n = tomo_dbres_rows(r);
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = tomo_svc_account_delete(svc, db, caller, tomo_dbres_text(r, i, 0), err);
            if (rc == 0 && deleted)
                (*deleted)++;
        }
        tomo_dbres_free(r);
        if (rc < 0 || n == 0)
            return rc;
    }
}

int tomo_svc_admin_storage_delete_all(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                      tomo_err *err)
{
    (void)svc;
    int rc = system_only(caller, err);
    if (rc < 0)
        return rc;
    int64_t changed = 0;
    rc = tomo_db_exec_changes(db, "DELETE FROM storage", NULL, 0, &changed);
    return rc < 0 ? tomo_err_db_conn(err, db, rc, "delete all storage") : 0;
}

int tomo_svc_admin_delete_all(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              tomo_err *err)
{
    int rc = tomo_svc_admin_accounts_delete_all(svc, db, caller, NULL, err);
    if (rc < 0)
        return rc;
    /* Records of owners that are not accounts (groups, ids the runtime
     * chose): through the leaderboard service so the rank cache agrees. */
    tomo_dbres *r = NULL;
    rc = tomo_db_exec(db, "SELECT DISTINCT owner_id FROM leaderboard_record", NULL, 0, &r);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "list record owners");
    for (size_t i = 0; i < tomo_dbres_rows(r) && rc == 0; i++) {
        const char *owner = tomo_dbres_text(r, i, 0);
        rc = tomo_svc_leaderboard_owner_delete(svc, db, owner);
        if (rc == 0)
            tomo_svc_leaderboard_owner_forget(svc, owner);
    }
    tomo_dbres_free(r);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "delete leaderboard records");
    static const char *const tables[] = {"storage",      "group_edge",    "groups", "message",
                                         "notification", "wallet_ledger", NULL};
    for (size_t i = 0; tables[i]; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "DELETE FROM %s", tables[i]);
        int64_t changed = 0;
        rc = tomo_db_exec_changes(db, sql, NULL, 0, &changed);
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, tables[i]);
    }
    return 0;
}
