/* rt/party.c: parties (Nakama's party_* envelopes).
 * Owns: struct parties (hung on tomo_rt.party: party id -> party) and each
 *       party: open flag, max size, leader, pending join requests. Members
 *       are the presences on the party's tracker stream (mode 7, subject =
 *       the uuid, label = the node), oldest first; the stream's join/leave
 *       events (rt/tracker.h) drive party_presence_event, the `party`
 *       message to joiners, leader hand-over and the cancelling of the
 *       party's matchmaker tickets, whatever caused them (a leave, a kick,
 *       a closed socket).
 * Borrows: the tracker, sessions, the matchmaker (rt/matchmaker_rt.c).
 * Threads: loop thread only. */
#define _GNU_SOURCE
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/log.h"
#include "envelope.h"
#include "matchmaker.h"
#include "rt_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct req_presence {
    char user_id[37], session_id[37];
    char *username;
} req_presence;

typedef struct party {
    char id[128]; /* "<uuid>.<node>", the map key */
    char uuid[37];
    int open, max_size;
    char leader_sid[37];
    json_t *leader;       /* UserPresence {user_id, session_id, username} */
    char initial_sid[37]; /* the creator: gets no `party` message on its join */
    req_presence *reqs;
    size_t nreqs, reqcap;
} party;

typedef struct parties {
    tomo_hmap byid;
} parties;

static parties *parties_of(tomo_rt *rt) { return (rt)->party; }

static const char *node_name(tomo_rt *rt)
{
    return rt->cfg->name && *rt->cfg->name ? rt->cfg->name : "nakama";
}

static tomo_stream party_stream(tomo_rt *rt, const char *uuid)
{
    tomo_stream st = {TOMO_STREAM_PARTY, uuid, NULL, node_name(rt)};
    return st;
}

static void party_free(party *p)
{
    json_decref(p->leader);
    for (size_t i = 0; i < p->nreqs; i++)
        free(p->reqs[i].username);
    free(p->reqs);
    free(p);
}

static void party_destroy(tomo_rt *rt, party *p)
{
    tomo_hmap_del(&parties_of(rt)->byid, p->id);
    tomo_rt_mm_remove_party(rt, p->id);
    party_free(p);
}

/* Resolve a party id: 0 and *out (NULL when unknown or on another node), or
 * TOMO_EINVAL for a malformed id ("Invalid party ID" already sent). */
static int lookup(tomo_rt_req *req, const char *id, party **out)
{
    *out = NULL;
    const char *dot = id ? strchr(id, '.') : NULL;
    char uuid[37];
    if (!dot || dot - id != 36) {
        tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid party ID");
        return TOMO_EINVAL;
    }
    memcpy(uuid, id, 36);
    uuid[36] = '\0';
    if (!tomo_uuid_valid(uuid)) {
        tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid party ID");
        return TOMO_EINVAL;
    }
    for (int i = 0; i < 36; i++)
        if (uuid[i] >= 'A' && uuid[i] <= 'F')
            uuid[i] = (char)(uuid[i] + 32);
    if (strcmp(dot + 1, node_name(req->rt)))
        return 0;
    char key[128];
    snprintf(key, sizeof(key), "%s.%s", uuid, dot + 1);
    *out = tomo_hmap_get(&parties_of(req->rt)->byid, key);
    return 0;
}

static const char *party_id_of(tomo_rt_req *req)
{
    return json_string_value(json_object_get(req->body, "party_id"));
}

/* The `presence` argument: user_id, session_id and username all set. */
static json_t *presence_arg(tomo_rt_req *req)
{
    json_t *p = json_object_get(req->body, "presence");
    const char *u = json_string_value(json_object_get(p, "user_id"));
    const char *s = json_string_value(json_object_get(p, "session_id"));
    const char *n = json_string_value(json_object_get(p, "username"));
    if (!u || !*u || !s || !*s || !n || !*n)
        return NULL;
    return p;
}

static int same_presence(json_t *a, const char *uid, const char *sid, const char *name)
{
    return !strcmp(json_string_value(json_object_get(a, "user_id")), uid) &&
           !strcmp(json_string_value(json_object_get(a, "session_id")), sid) &&
           !strcmp(json_string_value(json_object_get(a, "username")), name);
}

