/* svc/users.c: User lookups and the User message (see users.h). */
#include "users.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jsonw.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

void tomo_users_user_text(tomo_jw *w, const char *key, const tomo_dbres *r, size_t row,
                          size_t c, int flags)
{
    static const char *const names[] = {"id",           "username",    "display_name",
                                        "avatar_url",   "lang_tag",    "location",
                                        "timezone",     "metadata",    "facebook_id",
                                        "google_id",    "gamecenter_id", "steam_id"};
    tomo_jw_obj(w, key);
    for (size_t i = 0; i < TOMO_ARRAY_LEN(names); i++)
        tomo_jw_opt_str(w, names[i], tomo_dbres_text(r, row, c + i));
    long long edges = tomo_dbres_int(r, row, c + 12);
    if (edges && !(flags & TOMO_USER_NO_EDGES))
        tomo_jw_int(w, "edge_count", edges);
    tomo_jw_opt_time(w, "create_time", tomo_dbres_int(r, row, c + 13));
    tomo_jw_opt_time(w, "update_time", tomo_dbres_int(r, row, c + 14));
    tomo_jw_opt_str(w, "facebook_instant_game_id", tomo_dbres_text(r, row, c + 15));
    tomo_jw_opt_str(w, "apple_id", tomo_dbres_text(r, row, c + 16));
    if (flags & TOMO_USER_ONLINE)
        tomo_jw_raw(w, "online", "true");
    tomo_jw_obj_end(w);
}

json_t *tomo_users_user_json(const tomo_dbres *r, size_t row, size_t c)
{
    tomo_jw w;
    tomo_jw_init(&w);
    tomo_users_user_text(&w, NULL, r, row, c, 0);
    return tomo_jw_tree(&w);
}

int tomo_svc_user_online(tomo_svc *svc, const char *user_id)
{
    return svc && svc->push.user_online && user_id &&
           svc->push.user_online(svc->push.ctx, user_id) > 0;
}

void tomo_svc_users_fill_online(tomo_svc *svc, json_t *users)
{
    for (size_t i = 0; i < json_array_size(users); i++) {
        json_t *u = json_array_get(users, i);
        if (tomo_svc_user_online(svc, tomo_json_str(u, "id")))
            json_object_set_new(u, "online", json_true());
    }
}

/* Look users up by one column, in batches that fit a statement's parameter
 * limit; add each unseen user to out (seen: id -> true). */
static int users_by(tomo_dbconn *db, const char *col, const char *const *vals, size_t total,
                    json_t *seen, json_t *out)
{
    for (size_t base = 0; base < total; base += 100) {
        size_t n = total - base < 100 ? total - base : 100;
        tomo_dbval p[100];
        size_t cap = sizeof(TOMO_USERS_COLS) + 64 + n * 8;
        char *sql = tomo_xmalloc(cap);
        int off = snprintf(sql, cap, "SELECT " TOMO_USERS_COLS " FROM users WHERE %s IN (", col);
        for (size_t i = 0; i < n; i++) {
            p[i] = TOMO_DBTEXT(vals[base + i]);
            off += snprintf(sql + off, cap - (size_t)off, "%s$%zu", i ? "," : "", i + 1);
        }
        snprintf(sql + off, cap - (size_t)off, ")");
        tomo_dbres *r = NULL;
        int rc = tomo_db_exec(db, sql, p, n, &r);
        free(sql);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < tomo_dbres_rows(r); i++) {
            const char *id = tomo_dbres_text(r, i, 0);
            if (json_object_get(seen, id))
                continue;
            json_object_set_new(seen, id, json_true());
            json_array_append_new(out, tomo_users_user_json(r, i, 0));
        }
        tomo_dbres_free(r);
    }
    return 0;
}

int tomo_svc_users_get(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                       const char *const *ids, size_t nids, const char *const *usernames,
                       size_t nusernames, const char *const *facebook_ids, size_t nfacebook,
                       json_t **out, tomo_err *err)
{
    (void)caller;
    *out = NULL;
    for (size_t i = 0; i < nids; i++)
        if (!ids[i] || !tomo_uuid_valid(ids[i]))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "ID '%s' is not a valid system ID.", ids[i] ? ids[i] : "");
    if (!nids && !nusernames && !nfacebook)
        return 0;
    json_t *seen = json_object(), *users = json_array();
    int rc = users_by(db, "id", ids, nids, seen, users);
    if (rc == 0)
        rc = users_by(db, "username", usernames, nusernames, seen, users);
    if (rc == 0)
        rc = users_by(db, "facebook_id", facebook_ids, nfacebook, seen, users);
    json_decref(seen);
    if (rc < 0) {
        json_decref(users);
        return tomo_err_db_conn(err, db, rc, "get users");
    }
    tomo_svc_users_fill_online(svc, users);
    *out = json_object();
    if (json_array_size(users))
        json_object_set_new(*out, "users", users);
    else
        json_decref(users);
    return 0;
}

int tomo_svc_users_random(tomo_svc *svc, tomo_dbconn *db, int count, json_t **out, tomo_err *err)
{
    *out = NULL;
    if (count < 0 || count > 1000)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "count must be 0-1000");
    int rc = tomo_svc_random_rows(db,
                                  "SELECT " TOMO_USERS_COLS " FROM users WHERE disable_time = 0 "
                                  "AND id <> '00000000-0000-0000-0000-000000000000'",
                                  "id", count, tomo_users_user_json, out);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "random users");
    tomo_svc_users_fill_online(svc, *out);
    return 0;
}
