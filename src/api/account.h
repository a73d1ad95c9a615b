/* api/account.h: the User and Account messages built from the users table,
 * for every area that returns users (account, users, friends, groups).
 * Owns: the column list and the protojson shape of User.
 * Threads: any (pure; the caller runs the query). */
#ifndef TOMO_API_ACCOUNT_H
#define TOMO_API_ACCOUNT_H

#include <jansson.h>
#include <stddef.h>

#include "../store/db.h"
#include "server.h"

/* Columns to SELECT (in this order, optionally table-qualified by the
 * caller's own alias-free query) for tomo_account_user_json. */
#define TOMO_ACCOUNT_USER_COLS                                                                 \
    "id, username, display_name, avatar_url, lang_tag, location, timezone, metadata, "        \
    "facebook_id, google_id, gamecenter_id, steam_id, edge_count, create_time, update_time, " \
    "facebook_instant_game_id, apple_id"
#define TOMO_ACCOUNT_USER_NCOLS 17

/* A User object (protojson: zero values omitted, times RFC 3339) from the
 * TOMO_ACCOUNT_USER_COLS starting at column col0 of row. New reference. */
json_t *tomo_account_user_json(const tomo_dbres *r, size_t row, size_t col0);

/* Set "online": true on each User object in users (array) whose user has a
 * live socket. Asks the realtime layer on the loop thread and waits for the
 * answer (at most 1 s; on timeout or during shutdown nobody is marked).
 * Worker threads only. */
void tomo_account_fill_online(tomo_server *srv, json_t *users);

#endif
