/* svc/friend.c: friends (see friend.h). Transitions follow Nakama:
 * add = invite (A->B 1, B->A 2, same position) or accept (both 0); delete
 * drops A->B and B->A unless B blocked A; block sets A->B 3 and drops
 * B->A unless it is a block. */
#define _GNU_SOURCE
#include "friend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jsonw.h"
#include "../core/log.h"
#include "social.h"
#include "users.h"

enum { OP_ADD, OP_DELETE, OP_BLOCK };

static const char *const op_self[] = {"Cannot add self as friend.", "Cannot delete self.",
                                      "Cannot block self."};
static const char *const op_fail[] = {"Error while trying to add friends.",
                                      "Error while trying to delete friends.",
                                      "Error while trying to block friends."};

typedef struct idset {
    char (*v)[37];
    size_t n, cap;
} idset;

static void idset_add(idset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], id) == 0)
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = tomo_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    snprintf(s->v[s->n++], 37, "%s", id);
}

/* The acting user of an operation: user_id or the user caller. */
static int acting(tomo_dbconn *db, const tomo_caller *caller, const char *user_id,
                  const char *username, char me[37], char myname[129], int need_name,
                  tomo_err *err)
{
    if (!user_id || !*user_id) {
        if (tomo_caller_is_system(caller))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Expects a valid user ID.");
        user_id = caller->user_id;
        if (!username || !*username)
            username = caller->username;
    }
    if (tomo_social_uuid_lower(user_id, me) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Expects a valid user ID.");
    snprintf(myname, 129, "%s", username ? username : "");
    if (need_name && !*myname) {
        int rc = tomo_social_username(db, me, myname);
        if (rc == TOMO_ENOTFOUND)
            return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "User account not found.");
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "friend: acting user");
    }
    return 0;
}

/* Validate the targets and resolve usernames into ids (Nakama's order: ids,
 * then usernames, then the lookup). *none = 1 when nothing was given. */
static int resolve(tomo_dbconn *db, int op, const char *me, const char *myname,
                   const tomo_svc_friend_targets *t, idset *out, int *none, tomo_err *err)
{
    *none = 0;
    if (t->n_ids == 0 && t->n_usernames == 0) {
        *none = 1;
        return 0;
    }
    for (size_t i = 0; i < t->n_ids; i++) {
        char id[37];
        const char *raw = t->ids[i] ? t->ids[i] : "";
        if (strcasecmp(raw, me) == 0)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "%s", op_self[op]);
        if (tomo_social_uuid_lower(raw, id) < 0 || strcmp(id, TOMO_SYSTEM_USER_ID) == 0)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid user ID '%s'.", raw);
        idset_add(out, id);
    }
    for (size_t i = 0; i < t->n_usernames; i++) {
        const char *u = t->usernames[i] ? t->usernames[i] : "";
        if (!*u)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Username must not be empty.");
        if (*myname && strcmp(u, myname) == 0)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "%s", op_self[op]);
    }
    for (size_t base = 0; base < t->n_usernames; base += 100) {
        size_t n = t->n_usernames - base < 100 ? t->n_usernames - base : 100;
        tomo_dbval p[100];
        char *sql = tomo_xmalloc(64 + n * 8);
        int off = sprintf(sql, "SELECT id FROM users WHERE username IN (");
        for (size_t i = 0; i < n; i++) {
            p[i] = TOMO_DBTEXT(t->usernames[base + i]);
            off += sprintf(sql + off, "%s$%zu", i ? "," : "", i + 1);
        }
        sprintf(sql + off, ")");
        tomo_dbres *r = NULL;
        int rc = tomo_db_exec(db, sql, p, n, &r);
        free(sql);
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "friend: usernames");
        for (size_t i = 0; i < tomo_dbres_rows(r); i++)
            if (strcmp(tomo_dbres_text(r, i, 0), me) != 0)
                idset_add(out, tomo_dbres_text(r, i, 0));
        tomo_dbres_free(r);
    }
    if (out->n == 0 && op != OP_DELETE)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "No valid ID or username was provided.");
    return 0;
}

