/* svc/social.c: helpers shared by friends and groups (see social.h). */
#define _GNU_SOURCE
#include "social.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "notification.h"
#include "users.h"

int64_t tomo_social_position(void)
{
    static _Atomic int64_t last;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t prev = atomic_load(&last);
    for (;;) {
        int64_t next = now > prev ? now : prev + 1;
        if (atomic_compare_exchange_weak(&last, &prev, next))
            return next;
    }
}

char *tomo_social_cursor_encode(char tag, int64_t state, int64_t position)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%c1:%" PRId64 ":%" PRId64, tag, state, position);
    return tomo_b64_encode(buf, (size_t)n, 1);
}

int tomo_social_cursor_decode(char tag, const char *cursor, int64_t *state, int64_t *position)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    int rc = tomo_b64_decode(cursor, strlen(cursor), &raw, &n);
    if (rc < 0)
        return TOMO_EINVAL;
    char t = 0;
    int64_t s = 0, p = 0;
    int used = 0;
    rc = TOMO_EINVAL;
    if (n < 48 && sscanf((const char *)raw, "%c1:%" SCNd64 ":%" SCNd64 "%n", &t, &s, &p, &used) == 3 &&
        (size_t)used == n && t == tag && s >= 0 && s <= 4) {
        *state = s;
        *position = p;
        rc = 0;
    }
    free(raw);
    return rc;
}

int tomo_social_note_add(tomo_social_notes *q, tomo_dbconn *db, const char *user_id,
                         const char *subject, const char *content, int code,
                         const char *sender_id)
{
    json_t *obj = NULL;
    int rc = tomo_notify_store(db, user_id, subject, content, code, sender_id, 1, &obj);
    if (rc < 0)
        return rc;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 4;
        q->v = tomo_xrealloc(q->v, q->cap * sizeof(*q->v));
    }
    snprintf(q->v[q->n].user_id, sizeof(q->v[q->n].user_id), "%s", user_id);
    q->v[q->n].obj = obj;
    q->n++;
    return 0;
}

void tomo_social_notes_push(tomo_svc *svc, tomo_social_notes *q)
{
    for (size_t i = 0; i < q->n; i++)
        tomo_notify_push(svc, q->v[i].user_id, q->v[i].obj);
    tomo_social_notes_free(q);
}

void tomo_social_notes_free(tomo_social_notes *q)
{
    for (size_t i = 0; i < q->n; i++)
        json_decref(q->v[i].obj);
    free(q->v);
    memset(q, 0, sizeof(*q));
}

static char *dump_sorted(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

char *tomo_social_content_username(const char *username)
{
    return dump_sorted(json_pack("{s:s}", "username", username ? username : ""));
}

char *tomo_social_content_group(const char *group_id, const char *key, const char *value)
{
    return dump_sorted(json_pack("{s:s,s:s}", "group_id", group_id, key, value ? value : ""));
}

int tomo_social_uuid_lower(const char *s, char out[37])
{
    if (!s || !tomo_uuid_valid(s))
        return TOMO_EINVAL;
    for (int i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = 0;
    return 0;
}

int tomo_social_username(tomo_dbconn *db, const char *user_id, char out[129])
{
    tomo_dbres *r = NULL;
    tomo_dbval p[] = {TOMO_DBTEXT(user_id)};
    int rc = tomo_db_exec(db, "SELECT username FROM users WHERE id = $1", p, 1, &r);
    if (rc == 0 && tomo_dbres_rows(r) == 0)
        rc = TOMO_ENOTFOUND;
    if (rc == 0)
        snprintf(out, 129, "%s", tomo_dbres_text(r, 0, 0) ? tomo_dbres_text(r, 0, 0) : "");
    tomo_dbres_free(r);
    return rc;
}

void tomo_social_fill_online(tomo_svc *svc, json_t *items, const char *key)
{
    json_t *users = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) json_array_append(users, json_object_get(it, key));
    tomo_svc_users_fill_online(svc, users);
    json_decref(users);
}
