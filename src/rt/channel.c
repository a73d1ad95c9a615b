/* rt/channel.c: chat over the realtime socket (see channel.h).
 *
 * A channel is a tracker stream (mode 2 room, 3 group, 4 DM); joining
 * tracks the session on it, and every member gets the messages sent there.
 * Requests that need the database (a DM's target lookup, writes to the
 * history) copy what they need into a job, run it with tomo_rt_async, and
 * finish on the loop: track, broadcast, reply. Pushes go out before the
 * sender's ack, as Nakama does. */
#define _GNU_SOURCE
#include "channel.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codec/fields.h"
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/ratelimit.h"
#include "../svc/chat.h"
#include "envelope.h"
#include "../core/hmap.h"
#include "../svc/notification.h"
#include "rt.h"
#include "rt_int.h"
#include "tracker.h"

/* ---- module state (loop thread) ---- */

typedef struct msg_job msg_job;

/* Per-session chat state, created on the first message write: the token
 * bucket, and the sequence that keeps a session's writes in order. Nakama
 * handles a socket's envelopes one at a time; here persisted writes run on
 * several workers, so a write that finishes early waits (held) until the
 * earlier ones of its session are delivered. Entries of closed sessions
 * with nothing in flight are swept when the map outgrows the live session
 * count. */
typedef struct chat_sess {
    char sid[37];
    tomo_bucket bucket;   /* chat.messages_per_sec / chat.burst */
    uint64_t next_seq;    /* given to the next write */
    uint64_t deliver_seq; /* the write whose turn it is */
    msg_job *held;        /* finished writes waiting for their turn, by seq */
} chat_sess;


static tomo_metric *m_sent(void)
{
    return tomo_metrics_counter("chat_messages_sent_total",
                                "Chat messages sent on channels, by persistence", "persistent");
}

static void sweep_sessions(tomo_rt *rt)
{
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&rt->chat_sessions, i, &k, &v)) != 0;) {
        chat_sess *cs = v;
        if (cs->next_seq == cs->deliver_seq && !tomo_rt_session_find(rt, k)) {
            tomo_hmap_del(&rt->chat_sessions, k);
            free(cs);
        }
    }
}

static chat_sess *sess_of(tomo_rt_session *s)
{
    tomo_hmap *m = &s->rt->chat_sessions;
    chat_sess *cs = tomo_hmap_get(m, s->id);
    if (!cs) {
        if (m->count >= 64 && m->count > 2 * tomo_rt_session_count(s->rt))
            sweep_sessions(s->rt);
        cs = tomo_xcalloc(1, sizeof(*cs));
        memcpy(cs->sid, s->id, sizeof(cs->sid));
        tomo_bucket_init(&cs->bucket, s->rt->cfg->chat.burst,
                         (int64_t)(tomo_mono_ns() / 1000000));
        tomo_hmap_put(m, cs->sid, cs);
    }
    return cs;
}

/* Take one token from the session's bucket (core/ratelimit.h): 1 when
 * allowed. A rate of 0 turns the limit off. */
static int rate_take(const tomo_config *cfg, chat_sess *cs)
{
    if (tomo_bucket_take(&cs->bucket, cfg->chat.messages_per_sec, cfg->chat.burst,
                         (int64_t)(tomo_mono_ns() / 1000000), NULL) == 0)
        return 1;
    tomo_ratelimit_count_refusal(TOMO_RL_CHAT);
    return 0;
}

/* ---- helpers ---- */

static tomo_stream stream_of(const tomo_chat_channel *c)
{
    tomo_stream st = {c->mode, c->subject, c->subcontext, c->label};
    return st;
}

static tomo_tracker *tracker(tomo_rt *rt) { return (rt)->tracker; }

/* The channel payload of a join reply. Nakama lists the visible presences
 * without the joiner on a first join, and with it (when visible) when the
 * session had already joined (is_new 0). */
