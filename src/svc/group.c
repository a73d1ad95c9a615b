/* svc/group.c: groups (see group.h). */
#define _GNU_SOURCE
#include "group.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jsonw.h"
#include "../core/log.h"
#include "social.h"
#include "users.h"

#define GROUP_COLS                                                                             \
    "g.id, g.creator_id, g.name, g.description, g.lang_tag, g.metadata, g.avatar_url, "         \
    "g.state, g.edge_count, g.max_count, g.create_time, g.update_time"
#define GROUP_NCOLS 12

enum { STREAM_GROUP = 3 }; /* Nakama's stream mode of a group channel */

static const char *const op_fail[] = {
    "Error while trying to add users to a group.", "Error while trying to kick users from a group.",
    "Error while trying to ban users from a group.",
    "Error while trying to promote users in a group.",
    "Error while trying to demote users in a group."};

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

static void set_time(json_t *o, const char *k, int64_t ms)
{
    if (ms) {
        char ts[32];
        tomo_rfc3339(ms / 1000, ts);
        json_object_set_new(o, k, json_string(ts));
    }
}

/* Group object from GROUP_COLS at column c. */
static json_t *group_json(const tomo_dbres *r, size_t row, size_t c)
{
    json_t *g = json_object();
    set_str(g, "id", tomo_dbres_text(r, row, c));
    set_str(g, "creator_id", tomo_dbres_text(r, row, c + 1));
    set_str(g, "name", tomo_dbres_text(r, row, c + 2));
    set_str(g, "description", tomo_dbres_text(r, row, c + 3));
    set_str(g, "lang_tag", tomo_dbres_text(r, row, c + 4));
    set_str(g, "metadata", tomo_dbres_text(r, row, c + 5));
    set_str(g, "avatar_url", tomo_dbres_text(r, row, c + 6));
    json_object_set_new(g, "open", json_boolean(tomo_dbres_int(r, row, c + 7) == 0));
    int64_t ec = tomo_dbres_int(r, row, c + 8), mc = tomo_dbres_int(r, row, c + 9);
    if (ec)
        json_object_set_new(g, "edge_count", json_integer(ec));
    if (mc)
        json_object_set_new(g, "max_count", json_integer(mc));
    set_time(g, "create_time", tomo_dbres_int(r, row, c + 10));
    set_time(g, "update_time", tomo_dbres_int(r, row, c + 11));
    return g;
}

static int group_id_arg(const char *group_id, char out[37], tomo_err *err)
{
    if (!group_id || !*group_id)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group ID must be set.");
    if (tomo_social_uuid_lower(group_id, out) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group ID must be a valid ID.");
    return 0;
}

/* The acting user: user_id, or the user caller. */
static int acting(const tomo_caller *caller, const char *user_id, char me[37], tomo_err *err)
{
    if (!user_id || !*user_id) {
        if (tomo_caller_is_system(caller))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "User ID must be set.");
        user_id = caller->user_id;
    }
    if (tomo_social_uuid_lower(user_id, me) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "User ID must be a valid ID.");
    return 0;
}

/* The state of user_id in group_id (-1 = no edge). */
static int edge_state(tomo_dbconn *db, const char *group_id, const char *user_id, int *state)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(group_id), TOMO_DBTEXT(user_id)};
    int rc = tomo_db_exec(db, "SELECT state FROM group_edge WHERE group_id = $1 AND user_id = $2",
                          p, 2, &r);
    *state = -1;
    if (rc == 0 && tomo_dbres_rows(r))
        *state = (int)tomo_dbres_int(r, 0, 0);
    tomo_dbres_free(r);
    return rc;
}

typedef struct ginfo {
    int exists, open;
    int64_t edge_count, max_count;
    char name[256];
} ginfo;

/* The live (not disabled) group; exists = 0 when there is none. */
static int group_info(tomo_dbconn *db, const char *group_id, ginfo *gi)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(group_id)};
    memset(gi, 0, sizeof(*gi));
    int rc = tomo_db_exec(db,
                          "SELECT state, edge_count, max_count, name FROM groups WHERE id = $1 "
                          "AND disable_time = 0",
                          p, 1, &r);
    if (rc == 0 && tomo_dbres_rows(r)) {
        gi->exists = 1;
        gi->open = tomo_dbres_int(r, 0, 0) == 0;
        gi->edge_count = tomo_dbres_int(r, 0, 1);
        gi->max_count = tomo_dbres_int(r, 0, 2);
        snprintf(gi->name, sizeof(gi->name), "%s", tomo_dbres_text(r, 0, 3));
    }
    tomo_dbres_free(r);
    return rc;
}

/* edge_count += delta; an increment past max_count changes nothing and
 * sets *full. */
static int count_add(tomo_dbconn *db, const char *group_id, int delta, int *full)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBINT(delta), TOMO_DBINT(tomo_now_ms()), TOMO_DBTEXT(group_id)};
    int rc = tomo_db_exec(db,
                          delta > 0 ? "UPDATE groups SET edge_count = edge_count + $1, "
                                      "update_time = $2 WHERE id = $3 AND edge_count < max_count"
                                    : "UPDATE groups SET edge_count = edge_count + $1, "
                                      "update_time = $2 WHERE id = $3",
                          p, 3, &r);
    if (full)
        *full = rc == 0 && delta > 0 && tomo_dbres_changes(r) == 0;
    tomo_dbres_free(r);
    return rc;
}

static int edge_insert(tomo_dbconn *db, const char *group_id, const char *user_id, int state)
{
    tomo_dbval p[] = {TOMO_DBTEXT(group_id), TOMO_DBTEXT(user_id), TOMO_DBINT(state),
                      TOMO_DBINT(tomo_social_position()), TOMO_DBINT(tomo_now_ms())};
    return tomo_db_exec(db,
                        "INSERT INTO group_edge (group_id, user_id, state, position, update_time) "
                        "VALUES ($1, $2, $3, $4, $5)",
                        p, 5, NULL);
}