/* A member matching user id, session id and username, or NULL. */
static tomo_presence *find_member(tomo_rt *rt, party *p, json_t *who)
{
    tomo_stream st = party_stream(rt, p->uuid);
    for (tomo_presence *m = tomo_tracker_first((rt)->tracker, &st); m;
         m = tomo_presence_next(m)) {
        tomo_rt_session *s = m->session;
        if (same_presence(who, s->user_id, s->id, s->username ? s->username : ""))
            return m;
    }
    return NULL;
}

static int is_leader(const party *p, const tomo_rt_session *s)
{
    return !strcmp(p->leader_sid, s->id);
}

static size_t member_count(tomo_rt *rt, const party *p)
{
    tomo_stream st = party_stream(rt, p->uuid);
    return tomo_tracker_count((rt)->tracker, &st);
}

static void set_leader(party *p, const tomo_rt_session *s)
{
    memcpy(p->leader_sid, s->id, 37);
    json_decref(p->leader);
    p->leader = tomo_rt_session_presence_json(s);
}

/* single_party: leave every other party first. */
static void single_party(tomo_rt_req *req, const tomo_stream *keep)
{
    if (req->rt->cfg->session.single_party)
        tomo_tracker_untrack_mode((req->rt)->tracker, req->session, TOMO_STREAM_PARTY,
                                  keep);
}

/* Members may live on other loops (their ghosts): parties run on the home
 * loop (rt/route.h tomo_rt_owner_of), which answers them through the
 * routing. */
static void send_to(tomo_rt *rt, const char *session_id, json_t *env)
{
    tomo_rt_session *s = tomo_rt_route_reach(rt, session_id);
    if (s)
        tomo_rt_session_send(s, env);
}

/* To every member wherever it is; env stolen. */
static void route(tomo_rt *rt, const tomo_stream *st, json_t *env, const tomo_rt_session *skip)
{
    tomo_rt_route_stream(rt, st, env, skip);
    json_decref(env);
}

/* ---- stream events ---- */

static void on_party_event(tomo_rt *rt, const tomo_stream *st, json_t *joins, json_t *leaves,
                           void *ud)
{
    (void)ud;
    tomo_tracker *t = (rt)->tracker;
    char id[128];
    snprintf(id, sizeof(id), "%s.%s", st->subject, st->label);
    party *p = tomo_hmap_get(&parties_of(rt)->byid, id);
    if (p && json_array_size(joins)) {
        /* Each joiner but the creator gets the party, all members listed. */
        json_t *all = tomo_tracker_list_json(t, st, 1);
        size_t i;
        json_t *j;
        json_array_foreach (joins, i, j) {
            const char *sid = json_string_value(json_object_get(j, "session_id"));
            if (!sid || !strcmp(sid, p->initial_sid))
                continue;
            json_t *msg = json_pack("{s:s,s:b,s:i,s:O,s:O,s:O}", "party_id", p->id, "open", p->open,
                                    "max_size", p->max_size, "self", j, "leader", p->leader,
                                    "presences", all);
            json_t *env = json_pack("{s:o}", "party", msg);
            send_to(rt, sid, env);
            json_decref(env);
        }
        json_decref(all);
        p->initial_sid[0] = '\0';
    }
    /* Everyone on the stream, joiners included. */
    json_t *ev = json_pack("{s:s}", "party_id", id);
    if (json_array_size(joins))
        json_object_set(ev, "joins", joins);
    if (json_array_size(leaves))
        json_object_set(ev, "leaves", leaves);
    tomo_tracker_broadcast(t, st, json_pack("{s:o}", "party_presence_event", ev), NULL);
    if (!p) {
        /* Another node's party (or one gone): the matchmaker node holds its
         * tickets, which its membership change cancels here too. */
        tomo_rt_mm_remove_party(rt, id);
        return;
    }
    if (json_array_size(leaves)) {
        size_t i;
        json_t *l;
        int leader_left = 0;
        json_array_foreach (leaves, i, l) {
            const char *sid = json_string_value(json_object_get(l, "session_id"));
            if (sid && !strcmp(sid, p->leader_sid))
                leader_left = 1;
        }
        tomo_presence *oldest = tomo_tracker_first(t, st);
        if (!oldest) {
            party_destroy(rt, p); /* the last member left */
            return;
        }
        if (leader_left) {
            set_leader(p, oldest->session);
            json_t *pl = json_pack("{s:s,s:O}", "party_id", p->id, "presence", p->leader);
            route(rt, st, json_pack("{s:o}", "party_leader", pl), NULL);
        }
    }
    /* Membership changed: the party's tickets no longer describe it. */
    tomo_rt_mm_remove_party(rt, p->id);
}