static json_t *channel_json(tomo_rt *rt, const tomo_chat_channel *c, tomo_rt_session *self,
                            const tomo_presence *mine, int is_new)
{
    char id[TOMO_CHAT_ID_MAX];
    tomo_chat_id_format(c, id);
    tomo_stream st = stream_of(c);
    json_t *others = json_array();
    for (tomo_presence *p = tomo_tracker_first(tracker(rt), &st); p; p = tomo_presence_next(p))
        if ((!is_new || p->session != self) && !p->hidden)
            json_array_append_new(others, tomo_presence_json(p));
    json_t *ch = json_pack("{s:s}", "id", id);
    if (json_array_size(others))
        json_object_set(ch, "presences", others);
    json_decref(others);
    json_t *me = tomo_rt_session_presence_json(self);
    if (mine && mine->persistence)
        json_object_set_new(me, "persistence", json_true());
    json_object_set_new(ch, "self", me);
    tomo_chat_set_target(c, ch);
    return ch;
}

/* channel_presence_event to every session on a channel stream. */
static void on_channel_event(tomo_rt *rt, const tomo_stream *st, json_t *joins,
                             json_t *leaves, void *ud)
{
    (void)ud;
    tomo_chat_channel c;
    memset(&c, 0, sizeof(c));
    c.mode = st->mode;
    snprintf(c.subject, sizeof(c.subject), "%s", st->subject ? st->subject : "");
    snprintf(c.subcontext, sizeof(c.subcontext), "%s", st->subcontext ? st->subcontext : "");
    snprintf(c.label, sizeof(c.label), "%s", st->label ? st->label : "");
    char id[TOMO_CHAT_ID_MAX];
    tomo_chat_id_format(&c, id);
    json_t *ev = json_pack("{s:s}", "channel_id", id);
    if (json_array_size(joins))
        json_object_set(ev, "joins", joins);
    if (json_array_size(leaves))
        json_object_set(ev, "leaves", leaves);
    tomo_chat_set_target(&c, ev);
    tomo_tracker_broadcast(tracker(rt), st, json_pack("{s:o}", "channel_presence_event", ev),
                           NULL);
}

/* ---- channel_join ---- */

typedef struct join_job {
    tomo_chat_channel ch;
    int persistence, hidden;
    char user_id[37], peer_id[37];
    char *username;
    int notify;         /* store the DM request (peer absent at request time) */
    int rc;             /* worker result: 0 allowed, TOMO_ENOTFOUND, store error */
    json_t *notification; /* stored DM request, pushed on the loop */
} join_job;

/* Track the session and reply with the channel. */
static int join_finish(tomo_rt_req *req, const tomo_chat_channel *c, int persistence, int hidden)
{
    tomo_stream st = stream_of(c);
    int is_new = tomo_tracker_get(tracker(req->rt), req->session, &st) == NULL;
    tomo_tracker_track(tracker(req->rt), req->session, &st, persistence, hidden, NULL);
    const tomo_presence *mine = tomo_tracker_get(tracker(req->rt), req->session, &st);
    return tomo_rt_reply(req, "channel", channel_json(req->rt, c, req->session, mine, is_new));
}

/* Worker: a group channel needs membership; a DM's target must exist and
 * must not have blocked the caller (user_edge state 3 from the target to the
 * caller). */