/* States of A->B and B->A (-1 = no row) and whether B exists. */
static int edge_states(tomo_dbconn *db, const char *a, const char *b, int *ab, int *ba,
                       int *b_exists)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(a), TOMO_DBTEXT(b)};
    *ab = *ba = -1;
    int rc = tomo_db_exec(db,
                          "SELECT source_id, state FROM user_edge WHERE (source_id = $1 AND "
                          "destination_id = $2) OR (source_id = $2 AND destination_id = $1)",
                          p, 2, &r);
    for (size_t i = 0; rc == 0 && i < tomo_dbres_rows(r); i++) {
        if (strcmp(tomo_dbres_text(r, i, 0), a) == 0)
            *ab = (int)tomo_dbres_int(r, i, 1);
        else
            *ba = (int)tomo_dbres_int(r, i, 1);
    }
    tomo_dbres_free(r);
    r = NULL;
    if (rc == 0 && b_exists) {
        tomo_dbval q[] = {TOMO_DBTEXT(b)};
        rc = tomo_db_exec(db, "SELECT 1 FROM users WHERE id = $1", q, 1, &r);
        *b_exists = rc == 0 && tomo_dbres_rows(r) > 0;
    }
    tomo_dbres_free(r);
    return rc;
}

static int count_add(tomo_dbconn *db, const char *uid, int delta, int64_t now)
{
    tomo_dbval p[] = {TOMO_DBINT(delta), TOMO_DBINT(now), TOMO_DBTEXT(uid)};
    return tomo_db_exec(db,
                        "UPDATE users SET edge_count = edge_count + $1, update_time = $2 "
                        "WHERE id = $3",
                        p, 3, NULL);
}

static int del_edge(tomo_dbconn *db, const char *src, const char *dst)
{
    tomo_dbval p[] = {TOMO_DBTEXT(src), TOMO_DBTEXT(dst)};
    return tomo_db_exec(db, "DELETE FROM user_edge WHERE source_id = $1 AND destination_id = $2",
                        p, 2, NULL);
}

static int insert_edge(tomo_dbconn *db, const char *src, const char *dst, int state,
                       int64_t pos, int64_t now)
{
    tomo_dbval p[] = {TOMO_DBTEXT(src), TOMO_DBTEXT(dst), TOMO_DBINT(state), TOMO_DBINT(pos),
                      TOMO_DBINT(now)};
    return tomo_db_exec(db,
                        "INSERT INTO user_edge (source_id, destination_id, state, position, "
                        "update_time) VALUES ($1, $2, $3, $4, $5)",
                        p, 5, NULL);
}

static int add_one(tomo_dbconn *db, tomo_social_notes *notes, const char *me, const char *myname,
                   const char *b)
{
    int ab, ba, exists;
    int64_t now = tomo_now_ms();
    int rc = edge_states(db, me, b, &ab, &ba, &exists);
    if (rc < 0 || !exists)
        return rc;
    if (ab == TOMO_FRIEND_BLOCKED || ab == TOMO_FRIEND_MUTUAL || ab == TOMO_FRIEND_INVITE_SENT)
        return 0; /* own block (3.18+: no notification), already friends, already asked */
    char *content = tomo_social_content_username(myname);
    if (ab == TOMO_FRIEND_INVITE_RECEIVED && ba == TOMO_FRIEND_INVITE_SENT) {
        tomo_dbval p[] = {TOMO_DBINT(now), tomo_social_text(me), TOMO_DBTEXT(b)};
        rc = tomo_db_exec(db,
                          "UPDATE user_edge SET state = 0, update_time = $1 WHERE "
                          "(source_id = $2 AND destination_id = $3) OR "
                          "(source_id = $3 AND destination_id = $2)",
                          p, 3, NULL);
        if (rc == 0) {
            char *subject = tomo_xasprintf("%s accepted your friend request", myname);
            rc = tomo_social_note_add(notes, db, b, subject, content, -3, me);
            free(subject);
        }
    } else if (ab < 0 && ba != TOMO_FRIEND_BLOCKED) {
        /* A stray B->A without its pair (only possible from an inconsistent
         * store) is replaced by the invite. */
        int64_t pos = tomo_social_position();
        if (ba >= 0 && (rc = del_edge(db, b, me)) == 0)
            rc = count_add(db, b, -1, now);
        if (rc == 0)
            rc = insert_edge(db, me, b, TOMO_FRIEND_INVITE_SENT, pos, now);
        if (rc == 0)
            rc = insert_edge(db, b, me, TOMO_FRIEND_INVITE_RECEIVED, pos, now);
        if (rc == 0)
            rc = count_add(db, me, 1, now);
        if (rc == 0)
            rc = count_add(db, b, 1, now);
        if (rc == 0) {
            char *subject = tomo_xasprintf("%s wants to add you as a friend", myname);
            rc = tomo_social_note_add(notes, db, b, subject, content, -2, me);
            free(subject);
        }
    }
    free(content);
    return rc;
}