/* ---- handlers ---- */

static int h_party_create(tomo_rt_req *req)
{
    json_int_t max = json_integer_value(json_object_get(req->body, "max_size"));
    if (max < 0 || max > 256)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Invalid party max size, must be 1-256");
    party *p = tomo_xcalloc(1, sizeof(*p));
    tomo_uuid_v4(p->uuid);
    snprintf(p->id, sizeof(p->id), "%s.%s", p->uuid, node_name(req->rt));
    p->open = json_is_true(json_object_get(req->body, "open"));
    p->max_size = (int)max;
    set_leader(p, req->session);
    memcpy(p->initial_sid, req->session->id, 37);
    tomo_hmap_put(&parties_of(req->rt)->byid, p->id, p);
    tomo_stream st = party_stream(req->rt, p->uuid);
    single_party(req, NULL);
    tomo_tracker_track((req->rt)->tracker, req->session, &st, 0, 0, NULL);
    json_t *self = tomo_rt_session_presence_json(req->session);
    json_t *msg = json_pack("{s:s,s:b,s:i,s:O,s:O,s:[O]}", "party_id", p->id, "open", p->open,
                            "max_size", p->max_size, "self", self, "leader", self, "presences",
                            self);
    json_decref(self);
    return tomo_rt_reply(req, "party", msg);
}

static int h_party_join(tomo_rt_req *req)
{
    party *p;
    if (lookup(req, party_id_of(req), &p) < 0)
        return TOMO_EINVAL;
    if (!p)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Error joining party: party not found");
    tomo_tracker *t = (req->rt)->tracker;
    tomo_stream st = party_stream(req->rt, p->uuid);
    tomo_rt_session *s = req->session;
    if (tomo_tracker_get(t, s, &st))
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Error joining party: party join request already member");
    for (size_t i = 0; i < p->nreqs; i++)
        if (!strcmp(p->reqs[i].session_id, s->id))
            return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                       "Error joining party: party join request duplicate");
    if (member_count(req->rt, p) >= (size_t)p->max_size)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Error joining party: party full");
    if (p->open) {
        single_party(req, &st);
        tomo_tracker_track(t, s, &st, 0, 0, NULL);
        return tomo_rt_reply(req, NULL, NULL);
    }
    if (p->nreqs >= (size_t)p->max_size)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Error joining party: party join requests full");
    if (p->nreqs == p->reqcap) {
        p->reqcap = p->reqcap ? p->reqcap * 2 : 4;
        req_presence *nr = tomo_xmalloc(p->reqcap * sizeof(*nr));
        if (p->nreqs)
            memcpy(nr, p->reqs, p->nreqs * sizeof(*nr));
        free(p->reqs);
        p->reqs = nr;
    }
    req_presence *r = &p->reqs[p->nreqs++];
    memcpy(r->user_id, s->user_id, 37);
    memcpy(r->session_id, s->id, 37);
    r->username = tomo_xstrdup(s->username ? s->username : "");
    int rc = tomo_rt_reply(req, NULL, NULL);
    /* The leader hears of the request. */
    json_t *env = json_pack("{s:{s:s,s:[o]}}", "party_join_request", "party_id", p->id, "presences",
                            tomo_rt_session_presence_json(s));
    send_to(req->rt, p->leader_sid, env);
    json_decref(env);
    return rc;
}

