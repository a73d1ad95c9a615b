/* svc/chat.h: chat channel identity and message history.
 * Owns: channel ids ("<mode>.<subject>.<subcontext>.<label>": room
 *       `2...<name>`, group `3.<group_id>..`, DM `4.<uidA>.<uidB>.`), room
 *       name rules, the ChannelMessage JSON shape,
 *       and the `message` table (insert, update, remove, paged history with
 *       opaque cursors).
 * Borrows: the caller's database connection.
 * Threads: the id and JSON helpers run on any thread; functions taking a
 *          tomo_dbconn block and run on WORKER threads only.
 *
 * A channel maps onto the message table's stream columns: stream_mode =
 * mode, stream_subject = subject, stream_descriptor = subcontext,
 * stream_label = label. UUIDs are kept lower-case. */
#ifndef TOMO_SVC_CHAT_H
#define TOMO_SVC_CHAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../store/db.h"
#include "svc.h"

/* Channel modes: Nakama's stream modes of the three channel kinds. */
enum { TOMO_CHAT_ROOM = 2, TOMO_CHAT_GROUP = 3, TOMO_CHAT_DM = 4 };

/* Channel message codes (ChannelMessage.code). */
enum { TOMO_CHAT_CODE_CHAT = 0, TOMO_CHAT_CODE_UPDATE = 1, TOMO_CHAT_CODE_REMOVE = 2 };

#define TOMO_CHAT_ROOM_NAME_MAX 64 /* bytes */
/* Room for any channel id (the longest valid one, a DM id, is 76 bytes). */
#define TOMO_CHAT_ID_MAX 160
/* History page limits (Nakama: 1..100, default 1). */
#define TOMO_CHAT_LIST_MAX 100
#define TOMO_CHAT_LIST_DEFAULT 1

typedef struct tomo_chat_channel {
    int mode;            /* TOMO_CHAT_* */
    char subject[37];    /* group id, or the DM's smaller user id; "" if none */
    char subcontext[37]; /* the DM's larger user id; "" if none */
    char label[TOMO_CHAT_ROOM_NAME_MAX + 1]; /* room name */
} tomo_chat_channel;

/* Parse a channel id. Accepts what Nakama accepts: a mode of 2/3/4 and
 * exactly four dot-separated parts, room names of 1..64 bytes, UUIDs (any
 * case; stored lower-case) where the mode has them. Returns 0 or
 * TOMO_EINVAL. */
int tomo_chat_id_parse(const char *id, tomo_chat_channel *out);
/* Canonical id of a channel into buf (TOMO_CHAT_ID_MAX bytes). */
void tomo_chat_id_format(const tomo_chat_channel *c, char buf[TOMO_CHAT_ID_MAX]);
/* Room channel for a join target. NULL on success, else the reason (a
 * static string naming the rule broken: length, control characters, UTF-8). */
const char *tomo_chat_room_init(tomo_chat_channel *out, const char *name);
/* DM channel of two users (order-independent: the smaller id is subject). */
void tomo_chat_dm_init(tomo_chat_channel *out, const char *uid_a, const char *uid_b);
/* Set room_name | group_id | user_id_one + user_id_two on obj. */
void tomo_chat_set_target(const tomo_chat_channel *c, json_t *obj);

/* 1 if text is a JSON object (what chat content must be). */
int tomo_chat_content_ok(const char *text);

/* ChannelMessage object (new reference). Times are unix ms (rendered as
 * RFC 3339 seconds); code and persistent are always present, as Nakama
 * sets those wrappers. */
json_t *tomo_chat_message_json(const tomo_chat_channel *c, const char *channel_id,
                               const char *message_id, int code, const char *sender_id,
                               const char *username, const char *content, int64_t create_ms,
                               int64_t update_ms, int persistent);

/* Store a new chat message (create_time = update_time = create_ms).
 * Returns 0 or a store error. */
int tomo_chat_message_insert(tomo_dbconn *conn, const tomo_chat_channel *c,
                             const char *message_id, int code, const char *sender_id,
                             const char *username, const char *content, int64_t create_ms);