static int edge_set(tomo_dbconn *db, const char *group_id, const char *user_id, int state)
{
    tomo_dbval p[] = {TOMO_DBINT(state), TOMO_DBINT(tomo_now_ms()), TOMO_DBTEXT(group_id),
                      TOMO_DBTEXT(user_id)};
    return tomo_db_exec(db,
                        "UPDATE group_edge SET state = $1, update_time = $2 WHERE group_id = $3 "
                        "AND user_id = $4",
                        p, 4, NULL);
}

static int edge_delete(tomo_dbconn *db, const char *group_id, const char *user_id)
{
    tomo_dbval p[] = {TOMO_DBTEXT(group_id), TOMO_DBTEXT(user_id)};
    return tomo_db_exec(db, "DELETE FROM group_edge WHERE group_id = $1 AND user_id = $2", p, 2,
                        NULL);
}

static void untrack(tomo_svc *svc, const char *group_id, const char *user_id)
{
    if (svc && svc->push.stream_user_leave)
        svc->push.stream_user_leave(svc->push.ctx, STREAM_GROUP, group_id, user_id);
}

/* Membership messages on the group channel (join 3, add 4, leave 5, kick
 * 6, promote 7, ban 8, demote 9), collected in the transaction and sent
 * after the commit. */
typedef struct gevent {
    char user_id[37];
    char username[129];
    int code;
} gevent;
typedef struct gevents {
    gevent *v;
    size_t n, cap;
} gevents;

static int gev_add(gevents *e, tomo_dbconn *db, const char *user_id, const char *username,
                   int code)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->v = tomo_xrealloc(e->v, e->cap * sizeof(*e->v));
    }
    gevent *g = &e->v[e->n];
    snprintf(g->user_id, sizeof(g->user_id), "%s", user_id);
    snprintf(g->username, sizeof(g->username), "%s", username ? username : "");
    g->code = code;
    int rc = 0;
    if (!g->username[0])
        rc = tomo_social_username(db, user_id, g->username);
    if (rc == TOMO_ENOTFOUND)
        rc = 0;
    if (rc == 0)
        e->n++;
    return rc;
}

static void gev_send(tomo_svc *svc, tomo_dbconn *db, const char *gid, gevents *e)
{
    for (size_t i = 0; svc && svc->push.group_message && i < e->n; i++)
        svc->push.group_message(svc->push.ctx, db, gid, e->v[i].code, e->v[i].user_id,
                                e->v[i].username);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

/* ---- create, update, delete ---- */

int tomo_svc_group_create(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *creator_id, const tomo_svc_group_new *in, json_t **out,
                          tomo_err *err)
{
    (void)svc;
    char me[37], id[37];
    tomo_dbres *r = NULL;
    *out = NULL;
    int rc = acting(caller, creator_id, me, err);
    if (rc < 0)
        return rc;
    if (!in->name || !*in->name)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group name must be set.");
    if (in->max_count < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Group max count must be >= 1 when set.");
    const char *meta = in->metadata && *in->metadata ? in->metadata : "{}";
    json_t *mj = json_loads(meta, 0, NULL);
    int meta_ok = json_is_object(mj);
    json_decref(mj);
    if (!meta_ok)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Metadata must be a valid JSON object.");
    tomo_uuid_v4(id);
    int64_t now = tomo_now_ms();
    const char *idp = id, *mep = me;
    const char *desc = in->description && *in->description ? in->description : NULL;
    const char *avatar = in->avatar_url && *in->avatar_url ? in->avatar_url : NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(idp),
                      TOMO_DBTEXT(mep),
                      TOMO_DBTEXT(in->name),
                      TOMO_DBTEXT(desc),
                      TOMO_DBTEXT(avatar),
                      TOMO_DBTEXT(in->lang_tag && *in->lang_tag ? in->lang_tag : "en"),
                      TOMO_DBTEXT(meta),
                      TOMO_DBINT(in->open ? 0 : 1),
                      TOMO_DBINT(in->max_count ? in->max_count : TOMO_GROUP_MAX_COUNT_DEFAULT),
                      TOMO_DBINT(now)};
    rc = tomo_db_begin(db);
    if (rc == 0)
        rc = tomo_db_exec(db,
                          "INSERT INTO groups (id, creator_id, name, description, avatar_url, "
                          "lang_tag, metadata, state, edge_count, max_count, create_time, "
                          "update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10)",
                          p, TOMO_ARRAY_LEN(p), NULL);
    if (rc == 0)
        rc = edge_insert(db, id, me, TOMO_GROUP_SUPERADMIN);
    if (rc == 0) {
        char *sql = tomo_xasprintf("SELECT " GROUP_COLS " FROM groups g WHERE g.id = $1");
        rc = tomo_db_exec(db, sql, p, 1, &r);
        free(sql);
    }
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        if (rc == TOMO_ECONFLICT)
            rc = tomo_err_set(err, TOMO_GRPC_ALREADY_EXISTS, "Group name is in use.");
        else if (rc == TOMO_EUNAVAIL || rc == TOMO_ETIMEOUT)
            rc = tomo_err_db_conn(err, db, rc, "group create");
        else {
            TOMO_LOGE(TOMO_SVC, "group create failed error=%s", tomo_db_errmsg(db));
            rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error while trying to create group.");
        }
        goto out;
    }
    *out = group_json(r, 0, 0);
out:
    tomo_dbres_free(r);
    return rc;
}