static int h_party_leave(tomo_rt_req *req)
{
    party *p;
    if (lookup(req, party_id_of(req), &p) < 0)
        return TOMO_EINVAL;
    if (p) {
        tomo_stream st = party_stream(req->rt, p->uuid);
        tomo_tracker_untrack((req->rt)->tracker, req->session, &st);
    }
    return tomo_rt_reply(req, NULL, NULL);
}

/* Common head of the leader-only operations taking a presence. */
static int leader_op(tomo_rt_req *req, const char *prefix, int needs_presence, party **pp,
                     json_t **who)
{
    if (needs_presence && !(*who = presence_arg(req))) {
        tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid presence");
        return TOMO_EINVAL;
    }
    if (lookup(req, party_id_of(req), pp) < 0)
        return TOMO_EINVAL;
    if (!*pp) {
        tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party not found", prefix);
        return TOMO_EINVAL;
    }
    if (!is_leader(*pp, req->session)) {
        tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party leader only", prefix);
        return TOMO_EINVAL;
    }
    return 0;
}

static int h_party_promote(tomo_rt_req *req)
{
    static const char pfx[] = "Error promoting new party leader";
    party *p;
    json_t *who = NULL;
    if (leader_op(req, pfx, 1, &p, &who) < 0)
        return TOMO_EINVAL;
    tomo_presence *m = find_member(req->rt, p, who);
    if (!m)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party member not found", pfx);
    set_leader(p, m->session);
    int rc = tomo_rt_reply(req, NULL, NULL);
    tomo_stream st = party_stream(req->rt, p->uuid);
    json_t *pl = json_pack("{s:s,s:O}", "party_id", p->id, "presence", p->leader);
    route(req->rt, &st, json_pack("{s:o}", "party_leader", pl), NULL);
    return rc;
}

static int h_party_accept(tomo_rt_req *req)
{
    static const char pfx[] = "Error accepting party join request";
    party *p;
    json_t *who = NULL;
    if (leader_op(req, pfx, 1, &p, &who) < 0)
        return TOMO_EINVAL;
    if (member_count(req->rt, p) >= (size_t)p->max_size)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party full", pfx);
    size_t i;
    for (i = 0; i < p->nreqs; i++)
        if (same_presence(who, p->reqs[i].user_id, p->reqs[i].session_id, p->reqs[i].username))
            break;
    if (i == p->nreqs)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party join request not found",
                                   pfx);
    tomo_rt_session *s = tomo_rt_route_reach(req->rt, p->reqs[i].session_id);
    free(p->reqs[i].username);
    memmove(&p->reqs[i], &p->reqs[i + 1], (p->nreqs - i - 1) * sizeof(*p->reqs));
    p->nreqs--;
    if (!s)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party could not accept request",
                                   pfx);
    tomo_stream st = party_stream(req->rt, p->uuid);
    if (req->rt->cfg->session.single_party)
        tomo_tracker_untrack_mode((req->rt)->tracker, s, TOMO_STREAM_PARTY, &st);
    tomo_tracker_track((req->rt)->tracker, s, &st, 0, 0, NULL);
    return tomo_rt_reply(req, NULL, NULL);
}

static int h_party_remove(tomo_rt_req *req)
{
    static const char pfx[] = "Error removing party member or join request";
    party *p;
    json_t *who = NULL;
    if (leader_op(req, pfx, 1, &p, &who) < 0)
        return TOMO_EINVAL;
    if (same_presence(who, req->session->user_id, req->session->id,
                      req->session->username ? req->session->username : ""))
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party cannot remove self", pfx);
    tomo_presence *m = find_member(req->rt, p, who);
    if (!m) {
        for (size_t i = 0; i < p->nreqs; i++)
            if (same_presence(who, p->reqs[i].user_id, p->reqs[i].session_id,
                              p->reqs[i].username)) {
                /* A rejected request: the requester is not told. */
                free(p->reqs[i].username);
                memmove(&p->reqs[i], &p->reqs[i + 1], (p->nreqs - i - 1) * sizeof(*p->reqs));
                p->nreqs--;
                return tomo_rt_reply(req, NULL, NULL);
            }
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: party member not found", pfx);
    }
    tomo_rt_session *s = m->session;
    tomo_rt_session_hold(s);
    tomo_stream st = party_stream(req->rt, p->uuid);
    tomo_tracker_untrack((req->rt)->tracker, s, &st);
    int rc = tomo_rt_reply(req, NULL, NULL);
    json_t *env = json_pack("{s:{s:s}}", "party_close", "party_id", p->id);
    if (tomo_rt_session_reachable(s))
        tomo_rt_session_send(s, env);
    json_decref(env);
    tomo_rt_session_release(s);
    return rc;
}