/* Replace the content of a message the sender wrote in this channel;
 * *create_ms receives its original create time. TOMO_ENOTFOUND when no such
 * message of this sender exists in the channel. */
int tomo_chat_message_update(tomo_dbconn *conn, const tomo_chat_channel *c,
                             const char *message_id, const char *sender_id, const char *username,
                             const char *content, int64_t update_ms, int64_t *create_ms);
/* Delete a message the sender wrote in this channel; *create_ms as above.
 * TOMO_ENOTFOUND when there is none. */
int tomo_chat_message_remove(tomo_dbconn *conn, const tomo_chat_channel *c,
                             const char *message_id, const char *sender_id, int64_t *create_ms);

/* Whether user_id may use the channel of group_id (Nakama: a member whose
 * state is superadmin, admin or member; not a join request nor a ban), read
 * from svc/group.h on every call, so a kicked or banned user loses access at
 * once; both the socket join and the REST history use it. Returns 0
 * when allowed, TOMO_ENOTFOUND, or a store error. */
int tomo_chat_group_check(tomo_dbconn *conn, const char *group_id, const char *user_id);

/* A page of stored messages: ChannelMessageList {messages, next_cursor,
 * prev_cursor, cacheable_cursor} (new reference in *out). forward=1 lists
 * oldest first, 0 newest first. cursor (NULL/"" = start) is one this
 * function handed out for the same channel and direction; next_cursor goes
 * on in the listing direction, prev_cursor back; cacheable_cursor names the
 * newest position seen so a client can later fetch only newer messages
 * (forward). channel_id is echoed in each message. Returns 0, TOMO_EINVAL
 * for a malformed or mismatched cursor, or a store error. */
int tomo_chat_history_list(tomo_dbconn *conn, const tomo_chat_channel *c, const char *channel_id,
                           int limit, int forward, const char *cursor, json_t **out);

/* ChannelMessageAck {channel_id, message_id, code, username?, create_time,
 * update_time, persistent, target} of a written message (new reference). */
json_t *tomo_chat_ack_json(const tomo_chat_channel *c, const char *channel_id,
                           const char *message_id, int code, const char *username,
                           int64_t create_ms, int64_t update_ms, int persistent);

/* A message written by the system (the runtime's channel_message_send /
 * update / remove; Nakama's ChannelMessageSend/Update/Remove): code
 * TOMO_CHAT_CODE_*, message_id required (a UUID) unless sending, content a
 * JSON object (NULL: "{}"; ignored for a removal), sender_id NULL or "" for
 * the system (the nil UUID), persist: kept in the history (an update or
 * removal then needs a stored message of this sender: NOT_FOUND "channel
 * message not found"). The message goes to the channel's presences through
 * the push seam; *ack = its ChannelMessageAck. INVALID_ARGUMENT "Invalid
 * channel identifier", "Invalid message identifier", "Message content must
 * be a valid JSON object". */
int tomo_svc_chat_write(tomo_svc *svc, tomo_dbconn *db, int code, const char *channel_id,
                        const char *message_id, const char *content, const char *sender_id,
                        const char *username, int persist, json_t **ack, tomo_err *err);

/* A page of a channel's history as caller (REST's ListChannelMessages):
 * a user reads a DM of its own (else INVALID_ARGUMENT "Channel not
 * found.") or a group it is a member of ("Group not found."); the system
 * reads any channel. limit 1..TOMO_CHAT_LIST_MAX (the transport checks
 * its bounds first). *out as tomo_chat_history_list. INVALID_ARGUMENT
 * "Invalid channel ID.", "Cursor is invalid or expired.". */
int tomo_svc_chat_history(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *channel_id, int limit, int forward, const char *cursor,
                          json_t **out, tomo_err *err);

/* The operator's clean-up (the console's DeleteChannelMessages), in any
 * channel: the messages created before before_ms (0 = no time filter) and
 * the messages with the given ids (n may be 0). *total gets the number
 * deleted. Returns 0 or a store error. */
int tomo_chat_messages_purge(tomo_dbconn *conn, int64_t before_ms, const char *const *ids,
                             size_t n, int64_t *total);

#endif