int tomo_svc_group_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *group_id, const tomo_svc_group_change *in, tomo_err *err)
{
    (void)svc;
    char gid[37];
    int rc = group_id_arg(group_id, gid, err);
    if (rc < 0)
        return rc;
    if (in->name && !*in->name)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group name cannot be empty.");
    if (in->lang_tag && !*in->lang_tag)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group language cannot be empty.");
    if (in->max_count < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Group max count must be >= 1 when set.");
    if (in->metadata) {
        json_t *mj = json_loads(in->metadata, 0, NULL);
        int ok = json_is_object(mj);
        json_decref(mj);
        if (!ok)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "Metadata must be a valid JSON object.");
    }
    if (!tomo_caller_is_system(caller)) {
        int st;
        rc = edge_state(db, gid, caller->user_id, &st);
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "group update");
        if (st < 0 || st > TOMO_GROUP_ADMIN)
            return tomo_err_set(err, TOMO_GRPC_NOT_FOUND,
                                "Group not found or you're not allowed to update.");
    }
    char sql[512];
    tomo_dbval p[10];
    size_t n = 0;
    int off = snprintf(sql, sizeof(sql), "UPDATE groups SET update_time = $1");
    p[n++] = TOMO_DBINT(tomo_now_ms());
#define SETF(col, val)                                                                         \
    do {                                                                                       \
        p[n] = (val);                                                                          \
        n++;                                                                                   \
        off += snprintf(sql + off, sizeof(sql) - (size_t)off, ", " col " = $%zu", n);        \
    } while (0)
    if (in->name)
        SETF("name", TOMO_DBTEXT(in->name));
    if (in->description)
        SETF("description", *in->description ? TOMO_DBTEXT(in->description) : TOMO_DBNULL);
    if (in->lang_tag)
        SETF("lang_tag", TOMO_DBTEXT(in->lang_tag));
    if (in->avatar_url)
        SETF("avatar_url", *in->avatar_url ? TOMO_DBTEXT(in->avatar_url) : TOMO_DBNULL);
    if (in->open >= 0)
        SETF("state", TOMO_DBINT(in->open ? 0 : 1));
    if (in->metadata)
        SETF("metadata", TOMO_DBTEXT(in->metadata));
    if (in->max_count > 0)
        SETF("max_count", TOMO_DBINT(in->max_count));
#undef SETF
    if (n == 1)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Specify at least one field to update.");
    p[n++] = tomo_social_text(gid);
    snprintf(sql + off, sizeof(sql) - (size_t)off, " WHERE id = $%zu AND disable_time = 0", n);
    tomo_dbres *r = NULL;
    rc = tomo_db_exec(db, sql, p, n, &r);
    int changed = rc == 0 && tomo_dbres_changes(r) > 0;
    tomo_dbres_free(r);
    if (rc == TOMO_ECONFLICT)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group name is in use.");
    if (rc < 0) {
        if (rc == TOMO_EUNAVAIL || rc == TOMO_ETIMEOUT)
            return tomo_err_db_conn(err, db, rc, "group update");
        TOMO_LOGE(TOMO_SVC, "group update failed group=%s error=%s", gid, tomo_db_errmsg(db));
        return tomo_err_set(err, TOMO_GRPC_INTERNAL, "Error while trying to update group.");
    }
    if (!changed)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "No new fields in group update.");
    return 0;
}

/* Remove the group and every edge; members leave its chat stream. */
static int delete_group_tx(tomo_dbconn *db, const char *gid, tomo_dbres **members)
{
    tomo_dbval p[] = {TOMO_DBTEXT(gid)};
    int rc = tomo_db_exec(db, "SELECT user_id FROM group_edge WHERE group_id = $1 AND state <= 2",
                          p, 1, members);
    if (rc == 0)
        rc = tomo_db_exec(db, "DELETE FROM group_edge WHERE group_id = $1", p, 1, NULL);
    if (rc == 0)
        rc = tomo_db_exec(db, "DELETE FROM groups WHERE id = $1", p, 1, NULL);
    return rc;
}

int tomo_svc_group_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *group_id, tomo_err *err)
{
    char gid[37];
    tomo_dbres *members = NULL;
    int rc = group_id_arg(group_id, gid, err);
    if (rc < 0)
        return rc;
    rc = tomo_db_begin(db);
    if (rc == 0 && !tomo_caller_is_system(caller)) {
        int st;
        rc = edge_state(db, gid, caller->user_id, &st);
        if (rc == 0 && st != TOMO_GROUP_SUPERADMIN) {
            tomo_db_rollback(db);
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "Group not found or you're not allowed to delete.");
        }
    }
    if (rc == 0)
        rc = delete_group_tx(db, gid, &members);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        tomo_db_rollback(db);
        rc = tomo_err_db_conn(err, db, rc, "group delete");
        goto out;
    }
    for (size_t i = 0; i < tomo_dbres_rows(members); i++)
        untrack(svc, gid, tomo_dbres_text(members, i, 0));
out:
    tomo_dbres_free(members);
    return rc;
}

/* ---- join, leave ---- */