static void join_check_work(tomo_rt_req *req, void *arg)
{
    join_job *j = arg;
    tomo_dbconn *conn = NULL;
    tomo_dbres *r = NULL;
    j->rc = tomo_db_acquire(req->rt->db, &conn);
    if (j->rc < 0)
        goto out;
    if (j->ch.mode == TOMO_CHAT_GROUP) {
        j->rc = tomo_chat_group_check(conn, j->ch.subject, j->user_id);
        goto out;
    }
    tomo_dbval p[] = {TOMO_DBTEXT(j->peer_id), TOMO_DBTEXT(j->user_id)};
    j->rc = tomo_db_exec(conn,
                         "SELECT COUNT(*) FROM users WHERE id = $1 AND NOT EXISTS ("
                         "SELECT 1 FROM user_edge WHERE source_id = $1 AND destination_id = $2 "
                         "AND state = 3)",
                         p, 2, &r);
    if (j->rc < 0)
        goto out;
    if (tomo_dbres_int(r, 0, 0) == 0) {
        j->rc = TOMO_ENOTFOUND;
        goto out;
    }
    if (j->notify) {
        /* Nakama's DM request: code -1, sent by the caller, content names
         * them. A failure here does not fail the join. */
        json_t *content = json_pack("{s:s}", "username", j->username);
        char *text = json_dumps(content, JSON_COMPACT);
        char *subject = tomo_xasprintf("%s wants to chat", j->username);
        if (tomo_notify_store(conn, j->peer_id, subject, text, TOMO_NOTIFY_DM_REQUEST, j->user_id,
                              1, &j->notification) < 0)
            TOMO_LOGW("chat", "DM request notification not stored user=%s", j->peer_id);
        free(subject);
        free(text);
        json_decref(content);
    }
out:
    tomo_dbres_free(r);
    tomo_db_release(conn);
}

static void join_check_done(tomo_rt_req *req, void *arg)
{
    join_job *j = arg;
    int group = j->ch.mode == TOMO_CHAT_GROUP;
    if (j->notification)
        tomo_notify_push(req->rt->svc, j->peer_id, j->notification);
    if (j->rc == TOMO_ENOTFOUND)
        tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s not found: Invalid channel target",
                            group ? "Group" : "User ID");
    else if (j->rc < 0)
        tomo_rt_reply_error(req, TOMO_RT_ERR_RUNTIME_EXCEPTION, "Failed to look up %s",
                            group ? "group membership" : "user ID");
    else if (tomo_rt_session_alive(req->session))
        join_finish(req, &j->ch, j->persistence, j->hidden);
    json_decref(j->notification);
    free(j->username);
    free(j);
}

/* Run the join's database check; the reply comes from join_check_done. */
static int join_check(tomo_rt_req *req, join_job *j)
{
    int rc = tomo_rt_async(req, join_check_work, join_check_done, j);
    if (rc != TOMO_RT_ASYNC) {
        free(j->username);
        free(j);
    }
    return rc;
}

static int h_channel_join(tomo_rt_req *req)
{
    json_t *b = req->body;
    const char *target = json_string_value(json_object_get(b, "target"));
    json_t *jtype = json_object_get(b, "type");
    int type = jtype ? (int)json_integer_value(jtype) : 0;
    /* BoolValue wrappers (canonical input: a bool when present) */
    int persistence, hidden;
    tomo_field_bool(b, "persistence", 1, &persistence, NULL, 0);
    tomo_field_bool(b, "hidden", 0, &hidden, NULL, 0);
    tomo_chat_channel c;
    if (!target || !*target)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid channel target");
    switch (type) {
    case 0:
    case 1: {
        const char *why = tomo_chat_room_init(&c, target);
        if (why)
            return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s", why);
        return join_finish(req, &c, persistence, hidden);
    }
    case 2: {
        if (!tomo_uuid_valid(target) || !strcmp(target, TOMO_SYSTEM_USER_ID))
            return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                       "Invalid user ID in direct message join: Invalid channel "
                                       "target");
        join_job *j = tomo_xcalloc(1, sizeof(*j));
        tomo_chat_dm_init(&j->ch, req->session->user_id, target);
        j->persistence = persistence;
        j->hidden = hidden;
        memcpy(j->user_id, req->session->user_id, sizeof(j->user_id));
        /* the other user (lower-case, from the channel) */
        memcpy(j->peer_id, strcmp(j->ch.subject, j->user_id) ? j->ch.subject : j->ch.subcontext,
               sizeof(j->peer_id));
        j->username = tomo_xstrdup(req->session->username ? req->session->username : "");
        /* Nakama sends the request on a first join while the peer is not in
         * the channel (never to oneself); decided here, where the presences
         * are. */
        tomo_stream st = stream_of(&j->ch);
        if (strcmp(j->peer_id, j->user_id) != 0 &&
            !tomo_tracker_get(tracker(req->rt), req->session, &st)) {
            j->notify = 1;
            for (tomo_presence *p = tomo_tracker_first(tracker(req->rt), &st); p;
                 p = tomo_presence_next(p))
                if (!strcmp(p->session->user_id, j->peer_id))
                    j->notify = 0;
        }
        return join_check(req, j);
    }
    case 3: {
        if (!tomo_uuid_valid(target))
            return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                       "Invalid group ID in group channel join: Invalid channel "
                                       "target");
        join_job *j = tomo_xcalloc(1, sizeof(*j));
        j->ch.mode = TOMO_CHAT_GROUP;
        for (int i = 0; i < 36; i++)
            j->ch.subject[i] = (char)tolower((unsigned char)target[i]);
        j->persistence = persistence;
        j->hidden = hidden;
        memcpy(j->user_id, req->session->user_id, sizeof(j->user_id));
        return join_check(req, j);
    }
    default:
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid channel type");
    }
}