static int delete_one(tomo_dbconn *db, const char *me, const char *b)
{
    int ab, ba;
    int64_t now = tomo_now_ms();
    int rc = edge_states(db, me, b, &ab, &ba, NULL);
    if (rc < 0 || ab < 0)
        return rc;
    rc = del_edge(db, me, b);
    if (rc == 0)
        rc = count_add(db, me, -1, now);
    if (rc == 0 && ba >= 0 && ba != TOMO_FRIEND_BLOCKED) {
        rc = del_edge(db, b, me);
        if (rc == 0)
            rc = count_add(db, b, -1, now);
    }
    return rc;
}

static int block_one(tomo_dbconn *db, const char *me, const char *b)
{
    int ab, ba, exists;
    int64_t now = tomo_now_ms();
    int rc = edge_states(db, me, b, &ab, &ba, &exists);
    if (rc < 0)
        return rc;
    if (ab >= 0) {
        tomo_dbval p[] = {TOMO_DBINT(now), tomo_social_text(me), TOMO_DBTEXT(b)};
        rc = tomo_db_exec(db,
                          "UPDATE user_edge SET state = 3, update_time = $1 WHERE source_id = $2 "
                          "AND destination_id = $3",
                          p, 3, NULL);
    } else if (exists) {
        rc = insert_edge(db, me, b, TOMO_FRIEND_BLOCKED, tomo_social_position(), now);
        if (rc == 0)
            rc = count_add(db, me, 1, now);
    } else {
        return 0;
    }
    if (rc == 0 && ba >= 0 && ba != TOMO_FRIEND_BLOCKED) {
        rc = del_edge(db, b, me);
        if (rc == 0)
            rc = count_add(db, b, -1, now);
    }
    return rc;
}

/* Postgres (read committed): lock the acting user's and the targets' rows
 * in id order before reading any edge, so that A adding B while B adds A
 * cannot both insert the pair, and transactions touching a popular user
 * queue on its row instead of deadlocking. SQLite serialises writers
 * already. */
static int lock_users(tomo_svc *svc, tomo_dbconn *db, const char *me, const idset *ids)
{
    if (!svc || !svc->db || tomo_db_kind_of(svc->db) != TOMO_DB_POSTGRES)
        return 0;
    size_t n = ids->n + 1;
    tomo_dbval *p = tomo_xcalloc(n, sizeof(*p));
    char *sql = tomo_xmalloc(96 + n * 8);
    int off = sprintf(sql, "SELECT id FROM users WHERE id IN (");
    for (size_t i = 0; i < n; i++) {
        p[i] = tomo_social_text(i == 0 ? me : ids->v[i - 1]);
        off += sprintf(sql + off, "%s$%zu", i ? "," : "", i + 1);
    }
    sprintf(sql + off, ") ORDER BY id FOR UPDATE");
    int rc = tomo_db_exec(db, sql, p, n, NULL);
    free(sql);
    free(p);
    return rc;
}