int tomo_svc_group_join(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                        const char *group_id, const char *user_id, const char *username,
                        tomo_err *err)
{
    char gid[37], me[37], name[129];
    ginfo gi;
    tomo_dbres *admins = NULL;
    tomo_social_notes notes = {0};
    gevents ev = {0};
    int rc = group_id_arg(group_id, gid, err);
    if (rc == 0)
        rc = acting(caller, user_id, me, err);
    if (rc < 0)
        return rc;
    if (!username || !*username)
        username = !user_id && !tomo_caller_is_system(caller) ? caller->username : "";
    snprintf(name, sizeof(name), "%s", username);
    rc = tomo_db_begin(db);
    if (rc == 0)
        rc = group_info(db, gid, &gi);
    if (rc < 0)
        goto fail;
    if (!gi.exists) {
        tomo_db_rollback(db);
        return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Group not found.");
    }
    if (gi.edge_count >= gi.max_count) {
        tomo_db_rollback(db);
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group is full.");
    }
    int st;
    rc = edge_state(db, gid, me, &st);
    if (rc < 0)
        goto fail;
    if (st >= 0) { /* member, pending or banned: nothing changes */
        tomo_db_rollback(db);
        return 0;
    }
    if (gi.open) {
        int full = 0;
        rc = count_add(db, gid, 1, &full);
        if (rc == 0 && full) {
            tomo_db_rollback(db);
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group is full.");
        }
        if (rc == 0)
            rc = edge_insert(db, gid, me, TOMO_GROUP_MEMBER);
        if (rc == 0)
            rc = gev_add(&ev, db, me, name, 3);
    } else {
        rc = edge_insert(db, gid, me, TOMO_GROUP_JOIN_REQUEST);
        if (rc == 0 && !*name)
            rc = tomo_social_username(db, me, name);
        tomo_dbval p[] = {tomo_social_text(gid)};
        if (rc == 0)
            rc = tomo_db_exec(db,
                              "SELECT user_id FROM group_edge WHERE group_id = $1 AND state <= 1",
                              p, 1, &admins);
        char *subject = tomo_xasprintf("User %s wants to join your group", name);
        char *content = tomo_social_content_group(gid, "username", name);
        for (size_t i = 0; rc == 0 && i < tomo_dbres_rows(admins); i++)
            rc = tomo_social_note_add(&notes, db, tomo_dbres_text(admins, i, 0), subject, content,
                                      -5, me);
        free(subject);
        free(content);
    }
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0)
        goto fail;
    tomo_social_notes_push(svc, &notes);
    gev_send(svc, db, gid, &ev);
    tomo_dbres_free(admins);
    return 0;
fail:
    tomo_db_rollback(db);
    tomo_social_notes_free(&notes);
    free(ev.v);
    tomo_dbres_free(admins);
    if (rc == TOMO_ECONFLICT) /* a concurrent join of the same user won */
        return 0;
    return tomo_err_db_conn(err, db, rc, "group join");
}

static int superadmins(tomo_dbconn *db, const char *gid, int64_t *n)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(gid)};
    int rc = tomo_db_exec(db, "SELECT COUNT(*) FROM group_edge WHERE group_id = $1 AND state = 0",
                          p, 1, &r);
    *n = rc == 0 ? tomo_dbres_int(r, 0, 0) : 0;
    tomo_dbres_free(r);
    return rc;
}

int tomo_svc_group_leave(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *group_id, const char *user_id, tomo_err *err)
{
    char gid[37], me[37];
    int st;
    int64_t supers = 0;
    int rc = group_id_arg(group_id, gid, err);
    if (rc == 0)
        rc = acting(caller, user_id, me, err);
    if (rc < 0)
        return rc;
    rc = tomo_db_begin(db);
    if (rc == 0)
        rc = edge_state(db, gid, me, &st);
    if (rc < 0)
        goto fail;
    if (st < 0 || st == TOMO_GROUP_BANNED) {
        tomo_db_rollback(db);
        return 0;
    }
    if (st == TOMO_GROUP_SUPERADMIN) {
        rc = superadmins(db, gid, &supers);
        if (rc < 0)
            goto fail;
        if (supers <= 1) {
            tomo_db_rollback(db);
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                                "Cannot leave group when you are the last superadmin.");
        }
    }
    gevents ev = {0};
    rc = edge_delete(db, gid, me);
    if (rc == 0 && st <= TOMO_GROUP_MEMBER)
        rc = count_add(db, gid, -1, NULL);
    if (rc == 0)
        rc = gev_add(&ev, db, me, NULL, 5);
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0) {
        free(ev.v);
        goto fail;
    }
    untrack(svc, gid, me);
    gev_send(svc, db, gid, &ev);
    return 0;
fail:
    tomo_db_rollback(db);
    return tomo_err_db_conn(err, db, rc, "group leave");
}

/* ---- add, kick, ban, promote, demote ---- */

static int change_one(tomo_svc *svc, tomo_dbconn *db, int op, const char *gid, ginfo *gi,
                      int caller_state, const char *caller_id, const char *target,
                      tomo_social_notes *notes, char (*untracked)[37], size_t *n_untracked,
                      gevents *ev, tomo_err *err)
{
    (void)svc;
    int st, full = 0;
    int rc = edge_state(db, gid, target, &st);
    if (rc < 0)
        return rc;
    switch (op) {
    case TOMO_GROUP_OP_ADD: {
        if (st >= 0 && st != TOMO_GROUP_JOIN_REQUEST)
            return 0;
        rc = count_add(db, gid, 1, &full);
        if (rc == 0 && full)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group is full.");
        if (rc == 0)
            rc = st < 0 ? edge_insert(db, gid, target, TOMO_GROUP_MEMBER)
                        : edge_set(db, gid, target, TOMO_GROUP_MEMBER);
        if (rc == 0) {
            char *subject = tomo_xasprintf("You've been added to group %s", gi->name);
            char *content = tomo_social_content_group(gid, "name", gi->name);
            rc = tomo_social_note_add(notes, db, target, subject, content, -4,
                                      *caller_id ? caller_id : TOMO_SYSTEM_USER_ID);
            free(subject);
            free(content);
        }
        if (rc == 0)
            rc = gev_add(ev, db, target, NULL, 4);
        return rc;
    }
    case TOMO_GROUP_OP_KICK:
    case TOMO_GROUP_OP_BAN: {
        if (st < 0)
            return 0; /* nobody to remove; no pre-bans */
        if (op == TOMO_GROUP_OP_BAN && st == TOMO_GROUP_BANNED)
            return 0;
        if (caller_state == TOMO_GROUP_ADMIN && st < TOMO_GROUP_MEMBER)
            return 0;
        if (st == TOMO_GROUP_SUPERADMIN) {
            int64_t supers;
            rc = superadmins(db, gid, &supers);
            if (rc < 0 || supers <= 1)
                return rc; /* the last superadmin stays */
        }
        rc = op == TOMO_GROUP_OP_KICK ? edge_delete(db, gid, target)
                                      : edge_set(db, gid, target, TOMO_GROUP_BANNED);
        if (rc == 0 && st <= TOMO_GROUP_MEMBER) {
            rc = count_add(db, gid, -1, NULL);
            snprintf(untracked[(*n_untracked)++], 37, "%s", target);
            if (rc == 0)
                rc = gev_add(ev, db, target, NULL, op == TOMO_GROUP_OP_KICK ? 6 : 8);
        }
        return rc;
    }
    case TOMO_GROUP_OP_PROMOTE:
        if (st > 0 && st > caller_state && st <= TOMO_GROUP_MEMBER) {
            rc = edge_set(db, gid, target, st - 1);
            if (rc == 0)
                rc = gev_add(ev, db, target, NULL, 7);
        }
        return rc;
    default: /* demote */
        if (st >= caller_state && st >= 0 && st < TOMO_GROUP_MEMBER) {
            if (st == TOMO_GROUP_SUPERADMIN) {
                int64_t supers;
                rc = superadmins(db, gid, &supers);
                if (rc < 0 || supers <= 1)
                    return rc;
            }
            rc = edge_set(db, gid, target, st + 1);
            if (rc == 0)
                rc = gev_add(ev, db, target, NULL, 9);
        }
        return rc;
    }
}

