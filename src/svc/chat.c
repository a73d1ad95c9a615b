/* svc/chat.c: chat channel identity and message history (see chat.h). */
#include "chat.h"

#include "group.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"

/* ---- channel ids ---- */

static int copy_uuid(char dst[37], const char *s, size_t n)
{
    if (n == 0) {
        dst[0] = '\0';
        return 0;
    }
    if (n != 36)
        return TOMO_EINVAL;
    char tmp[37];
    memcpy(tmp, s, 36);
    tmp[36] = '\0';
    if (!tomo_uuid_valid(tmp))
        return TOMO_EINVAL;
    for (int i = 0; i < 37; i++)
        dst[i] = (char)tolower((unsigned char)tmp[i]);
    return 0;
}

int tomo_chat_id_parse(const char *id, tomo_chat_channel *out)
{
    memset(out, 0, sizeof(*out));
    if (!id || !*id)
        return TOMO_EINVAL;
    /* Four parts; the label is everything after the third dot (room names
     * may contain dots). */
    const char *p[4];
    size_t len[4];
    const char *s = id;
    for (int i = 0; i < 3; i++) {
        const char *dot = strchr(s, '.');
        if (!dot)
            return TOMO_EINVAL;
        p[i] = s;
        len[i] = (size_t)(dot - s);
        s = dot + 1;
    }
    p[3] = s;
    len[3] = strlen(s);
    if (len[0] != 1)
        return TOMO_EINVAL;
    switch (p[0][0]) {
    case '2':
        if (len[1] || len[2] || len[3] < 1 || len[3] > TOMO_CHAT_ROOM_NAME_MAX)
            return TOMO_EINVAL;
        out->mode = TOMO_CHAT_ROOM;
        memcpy(out->label, p[3], len[3]);
        out->label[len[3]] = '\0';
        return 0;
    case '3':
        if (len[2] || len[3] || copy_uuid(out->subject, p[1], len[1]) < 0)
            return TOMO_EINVAL;
        out->mode = TOMO_CHAT_GROUP;
        return 0;
    case '4':
        if (len[3] || copy_uuid(out->subject, p[1], len[1]) < 0 ||
            copy_uuid(out->subcontext, p[2], len[2]) < 0)
            return TOMO_EINVAL;
        out->mode = TOMO_CHAT_DM;
        return 0;
    default:
        return TOMO_EINVAL;
    }
}

void tomo_chat_id_format(const tomo_chat_channel *c, char buf[TOMO_CHAT_ID_MAX])
{
    snprintf(buf, TOMO_CHAT_ID_MAX, "%d.%s.%s.%s", c->mode, c->subject, c->subcontext, c->label);
}

/* Go's utf8.ValidString: no overlong forms, no surrogates, <= U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

const char *tomo_chat_room_init(tomo_chat_channel *out, const char *name)
{
    memset(out, 0, sizeof(*out));
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > TOMO_CHAT_ROOM_NAME_MAX)
        return "Channel name is required and must be 1-64 chars: Invalid channel target";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7F)
            return "Channel name must not contain control chars: Invalid channel target";
    }
    if (!utf8_valid((const unsigned char *)name, n))
        return "Channel name must only contain valid UTF-8 bytes: Invalid channel target";
    out->mode = TOMO_CHAT_ROOM;
    memcpy(out->label, name, n + 1);
    return NULL;
}

void tomo_chat_dm_init(tomo_chat_channel *out, const char *uid_a, const char *uid_b)
{
    memset(out, 0, sizeof(*out));
    out->mode = TOMO_CHAT_DM;
    char a[37], b[37];
    copy_uuid(a, uid_a, strlen(uid_a));
    copy_uuid(b, uid_b, strlen(uid_b));
    int swap = strcmp(a, b) > 0;
    memcpy(out->subject, swap ? b : a, 37);
    memcpy(out->subcontext, swap ? a : b, 37);
}

void tomo_chat_set_target(const tomo_chat_channel *c, json_t *obj)
{
    switch (c->mode) {
    case TOMO_CHAT_ROOM:
        json_object_set_new(obj, "room_name", json_string(c->label));
        break;
    case TOMO_CHAT_GROUP:
        if (c->subject[0])
            json_object_set_new(obj, "group_id", json_string(c->subject));
        break;
    case TOMO_CHAT_DM:
        if (c->subject[0])
            json_object_set_new(obj, "user_id_one", json_string(c->subject));
        if (c->subcontext[0])
            json_object_set_new(obj, "user_id_two", json_string(c->subcontext));
        break;
    }
}

int tomo_chat_content_ok(const char *text)
{
    if (!text)
        return 0;
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    int ok = json_is_object(j);
    json_decref(j);
    return ok;
}

/* ---- JSON ---- */