/* ---- channel_leave ---- */

static int h_channel_leave(tomo_rt_req *req)
{
    const char *id = json_string_value(json_object_get(req->body, "channel_id"));
    tomo_chat_channel c;
    if (tomo_chat_id_parse(id, &c) < 0)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid channel identifier");
    tomo_stream st = stream_of(&c);
    tomo_tracker_untrack(tracker(req->rt), req->session, &st);
    return tomo_rt_reply(req, NULL, NULL);
}

/* ---- messages: send, update, remove ---- */

struct msg_job {
    int code; /* TOMO_CHAT_CODE_* */
    tomo_chat_channel ch;
    char *channel_id, *content, *username;
    char message_id[37], sender_id[37], sid[37];
    int64_t create_ms, update_ms;
    int persist;
    int rc;               /* outcome: 0, TOMO_ENOTFOUND, a store error */
    uint64_t seq;         /* order among the session's writes */
    /* set while held: the reply goes out without the request */
    tomo_rt_session *session;
    char *cid;
    msg_job *next;
};

static void msg_job_free(msg_job *j)
{
    if (j->session)
        tomo_rt_session_release(j->session);
    free(j->cid);
    free(j->channel_id);
    free(j->content);
    free(j->username);
    free(j);
}

/* Reply to the writer: through the request while it lives, else straight
 * to the (held) session with the saved cid. payload is stolen. */
static void reply(msg_job *j, tomo_rt_req *req, const char *type, json_t *payload)
{
    if (req) {
        tomo_rt_reply(req, type, payload);
        return;
    }
    json_t *env = json_object();
    if (j->cid)
        json_object_set_new(env, "cid", json_string(j->cid));
    json_object_set_new(env, type, payload);
    if (tomo_rt_session_alive(j->session))
        tomo_rt_session_send(j->session, env);
    json_decref(env);
}

static void reply_error(msg_job *j, tomo_rt_req *req, int code, const char *msg)
{
    if (req) {
        tomo_rt_reply_error(req, code, "%s", msg);
        return;
    }
    json_t *env = tomo_rt_error_envelope(j->cid, code, msg);
    if (tomo_rt_session_alive(j->session))
        tomo_rt_session_send(j->session, env);
    json_decref(env);
}

/* Deliver one finished write: push the message to the channel, then ack
 * the writer; or tell the writer why it failed. */