int tomo_svc_group_users_change(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                int op, const char *group_id, const char *const *user_ids,
                                size_t n, tomo_err *err)
{
    char gid[37];
    char(*ids)[37] = NULL;
    char(*untracked)[37] = NULL;
    size_t n_ids = 0, n_untracked = 0;
    tomo_social_notes notes = {0};
    gevents ev = {0};
    ginfo gi;
    int rc = group_id_arg(group_id, gid, err);
    if (rc < 0)
        return rc;
    if (n == 0) {
        if (op == TOMO_GROUP_OP_DEMOTE)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "User IDs must be set.");
        return 0;
    }
    const char *caller_id = tomo_caller_is_system(caller) ? "" : caller->user_id;
    ids = tomo_xcalloc(n, sizeof(*ids));
    untracked = tomo_xcalloc(n, sizeof(*untracked));
    for (size_t i = 0; i < n; i++) {
        char id[37];
        if (tomo_social_uuid_lower(user_ids[i], id) < 0 || strcmp(id, TOMO_SYSTEM_USER_ID) == 0) {
            rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "User ID must be a valid ID.");
            goto out;
        }
        if (strcmp(id, caller_id) == 0)
            continue; /* the caller's own id is skipped */
        size_t j = 0;
        while (j < n_ids && strcmp(ids[j], id) != 0)
            j++;
        if (j == n_ids)
            memcpy(ids[n_ids++], id, 37);
    }
    rc = tomo_db_begin(db);
    if (rc == 0)
        rc = group_info(db, gid, &gi);
    int caller_state = TOMO_GROUP_SUPERADMIN;
    if (rc == 0 && *caller_id)
        rc = edge_state(db, gid, caller_id, &caller_state);
    if (rc < 0)
        goto fail;
    if (!gi.exists || caller_state < 0 || caller_state > TOMO_GROUP_ADMIN) {
        tomo_db_rollback(db);
        rc = tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "Group not found or permission denied.");
        goto out;
    }
    if (op == TOMO_GROUP_OP_ADD) {
        for (size_t i = 0; i < n_ids; i++) {
            char name[129];
            rc = tomo_social_username(db, ids[i], name);
            if (rc == TOMO_ENOTFOUND) {
                tomo_db_rollback(db);
                rc = tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "One or more users not found.");
                goto out;
            }
            if (rc < 0)
                goto fail;
        }
    }
    tomo_err rule = {0};
    for (size_t i = 0; rc == 0 && i < n_ids; i++)
        rc = change_one(svc, db, op, gid, &gi, caller_state, caller_id, ids[i], &notes, untracked,
                        &n_untracked, &ev, &rule);
    if (rc < 0 && rule.code) { /* a rule broken (group full): keep that error */
        tomo_db_rollback(db);
        if (err)
            *err = rule;
        goto out;
    }
    if (rc == 0)
        rc = tomo_db_commit(db);
    if (rc < 0)
        goto fail;
    tomo_social_notes_push(svc, &notes);
    for (size_t i = 0; i < n_untracked; i++)
        untrack(svc, gid, untracked[i]);
    gev_send(svc, db, gid, &ev);
    goto out;
fail:
    tomo_db_rollback(db);
    if (rc == TOMO_EUNAVAIL || rc == TOMO_ETIMEOUT) {
        rc = tomo_err_db_conn(err, db, rc, op_fail[op]);
    } else {
        TOMO_LOGE(TOMO_SVC, "group users op failed op=%d group=%s error=%s", op, gid,
                  tomo_db_errmsg(db));
        rc = tomo_err_set(err, TOMO_GRPC_INTERNAL, "%s", op_fail[op]);
    }
out:
    tomo_social_notes_free(&notes);
    free(ev.v);
    free(ids);
    free(untracked);
    return rc;
}

/* ---- lists ---- */

/* Shared by a group's users and a user's groups: keyset over (state,
 * position) of group_edge rows keyed by `key` = $1. */
