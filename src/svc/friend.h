/* svc/friend.h: friends, Nakama's user_edge graph.
 * Owns: the user_edge rows (one per direction: A->B is A's view of B, with
 *       a state and the invite-time position both rows share), the users'
 *       edge_count (rows where the user is the source), friend
 *       notifications (-2 request, -3 accepted), friend lists and
 *       friends-of-friends lists.
 * Borrows: the caller's connection, tomo_svc (push seam for notifications).
 * Threads: worker threads only (blocks on the database).
 *
 * Every operation acts as one user: `user_id` (and `username`, used for the
 * self check and notification subjects; NULL or "" = look it up). For a
 * TOMO_CALLER_USER caller pass NULL to act as the caller. Add, delete and
 * block each run in one transaction of their own on db (db must not be in a
 * transaction); notifications are pushed after the commit. */
#ifndef TOMO_SVC_FRIEND_H
#define TOMO_SVC_FRIEND_H

#include <jansson.h>
#include <stddef.h>

#include "svc.h"

enum {
    TOMO_FRIEND_MUTUAL = 0,
    TOMO_FRIEND_INVITE_SENT = 1,
    TOMO_FRIEND_INVITE_RECEIVED = 2,
    TOMO_FRIEND_BLOCKED = 3,
};

#define TOMO_FRIEND_LIST_MAX 1000
#define TOMO_FRIEND_LIST_DEFAULT 1000
#define TOMO_FRIEND_FOF_MAX 100
#define TOMO_FRIEND_FOF_DEFAULT 10

/* The users an operation targets (borrowed). Ids are validated (canonical
 * UUID, not the nil UUID, not the acting user); unknown usernames and ids of
 * missing users are skipped. */
typedef struct tomo_svc_friend_targets {
    const char *const *ids;
    size_t n_ids;
    const char *const *usernames;
    size_t n_usernames;
} tomo_svc_friend_targets;

/* Add or accept (Nakama's AddFriends). Errors: InvalidArgument "Cannot add
 * self as friend.", "Invalid user ID '<id>'.", "Username must not be
 * empty.", "No valid ID or username was provided."; Internal "Error while
 * trying to add friends.". */
int tomo_svc_friend_add(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                        const char *user_id, const char *username,
                        const tomo_svc_friend_targets *t, tomo_err *err);
/* Remove, reject, cancel or unblock (DeleteFriends). */
int tomo_svc_friend_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, const char *username,
                           const tomo_svc_friend_targets *t, tomo_err *err);
/* Block (BlockFriends). */
int tomo_svc_friend_block(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *user_id, const char *username,
                          const tomo_svc_friend_targets *t, tomo_err *err);

/* A page of user_id's edges: FriendList {friends:[{user, state,
 * update_time, metadata?}], cursor} (new reference in *out), ordered state, position.
 * state -1 = every state. limit 1..TOMO_FRIEND_LIST_MAX (the caller checks
 * the transport's bounds and message). user.online is filled (a snapshot
 * through the push seam). Errors: "Cursor is invalid.". */
int tomo_svc_friend_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *user_id, int limit, int state, const char *cursor,
                         json_t **out, tomo_err *err);
/* The same page as protojson text (REST's form: no "friends" member when
 * empty); heap text in *text, its length in *len. The tree above is parsed
 * from the same rendering. */
int tomo_svc_friend_list_text(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              const char *user_id, int limit, int state, const char *cursor,
                              char **text, size_t *len, tomo_err *err);

/* Friends of user_id's mutual friends who are not user_id or its friends:
 * FriendsOfFriendsList {friends_of_friends:[{referrer, user}], cursor}
 * (Nakama 3.22+). limit 1..TOMO_FRIEND_FOF_MAX. */
int tomo_svc_friend_list_fof(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                             const char *user_id, int limit, const char *cursor, json_t **out,
                             tomo_err *err);

/* user_id's edges to the users ids (canonical UUIDs, else INVALID_ARGUMENT
 * "Invalid user ID '<id>'."): a JSON array of Friend {user, state,
 * update_time} (users without an edge are left out; Nakama's
 * GetFriends). */
int tomo_svc_friend_status(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, const char *const *ids, size_t n, json_t **out,
                           tomo_err *err);

/* Set the metadata of user_id's edge to friend_id (either order of a
 * friendship has its own; any state) to metadata, a JSON object's text
 * (NULL or "" = {}); no edge = nothing changes and 0, update_time is left
 * alone (Nakama 3.26's UpdateFriendMetadata). Friend pages show it as
 * Friend.metadata when it is not {}. Errors: InvalidArgument "Invalid user
 * ID.", "Invalid friend user ID.", "Metadata must be a JSON object.". */
int tomo_svc_friend_metadata_update(tomo_dbconn *db, const char *user_id, const char *friend_id,
                                    const char *metadata, tomo_err *err);

/* Account deletion: remove every edge from or to user_id and fix the other
 * sides' edge_count. Runs inside the caller's transaction; returns 0 or a
 * store error. */
int tomo_svc_friend_remove_user(tomo_dbconn *db, const char *user_id);

#endif