static int h_party_close(tomo_rt_req *req)
{
    party *p;
    if (leader_op(req, "Error closing party", 0, &p, NULL) < 0)
        return TOMO_EINVAL;
    tomo_rt *rt = req->rt;
    tomo_tracker *t = (rt)->tracker;
    tomo_stream st = party_stream(rt, p->uuid);
    int rc = tomo_rt_reply(req, NULL, NULL);
    route(rt, &st, json_pack("{s:{s:s}}", "party_close", "party_id", p->id), NULL);
    /* Drop the party first: the members' leaves then find no party. */
    char uuid[37];
    memcpy(uuid, p->uuid, 37);
    party_destroy(rt, p);
    st = party_stream(rt, uuid);
    tomo_presence *m;
    while ((m = tomo_tracker_first(t, &st)) != NULL)
        tomo_tracker_untrack(t, m->session, &st);
    return rc;
}

static int h_party_join_request_list(tomo_rt_req *req)
{
    party *p;
    if (leader_op(req, "Error listing party join requests", 0, &p, NULL) < 0)
        return TOMO_EINVAL;
    json_t *list = json_array();
    for (size_t i = 0; i < p->nreqs; i++) {
        json_t *pr = json_pack("{s:s,s:s}", "user_id", p->reqs[i].user_id, "session_id",
                               p->reqs[i].session_id);
        if (*p->reqs[i].username)
            json_object_set_new(pr, "username", json_string(p->reqs[i].username));
        json_array_append_new(list, pr);
    }
    json_t *msg = json_pack("{s:s}", "party_id", party_id_of(req));
    if (json_array_size(list))
        json_object_set(msg, "presences", list);
    json_decref(list);
    return tomo_rt_reply(req, "party_join_request", msg);
}

/* The origin of the cluster's matchmaker node when it is another node
 * (docs/CLUSTER.md, "The matchmaker"), else 0: a party's tickets are then
 * held and matched there, with every node's solo and party tickets. */
static uint32_t mm_elsewhere(tomo_rt *rt)
{
    if (!rt->routing.forward || !rt->routing.matchmaker_origin)
        return 0;
    uint32_t o = rt->routing.matchmaker_origin(rt->routing.ctx);
    return o == rt->origin ? 0 : o;
}

/* Send env (borrowed, with the request's cid) of type to the matchmaker
 * node mmo, run there on the ghost of req's session, which replies. */
static int forward_to_mm(tomo_rt_req *req, uint32_t mmo, const char *type, json_t *body)
{
    json_t *env = json_pack("{s:o}", type, body);
    if (req->cid)
        json_object_set_new(env, "cid", json_string(req->cid));
    req->rt->routing.forward(req->rt->routing.ctx, req->rt, mmo, req->session, env, type);
    json_decref(env);
    return 0;
}

/* The prefix of every party_matchmaker_add error (Nakama's wording). */
static const char mm_add_err[] = "Error adding party to matchmaker";

/* Add the party's ticket here and answer the leader; pid names the party.
 * Returns the ticket in ticket, or <0 having replied the error. */
static int party_mm_add_here(tomo_rt_req *req, const tomo_mm_presence *ps, size_t n,
                             const char *pid, char ticket[37])
{
    int rc = tomo_rt_mm_add(req->rt, ps, n, pid, req->body, ticket);
    if (rc < 0) {
        tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s: %s", mm_add_err,
                            rc == TOMO_ETOOBIG ? "matchmaker too many tickets"
                                               : "matchmaker query invalid");
        return rc;
    }
    return tomo_rt_reply(req, "party_matchmaker_ticket",
                         json_pack("{s:s,s:s}", "party_id", pid, "ticket", ticket));
}