static int edge_page(tomo_dbconn *db, char tag, const char *select_from, const char *key,
                     int limit, int state, int max_state, const char *cursor, tomo_dbres **r,
                     tomo_err *err)
{
    int64_t cs = 0, cp = 0;
    int has_cursor = cursor && *cursor;
    if (has_cursor && (tomo_social_cursor_decode(tag, cursor, &cs, &cp) < 0 ||
                       (state >= 0 && state != cs)))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Cursor is invalid.");
    tomo_dbval p[5];
    size_t n = 0;
    p[n++] = TOMO_DBTEXT(key);
    char where[160];
    if (state >= 0) {
        p[n++] = TOMO_DBINT(state);
        if (has_cursor) {
            p[n++] = TOMO_DBINT(cp);
            snprintf(where, sizeof(where), "e.state = $2 AND e.position >= $3");
        } else {
            snprintf(where, sizeof(where), "e.state = $2");
        }
    } else if (has_cursor) {
        p[n++] = TOMO_DBINT(cs);
        p[n++] = TOMO_DBINT(cp);
        snprintf(where, sizeof(where),
                 "e.state <= %d AND (e.state, e.position) >= ($2, $3)",
                 max_state);
    } else {
        snprintf(where, sizeof(where), "e.state <= %d", max_state);
    }
    p[n++] = TOMO_DBINT(limit + 1);
    char *sql = tomo_xasprintf("%s AND %s ORDER BY e.state, e.position LIMIT $%zu", select_from,
                               where, n);
    int rc = tomo_db_exec(db, sql, p, n, r);
    free(sql);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "group edge list");
    return 0;
}

static int list_args(int limit, int state, tomo_err *err)
{
    if (limit < 1 || limit > TOMO_GROUP_LIST_MAX)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid limit - limit must be between 1 and 100.");
    if (state < -1 || state > TOMO_GROUP_BANNED)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid state - state must be between 0 and 4.");
    return 0;
}

/* A group's users page as GroupUserList text into w (group_users, then
 * cursor: protojson's field order); keep_empty: "group_users":[] when there
 * are none. */
static int group_users_page(tomo_svc *svc, const char *group_id, tomo_dbconn *db, int limit,
                            int state, const char *cursor, int keep_empty, tomo_jw *w,
                            tomo_err *err)
{
    char gid[37];
    tomo_dbres *r = NULL;
    int rc = group_id_arg(group_id, gid, err);
    if (rc == 0)
        rc = list_args(limit, state, err);
    if (rc == 0)
        rc = edge_page(db, 'g', "SELECT e.state, e.position, " TOMO_SOCIAL_USER_COLS_U
                                " FROM group_edge e JOIN users u ON u.id = e.user_id "
                                "WHERE e.group_id = $1",
                       gid, limit, state, TOMO_GROUP_JOIN_REQUEST, cursor, &r, err);
    if (rc < 0)
        return rc;
    size_t rows = tomo_dbres_rows(r), shown = rows > (size_t)limit ? (size_t)limit : rows;
    tomo_jw_obj(w, NULL);
    if (shown || keep_empty) {
        tomo_jw_arr(w, "group_users");
        for (size_t i = 0; i < shown; i++) {
            int online = tomo_svc_user_online(svc, tomo_dbres_text(r, i, 2));
            tomo_jw_obj(w, NULL);
            tomo_users_user_text(w, "user", r, i, 2, online ? TOMO_USER_ONLINE : 0);
            tomo_jw_int(w, "state", tomo_dbres_int(r, i, 0));
            tomo_jw_obj_end(w);
        }
        tomo_jw_arr_end(w);
    }
    if (rows > shown) {
        char *c = tomo_social_cursor_encode('g', tomo_dbres_int(r, shown, 0),
                                            tomo_dbres_int(r, shown, 1));
        tomo_jw_str(w, "cursor", c);
        free(c);
    }
    tomo_jw_obj_end(w);
    tomo_dbres_free(r);
    return 0;
}

int tomo_svc_group_users_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              const char *group_id, int limit, int state, const char *cursor,
                              json_t **out, tomo_err *err)
{
    (void)caller;
    tomo_jw w;
    tomo_jw_init(&w);
    *out = NULL;
    int rc = group_users_page(svc, group_id, db, limit, state, cursor, 1, &w, err);
    if (rc < 0)
        tomo_jw_free(&w);
    else
        *out = tomo_jw_tree(&w);
    return rc;
}

int tomo_svc_group_users_list_text(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                   const char *group_id, int limit, int state,
                                   const char *cursor, char **text, size_t *len, tomo_err *err)
{
    (void)caller;
    tomo_jw w;
    tomo_jw_init(&w);
    *text = NULL;
    int rc = group_users_page(svc, group_id, db, limit, state, cursor, 0, &w, err);
    if (rc < 0)
        tomo_jw_free(&w);
    else
        *text = tomo_jw_take(&w, len);
    return rc;
}

int tomo_svc_group_user_groups(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                               const char *user_id, int limit, int state, const char *cursor,
                               json_t **out, tomo_err *err)
{
    (void)svc;
    char uid[37];
    tomo_dbres *r = NULL;
    *out = NULL;
    if (!user_id || !*user_id) {
        if (tomo_caller_is_system(caller))
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "User ID must be set.");
        user_id = caller->user_id;
    }
    if (tomo_social_uuid_lower(user_id, uid) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group ID must be a valid ID.");
    int rc = list_args(limit, state, err);
    if (rc == 0 && state == TOMO_GROUP_BANNED) { /* a user's own list never shows bans */
        *out = json_pack("{s:[]}", "user_groups");
        return 0;
    }
    if (rc == 0)
        rc = edge_page(db, 'u', "SELECT e.state, e.position, " GROUP_COLS
                                " FROM group_edge e JOIN groups g ON g.id = e.group_id "
                                "WHERE e.user_id = $1 AND g.disable_time = 0",
                       uid, limit, state, TOMO_GROUP_JOIN_REQUEST, cursor, &r, err);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    *out = json_object();
    /* the list before the cursor: protojson's field order (UserGroupList) */
    json_object_set(*out, "user_groups", list);
    for (size_t i = 0; i < tomo_dbres_rows(r); i++) {
        if ((int)i == limit) {
            char *c = tomo_social_cursor_encode('u', tomo_dbres_int(r, i, 0), tomo_dbres_int(r, i, 1));
            json_object_set_new(*out, "cursor", json_string(c));
            free(c);
            break;
        }
        json_array_append_new(list, json_pack("{s:o,s:I}", "group", group_json(r, i, 2), "state",
                                              (json_int_t)tomo_dbres_int(r, i, 0)));
    }
    json_decref(list);
    tomo_dbres_free(r);
    return 0;
}