static int run_op(int op, tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                  const char *user_id, const char *username, const tomo_svc_friend_targets *t,
                  tomo_err *err)
{
    char me[37], myname[129];
    idset ids = {0};
    tomo_social_notes notes = {0};
    int none = 0;
    int rc = acting(db, caller, user_id, username, me, myname, op == OP_ADD, err);
    if (rc == 0)
        rc = resolve(db, op, me, myname, t, &ids, &none, err);
    if (rc < 0 || none || ids.n == 0)
        goto out;
    rc = tomo_db_begin(db);
    if (rc == 0)
        rc = lock_users(svc, db, me, &ids);
    for (size_t i = 0; rc == 0 && i < ids.n; i++) {
        if (op == OP_ADD)
            rc = add_one(db, &notes, me, myname, ids.v[i]);
        else if (op == OP_DELETE)
            rc = delete_one(db, me, ids.v[i]);
        else
            rc = block_one(db, me, ids.v[i]);
    }
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        TOMO_LOGE(TOMO_SVC, "friend op failed op=%d user=%s error=%s", op, me, tomo_db_errmsg(db));
        tomo_db_rollback(db);
        if (rc == TOMO_EUNAVAIL || rc == TOMO_ETIMEOUT)
            tomo_err_db_conn(err, db, rc, op_fail[op]);
        else
            rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "%s", op_fail[op]);
        goto out;
    }
    tomo_social_notes_push(svc, &notes);
out:
    tomo_social_notes_free(&notes);
    free(ids.v);
    return rc;
}

int tomo_svc_friend_add(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                        const char *user_id, const char *username,
                        const tomo_svc_friend_targets *t, tomo_err *err)
{
    return run_op(OP_ADD, svc, db, caller, user_id, username, t, err);
}

int tomo_svc_friend_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, const char *username,
                           const tomo_svc_friend_targets *t, tomo_err *err)
{
    return run_op(OP_DELETE, svc, db, caller, user_id, username, t, err);
}

int tomo_svc_friend_block(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *user_id, const char *username,
                          const tomo_svc_friend_targets *t, tomo_err *err)
{
    return run_op(OP_BLOCK, svc, db, caller, user_id, username, t, err);
}

/* The columns a Friend is read from: state, position, update_time, the
 * edge's metadata, then the destination user's. */
#define FRIEND_SELECT "SELECT e.state, e.position, e.update_time, e.metadata, %s FROM user_edge e " \
                      "JOIN users u ON u.id = e.destination_id WHERE e.source_id = $1"
#define FRIEND_USER_COL 4

/* Friend {user, state, update_time, metadata?} from a FRIEND_SELECT row.
 * metadata (Nakama 3.26's Friend.metadata, JSON text) is written only when
 * it is not the empty object: Nakama 3.15's Friend has no such field, so a
 * graph nobody annotated keeps 3.15's exact shape. */
static void friend_text(tomo_svc *svc, tomo_jw *w, const tomo_dbres *r, size_t i)
{
    tomo_jw_obj(w, NULL);
    int online = tomo_svc_user_online(svc, tomo_dbres_text(r, i, FRIEND_USER_COL));
    /* Nakama leaves edge_count unset here */
    tomo_users_user_text(w, "user", r, i, FRIEND_USER_COL,
                         TOMO_USER_NO_EDGES | (online ? TOMO_USER_ONLINE : 0));
    tomo_jw_int(w, "state", tomo_dbres_int(r, i, 0));
    char ts[32];
    tomo_rfc3339(tomo_dbres_int(r, i, 2) / 1000, ts);
    tomo_jw_str(w, "update_time", ts);
    const char *md = tomo_dbres_text(r, i, 3);
    if (md && *md && strcmp(md, "{}") != 0)
        tomo_jw_str(w, "metadata", md);
    tomo_jw_obj_end(w);
}

