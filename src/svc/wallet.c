/* svc/wallet.c: wallet updates and the wallet ledger. */
#define _GNU_SOURCE
#include "wallet.h"

#include "../core/codec_util.h"
#include "../core/common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The changeset and metadata checks: 0 with *meta (new reference, NULL
 * for none), or INVALID_ARGUMENT. */
static int check_change(const tomo_wallet_change *c, json_t **meta, tomo_err *err)
{
    *meta = NULL;
    if (!json_is_object(c->changeset))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "expects changeset to be an object");
    const char *k;
    json_t *v;
    json_object_foreach(c->changeset, k, v) {
        if (!json_is_integer(v))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "wallet changeset value at path '%s' must be a whole number", k);
    }
    if (c->metadata && *c->metadata) {
        *meta = json_loads(c->metadata, 0, NULL);
        if (!json_is_object(*meta)) {
            json_decref(*meta);
            *meta = NULL;
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "expects metadata to be an object");
        }
    }
    return 0;
}

/* Apply a checked change inside the caller's transaction. */
static int apply_change(tomo_svc *svc, tomo_dbconn *db, const tomo_wallet_change *c,
                        const json_t *meta, int update_ledger, json_t **updated,
                        json_t **previous, tomo_err *err)
{
    const char *user_id = c->user_id, *k;
    json_t *v, *before = NULL, *after = NULL;
    tomo_dbres *r = NULL;
    const char *sel = svc && svc->db && tomo_db_kind_of(svc->db) == TOMO_DB_POSTGRES
                          ? "SELECT wallet FROM users WHERE id = $1 FOR UPDATE"
                          : "SELECT wallet FROM users WHERE id = $1";
    int rc = tomo_db_exec(db, sel, (tomo_dbval[]){TOMO_DBTEXT(user_id)}, 1, &r);
    if (rc < 0) {
        rc = tomo_err_db(err, rc, "wallet read");
        goto out;
    }
    if (tomo_dbres_rows(r) == 0) {
        rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "user not found");
        goto out;
    }
    const char *w = tomo_dbres_text(r, 0, 0);
    before = w ? json_loads(w, 0, NULL) : NULL;
    if (!json_is_object(before)) {
        json_decref(before);
        before = json_object();
    }
    after = json_deep_copy(before);
    json_object_foreach(c->changeset, k, v) {
        json_int_t cur = json_integer_value(json_object_get(after, k));
        json_int_t nv = cur + json_integer_value(v);
        if (nv < 0) {
            rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                              "wallet update rejected negative value at path '%s'", k);
            goto out;
        }
        json_object_set_new(after, k, json_integer(nv));
    }
    char *txt = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);
    int64_t now = tomo_now_ms();
    rc = tomo_db_exec(db, "UPDATE users SET wallet = $2, update_time = $3 WHERE id = $1",
                      (tomo_dbval[]){TOMO_DBTEXT(user_id), TOMO_DBTEXT(txt), TOMO_DBINT(now)}, 3,
                      NULL);
    free(txt);
    if (rc < 0) {
        rc = tomo_err_db(err, rc, "wallet write");
        goto out;
    }
    if (update_ledger) {
        char id[37];
        tomo_uuid_v4(id);
        char *cs = json_dumps(c->changeset, JSON_COMPACT | JSON_SORT_KEYS);
        char *ms = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : tomo_xstrdup("{}");
        rc = tomo_db_exec(db,
                          "INSERT INTO wallet_ledger (id, user_id, changeset, metadata, "
                          "create_time, update_time) VALUES ($1, $2, $3, $4, $5, $5)",
                          (tomo_dbval[]){((tomo_dbval){TOMO_DBV_TEXT, 0, id}), TOMO_DBTEXT(user_id),
                                         TOMO_DBTEXT(cs), TOMO_DBTEXT(ms), TOMO_DBINT(now)},
                          5, NULL);
        free(cs);
        free(ms);
        if (rc < 0)
            rc = tomo_err_db(err, rc, "wallet ledger insert");
    }
out:
    tomo_dbres_free(r);
    if (rc == 0 && updated)
        *updated = json_incref(after);
    if (rc == 0 && previous)
        *previous = json_incref(before);
    json_decref(after);
    json_decref(before);
    return rc;
}

int tomo_svc_wallet_update_tx(tomo_svc *svc, tomo_dbconn *db, const tomo_wallet_change *c,
                              int update_ledger, json_t **updated, json_t **previous,
                              tomo_err *err)
{
    if (updated)
        *updated = NULL;
    if (previous)
        *previous = NULL;
    json_t *meta;
    int rc = check_change(c, &meta, err);
    if (rc == 0)
        rc = apply_change(svc, db, c, meta, update_ledger, updated, previous, err);
    json_decref(meta);
    return rc;
}