/* Group listing orders (see the README's social section): the columns a
 * page is ordered by, their direction, and hence the keyset comparison. */
typedef struct order {
    const char *cols; /* g.<col> list, also the cursor's tuple */
    int ncols;
    int desc;
} order;

static order pick_order(const tomo_svc_group_filter *f)
{
    int o = f->open >= 0, l = f->lang_tag != NULL, m = f->members >= 0;
    if (o && l && m)
        return (order){"g.state, g.lang_tag, g.edge_count, g.id", 4, 1};
    if (o && l)
        return (order){"g.state, g.lang_tag, g.update_time, g.id", 4, 0};
    if (o && m)
        return (order){"g.state, g.edge_count, g.lang_tag, g.id", 4, 1};
    if (l && m)
        return (order){"g.lang_tag, g.edge_count, g.id", 3, 1};
    if (l)
        return (order){"g.lang_tag, g.edge_count, g.id", 3, 0};
    if (m)
        return (order){"g.edge_count, g.update_time, g.id", 3, 1};
    if (o)
        return (order){"g.state, g.update_time, g.id", 3, 0};
    return (order){"g.update_time, g.edge_count, g.id", 3, 0};
}

/* Column index in GROUP_COLS of an order column name. */
static int col_index(const char *name)
{
    static const char *const cols[] = {"id",       "creator_id", "name",       "description",
                                       "lang_tag", "metadata",   "avatar_url", "state",
                                       "edge_count", "max_count", "create_time", "update_time"};
    for (int i = 0; i < (int)TOMO_ARRAY_LEN(cols); i++)
        if (strcmp(cols[i], name) == 0)
            return i;
    return -1;
}

static int is_int_col(int idx)
{
    return idx == 7 || idx == 8 || idx == 9 || idx == 10 || idx == 11;
}

/* Split "g.a, g.b" into column indexes. */
static int order_cols(const order *o, int idx[4])
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", o->cols);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t && n < 4;
         t = strtok_r(NULL, ", ", &save))
        idx[n++] = col_index(t + 2);
    return n;
}

int tomo_svc_group_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                        const tomo_svc_group_filter *f, int limit, const char *cursor,
                        json_t **out, tomo_err *err)
{
    (void)svc, (void)caller;
    *out = NULL;
    if (limit < 1 || limit > TOMO_GROUP_LIST_MAX)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Invalid limit - limit must be between 1 and 100.");
    const char *name = f->name;
    if (name) {
        while (*name == '%' || *name == ' ')
            name++;
        if (!*name)
            name = NULL;
    }
    if (name && (f->lang_tag || f->members >= 0 || f->open >= 0))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "name filter cannot be combined with any other filter");
    json_t *cur = NULL;
    if (cursor && *cursor) {
        uint8_t *raw = NULL;
        size_t rn = 0;
        if (tomo_b64_decode(cursor, strlen(cursor), &raw, &rn) == 0)
            cur = json_loadb((const char *)raw, rn, 0, NULL);
        free(raw);
        if (!json_is_array(cur)) {
            json_decref(cur);
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Malformed cursor was used.");
        }
    }
    order o = name ? (order){"g.name", 1, 0} : pick_order(f);
    int idx[4];
    int nidx = order_cols(&o, idx);
    if (cur && (int)json_array_size(cur) != nidx + 1) {
        json_decref(cur);
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Malformed cursor was used.");
    }
    char where[512];
    int off = snprintf(where, sizeof(where), "g.disable_time = 0");
    tomo_dbval p[12];
    size_t n = 0;
    char *like = NULL;
    if (name) {
        like = tomo_xstrdup(name);
        p[n++] = TOMO_DBTEXT(like);
        off += snprintf(where + off, sizeof(where) - (size_t)off,
                        " AND lower(g.name) LIKE lower($%zu)", n);
    }
    if (f->open >= 0) {
        p[n++] = TOMO_DBINT(f->open ? 0 : 1);
        off += snprintf(where + off, sizeof(where) - (size_t)off, " AND g.state = $%zu", n);
    }
    if (f->lang_tag) {
        p[n++] = TOMO_DBTEXT(f->lang_tag);
        off += snprintf(where + off, sizeof(where) - (size_t)off, " AND g.lang_tag = $%zu", n);
    }
    if (f->members >= 0) {
        p[n++] = TOMO_DBINT(f->members);
        off += snprintf(where + off, sizeof(where) - (size_t)off, " AND g.edge_count <= $%zu", n);
    }
    int bad = 0;
    if (cur) {
        /* The cursor tags its order so another filter's cursor is refused. */
        const char *tag = json_string_value(json_array_get(cur, 0));
        if (!tag || strcmp(tag, o.cols) != 0)
            bad = 1;
        off += snprintf(where + off, sizeof(where) - (size_t)off, " AND (%s) %s (", o.cols,
                        o.desc ? "<" : ">");
        for (int i = 0; i < nidx && !bad; i++) {
            json_t *v = json_array_get(cur, (size_t)i + 1);
            if (is_int_col(idx[i])) {
                if (!json_is_integer(v))
                    bad = 1;
                p[n++] = TOMO_DBINT(json_integer_value(v));
            } else {
                if (!json_is_string(v))
                    bad = 1;
                p[n++] = TOMO_DBTEXT(json_string_value(v));
            }
            off += snprintf(where + off, sizeof(where) - (size_t)off, "%s$%zu", i ? ", " : "", n);
        }
        off += snprintf(where + off, sizeof(where) - (size_t)off, ")");
    }
    if (bad) {
        json_decref(cur);
        free(like);
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Malformed cursor was used.");
    }
    p[n++] = TOMO_DBINT(limit + 1);
    char orderby[160];
    snprintf(orderby, sizeof(orderby), "%s", o.cols);
    if (o.desc) { /* every column DESC */
        char tmp[160] = "";
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", o.cols);
        for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t;
             t = strtok_r(NULL, ", ", &save)) {
            size_t l = strlen(tmp);
            snprintf(tmp + l, sizeof(tmp) - l, "%s%s DESC", l ? ", " : "", t);
        }
        snprintf(orderby, sizeof(orderby), "%s", tmp);
    }
    char *sql = tomo_xasprintf("SELECT " GROUP_COLS " FROM groups g WHERE %s ORDER BY %s LIMIT $%zu",
                               where, orderby, n);
    tomo_dbres *r = NULL;
    int rc = tomo_db_exec(db, sql, p, n, &r);
    free(sql);
    free(like);
    json_decref(cur);
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "group list");
    json_t *groups = json_array();
    *out = json_object();
    /* groups before cursor: protojson's field order (GroupList) */
    json_object_set(*out, "groups", groups);
    size_t rows = tomo_dbres_rows(r);
    for (size_t i = 0; i < rows && (int)i < limit; i++)
        json_array_append_new(groups, group_json(r, i, 0));
    if ((int)rows > limit) {
        size_t last = (size_t)limit - 1;
        json_t *c = json_array();
        json_array_append_new(c, json_string(o.cols));
        for (int i = 0; i < nidx; i++) {
            if (is_int_col(idx[i]))
                json_array_append_new(c, json_integer(tomo_dbres_int(r, last, (size_t)idx[i])));
            else
                json_array_append_new(c, json_string(tomo_dbres_text(r, last, (size_t)idx[i])
                                                         ? tomo_dbres_text(r, last, (size_t)idx[i])
                                                         : ""));
        }
        char *text = json_dumps(c, JSON_COMPACT);
        char *enc = tomo_b64_encode(text, strlen(text), 1);
        json_object_set_new(*out, "cursor", json_string(enc));
        free(enc);
        free(text);
        json_decref(c);
    }
    json_decref(groups);
    tomo_dbres_free(r);
    return 0;
}

