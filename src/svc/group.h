/* svc/group.h: groups, their memberships and group chat access.
 * Owns: the groups table (name unique, open/closed state, edge_count =
 *       members in states 0..2, max_count), group_edge (one row per user
 *       and group: 0 superadmin, 1 admin, 2 member, 3 join request, 4
 *       banned; position = unix ns at creation), Nakama's permission rules,
 *       the -4 (added) and -5 (join request) notifications, and the group
 *       lists (groups, a group's users, a user's groups).
 * Borrows: the caller's connection; tomo_svc's push seam (notifications,
 *          and untracking removed members from the group's chat stream).
 * Threads: worker threads only (blocks on the database).
 *
 * A TOMO_CALLER_SYSTEM caller counts as a superadmin of every group and
 * acts for the user named by user_id where an operation takes one; a
 * TOMO_CALLER_USER caller acts as itself (pass user_id NULL). Mutations run
 * in one transaction of their own on db (db must not be in a transaction)
 * and push only after the commit. Errors carry Nakama's codes and messages
 * (e.g. NotFound "Group not found or permission denied."). */
#ifndef TOMO_SVC_GROUP_H
#define TOMO_SVC_GROUP_H

#include <jansson.h>
#include <stddef.h>

#include "svc.h"

enum {
    TOMO_GROUP_SUPERADMIN = 0,
    TOMO_GROUP_ADMIN = 1,
    TOMO_GROUP_MEMBER = 2,
    TOMO_GROUP_JOIN_REQUEST = 3,
    TOMO_GROUP_BANNED = 4,
};

#define TOMO_GROUP_LIST_MAX 100
#define TOMO_GROUP_LIST_DEFAULT 1       /* GET /v2/group */
#define TOMO_GROUP_USERS_DEFAULT 100    /* a group's users, a user's groups */
#define TOMO_GROUP_MAX_COUNT_DEFAULT 100

/* Create: NULL strings are empty. max_count 0 = 100; < 0 is refused. */
typedef struct tomo_svc_group_new {
    const char *name, *description, *lang_tag, *avatar_url;
    const char *metadata; /* JSON object text or NULL ("{}"); runtime only */
    int open;
    int max_count;
} tomo_svc_group_new;

/* Update: NULL = unchanged; "" clears description/avatar_url; open -1 =
 * unchanged; metadata and max_count (0 = unchanged) are runtime only. */
typedef struct tomo_svc_group_change {
    const char *name, *description, *lang_tag, *avatar_url, *metadata;
    int open;
    int max_count;
} tomo_svc_group_change;

/* The caller (or, for the system, creator_id; NULL = no creator edge is
 * made... Nakama's runtime requires one) becomes superadmin. *out = Group. */
int tomo_svc_group_create(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *creator_id, const tomo_svc_group_new *in, json_t **out,
                          tomo_err *err);
int tomo_svc_group_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *group_id, const tomo_svc_group_change *in, tomo_err *err);
int tomo_svc_group_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *group_id, tomo_err *err);

/* Join / leave as user_id (NULL = the user caller). */
int tomo_svc_group_join(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                        const char *group_id, const char *user_id, const char *username,
                        tomo_err *err);
int tomo_svc_group_leave(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *group_id, const char *user_id, tomo_err *err);

/* Membership changes by an admin or superadmin (or the system) on
 * user_ids (borrowed). */
enum { TOMO_GROUP_OP_ADD, TOMO_GROUP_OP_KICK, TOMO_GROUP_OP_BAN, TOMO_GROUP_OP_PROMOTE,
       TOMO_GROUP_OP_DEMOTE };
int tomo_svc_group_users_change(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                int op, const char *group_id, const char *const *user_ids,
                                size_t n, tomo_err *err);

/* A group's users: GroupUserList {group_users:[{user, state}], cursor}.
 * state -1 = states 0..3. limit 1..100. user.online is filled (a snapshot
 * through the push seam). */
int tomo_svc_group_users_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              const char *group_id, int limit, int state, const char *cursor,
                              json_t **out, tomo_err *err);
/* The same page as protojson text (REST's form: no "group_users" member
 * when empty); heap text in *text, its length in *len. The tree above is
 * parsed from the same rendering. */
int tomo_svc_group_users_list_text(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                   const char *group_id, int limit, int state,
                                   const char *cursor, char **text, size_t *len, tomo_err *err);
/* A user's groups: UserGroupList {user_groups:[{group, state}], cursor};
 * state -1 = 0..3 (bans never show). */
int tomo_svc_group_user_groups(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                               const char *user_id, int limit, int state, const char *cursor,
                               json_t **out, tomo_err *err);

/* GET /v2/group filters: name (NULL = none; Nakama's `%` prefix rules),
 * lang_tag (NULL = none), members (< 0 = none: edge_count <= members),
 * open (-1 = none). */
typedef struct tomo_svc_group_filter {
    const char *name, *lang_tag;
    int members;
    int open;
} tomo_svc_group_filter;
/* GroupList {groups, cursor}; limit 1..100. */
int tomo_svc_group_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                        const tomo_svc_group_filter *f, int limit, const char *cursor,
                        json_t **out, tomo_err *err);
/* Groups by id (unknown and invalid ids skipped): a JSON array of Group. */
int tomo_svc_group_get(tomo_dbconn *db, const char *const *ids, size_t n, json_t **out,
                       tomo_err *err);

/* Up to count (0..1000, else INVALID_ARGUMENT "count must be 0-1000")
 * live groups picked at random: a JSON array of Group. */
int tomo_svc_group_random(tomo_dbconn *db, int count, json_t **out, tomo_err *err);

/* Chat access: 0 when user_id is a superadmin, admin or member of the live
 * group, TOMO_ENOTFOUND otherwise, or a store error. */
int tomo_svc_group_member_check(tomo_dbconn *db, const char *group_id, const char *user_id);

/* Account deletion, inside the caller's transaction: memberships go (group
 * counts fixed), and groups where user_id was the only superadmin go with
 * every edge (Nakama deletes the groups a deleted user solely owns). The ids
 * of other users who lost a group are not reported. Returns 0 or a store
 * error. */
int tomo_svc_group_remove_user(tomo_dbconn *db, const char *user_id);

#endif
