/* rt/status.c: status follows (who hears whose online status) and the
 * status_follow / status_unfollow / status_update envelopes.
 * Owns: follow entries, indexed per session (s->_follows) and per followed
 *       user (tomo_rt.followers: user id -> newest entry, chained).
 * Borrows: the tracker's status streams (mode 1, subject = user id), whose
 *          events this module routes to followers as status_presence_event.
 * Threads: loop thread; the username/id lookup of status_follow runs on the
 *          worker pool. */
#define _GNU_SOURCE
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "envelope.h"
#include "rt_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct follow {
    tomo_rt_session *s;
    struct follow *next_of_session;
    struct follow *uprev, *unext; /* followers of the same user */
    char user_id[37];
} follow;

static int following(const tomo_rt_session *s, const char *uid)
{
    for (follow *f = s->_follows; f; f = f->next_of_session)
        if (!strcmp(f->user_id, uid))
            return 1;
    return 0;
}

static void follow_add(tomo_rt_session *s, const char *uid)
{
    if (following(s, uid))
        return;
    tomo_rt *rt = (s->rt);
    follow *f = tomo_xcalloc(1, sizeof(*f));
    f->s = s;
    snprintf(f->user_id, sizeof(f->user_id), "%s", uid);
    f->next_of_session = s->_follows;
    s->_follows = f;
    follow *head = tomo_hmap_get(&rt->followers, f->user_id);
    f->unext = head;
    if (head)
        head->uprev = f;
    tomo_hmap_put(&rt->followers, f->user_id, f);
}

static void follow_unlink(tomo_rt *rt, follow *f)
{
    if (f->uprev) {
        f->uprev->unext = f->unext;
    } else if (f->unext) {
        tomo_hmap_put(&rt->followers, f->unext->user_id, f->unext);
    } else {
        tomo_hmap_del(&rt->followers, f->user_id);
    }
    if (f->unext)
        f->unext->uprev = f->uprev;
}

static void follow_del(tomo_rt_session *s, const char *uid)
{
    tomo_rt *rt = (s->rt);
    follow **pp = (follow **)&s->_follows;
    while (*pp) {
        follow *f = *pp;
        if (!strcmp(f->user_id, uid)) {
            *pp = f->next_of_session;
            follow_unlink(rt, f);
            free(f);
            return;
        }
        pp = &f->next_of_session;
    }
}

void tomo_rt_status_unfollow_all(tomo_rt_session *s)
{
    tomo_rt *rt = (s->rt);
    follow *f = s->_follows;
    while (f) {
        follow *n = f->next_of_session;
        follow_unlink(rt, f);
        free(f);
        f = n;
    }
    s->_follows = NULL;
}

/* Nakama has every socket follow its own user's status. */
void tomo_rt_status_follow_self(tomo_rt_session *s) { follow_add(s, s->user_id); }

void tomo_rt_status_free(tomo_rt *rt)
{
    (void)rt; /* entries belong to sessions, which are gone by now */
}

/* Status stream events go to the followers of the stream's user. */
static void on_status_event(tomo_rt *rt, const tomo_stream *st, json_t *joins, json_t *leaves,
                            void *ud)
{
    (void)ud;
    follow *f = tomo_hmap_get(&rt->followers, st->subject);
    if (!f)
        return;
    json_t *ev = json_object();
    if (json_array_size(joins))
        json_object_set(ev, "joins", joins);
    if (json_array_size(leaves))
        json_object_set(ev, "leaves", leaves);
    tomo_rt_out o;
    tomo_rt_out_init(&o, json_pack("{s:o}", "status_presence_event", ev));
    /* Collect first: a send may disconnect a slow follower. */
    size_t n = 0;
    for (follow *x = f; x; x = x->unext)
        n++;
    tomo_rt_session **v = tomo_xmalloc(n * sizeof(*v));
    size_t k = 0;
    for (follow *x = f; x; x = x->unext) {
        tomo_rt_session_hold(x->s);
        v[k++] = x->s;
    }
    for (size_t i = 0; i < k; i++) {
        tomo_rt_out_send(&o, v[i]);
        tomo_rt_session_release(v[i]);
    }
    free(v);
    tomo_rt_out_clear(&o);
}

/* ---- status_follow ---- */

typedef struct follow_job {
    json_t *ids;       /* unique user ids to check */
    json_t *usernames; /* unique usernames to resolve */
    json_t *found;     /* array of user ids that exist */
    int failed;
} follow_job;

static void follow_work(tomo_rt_req *req, void *arg)
{
    follow_job *j = arg;
    tomo_dbconn *c = NULL;
    tomo_dbres *res = NULL;
    size_t ni = json_array_size(j->ids), nu = json_array_size(j->usernames);
    size_t n = ni + nu;
    tomo_dbval *params = tomo_xcalloc(n, sizeof(*params));
    char *sql = tomo_xstrdup("SELECT id, username FROM users WHERE ");
    size_t k = 0;
    for (int part = 0; part < 2; part++) {
        json_t *arr = part ? j->usernames : j->ids;
        size_t cnt = json_array_size(arr);
        if (!cnt)
            continue;
        char *s2 = tomo_xasprintf("%s%s%s IN (", sql, k ? " OR " : "", part ? "username" : "id");
        free(sql);
        sql = s2;
        for (size_t i = 0; i < cnt; i++) {
            params[k] = TOMO_DBTEXT(json_string_value(json_array_get(arr, i)));
            k++;
            s2 = tomo_xasprintf("%s%s$%zu", sql, i ? ", " : "", k);
            free(sql);
            sql = s2;
        }
        s2 = tomo_xasprintf("%s)", sql);
        free(sql);
        sql = s2;
    }
    if (tomo_db_acquire(req->rt->db, &c) < 0 || tomo_db_exec(c, sql, params, n, &res) < 0) {
        TOMO_LOGE(TOMO_RT, "status follow user lookup failed error=%s",
                  c ? tomo_db_errmsg(c) : "database unavailable");
        j->failed = 1;
        goto out;
    }
    for (size_t r = 0; r < tomo_dbres_rows(res); r++) {
        const char *id = tomo_dbres_text(res, r, 0);
        if (id)
            json_array_append_new(j->found, json_string(id));
    }
out:
    tomo_dbres_free(res);
    tomo_db_release(c);
    free(params);
    free(sql);
}