/* The page as FriendList text into w; keep_empty: "friends":[] when there
 * are none (the tree's shape) instead of leaving it out (protojson's). */
static int friend_page(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                       const char *user_id, int limit, int state, const char *cursor,
                       int keep_empty, tomo_jw *w, tomo_err *err)
{
    char me[37], myname[129];
    int64_t cs = 0, cp = 0;
    int has_cursor = cursor && *cursor;
    tomo_dbres *r = NULL;
    char *sql = NULL;
    int rc = acting(db, caller, user_id, NULL, me, myname, 0, err);
    if (rc < 0)
        return rc;
    if (limit < 1 || limit > TOMO_FRIEND_LIST_MAX)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid limit - limit must be between 1 and 1000.");
    if (state < -1 || state > 3)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid state - state must be between 0 and 3.");
    if (has_cursor && (tomo_social_cursor_decode('f', cursor, &cs, &cp) < 0 ||
                       (state >= 0 && state != cs)))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Cursor is invalid.");
    tomo_dbval p[5];
    size_t n = 0;
    p[n++] = tomo_social_text(me);
    sql = tomo_xasprintf(FRIEND_SELECT "%s%s ORDER BY e.state, e.position LIMIT $%d",
                         TOMO_SOCIAL_USER_COLS_U, state >= 0 ? " AND e.state = $2" : "",
                         has_cursor ? (state >= 0 ? " AND e.position >= $3"
                                                  : " AND (e.state, e.position) >= ($2, $3)")
                                    : "",
                         state >= 0 || has_cursor ? (has_cursor ? 4 : 3) : 2);
    if (state >= 0 || has_cursor)
        p[n++] = TOMO_DBINT(state >= 0 ? state : cs);
    if (has_cursor)
        p[n++] = TOMO_DBINT(cp);
    p[n++] = TOMO_DBINT(limit + 1);
    rc = tomo_db_exec(db, sql, p, n, &r);
    free(sql);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "friend list");
    size_t rows = tomo_dbres_rows(r), shown = rows > (size_t)limit ? (size_t)limit : rows;
    tomo_jw_obj(w, NULL);
    if (shown || keep_empty) {
        tomo_jw_arr(w, "friends");
        for (size_t i = 0; i < shown; i++)
            friend_text(svc, w, r, i);
        tomo_jw_arr_end(w);
    }
    if (rows > shown) {
        char *next = tomo_social_cursor_encode('f', tomo_dbres_int(r, shown, 0),
                                               tomo_dbres_int(r, shown, 1));
        tomo_jw_str(w, "cursor", next);
        free(next);
    }
    tomo_jw_obj_end(w);
    tomo_dbres_free(r);
    return 0;
}

int tomo_svc_friend_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *user_id, int limit, int state, const char *cursor,
                         json_t **out, tomo_err *err)
{
    tomo_jw w;
    tomo_jw_init(&w);
    *out = NULL;
    int rc = friend_page(svc, db, caller, user_id, limit, state, cursor, 1, &w, err);
    if (rc < 0)
        tomo_jw_free(&w);
    else
        *out = tomo_jw_tree(&w);
    return rc;
}

int tomo_svc_friend_list_text(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              const char *user_id, int limit, int state, const char *cursor,
                              char **text, size_t *len, tomo_err *err)
{
    tomo_jw w;
    tomo_jw_init(&w);
    *text = NULL;
    int rc = friend_page(svc, db, caller, user_id, limit, state, cursor, 0, &w, err);
    if (rc < 0)
        tomo_jw_free(&w);
    else
        *text = tomo_jw_take(&w, len);
    return rc;
}

/* Friends-of-friends cursor: the referrer and user ids of the first row not
 * returned (inclusive). */
static char *fof_cursor(const char *src, const char *dst)
{
    char buf[80];
    int n = snprintf(buf, sizeof(buf), "o1:%s:%s", src, dst);
    return tomo_b64_encode(buf, (size_t)n, 1);
}