static void set_time(json_t *o, const char *key, int64_t ms)
{
    char ts[32];
    tomo_rfc3339(ms / 1000, ts); /* Nakama's timestamps are whole seconds */
    json_object_set_new(o, key, json_string(ts));
}

/* The ending a message and its ack share: times, persistence, the
 * channel's target fields. Returns o. */
static json_t *stamped(const tomo_chat_channel *c, json_t *o, int64_t create_ms, int64_t update_ms,
                       int persistent)
{
    set_time(o, "create_time", create_ms);
    set_time(o, "update_time", update_ms);
    json_object_set_new(o, "persistent", json_boolean(persistent));
    tomo_chat_set_target(c, o);
    return o;
}

json_t *tomo_chat_message_json(const tomo_chat_channel *c, const char *channel_id,
                               const char *message_id, int code, const char *sender_id,
                               const char *username, const char *content, int64_t create_ms,
                               int64_t update_ms, int persistent)
{
    json_t *m = json_object();
    if (channel_id && *channel_id)
        json_object_set_new(m, "channel_id", json_string(channel_id));
    if (message_id && *message_id)
        json_object_set_new(m, "message_id", json_string(message_id));
    json_object_set_new(m, "code", json_integer(code));
    if (sender_id && *sender_id)
        json_object_set_new(m, "sender_id", json_string(sender_id));
    if (username && *username)
        json_object_set_new(m, "username", json_string(username));
    if (content && *content)
        json_object_set_new(m, "content", json_string(content));
    return stamped(c, m, create_ms, update_ms, persistent);
}

/* ---- the message table ---- */

int tomo_chat_message_insert(tomo_dbconn *conn, const tomo_chat_channel *c,
                             const char *message_id, int code, const char *sender_id,
                             const char *username, const char *content, int64_t create_ms)
{
    tomo_dbval p[] = {TOMO_DBTEXT(message_id), TOMO_DBINT(code),         TOMO_DBTEXT(sender_id),
                      TOMO_DBTEXT(username),   TOMO_DBINT(c->mode),      TOMO_DBTEXT(c->subject),
                      TOMO_DBTEXT(c->subcontext), TOMO_DBTEXT(c->label), TOMO_DBTEXT(content),
                      TOMO_DBINT(create_ms)};
    int rc = tomo_db_exec(conn,
                          "INSERT INTO message (id, code, sender_id, username, stream_mode, "
                          "stream_subject, stream_descriptor, stream_label, content, create_time, "
                          "update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                          p, TOMO_ARRAY_LEN(p), NULL);
    if (rc < 0)
        TOMO_LOGE("chat", "could not store message id=%s err=%s", message_id,
                  tomo_db_errmsg(conn));
    return rc;
}

/* The original create time of a sender's message in a channel. */
static int own_message_time(tomo_dbconn *conn, const tomo_chat_channel *c, const char *message_id,
                            const char *sender_id, int64_t *create_ms)
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(message_id), TOMO_DBTEXT(sender_id), TOMO_DBINT(c->mode),
                      TOMO_DBTEXT(c->subject), TOMO_DBTEXT(c->subcontext),
                      TOMO_DBTEXT(c->label)};
    int rc = tomo_db_exec(conn,
                          "SELECT create_time FROM message WHERE id = $1 AND sender_id = $2 AND "
                          "stream_mode = $3 AND stream_subject = $4 AND stream_descriptor = $5 "
                          "AND stream_label = $6",
                          p, TOMO_ARRAY_LEN(p), &r);
    if (rc == 0 && tomo_dbres_rows(r) == 0)
        rc = TOMO_ENOTFOUND;
    else if (rc == 0)
        *create_ms = tomo_dbres_int(r, 0, 0);
    tomo_dbres_free(r);
    return rc;
}

