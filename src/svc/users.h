/* svc/users.h: users as other users see them (the User message): lookups by
 * ids, usernames and Facebook ids, the online flag, and the User shape every
 * domain that returns users shares (account, friends, groups).
 * Owns: the users table's User column list and its protojson form.
 * Threads: tomo_users_user_json and tomo_svc_users_fill_online: any thread
 *          (no I/O; the online flag is a snapshot read through the push
 *          seam, never a wait on a loop); tomo_svc_users_get: worker. */
#ifndef TOMO_SVC_USERS_H
#define TOMO_SVC_USERS_H

#include <stddef.h>

#include "svc.h"

/* Columns to SELECT, in this order, for tomo_users_user_json. */
#define TOMO_USERS_COLS                                                                        \
    "id, username, display_name, avatar_url, lang_tag, location, timezone, metadata, "        \
    "facebook_id, google_id, gamecenter_id, steam_id, edge_count, create_time, update_time, " \
    "facebook_instant_game_id, apple_id"
#define TOMO_USERS_NCOLS 17

/* A User object (protojson: zero values omitted, times RFC 3339) from the
 * TOMO_USERS_COLS starting at column col0 of row. New reference. */
struct json_t *tomo_users_user_json(const tomo_dbres *r, size_t row, size_t col0);
/* The same User as JSON text, member `key` of w's open object (NULL: an
 * array element); the tree above is parsed from it. Flags: leave out
 * edge_count (friend lists) / end with "online":true. */
enum { TOMO_USER_NO_EDGES = 1, TOMO_USER_ONLINE = 2 };
struct tomo_jw;
void tomo_users_user_text(struct tomo_jw *w, const char *key, const tomo_dbres *r, size_t row,
                          size_t col0, int flags);
/* 1 when user_id has a live socket now (the push seam's snapshot), else 0. */
int tomo_svc_user_online(tomo_svc *svc, const char *user_id);

/* Set "online": true on each User object of `users` (a JSON array) whose
 * user has a live socket now. */
void tomo_svc_users_fill_online(tomo_svc *svc, struct json_t *users);

/* Users by ids (UUIDs, INVALID_ARGUMENT "ID '<id>' is not a valid system
 * ID." otherwise), usernames and Facebook ids; unknown ones are skipped, a
 * user matched twice is listed once (ids first, then usernames, then
 * Facebook ids). *out = Users {users?} with online flags; NULL when nothing
 * was asked. Any caller may look users up. */
int tomo_svc_users_get(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                       const char *const *ids, size_t nids, const char *const *usernames,
                       size_t nusernames, const char *const *facebook_ids, size_t nfacebook,
                       struct json_t **out, tomo_err *err);

/* Up to count (0..1000, else INVALID_ARGUMENT "count must be 0-1000")
 * users picked at random, never the system user nor a banned one: *out =
 * a JSON array of User with online flags. */
int tomo_svc_users_random(tomo_svc *svc, tomo_dbconn *db, int count, struct json_t **out,
                          tomo_err *err);

#endif