int tomo_svc_group_get(tomo_dbconn *db, const char *const *ids, size_t n, json_t **out,
                       tomo_err *err)
{
    *out = json_array();
    for (size_t i = 0; i < n; i++) {
        char gid[37];
        if (tomo_social_uuid_lower(ids[i], gid) < 0)
            continue;
        tomo_dbres *r = NULL;
        tomo_dbval p[] = {tomo_social_text(gid)};
        int rc = tomo_db_exec(db, "SELECT " GROUP_COLS " FROM groups g WHERE g.id = $1", p, 1, &r);
        if (rc < 0) {
            json_decref(*out);
            *out = NULL;
            return tomo_err_db_conn(err, db, rc, "groups get");
        }
        if (tomo_dbres_rows(r))
            json_array_append_new(*out, group_json(r, 0, 0));
        tomo_dbres_free(r);
    }
    return 0;
}

int tomo_svc_group_member_check(tomo_dbconn *db, const char *group_id, const char *user_id)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(group_id), TOMO_DBTEXT(user_id)};
    int rc = tomo_db_exec(db,
                          "SELECT 1 FROM group_edge e JOIN groups g ON g.id = e.group_id WHERE "
                          "e.group_id = $1 AND e.user_id = $2 AND e.state <= 2 AND "
                          "g.disable_time = 0",
                          p, 2, &r);
    if (rc == 0 && tomo_dbres_rows(r) == 0)
        rc = TOMO_ENOTFOUND;
    tomo_dbres_free(r);
    return rc;
}

int tomo_svc_group_remove_user(tomo_dbconn *db, const char *user_id)
{
    tomo_dbval p[] = {TOMO_DBTEXT(user_id)};
    tomo_dbres *sole = NULL;
    /* Groups where the user is the only superadmin go entirely. */
    int rc = tomo_db_exec(db,
                          "SELECT e.group_id FROM group_edge e WHERE e.user_id = $1 AND e.state = 0 "
                          "AND NOT EXISTS (SELECT 1 FROM group_edge o WHERE o.group_id = "
                          "e.group_id AND o.state = 0 AND o.user_id <> $1)",
                          p, 1, &sole);
    for (size_t i = 0; rc == 0 && i < tomo_dbres_rows(sole); i++) {
        tomo_dbres *members = NULL;
        rc = delete_group_tx(db, tomo_dbres_text(sole, i, 0), &members);
        tomo_dbres_free(members);
    }
    tomo_dbres_free(sole);
    tomo_dbval q[] = {TOMO_DBINT(tomo_now_ms()), TOMO_DBTEXT(user_id)};
    if (rc == 0)
        rc = tomo_db_exec(db,
                          "UPDATE groups SET edge_count = edge_count - 1, update_time = $1 WHERE "
                          "id IN (SELECT group_id FROM group_edge WHERE user_id = $2 AND "
                          "state <= 2)",
                          q, 2, NULL);
    if (rc == 0)
        rc = tomo_db_exec(db, "DELETE FROM group_edge WHERE user_id = $1", p, 1, NULL);
    return rc;
}

int tomo_svc_group_random(tomo_dbconn *db, int count, json_t **out, tomo_err *err)
{
    *out = NULL;
    if (count < 0 || count > 1000)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "count must be 0-1000");
    int rc = tomo_svc_random_rows(db, "SELECT " GROUP_COLS " FROM groups g WHERE g.disable_time = 0",
                                  "g.id", count, group_json, out);
    return rc < 0 ? tomo_err_db_conn(err, db, rc, "random groups") : 0;
}