static void msg_deliver(tomo_rt *rt, msg_job *j, tomo_rt_req *req)
{
    static const char *const verb[] = {"", "update", "remove"};
    char err[128];
    if (j->rc == TOMO_ENOTFOUND) {
        snprintf(err, sizeof(err), "Could not find message to %s in channel history",
                 verb[j->code]);
        reply_error(j, req, TOMO_RT_ERR_BAD_INPUT, err);
        return;
    }
    if (j->rc < 0) {
        snprintf(err, sizeof(err), "Could not persist message%s%s to channel history",
                 j->code ? " " : "", verb[j->code]);
        reply_error(j, req, TOMO_RT_ERR_RUNTIME_EXCEPTION, err);
        return;
    }
    json_t *m = tomo_chat_message_json(&j->ch, j->channel_id, j->message_id, j->code, j->sender_id,
                                       j->username, j->content, j->create_ms, j->update_ms,
                                       j->persist);
    tomo_stream st = stream_of(&j->ch);
    json_t *menv = json_pack("{s:o}", "channel_message", m);
    tomo_rt_route_stream(rt, &st, menv, NULL); /* members on other loops and nodes too */
    json_decref(menv);
    if (j->code == TOMO_CHAT_CODE_CHAT)
        tomo_metric_add(m_sent(), (const char *[]){j->persist ? "true" : "false"}, 1);
    reply(j, req, "channel_message_ack",
          tomo_chat_ack_json(&j->ch, j->channel_id, j->message_id, j->code, j->username,
                             j->create_ms, j->update_ms, j->persist));
}

/* A write finished (req is its live request). Deliver it if it is its
 * session's turn, then any held successors; otherwise hold it. */
static void msg_finish(tomo_rt *rt, msg_job *j, tomo_rt_req *req)
{
    chat_sess *cs = tomo_hmap_get(&rt->chat_sessions, j->sid);
    if (cs && j->seq != cs->deliver_seq) {
        j->cid = req->cid ? tomo_xstrdup(req->cid) : NULL;
        j->session = req->session;
        tomo_rt_session_hold(j->session);
        req->replied = 1;
        msg_job **pp = &cs->held;
        while (*pp && (*pp)->seq < j->seq)
            pp = &(*pp)->next;
        j->next = *pp;
        *pp = j;
        return;
    }
    msg_deliver(rt, j, req);
    msg_job_free(j);
    if (!cs)
        return;
    cs->deliver_seq++;
    while (cs->held && cs->held->seq == cs->deliver_seq) {
        msg_job *h = cs->held;
        cs->held = h->next;
        msg_deliver(rt, h, NULL);
        msg_job_free(h);
        cs->deliver_seq++;
    }
}

static void msg_work(tomo_rt_req *req, void *arg)
{
    msg_job *j = arg;
    tomo_dbconn *conn = NULL;
    j->rc = tomo_db_acquire(req->rt->db, &conn);
    if (j->rc < 0)
        goto out;
    switch (j->code) {
    case TOMO_CHAT_CODE_CHAT:
        j->rc = tomo_chat_message_insert(conn, &j->ch, j->message_id, j->code, j->sender_id,
                                         j->username, j->content, j->create_ms);
        break;
    case TOMO_CHAT_CODE_UPDATE:
        j->rc = tomo_chat_message_update(conn, &j->ch, j->message_id, j->sender_id, j->username,
                                         j->content, j->update_ms, &j->create_ms);
        break;
    default:
        j->rc = tomo_chat_message_remove(conn, &j->ch, j->message_id, j->sender_id,
                                         &j->create_ms);
        break;
    }
out:
    tomo_db_release(conn);
}

static void msg_done(tomo_rt_req *req, void *arg) { msg_finish(req->rt, arg, req); }