int tomo_chat_message_update(tomo_dbconn *conn, const tomo_chat_channel *c,
                             const char *message_id, const char *sender_id, const char *username,
                             const char *content, int64_t update_ms, int64_t *create_ms)
{
    int rc = tomo_db_begin(conn);
    if (rc < 0)
        goto out;
    rc = own_message_time(conn, c, message_id, sender_id, create_ms);
    if (rc < 0)
        goto out;
    tomo_dbval p[] = {TOMO_DBTEXT(message_id), TOMO_DBTEXT(content), TOMO_DBTEXT(username),
                      TOMO_DBINT(update_ms)};
    rc = tomo_db_exec(conn,
                      "UPDATE message SET content = $2, username = $3, update_time = $4 "
                      "WHERE id = $1",
                      p, TOMO_ARRAY_LEN(p), NULL);
    if (rc == 0)
        rc = tomo_db_commit(conn);
out:
    if (rc < 0) {
        tomo_db_rollback(conn);
        if (rc != TOMO_ENOTFOUND)
            TOMO_LOGE("chat", "could not update message id=%s err=%s", message_id,
                      tomo_db_errmsg(conn));
    }
    return rc;
}

int tomo_chat_message_remove(tomo_dbconn *conn, const tomo_chat_channel *c,
                             const char *message_id, const char *sender_id, int64_t *create_ms)
{
    int rc = tomo_db_begin(conn);
    if (rc < 0)
        goto out;
    rc = own_message_time(conn, c, message_id, sender_id, create_ms);
    if (rc < 0)
        goto out;
    tomo_dbval p[] = {TOMO_DBTEXT(message_id)};
    rc = tomo_db_exec(conn, "DELETE FROM message WHERE id = $1", p, 1, NULL);
    if (rc == 0)
        rc = tomo_db_commit(conn);
out:
    if (rc < 0) {
        tomo_db_rollback(conn);
        if (rc != TOMO_ENOTFOUND)
            TOMO_LOGE("chat", "could not remove message id=%s err=%s", message_id,
                      tomo_db_errmsg(conn));
    }
    return rc;
}

int tomo_chat_group_check(tomo_dbconn *conn, const char *group_id, const char *user_id)
{
    return tomo_svc_group_member_check(conn, group_id, user_id);
}

/* ---- history cursors ----
 * Opaque to clients: unpadded base64url of
 * "c1:<forward>:<is_next>:<create ms>:<message id>:<channel id>". The
 * channel id comes last because room names may contain ':'. A cursor only
 * works for the channel and direction it was made for. */

typedef struct hcursor {
    int forward, is_next;
    int64_t create_ms;
    char id[37];
} hcursor;

static char *hcursor_encode(const hcursor *k, const char *chan_key)
{
    char buf[256];
    int len = snprintf(buf, sizeof(buf), "c1:%d:%d:%" PRId64 ":%s:%s", k->forward, k->is_next,
                       k->create_ms, k->id, chan_key);
    return tomo_b64_encode(buf, (size_t)len, 1);
}

static int hcursor_decode(const char *text, const char *chan_key, hcursor *k)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    int rc = TOMO_EINVAL;
    if (tomo_b64_decode(text, strlen(text), &raw, &n) < 0)
        return TOMO_EINVAL;
    const char *s = (const char *)raw;
    char *end;
    if (strlen(s) != n || strncmp(s, "c1:", 3) != 0)
        goto out;
    s += 3;
    if ((s[0] != '0' && s[0] != '1') || s[1] != ':' || (s[2] != '0' && s[2] != '1') ||
        s[3] != ':')
        goto out;
    k->forward = s[0] == '1';
    k->is_next = s[2] == '1';
    s += 4;
    long long ms = strtoll(s, &end, 10);
    if (end == s || *end != ':' || ms < 0)
        goto out;
    k->create_ms = ms;
    s = end + 1;
    if (strlen(s) < 37 || s[36] != ':')
        goto out;
    memcpy(k->id, s, 36);
    k->id[36] = '\0';
    if (!tomo_uuid_valid(k->id) || strcmp(s + 37, chan_key) != 0)
        goto out;
    rc = 0;