int tomo_svc_wallet_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, json_t *changeset, const char *metadata,
                           int update_ledger, json_t **updated, json_t **previous, tomo_err *err)
{
    if (updated)
        *updated = NULL;
    if (previous)
        *previous = NULL;
    if (!tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Wallet updates are server-side only.");
    tomo_wallet_change c = {user_id, changeset, metadata};
    json_t *meta;
    int rc = check_change(&c, &meta, err);
    if (rc < 0)
        return rc;
    if ((rc = tomo_db_begin(db)) < 0) {
        json_decref(meta);
        return tomo_err_db(err, rc, "wallet update begin");
    }
    rc = apply_change(svc, db, &c, meta, update_ledger, updated, previous, err);
    json_decref(meta);
    if (rc == 0 && (rc = tomo_db_commit(db)) < 0)
        rc = tomo_err_db(err, rc, "wallet update commit");
    if (rc < 0) {
        tomo_db_rollback(db);
        if (updated) {
            json_decref(*updated);
            *updated = NULL;
        }
        if (previous) {
            json_decref(*previous);
            *previous = NULL;
        }
    }
    return rc;
}

int tomo_svc_wallet_ledger_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                const char *user_id, int limit, const char *cursor, json_t **items,
                                char **next_cursor, tomo_err *err)
{
    (void)svc;
    *items = NULL;
    *next_cursor = NULL;
    if (!tomo_caller_is_system(caller) && strcmp(caller->user_id, user_id))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Wallet ledgers are server-side only.");
    if (limit < 1 || limit > 100)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "expects limit to be 1..100");
    /* cursor: "<create_time>:<id>" of the last item handed out */
    long long ct = 0;
    char cid[64] = "";
    if (cursor && *cursor) {
        if (sscanf(cursor, "%lld:%63s", &ct, cid) != 2)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "invalid cursor");
    }
    tomo_dbres *r = NULL;
    int rc;
    if (cid[0])
        rc = tomo_db_exec(db,
                          "SELECT id, changeset, metadata, create_time, update_time FROM "
                          "wallet_ledger WHERE user_id = $1 AND (create_time < $2 OR "
                          "(create_time = $2 AND id < $3)) ORDER BY create_time DESC, id DESC "
                          "LIMIT $4",
                          (tomo_dbval[]){TOMO_DBTEXT(user_id), TOMO_DBINT(ct), ((tomo_dbval){TOMO_DBV_TEXT, 0, cid}),
                                         TOMO_DBINT(limit + 1)},
                          4, &r);
    else
        rc = tomo_db_exec(db,
                          "SELECT id, changeset, metadata, create_time, update_time FROM "
                          "wallet_ledger WHERE user_id = $1 ORDER BY create_time DESC, id DESC "
                          "LIMIT $2",
                          (tomo_dbval[]){TOMO_DBTEXT(user_id), TOMO_DBINT(limit + 1)}, 2, &r);
    if (rc < 0)
        return tomo_err_db(err, rc, "wallet ledger list");
    size_t n = tomo_dbres_rows(r);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++) {
        json_t *cs = json_loads(tomo_dbres_text(r, i, 1), 0, NULL);
        json_t *ms = json_loads(tomo_dbres_text(r, i, 2), 0, NULL);
        json_t *it = json_pack("{s:s,s:s,s:o,s:o,s:I,s:I}", "id", tomo_dbres_text(r, i, 0),
                               "user_id", user_id, "changeset", cs ? cs : json_object(),
                               "metadata", ms ? ms : json_object(), "create_time",
                               (json_int_t)(tomo_dbres_int(r, i, 3) / 1000), "update_time",
                               (json_int_t)(tomo_dbres_int(r, i, 4) / 1000));
        json_array_append_new(arr, it);
    }
    if (n > (size_t)limit)
        *next_cursor = tomo_xasprintf("%lld:%s", (long long)tomo_dbres_int(r, limit - 1, 3),
                                      tomo_dbres_text(r, limit - 1, 0));
    else
        *next_cursor = tomo_xstrdup("");
    tomo_dbres_free(r);
    *items = arr;
    return 0;
}

int tomo_svc_wallet_ledger_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                  const char *user_id, const char *ledger_id, tomo_err *err)
{
    (void)svc;
    if (!tomo_caller_is_system(caller))
        return tomo_err_set(err, TOMO_GRPC_PERMISSION_DENIED, "Wallet ledgers are server-side only.");
    if (!user_id || !tomo_uuid_valid(user_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Requires a valid user ID.");
    if (!ledger_id || !tomo_uuid_valid(ledger_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Requires a valid wallet ledger item ID.");
    tomo_dbval p[2] = {TOMO_DBTEXT(ledger_id), TOMO_DBTEXT(user_id)};
    int64_t changed = 0;
    int rc = tomo_db_exec_changes(db, "DELETE FROM wallet_ledger WHERE id = $1 AND user_id = $2",
                                  p, 2, &changed);
    return rc < 0 ? tomo_err_db_conn(err, db, rc, "delete wallet ledger item") : 0;
}