static void follow_reply(tomo_rt_req *req, json_t *user_ids)
{
    tomo_rt *rt = (req->rt);
    tomo_rt_session *s = req->session;
    json_t *presences = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(user_ids, i, v)
    {
        const char *uid = json_string_value(v);
        if (!strcmp(uid, s->user_id))
            continue;
        follow_add(s, uid);
        tomo_stream st = {TOMO_STREAM_STATUS, uid, NULL, NULL};
        for (tomo_presence *p = tomo_tracker_first(rt->tracker, &st); p; p = tomo_presence_next(p))
            if (!p->hidden)
                json_array_append_new(presences, tomo_presence_json(p));
    }
    json_t *status = json_object();
    if (json_array_size(presences))
        json_object_set(status, "presences", presences);
    json_decref(presences);
    tomo_rt_reply(req, "status", status);
}

static void follow_done(tomo_rt_req *req, void *arg)
{
    follow_job *j = arg;
    if (j->failed)
        tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_EXCEPTION, "Could not check users");
    else if (tomo_rt_session_alive(req->session))
        follow_reply(req, j->found);
    json_decref(j->ids);
    json_decref(j->usernames);
    json_decref(j->found);
    free(j);
}

static int h_status_follow(tomo_rt_req *req)
{
    tomo_rt_session *s = req->session;
    json_t *ids = json_array(), *names = json_array();
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(json_object_get(req->body, "user_ids"), i, v)
    {
        const char *uid = json_string_value(v);
        if (!uid || !tomo_uuid_valid(uid)) {
            rc = tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid user identifier");
            goto out;
        }
        char low[37];
        for (int k = 0; k < 37; k++)
            low[k] = (char)(uid[k] >= 'A' && uid[k] <= 'F' ? uid[k] + 32 : uid[k]);
        int dup = 0;
        size_t x;
        json_t *w;
        json_array_foreach(ids, x, w) dup |= !strcmp(json_string_value(w), low);
        if (!dup && strcmp(low, s->user_id))
            json_array_append_new(ids, json_string(low));
    }
    json_array_foreach(json_object_get(req->body, "usernames"), i, v)
    {
        const char *un = json_string_value(v);
        if (!un || !*un) {
            rc = tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid username");
            goto out;
        }
        int dup = 0;
        size_t x;
        json_t *w;
        json_array_foreach(names, x, w) dup |= !strcmp(json_string_value(w), un);
        if (!dup && strcmp(un, s->username))
            json_array_append_new(names, json_string(un));
    }
    if (!json_array_size(ids) && !json_array_size(names)) {
        rc = tomo_rt_reply(req, "status", NULL);
        goto out;
    }
    follow_job *j = tomo_xcalloc(1, sizeof(*j));
    j->ids = ids;
    j->usernames = names;
    j->found = json_array();
    ids = names = NULL;
    rc = tomo_rt_async(req, follow_work, follow_done, j);
    if (rc == TOMO_EAGAIN) {
        json_decref(j->ids);
        json_decref(j->usernames);
        json_decref(j->found);
        free(j);
    }
out:
    json_decref(ids);
    json_decref(names);
    return rc;
}

/* ---- status_unfollow / status_update ---- */

static int h_status_unfollow(tomo_rt_req *req)
{
    json_t *arr = json_object_get(req->body, "user_ids");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *uid = json_string_value(v);
        if (!uid || !tomo_uuid_valid(uid))
            return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid user identifier");
    }
    json_array_foreach(arr, i, v)
    {
        char low[37];
        const char *uid = json_string_value(v);
        for (int k = 0; k < 37; k++)
            low[k] = (char)(uid[k] >= 'A' && uid[k] <= 'F' ? uid[k] + 32 : uid[k]);
        if (strcmp(low, req->session->user_id))
            follow_del(req->session, low);
    }
    return tomo_rt_reply(req, NULL, NULL);
}

static int h_status_update(tomo_rt_req *req)
{
    tomo_rt *rt = (req->rt);
    tomo_rt_session *s = req->session;
    tomo_stream st = {TOMO_STREAM_STATUS, s->user_id, NULL, NULL};
    json_t *status = json_object_get(req->body, "status");
    if (!status) {
        tomo_tracker_untrack(rt->tracker, s, &st);
        return tomo_rt_reply(req, NULL, NULL);
    }
    const char *text = json_string_value(status);
    if (strlen(text ? text : "") > 2048)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Status must be 2048 characters or less");
    tomo_tracker_update(rt->tracker, s, &st, 0, 0, text ? text : "");
    return tomo_rt_reply(req, NULL, NULL);
}

void tomo_rt_status_init(tomo_rt *rt)
{
    tomo_tracker_listen((rt)->tracker, TOMO_STREAM_STATUS, on_status_event, NULL);
    tomo_rt_register(rt, "status_follow", h_status_follow);
    tomo_rt_register(rt, "status_unfollow", h_status_unfollow);
    tomo_rt_register(rt, "status_update", h_status_update);
}
