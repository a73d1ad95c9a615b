/* svc/notification.h: in-app notifications, the server-side sending API.
 * Owns: the `notification` table (store, list with a cacheable cursor,
 *       delete) and the live push of notifications to a user's sockets
 *       (envelope {"notifications":{"notifications":[Notification]}}), and the
 *       notifications_sent_total metric.
 * Borrows: the database connection of the caller, the push seam
 *          (svc->push.to_user, which posts the delivery to the loop).
 * Threads: every function here runs on a WORKER thread (it may block on the
 *          database); the push itself runs later on the loop thread.
 *
 * A Notification object is {id, subject, content (JSON text), code (int32),
 * sender_id, create_time (RFC 3339), persistent}, protojson style: zero
 * values omitted. Persistent notifications are stored (id: a time-ordered
 * UUID, tomo_uuid_v7; create_time unix ms) and listed oldest first. */
#ifndef TOMO_SVC_NOTIFICATION_H
#define TOMO_SVC_NOTIFICATION_H

#include <jansson.h>

#include "svc.h"

/* Nakama's system notification codes (reserved, negative). */
enum {
    TOMO_NOTIFY_DM_REQUEST = -1,
    TOMO_NOTIFY_FRIEND_REQUEST = -2,
    TOMO_NOTIFY_FRIEND_ACCEPT = -3,
    TOMO_NOTIFY_GROUP_ADD = -4,
    TOMO_NOTIFY_GROUP_JOIN_REQUEST = -5,
    TOMO_NOTIFY_FRIEND_JOIN_GAME = -6,
    TOMO_NOTIFY_SINGLE_SOCKET = -7,
};

/* Limits of a list page (Nakama: 1..100, default 1). */
#define TOMO_NOTIFY_LIST_MAX 100
#define TOMO_NOTIFY_LIST_DEFAULT 1

/* Build a notification and, when persistent, store it with conn (which may
 * be inside the caller's transaction). content_json must be JSON text (NULL
 * means "{}"); sender_id NULL or "" means the system. On success *out (may
 * be NULL) receives the Notification object (new reference) for a later
 * tomo_notify_push. Returns 0, TOMO_EINVAL (empty subject, bad user id or
 * content that is not a JSON object), or a store error (TOMO_EDB,
 * TOMO_EUNAVAIL, ...). */
int tomo_notify_store(tomo_dbconn *conn, const char *user_id, const char *subject,
                      const char *content_json, int code, const char *sender_id, int persistent,
                      json_t **out);

/* Push notification objects (an array, or a single object; borrowed) live to
 * every socket of user_id through the push seam (delivered later on the
 * loop thread). Any thread. Call it after the transaction
 * that stored them committed, so nobody sees a notification that was rolled
 * back. */
void tomo_notify_push(tomo_svc *svc, const char *user_id, json_t *notifications);

/* tomo_notify_store then tomo_notify_push, for callers without a
 * transaction of their own. conn must not be inside an open transaction.
 * *out as for tomo_notify_store (may be NULL). Returns as tomo_notify_store;
 * nothing is pushed on failure. */
int tomo_notify_send(tomo_svc *svc, tomo_dbconn *conn, const char *user_id,
                     const char *subject, const char *content_json, int code,
                     const char *sender_id, int persistent, json_t **out);

/* A page of the user's stored notifications, oldest first, after the
 * position named by cacheable_cursor (NULL or "" = from the start).
 * *out = NotificationList {notifications, cacheable_cursor} (new reference);
 * the cursor names the last notification returned, or echoes the given one
 * when nothing newer exists, so a client can keep it and later ask for only
 * what arrived since. Returns 0, TOMO_EINVAL for a malformed cursor, or a
 * store error. limit must be 1..TOMO_NOTIFY_LIST_MAX. */
int tomo_notify_list(tomo_dbconn *conn, const char *user_id, int limit,
                     const char *cacheable_cursor, json_t **out);

/* Delete the user's notifications among ids (others' and unknown ids are
 * ignored). Returns 0 or a store error. */
int tomo_notify_delete(tomo_dbconn *conn, const char *user_id, const char *const *ids, size_t n);

#endif