static int fof_cursor_decode(const char *c, char src[37], char dst[37])
{
    uint8_t *raw = NULL;
    size_t n = 0;
    if (tomo_b64_decode(c, strlen(c), &raw, &n) < 0)
        return TOMO_EINVAL;
    int rc = TOMO_EINVAL;
    if (n == 3 + 36 + 1 + 36 && memcmp(raw, "o1:", 3) == 0 && raw[39] == ':') {
        char a[37], b[37];
        memcpy(a, raw + 3, 36);
        a[36] = 0;
        memcpy(b, raw + 40, 36);
        b[36] = 0;
        if (tomo_social_uuid_lower(a, src) == 0 && tomo_social_uuid_lower(b, dst) == 0)
            rc = 0;
    }
    free(raw);
    return rc;
}

int tomo_svc_friend_list_fof(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                             const char *user_id, int limit, const char *cursor, json_t **out,
                             tomo_err *err)
{
    char me[37], myname[129], csrc[37] = "", cdst[37] = "";
    tomo_dbres *friends = NULL, *r = NULL;
    json_t *items = json_array();
    char *next = NULL;
    *out = NULL;
    int rc = acting(db, caller, user_id, NULL, me, myname, 0, err);
    if (rc < 0)
        goto out;
    if (limit < 1 || limit > TOMO_FRIEND_FOF_MAX) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                          "Invalid limit - limit must be between 1 and 100.");
        goto out;
    }
    if (cursor && *cursor && fof_cursor_decode(cursor, csrc, cdst) < 0) {
        rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Cursor is invalid.");
        goto out;
    }
    tomo_dbval p1[] = {tomo_social_text(me), tomo_social_text(csrc)};
    rc = tomo_db_exec(db,
                      "SELECT destination_id FROM user_edge WHERE source_id = $1 AND state = 0 "
                      "AND destination_id >= $2 ORDER BY destination_id",
                      p1, 2, &friends);
    if (rc < 0) {
        rc = tomo_err_db_conn(err, db, rc, "friends of friends");
        goto out;
    }
    size_t got = 0;
    /* Unlike Nakama (which stops after the cursor's referrer), paging
     * continues through the following referrers. */
    for (size_t f = 0; f < tomo_dbres_rows(friends) && !next; f++) {
        const char *fid = tomo_dbres_text(friends, f, 0);
        int at_cursor = *csrc && strcmp(fid, csrc) == 0;
        char *sql = tomo_xasprintf(
            "SELECT e.destination_id, %s FROM user_edge e JOIN users u ON u.id = e.destination_id "
            "WHERE e.source_id = $1 AND e.state = 0 AND e.destination_id <> $2 AND NOT EXISTS "
            "(SELECT 1 FROM user_edge m WHERE m.source_id = $2 AND m.state = 0 AND "
            "m.destination_id = e.destination_id) AND e.destination_id >= $3 "
            "ORDER BY e.destination_id LIMIT $4",
            TOMO_SOCIAL_USER_COLS_U);
        tomo_dbval p[] = {TOMO_DBTEXT(fid), tomo_social_text(me), tomo_social_text(at_cursor ? cdst : ""),
                          TOMO_DBINT((int64_t)(limit - got) + 1)};
        rc = tomo_db_exec(db, sql, p, 4, &r);
        free(sql);
        if (rc < 0) {
            rc = tomo_err_db_conn(err, db, rc, "friends of friends");
            goto out;
        }
        for (size_t i = 0; i < tomo_dbres_rows(r); i++) {
            if (got == (size_t)limit) {
                next = fof_cursor(fid, tomo_dbres_text(r, i, 0));
                break;
            }
            json_t *it = json_object();
            json_object_set_new(it, "referrer", json_string(fid));
            json_object_set_new(it, "user", tomo_users_user_json(r, i, 1));
            json_array_append_new(items, it);
            got++;
        }
        tomo_dbres_free(r);
        r = NULL;
    }
    tomo_social_fill_online(svc, items, "user");
    *out = json_object();
    json_object_set_new(*out, "friends_of_friends", items);
    items = NULL;
    if (next)
        json_object_set_new(*out, "cursor", json_string(next));