static json_t *ticket_env(const char *pid, const char *ticket)
{
    return json_pack("{s:{s:s,s:s}}", "party_matchmaker_ticket", "party_id", pid, "ticket", ticket);
}

static int h_party_matchmaker_add(tomo_rt_req *req)
{
    const char *bad = tomo_rt_mm_validate(req->body);
    if (bad)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s", bad);
    party *p;
    if (leader_op(req, mm_add_err, 0, &p, NULL) < 0)
        return TOMO_EINVAL;
    tomo_rt *rt = req->rt;
    tomo_tracker *t = (rt)->tracker;
    tomo_stream st = party_stream(rt, p->uuid);
    uint32_t mmo = mm_elsewhere(rt);
    if (mmo) {
        /* The members go along: the matchmaker node adds the ticket, answers
         * the leader and tells the members (cluster_party_matchmaker_add). */
        json_t *body = json_deep_copy(req->body), *pl = json_array();
        for (tomo_presence *m = tomo_tracker_first(t, &st); m; m = tomo_presence_next(m))
            json_array_append_new(pl, tomo_rt_session_presence_json(m->session));
        json_object_set_new(body, "party_id", json_string(p->id));
        json_object_set_new(body, "presences", pl);
        return forward_to_mm(req, mmo, "cluster_party_matchmaker_add", body);
    }
    size_t n = tomo_tracker_count(t, &st), k = 0;
    tomo_mm_presence *ps = tomo_xmalloc((n ? n : 1) * sizeof(*ps));
    for (tomo_presence *m = tomo_tracker_first(t, &st); m; m = tomo_presence_next(m))
        tomo_rt_mm_presence(m->session, &ps[k++]);
    char ticket[37];
    const char *pid = party_id_of(req);
    int rc = party_mm_add_here(req, ps, k, pid, ticket);
    free(ps);
    if (rc < 0)
        return rc;
    route(rt, &st, ticket_env(pid, ticket), req->session);
    return rc;
}

/* On the matchmaker node, from a party's node (never from a client: only a
 * forwarded envelope runs on a ghost): body is party_matchmaker_add's plus
 * the canonical party_id and the members' presences. */
static int h_cluster_party_matchmaker_add(tomo_rt_req *req)
{
    if (!req->session->_ghost)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_UNRECOGNIZED_PAYLOAD, "Unrecognized message.");
    const char *pid = json_string_value(json_object_get(req->body, "party_id"));
    json_t *pl = json_object_get(req->body, "presences");
    size_t n = json_array_size(pl);
    if (!pid || !n)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s", mm_add_err);
    tomo_mm_presence *ps = tomo_xcalloc(n, sizeof(*ps));
    size_t i, k = 0;
    json_t *m;
    json_array_foreach (pl, i, m) {
        const char *u = json_string_value(json_object_get(m, "user_id"));
        const char *sid = json_string_value(json_object_get(m, "session_id"));
        if (!u || !sid || strlen(u) != 36 || strlen(sid) != 36)
            continue;
        memcpy(ps[k].user_id, u, 37);
        memcpy(ps[k].session_id, sid, 37);
        ps[k++].username = (char *)json_string_value(json_object_get(m, "username"));
    }
    char ticket[37];
    int rc = k ? party_mm_add_here(req, ps, k, pid, ticket)
               : tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "%s", mm_add_err);
    if (rc >= 0 && k) {
        json_t *env = ticket_env(pid, ticket);
        for (i = 0; i < k; i++)
            if (strcmp(ps[i].session_id, req->session->id))
                send_to(req->rt, ps[i].session_id, env);
        json_decref(env);
    }
    free(ps);
    return rc < 0 ? rc : 0;
}

/* Remove the party's ticket here, answering the leader. */
static int party_mm_remove_here(tomo_rt_req *req, const char *pid, const char *ticket)
{
    if (tomo_rt_mm_remove_party_ticket(req->rt, pid, ticket) < 0)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Error closing party: matchmaker ticket not found");
    return tomo_rt_reply(req, NULL, NULL);
}