out:
    free(raw);
    return rc;
}

#define HISTORY_COLS "id, code, sender_id, username, content, create_time, update_time"
#define HISTORY_WHERE                                                                              \
    "FROM message WHERE stream_mode = $1 AND stream_subject = $2 AND stream_descriptor = $3 AND "  \
    "stream_label = $4 "

int tomo_chat_history_list(tomo_dbconn *conn, const tomo_chat_channel *c, const char *channel_id,
                           int limit, int forward, const char *cursor, json_t **out)
{
    int rc;
    char key[TOMO_CHAT_ID_MAX];
    hcursor in = {0}, next = {0}, prev = {0}, cache = {0};
    int have_in = 0, have_next = 0, have_prev = 0, have_cache = 0;
    tomo_dbres *res = NULL;
    json_t *msgs = NULL;
    char *s = NULL;

    *out = NULL;
    if (limit < 1 || limit > TOMO_CHAT_LIST_MAX)
        return TOMO_EINVAL;
    tomo_chat_id_format(c, key);
    if (cursor && *cursor) {
        if (hcursor_decode(cursor, key, &in) < 0 || in.forward != (forward ? 1 : 0))
            return TOMO_EINVAL;
        have_in = 1;
    }
    /* Ascending when going forward from a "next" cursor or backward from a
     * "prev" one; the page is flipped back into listing order below. */
    int asc = have_in ? (forward ? in.is_next : !in.is_next) : forward;
    const char *sql;
    if (!have_in)
        sql = asc ? "SELECT " HISTORY_COLS " " HISTORY_WHERE
                    "ORDER BY create_time ASC, id ASC LIMIT $5"
                  : "SELECT " HISTORY_COLS " " HISTORY_WHERE
                    "ORDER BY create_time DESC, id DESC LIMIT $5";
    else
        sql = asc ? "SELECT " HISTORY_COLS " " HISTORY_WHERE
                    "AND (create_time > $6 OR (create_time = $6 AND id > $7)) "
                    "ORDER BY create_time ASC, id ASC LIMIT $5"
                  : "SELECT " HISTORY_COLS " " HISTORY_WHERE
                    "AND (create_time < $6 OR (create_time = $6 AND id < $7)) "
                    "ORDER BY create_time DESC, id DESC LIMIT $5";
    tomo_dbval p[] = {TOMO_DBINT(c->mode),   TOMO_DBTEXT(c->subject), TOMO_DBTEXT(c->subcontext),
                      TOMO_DBTEXT(c->label), TOMO_DBINT(limit + 1),   TOMO_DBINT(in.create_ms),
                      TOMO_DBTEXT(in.id)};
    rc = tomo_db_exec(conn, sql, p, have_in ? 7 : 5, &res);
    if (rc < 0) {
        TOMO_LOGE("chat", "could not list messages channel=%s err=%s", key, tomo_db_errmsg(conn));
        goto out;
    }
    size_t rows = tomo_dbres_rows(res);
    size_t shown = rows > (size_t)limit ? (size_t)limit : rows;
    msgs = json_array();
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(
            msgs, tomo_chat_message_json(c, channel_id, tomo_dbres_text(res, i, 0),
                                         (int)tomo_dbres_int(res, i, 1), tomo_dbres_text(res, i, 2),
                                         tomo_dbres_text(res, i, 3), tomo_dbres_text(res, i, 4),
                                         tomo_dbres_int(res, i, 5), tomo_dbres_int(res, i, 6), 1));
    /* More rows than the page: a cursor continuing the scan after the last
     * row shown. With an incoming cursor, one leading back from the first. */
    if (rows > shown) {
        next.forward = forward, next.is_next = 1;
        next.create_ms = tomo_dbres_int(res, shown - 1, 5);
        snprintf(next.id, sizeof(next.id), "%s", tomo_dbres_text(res, shown - 1, 0));
        have_next = 1;
    }
    if (have_in && shown) {
        prev.forward = forward, prev.is_next = 0;
        prev.create_ms = tomo_dbres_int(res, 0, 5);
        snprintf(prev.id, sizeof(prev.id), "%s", tomo_dbres_text(res, 0, 0));
        have_prev = 1;
    }
    if (have_in && !in.is_next) {
        /* Scanned backwards: swap the roles and restore listing order. */
        hcursor t = next;
        int ht = have_next;
        next = prev, have_next = have_prev;
        prev = t, have_prev = ht;
        next.is_next = 1;
        prev.is_next = 0;
        size_t n = json_array_size(msgs);
        for (size_t i = 0; i < n / 2; i++) {
            json_t *a = json_incref(json_array_get(msgs, i));
            json_array_set(msgs, i, json_array_get(msgs, n - 1 - i));
            json_array_set_new(msgs, n - 1 - i, a);
        }
    }
    /* The cacheable cursor points just past the last message listed, going
     * forward: a client keeps it and later asks for what came after. */
    size_t n = json_array_size(msgs);
    int reversed = have_in && !in.is_next;
    if (n) {
        size_t li = reversed ? 0 : shown - 1; /* row of the last message listed */
        cache.forward = 1, cache.is_next = 1;
        cache.create_ms = tomo_dbres_int(res, li, 5);
        snprintf(cache.id, sizeof(cache.id), "%s", tomo_dbres_text(res, li, 0));
        have_cache = 1;
    } else if (have_in) {
        cache = in;
        cache.forward = 1, cache.is_next = 1;
        have_cache = 1;
    }
    *out = json_object();
    if (n)
        json_object_set(*out, "messages", msgs);
    if (have_next) {
        s = hcursor_encode(&next, key);
        json_object_set_new(*out, "next_cursor", json_string(s));
        free(s);
    }
    if (have_prev) {
        s = hcursor_encode(&prev, key);
        json_object_set_new(*out, "prev_cursor", json_string(s));
        free(s);
    }
    if (have_cache) {
        s = hcursor_encode(&cache, key);
        json_object_set_new(*out, "cacheable_cursor", json_string(s));
        free(s);
    }
out:
    json_decref(msgs);
    tomo_dbres_free(res);
    return rc;
}