out:
    json_decref(items);
    free(next);
    tomo_dbres_free(friends);
    tomo_dbres_free(r);
    return rc;
}

int tomo_svc_friend_metadata_update(tomo_dbconn *db, const char *user_id, const char *friend_id,
                                    const char *metadata, tomo_err *err)
{
    char me[37], other[37];
    if (!user_id || tomo_social_uuid_lower(user_id, me) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid user ID.");
    if (!friend_id || tomo_social_uuid_lower(friend_id, other) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid friend user ID.");
    json_error_t je;
    json_t *md = metadata && *metadata ? json_loads(metadata, 0, &je) : json_object();
    int is_obj = json_is_object(md);
    json_decref(md);
    if (!is_obj)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Metadata must be a JSON object.");
    tomo_dbval p[] = {TOMO_DBTEXT(metadata && *metadata ? metadata : "{}"),
                      tomo_social_text(me), tomo_social_text(other)};
    /* one direction only, update_time untouched: Nakama's UpdateFriendMetadata */
    int rc = tomo_db_exec(db, "UPDATE user_edge SET metadata = $1 WHERE source_id = $2 AND "
                              "destination_id = $3", p, 3, NULL);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "friend metadata update");
    return 0;
}

int tomo_svc_friend_remove_user(tomo_dbconn *db, const char *user_id)
{
    tomo_dbval p[] = {TOMO_DBINT(tomo_now_ms()), TOMO_DBTEXT(user_id)};
    int rc = tomo_db_exec(db,
                          "UPDATE users SET edge_count = edge_count - 1, update_time = $1 WHERE "
                          "id IN (SELECT source_id FROM user_edge WHERE destination_id = $2)",
                          p, 2, NULL);
    if (rc == 0)
        rc = tomo_db_exec(db, "DELETE FROM user_edge WHERE source_id = $1 OR destination_id = $1",
                          p + 1, 1, NULL);
    return rc;
}

int tomo_svc_friend_status(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, const char *const *ids, size_t n, json_t **out,
                           tomo_err *err)
{
    char me[37], myname[129];
    *out = NULL;
    int rc = acting(db, caller, user_id, NULL, me, myname, 0, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!tomo_uuid_valid(ids[i]))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid user ID '%s'.", ids[i]);
    json_t *list = json_array();
    for (size_t base = 0; base < n; base += 100) {
        size_t k = n - base < 100 ? n - base : 100;
        tomo_dbval p[101];
        char lowered[100][37];
        p[0] = tomo_social_text(me);
        char *in = tomo_xstrdup("");
        for (size_t i = 0; i < k; i++) {
            tomo_social_uuid_lower(ids[base + i], lowered[i]);
            p[i + 1] = (tomo_dbval){TOMO_DBV_TEXT, 0, lowered[i]};
            char *next = tomo_xasprintf("%s%s$%zu", in, i ? "," : "", i + 2);
            free(in);
            in = next;
        }
        char *sql = tomo_xasprintf(FRIEND_SELECT " AND e.destination_id IN (%s) "
                                   "ORDER BY e.state, e.position", TOMO_SOCIAL_USER_COLS_U, in);
        free(in);
        tomo_dbres *r = NULL;
        rc = tomo_db_exec(db, sql, p, k + 1, &r);
        free(sql);
        if (rc < 0) {
            json_decref(list);
            return tomo_err_db_conn(err, db, rc, "friend status");
        }
        for (size_t i = 0; i < tomo_dbres_rows(r); i++) {
            tomo_jw w;
            tomo_jw_init(&w);
            friend_text(svc, &w, r, i);
            json_array_append_new(list, tomo_jw_tree(&w));
        }
        tomo_dbres_free(r);
    }
    *out = list;
    return 0;
}
