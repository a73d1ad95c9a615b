/* svc/notification.c: in-app notifications (see notification.h). */
#include "notification.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"

/* Registering an existing family returns it, so looking the handle up per
 * call stays correct across tomo_metrics_reset (tests) at the cost of one
 * short registry lookup. */
static tomo_metric *m_sent(void)
{
    return tomo_metrics_counter("notifications_sent_total",
                                "Notifications sent to users (stored or live only)", NULL);
}

static json_t *notification_json(const char *id, const char *subject, const char *content,
                                 int code, const char *sender_id, int64_t create_ms,
                                 int persistent)
{
    json_t *n = json_object();
    if (id && *id)
        json_object_set_new(n, "id", json_string(id));
    if (subject && *subject)
        json_object_set_new(n, "subject", json_string(subject));
    if (content && *content)
        json_object_set_new(n, "content", json_string(content));
    if (code)
        json_object_set_new(n, "code", json_integer(code));
    if (sender_id && *sender_id && strcmp(sender_id, TOMO_SYSTEM_USER_ID) != 0)
        json_object_set_new(n, "sender_id", json_string(sender_id));
    if (create_ms) {
        char ts[32];
        /* Nakama's timestamps are whole seconds. */
        tomo_rfc3339(create_ms / 1000, ts);
        json_object_set_new(n, "create_time", json_string(ts));
    }
    if (persistent)
        json_object_set_new(n, "persistent", json_true());
    return n;
}

