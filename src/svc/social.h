/* svc/social.h: what the friend and group domains share.
 * Owns: edge positions (unix nanoseconds, strictly increasing within the
 *       process), the (state, position) keyset cursors of friend, group-user
 *       and user-group lists, a queue of notifications stored inside a
 *       transaction and pushed after it commits, and lower-cased id lists.
 * Borrows: the caller's database connection and tomo_svc (push seam).
 * Threads: worker threads (everything taking a tomo_dbconn blocks). */
#ifndef TOMO_SVC_SOCIAL_H
#define TOMO_SVC_SOCIAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "svc.h"

/* Unix nanoseconds, strictly greater than every earlier value this process
 * handed out (so two edges made in one call never share a position). */
int64_t tomo_social_position(void);

/* Keyset cursor {state, position}; tag names the list kind ('f' friends,
 * 'g' group users, 'u' user groups) so one list's cursor is refused by
 * another. Encode returns a heap string; decode returns 0 or TOMO_EINVAL. */
char *tomo_social_cursor_encode(char tag, int64_t state, int64_t position);
int tomo_social_cursor_decode(char tag, const char *cursor, int64_t *state, int64_t *position);

/* Notifications made inside a transaction, pushed once it committed. */
typedef struct tomo_social_note {
    char user_id[37];
    json_t *obj; /* Notification object (owned) */
} tomo_social_note;
typedef struct tomo_social_notes {
    tomo_social_note *v;
    size_t n, cap;
} tomo_social_notes;

/* Store a persistent notification with db (inside the caller's
 * transaction, svc/notification.h) and queue it. content is compact JSON
 * text with sorted keys.
 * Returns 0 or a store error. */
int tomo_social_note_add(tomo_social_notes *q, tomo_dbconn *db, const char *user_id,
                         const char *subject, const char *content, int code,
                         const char *sender_id);
/* Push every queued notification to its user's live sockets (after commit),
 * then empty the queue. */
void tomo_social_notes_push(tomo_svc *svc, tomo_social_notes *q);
/* Drop the queue without pushing (rolled back). */
void tomo_social_notes_free(tomo_social_notes *q);

/* {"username":"<u>"} or {"group_id":"<g>","name|username":"<v>"} as
 * compact JSON text with Go's sorted keys. Heap strings. */
char *tomo_social_content_username(const char *username);
char *tomo_social_content_group(const char *group_id, const char *key, const char *value);

/* svc/users.h's TOMO_USERS_COLS qualified by the alias u, for joins; rows
 * render with tomo_users_user_json. */
#define TOMO_SOCIAL_USER_COLS_U                                                               \
    "u.id, u.username, u.display_name, u.avatar_url, u.lang_tag, u.location, u.timezone, "   \
    "u.metadata, u.facebook_id, u.google_id, u.gamecenter_id, u.steam_id, u.edge_count, "    \
    "u.create_time, u.update_time, u.facebook_instant_game_id, u.apple_id"

/* Set online on the User at `key` of every item of items (svc/users.h). */
void tomo_social_fill_online(tomo_svc *svc, json_t *items, const char *key);

/* TOMO_DBTEXT for a char array (the macro's NULL test warns on arrays). */
static inline tomo_dbval tomo_social_text(const char *s)
{
    return TOMO_DBTEXT(s);
}

/* Lower-case copy of a UUID into out[37]; 0, or TOMO_EINVAL when s is not a
 * canonical UUID. */
int tomo_social_uuid_lower(const char *s, char out[37]);

/* The username of user_id into out[129]; TOMO_ENOTFOUND when there is no
 * such user, or a store error. */
int tomo_social_username(tomo_dbconn *db, const char *user_id, char out[129]);

#endif