static int h_party_matchmaker_remove(tomo_rt_req *req)
{
    const char *ticket = json_string_value(json_object_get(req->body, "ticket"));
    if (!ticket || !*ticket)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid matchmaker ticket");
    party *p;
    /* Nakama's text says "closing" here. */
    if (leader_op(req, "Error closing party", 0, &p, NULL) < 0)
        return TOMO_EINVAL;
    uint32_t mmo = mm_elsewhere(req->rt);
    if (mmo)
        return forward_to_mm(req, mmo, "cluster_party_matchmaker_remove",
                             json_pack("{s:s,s:s}", "party_id", p->id, "ticket", ticket));
    return party_mm_remove_here(req, p->id, ticket);
}

/* On the matchmaker node, from a party's node (the leader was checked
 * there): {party_id, ticket}. */
static int h_cluster_party_matchmaker_remove(tomo_rt_req *req)
{
    if (!req->session->_ghost)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_UNRECOGNIZED_PAYLOAD, "Unrecognized message.");
    const char *pid = json_string_value(json_object_get(req->body, "party_id"));
    const char *ticket = json_string_value(json_object_get(req->body, "ticket"));
    if (!pid || !ticket)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid matchmaker ticket");
    return party_mm_remove_here(req, pid, ticket);
}

static int h_party_data_send(tomo_rt_req *req)
{
    party *p;
    if (lookup(req, party_id_of(req), &p) < 0)
        return TOMO_EINVAL;
    if (!p)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Error sending party data: party not found");
    tomo_tracker *t = (req->rt)->tracker;
    tomo_stream st = party_stream(req->rt, p->uuid);
    if (!tomo_tracker_get(t, req->session, &st))
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT,
                                   "Error sending party data: party member not found");
    json_t *pd = json_pack("{s:s,s:o}", "party_id", p->id, "presence",
                           tomo_rt_session_presence_json(req->session));
    json_t *op = json_object_get(req->body, "op_code");
    json_t *data = json_object_get(req->body, "data");
    if (op)
        json_object_set(pd, "op_code", op);
    if (data)
        json_object_set(pd, "data", data);
    route(req->rt, &st, json_pack("{s:o}", "party_data", pd), req->session);
    return tomo_rt_reply(req, NULL, NULL);
}

void tomo_rt_party_free(tomo_rt *rt)
{
    parties *ps = rt->party;
    if (!ps)
        return;
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&ps->byid, i, &k, &v)) != 0;)
        party_free(v);
    tomo_hmap_free(&ps->byid);
    free(ps);
    rt->party = NULL;
}

void tomo_rt_party_init(tomo_rt *rt)
{
    parties *ps = tomo_xcalloc(1, sizeof(*ps));
    tomo_hmap_init(&ps->byid);
    rt->party = ps;
    tomo_tracker_listen(rt->tracker, TOMO_STREAM_PARTY, on_party_event, NULL);
    tomo_rt_register(rt, "party_create", h_party_create);
    tomo_rt_register(rt, "party_join", h_party_join);
    tomo_rt_register(rt, "party_leave", h_party_leave);
    tomo_rt_register(rt, "party_promote", h_party_promote);
    tomo_rt_register(rt, "party_accept", h_party_accept);
    tomo_rt_register(rt, "party_remove", h_party_remove);
    tomo_rt_register(rt, "party_close", h_party_close);
    tomo_rt_register(rt, "party_join_request_list", h_party_join_request_list);
    tomo_rt_register(rt, "party_matchmaker_add", h_party_matchmaker_add);
    tomo_rt_register(rt, "party_matchmaker_remove", h_party_matchmaker_remove);
    tomo_rt_register(rt, "cluster_party_matchmaker_add", h_cluster_party_matchmaker_add);
    tomo_rt_register(rt, "cluster_party_matchmaker_remove", h_cluster_party_matchmaker_remove);
    tomo_rt_register(rt, "party_data_send", h_party_data_send);
}