int tomo_notify_store(tomo_dbconn *conn, const char *user_id, const char *subject,
                      const char *content_json, int code, const char *sender_id, int persistent,
                      json_t **out)
{
    int rc = 0;
    char id[37];
    char *content = NULL;
    json_t *parsed = NULL;

    if (out)
        *out = NULL;
    if (!user_id || !tomo_uuid_valid(user_id) || !subject || !*subject)
        return TOMO_EINVAL;
    if (!sender_id)
        sender_id = "";
    /* Content is a JSON object held as text: clients JSON.parse it. Storing
     * the compact re-encoding keeps one canonical form. */
    parsed = json_loads(content_json && *content_json ? content_json : "{}",
                        JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(parsed)) {
        rc = TOMO_EINVAL;
        goto out;
    }
    content = json_dumps(parsed, JSON_COMPACT);
    /* Time-ordered ids: listing order is creation order, and a cacheable
     * cursor can never skip a notification made in the same millisecond. */
    int64_t now = tomo_uuid_v7(id);
    if (persistent) {
        const char *idp = id;
        tomo_dbval p[] = {TOMO_DBTEXT(idp),      TOMO_DBTEXT(user_id), TOMO_DBTEXT(subject),
                          TOMO_DBTEXT(content), TOMO_DBINT(code),     TOMO_DBTEXT(sender_id),
                          TOMO_DBINT(now)};
        rc = tomo_db_exec(conn,
                          "INSERT INTO notification (id, user_id, subject, content, code, "
                          "sender_id, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                          p, TOMO_ARRAY_LEN(p), NULL);
        if (rc < 0) {
            TOMO_LOGE("notify", "could not store notification user=%s code=%d err=%s", user_id,
                      code, tomo_db_errmsg(conn));
            goto out;
        }
    }
    if (out)
        *out = notification_json(id, subject, content, code, sender_id, now, persistent);
out:
    json_decref(parsed);
    free(content);
    return rc;
}

void tomo_notify_push(tomo_svc *svc, const char *user_id, json_t *notifications)
{
    if (!svc || !svc->push.to_user || !user_id || !notifications)
        return;
    json_t *list;
    if (json_is_array(notifications))
        list = json_incref(notifications);
    else {
        list = json_array();
        json_array_append(list, notifications);
    }
    size_t n = json_array_size(list);
    if (!n) {
        json_decref(list);
        return;
    }
    tomo_metric_add(m_sent(), NULL, (double)n);
    /* The seam copies what crosses to the loop thread (jansson reference
     * counts are not atomic). */
    json_t *env = json_pack("{s:{s:O}}", "notifications", "notifications", list);
    svc->push.to_user(svc->push.ctx, user_id, env);
    json_decref(env);
    json_decref(list);
}

int tomo_notify_send(tomo_svc *svc, tomo_dbconn *conn, const char *user_id,
                     const char *subject, const char *content_json, int code,
                     const char *sender_id, int persistent, json_t **out)
{
    json_t *n = NULL;
    int rc = tomo_notify_store(conn, user_id, subject, content_json, code, sender_id, persistent,
                               &n);
    if (rc == 0)
        tomo_notify_push(svc, user_id, n);
    if (out)
        *out = n;
    else
        json_decref(n);
    return rc;
}

/* ---- cacheable cursor ----
 * Opaque to clients: unpadded base64url of "n1:<create_time ms>:<id>". An
 * empty id means "from the start" (the cursor handed out when the user has
 * nothing stored yet). */

static char *cursor_encode(int64_t create_ms, const char *id)
{
    char buf[96];
    int len = snprintf(buf, sizeof(buf), "n1:%" PRId64 ":%s", create_ms, id ? id : "");
    return tomo_b64_encode(buf, (size_t)len, 1);
}

static int cursor_decode(const char *text, int64_t *create_ms, char id[37])
{
    uint8_t *raw = NULL;
    size_t n = 0;
    int rc = TOMO_EINVAL;
    id[0] = '\0';
    if (tomo_b64_decode(text, strlen(text), &raw, &n) < 0)
        return TOMO_EINVAL;
    const char *s = (const char *)raw;
    if (n < 4 || strlen(s) != n || strncmp(s, "n1:", 3) != 0)
        goto out;
    char *end = NULL;
    long long ms = strtoll(s + 3, &end, 10);
    if (end == s + 3 || *end != ':' || ms < 0)
        goto out;
    const char *idp = end + 1;
    if (*idp && !tomo_uuid_valid(idp))
        goto out;
    if (!*idp && ms != 0)
        goto out;
    *create_ms = ms;
    snprintf(id, 37, "%s", idp);
    rc = 0;
out:
    free(raw);
    return rc;
}

int tomo_notify_list(tomo_dbconn *conn, const char *user_id, int limit,
                     const char *cacheable_cursor, json_t **out)
{
    int rc;
    int64_t after_ms = 0;
    char after_id[37] = "";
    tomo_dbres *res = NULL;
    json_t *list = NULL;
    char *cursor = NULL;

    *out = NULL;
    if (limit < 1 || limit > TOMO_NOTIFY_LIST_MAX)
        return TOMO_EINVAL;
    if (cacheable_cursor && *cacheable_cursor &&
        cursor_decode(cacheable_cursor, &after_ms, after_id) < 0)
        return TOMO_EINVAL;

    if (after_id[0]) {
        const char *aid = after_id;
        tomo_dbval p[] = {TOMO_DBTEXT(user_id), TOMO_DBINT(limit), TOMO_DBINT(after_ms),
                          TOMO_DBTEXT(aid)};
        rc = tomo_db_exec(conn,
                          "SELECT id, subject, content, code, sender_id, create_time "
                          "FROM notification WHERE user_id = $1 AND "
                          "(create_time > $3 OR (create_time = $3 AND id > $4)) "
                          "ORDER BY create_time ASC, id ASC LIMIT $2",
                          p, TOMO_ARRAY_LEN(p), &res);
    } else {
        tomo_dbval p[] = {TOMO_DBTEXT(user_id), TOMO_DBINT(limit)};
        rc = tomo_db_exec(conn,
                          "SELECT id, subject, content, code, sender_id, create_time "
                          "FROM notification WHERE user_id = $1 "
                          "ORDER BY create_time ASC, id ASC LIMIT $2",
                          p, TOMO_ARRAY_LEN(p), &res);
    }
    if (rc < 0) {
        TOMO_LOGE("notify", "could not list notifications user=%s err=%s", user_id,
                  tomo_db_errmsg(conn));
        goto out;
    }
    list = json_array();
    size_t rows = tomo_dbres_rows(res);
    for (size_t i = 0; i < rows; i++)
        json_array_append_new(
            list, notification_json(tomo_dbres_text(res, i, 0), tomo_dbres_text(res, i, 1),
                                    tomo_dbres_text(res, i, 2), (int)tomo_dbres_int(res, i, 3),
                                    tomo_dbres_text(res, i, 4), tomo_dbres_int(res, i, 5), 1));
    if (rows)
        cursor = cursor_encode(tomo_dbres_int(res, rows - 1, 5), tomo_dbres_text(res, rows - 1, 0));
    else if (cacheable_cursor && *cacheable_cursor)
        cursor = tomo_xstrdup(cacheable_cursor); /* nothing newer: keep the position */
    else
        cursor = cursor_encode(0, NULL);
    *out = json_object();
    if (rows)
        json_object_set(*out, "notifications", list);
    json_object_set_new(*out, "cacheable_cursor", json_string(cursor));
out:
    json_decref(list);
    free(cursor);
    tomo_dbres_free(res);
    return rc;
}

int tomo_notify_delete(tomo_dbconn *conn, const char *user_id, const char *const *ids, size_t n)
{
    int rc = 0;
    /* One statement per id keeps the SQL fixed (no dynamic IN lists); the
     * batch is small (a client's page of notifications) and runs in one
     * transaction so it applies whole or not at all. */
    if (n > 1 && (rc = tomo_db_begin(conn)) < 0)
        goto out;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!ids[i] || !*ids[i])
            continue;
        tomo_dbval p[] = {TOMO_DBTEXT(user_id), TOMO_DBTEXT(ids[i])};
        rc = tomo_db_exec(conn, "DELETE FROM notification WHERE user_id = $1 AND id = $2", p, 2,
                          NULL);
    }
    if (n > 1 && rc == 0)
        rc = tomo_db_commit(conn);
    else if (n > 1)
        tomo_db_rollback(conn);
out:
    if (rc < 0)
        TOMO_LOGE("notify", "could not delete notifications user=%s err=%s", user_id,
                  tomo_db_errmsg(conn));
    return rc;
}