/* ---- system writes and history (the runtime, REST) ---- */

json_t *tomo_chat_ack_json(const tomo_chat_channel *c, const char *channel_id,
                           const char *message_id, int code, const char *username,
                           int64_t create_ms, int64_t update_ms, int persistent)
{
    json_t *ack = json_object();
    json_object_set_new(ack, "channel_id", json_string(channel_id));
    json_object_set_new(ack, "message_id", json_string(message_id));
    json_object_set_new(ack, "code", json_integer(code));
    if (username && *username)
        json_object_set_new(ack, "username", json_string(username));
    return stamped(c, ack, create_ms, update_ms, persistent);
}

#define NIL_UUID "00000000-0000-0000-0000-000000000000"

int tomo_svc_chat_write(tomo_svc *svc, tomo_dbconn *db, int code, const char *channel_id,
                        const char *message_id, const char *content, const char *sender_id,
                        const char *username, int persist, json_t **ack, tomo_err *err)
{
    tomo_chat_channel c;
    char mid[37], sid[37];
    int64_t create_ms, update_ms;
    *ack = NULL;
    if (code < TOMO_CHAT_CODE_CHAT || code > TOMO_CHAT_CODE_REMOVE)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid message code");
    if (code != TOMO_CHAT_CODE_CHAT && (!message_id || !tomo_uuid_valid(message_id)))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid message identifier");
    if (!channel_id || tomo_chat_id_parse(channel_id, &c) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid channel identifier");
    if (sender_id && *sender_id && !tomo_uuid_valid(sender_id))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid sender identifier");
    if (code == TOMO_CHAT_CODE_REMOVE || !content)
        content = "{}";
    if (!tomo_chat_content_ok(content))
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT,
                            "Message content must be a valid JSON object");
    snprintf(sid, sizeof(sid), "%s", sender_id && *sender_id ? sender_id : NIL_UUID);
    for (char *p = sid; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!username)
        username = "";
    if (code == TOMO_CHAT_CODE_CHAT) {
        create_ms = update_ms = tomo_uuid_v7(mid); /* the id carries the time */
    } else {
        snprintf(mid, sizeof(mid), "%s", message_id);
        for (char *p = mid; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        create_ms = update_ms = tomo_now_ms();
    }
    int rc = 0;
    if (persist) {
        if (code == TOMO_CHAT_CODE_CHAT)
            rc = tomo_chat_message_insert(db, &c, mid, code, sid, username, content, create_ms);
        else if (code == TOMO_CHAT_CODE_UPDATE)
            rc = tomo_chat_message_update(db, &c, mid, sid, username, content, update_ms,
                                          &create_ms);
        else
            rc = tomo_chat_message_remove(db, &c, mid, sid, &create_ms);
        if (rc == TOMO_ENOTFOUND)
            return tomo_err_set(err, TOMO_GRPC_NOT_FOUND, "channel message not found");
        if (rc < 0)
            return tomo_err_db_conn(err, db, rc, "channel message write");
    }
    char id[TOMO_CHAT_ID_MAX];
    tomo_chat_id_format(&c, id);
    if (svc && svc->push.to_stream) {
        json_t *m = tomo_chat_message_json(&c, id, mid, code, sid, username, content, create_ms,
                                           update_ms, persist);
        json_t *env = json_pack("{s:o}", "channel_message", m);
        svc->push.to_stream(svc->push.ctx, c.mode, c.subject, c.subcontext, c.label, env);
        json_decref(env);
    }
    *ack = tomo_chat_ack_json(&c, id, mid, code, username, create_ms, update_ms, persist);
    return 0;
}

int tomo_svc_chat_history(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *channel_id, int limit, int forward, const char *cursor,
                          json_t **out, tomo_err *err)
{
    (void)svc;
    tomo_chat_channel ch;
    *out = NULL;
    if (!channel_id || !*channel_id || tomo_chat_id_parse(channel_id, &ch) < 0)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Invalid channel ID.");
    int rc;
    if (!tomo_caller_is_system(caller)) {
        /* A DM's history belongs to its two users only (Nakama 3.40). */
        if (ch.mode == TOMO_CHAT_DM && strcmp(ch.subject, caller->user_id) != 0 &&
            strcmp(ch.subcontext, caller->user_id) != 0)
            return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Channel not found.");
        if (ch.mode == TOMO_CHAT_GROUP) {
            rc = tomo_chat_group_check(db, ch.subject, caller->user_id);
            if (rc == TOMO_ENOTFOUND)
                return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Group not found.");
            if (rc < 0)
                return tomo_err_db_conn(err, db, rc, "group membership");
        }
    }
    rc = tomo_chat_history_list(db, &ch, channel_id, limit, forward, cursor, out);
    if (rc == TOMO_EINVAL)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Cursor is invalid or expired.");
    if (rc < 0)
        return tomo_err_db_conn(err, db, rc, "channel message list");
    return 0;
}

int tomo_chat_messages_purge(tomo_dbconn *conn, int64_t before_ms, const char *const *ids,
                             size_t n, int64_t *total)
{
    *total = 0;
    int64_t changed = 0;
    int rc = 0;
    if (before_ms > 0) {
        tomo_dbval p[1] = {TOMO_DBINT(before_ms)};
        rc = tomo_db_exec_changes(conn, "DELETE FROM message WHERE create_time < $1", p, 1,
                                  &changed);
        *total += changed;
    }
    /* one statement per id keeps every query under the parameter cap */
    for (size_t i = 0; i < n && rc == 0; i++) {
        tomo_dbval p[1] = {TOMO_DBTEXT(ids[i])};
        rc = tomo_db_exec_changes(conn, "DELETE FROM message WHERE id = $1", p, 1, &changed);
        *total += changed;
    }
    if (rc < 0)
        TOMO_LOGE("chat", "could not purge messages err=%s", tomo_db_errmsg(conn));
    return rc;
}