/* Shared checks and dispatch of send (code 0), update (1) and remove (2). */
static int handle_message(tomo_rt_req *req, int code)
{
    static const char *const verb[] = {"sending", "updating", "removing"};
    tomo_rt_session *s = req->session;
    const tomo_config *cfg = req->rt->cfg;
    const char *channel_id = json_string_value(json_object_get(req->body, "channel_id"));
    const char *message_id = json_string_value(json_object_get(req->body, "message_id"));
    const char *content = json_string_value(json_object_get(req->body, "content"));
    tomo_chat_channel c;

    if (code != TOMO_CHAT_CODE_CHAT && (!message_id || !tomo_uuid_valid(message_id)))
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid message identifier");
    if (tomo_chat_id_parse(channel_id, &c) < 0)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid channel identifier");
    if (code == TOMO_CHAT_CODE_REMOVE) {
        content = "{}";
    } else {
        if (content && strlen(content) > (size_t)cfg->chat.max_message_bytes)
            return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                       "Message content is too large: the limit "
                                       "chat.max_message_bytes is %d bytes",
                                       cfg->chat.max_message_bytes);
        if (!tomo_chat_content_ok(content))
            return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                       "Message content must be a valid JSON object");
    }
    tomo_stream st = stream_of(&c);
    const tomo_presence *mine = tomo_tracker_get(tracker(req->rt), s, &st);
    if (!mine)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Must join channel before %s messages", verb[code]);
    chat_sess *cs = sess_of(s);
    if (!rate_take(cfg, cs))
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Chat rate limit exceeded: chat.messages_per_sec is %d "
                                   "(chat.burst %d)",
                                   cfg->chat.messages_per_sec, cfg->chat.burst);

    msg_job *j = tomo_xcalloc(1, sizeof(*j));
    j->code = code;
    j->ch = c;
    j->channel_id = tomo_xstrdup(channel_id);
    j->content = tomo_xstrdup(content);
    j->username = tomo_xstrdup(s->username ? s->username : "");
    memcpy(j->sender_id, s->user_id, sizeof(j->sender_id));
    memcpy(j->sid, s->id, sizeof(j->sid));
    j->persist = mine->persistence;
    if (code == TOMO_CHAT_CODE_CHAT) {
        /* The id carries the time: history order is send order. */
        j->create_ms = j->update_ms = tomo_uuid_v7(j->message_id);
    } else {
        snprintf(j->message_id, sizeof(j->message_id), "%s", message_id);
        for (char *p = j->message_id; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p + 32);
        j->create_ms = j->update_ms = tomo_now_ms();
    }
    j->seq = cs->next_seq++;
    if (!j->persist) {
        /* Not kept: nothing to store or check (Nakama does the same). */
        msg_finish(req->rt, j, req);
        return 0;
    }
    int rc = tomo_rt_async(req, msg_work, msg_done, j);
    if (rc != TOMO_RT_ASYNC) {
        /* Not queued (the client was told): give its turn back. */
        j->rc = TOMO_EAGAIN;
        j->cid = NULL;
        msg_job_free(j);
        cs->next_seq--;
    }
    return rc;
}

static int h_message_send(tomo_rt_req *req) { return handle_message(req, TOMO_CHAT_CODE_CHAT); }
static int h_message_update(tomo_rt_req *req) { return handle_message(req, TOMO_CHAT_CODE_UPDATE); }
static int h_message_remove(tomo_rt_req *req) { return handle_message(req, TOMO_CHAT_CODE_REMOVE); }

void tomo_rt_channel_free(tomo_rt *rt)
{
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&rt->chat_sessions, i, NULL, &v)) != 0;)
        free(v);
    tomo_hmap_free(&rt->chat_sessions);
}

void tomo_rt_channel_init(tomo_rt *rt)
{
    tomo_tracker *t = tracker(rt);
    tomo_tracker_listen(t, TOMO_STREAM_CHANNEL, on_channel_event, NULL);
    tomo_tracker_listen(t, TOMO_STREAM_GROUP, on_channel_event, NULL);
    tomo_tracker_listen(t, TOMO_STREAM_DM, on_channel_event, NULL);
    tomo_rt_register(rt, "channel_join", h_channel_join);
    tomo_rt_register(rt, "channel_leave", h_channel_leave);
    tomo_rt_register(rt, "channel_message_send", h_message_send);
    tomo_rt_register(rt, "channel_message_update", h_message_update);
    tomo_rt_register(rt, "channel_message_remove", h_message_remove);
    m_sent();
}
