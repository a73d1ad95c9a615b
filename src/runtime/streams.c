/* runtime/streams.c: stream calls on the loop thread (see streams.h). */
#define _GNU_SOURCE
#include "streams.h"

#include "runtime_int.h"

#include "../core/common.h"
#include "../rt/route.h"
#include "../rt/rt.h"
#include "../rt/session.h"
#include "../rt/tracker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>



void tomo_stream_call_free(void *arg)
{
    tomo_stream_call *lc = arg;
    free(lc->status);
    free(lc->data);
    for (size_t i = 0; i < lc->ntargets; i++)
        free(lc->targets[i]);
    free(lc->targets);
    json_decref(lc->out);
    free(lc);
}

/* The session here or, as its ghost, on another loop: changes to a ghost's
 * presences are applied by its own loop (rt/route.h ghost_presence). */
static tomo_rt_session *find_session(tomo_stream_call *lc)
{
    tomo_rt_session *s = tomo_rt_route_reach(lc->rt, lc->session_id);
    if (!s || (lc->user_id[0] && strcmp(s->user_id, lc->user_id))) {
        lc->rc = TOMO_ENOTFOUND;
        snprintf(lc->msg, sizeof(lc->msg), "session not found");
        return NULL;
    }
    return s;
}

static json_t *presence_json(const tomo_presence *p, const char *node)
{
    json_t *o = json_object();
    json_object_set_new(o, "user_id", json_string(p->session->user_id));
    json_object_set_new(o, "session_id", json_string(p->session->id));
    json_object_set_new(o, "node", json_string(node));
    json_object_set_new(o, "hidden", json_boolean(p->hidden));
    json_object_set_new(o, "persistence", json_boolean(p->persistence));
    json_object_set_new(o, "username", json_string(p->session->username ? p->session->username : ""));
    json_object_set_new(o, "status", json_string(p->status ? p->status : ""));
    return o;
}

static int wanted(const tomo_stream_call *lc, const char *sid)
{
    if (!lc->targets)
        return 1;
    for (size_t i = 0; i < lc->ntargets; i++)
        if (!strcmp(lc->targets[i], sid))
            return 1;
    return 0;
}

static void on_loop(void *arg)
{
    tomo_stream_call *lc = arg;
    tomo_tracker *t = tomo_rt_tracker(lc->rt);
    tomo_stream st = {lc->mode, lc->subject, lc->subcontext, lc->label};
    tomo_rt_session *s;
    if (!t) {
        lc->rc = TOMO_EUNAVAIL;
        snprintf(lc->msg, sizeof(lc->msg), "realtime layer unavailable");
        goto out;
    }
    tomo_rt_route_pump(lc->rt); /* sessions other loops just opened */
    switch (lc->op) {
    case TOMO_SC_JOIN:
    case TOMO_SC_UPDATE:
        if (!(s = find_session(lc)))
            break;
        lc->rc = lc->op == TOMO_SC_JOIN ? tomo_tracker_track(t, s, &st, lc->persistence, lc->hidden,
                                                        lc->status)
                                   : tomo_tracker_update(t, s, &st, lc->persistence, lc->hidden,
                                                         lc->status);
        break;
    case TOMO_SC_LEAVE:
        if ((s = find_session(lc)))
            lc->rc = tomo_tracker_untrack(t, s, &st);
        break;
    case TOMO_SC_GET: {
        if (!(s = find_session(lc)))
            break;
        tomo_presence *p = tomo_tracker_get(t, s, &st);
        if (p) {
            lc->out = json_object();
            json_object_set_new(lc->out, "hidden", json_boolean(p->hidden));
            json_object_set_new(lc->out, "persistence", json_boolean(p->persistence));
            json_object_set_new(lc->out, "username",
                                json_string(p->session->username ? p->session->username : ""));
            json_object_set_new(lc->out, "status", json_string(p->status ? p->status : ""));
        }
        break;
    }
    case TOMO_SC_LIST:
        lc->out = json_array();
        for (tomo_presence *p = tomo_tracker_first(t, &st); p; p = tomo_presence_next(p))
            if ((p->hidden && lc->include_hidden) || (!p->hidden && lc->include_visible))
                json_array_append_new(lc->out, presence_json(p, lc->node));
        break;
    case TOMO_SC_COUNT: lc->count = (long long)tomo_tracker_count(t, &st); break;
    case TOMO_SC_CLOSE: {
        /* collect first: untracking while iterating is not allowed */
        size_t n = tomo_tracker_count(t, &st), k = 0;
        tomo_rt_session **ss = tomo_xcalloc(n ? n : 1, sizeof(*ss));
        for (tomo_presence *p = tomo_tracker_first(t, &st); p && k < n; p = tomo_presence_next(p)) {
            ss[k] = p->session;
            tomo_rt_session_hold(ss[k++]);
        }
        for (size_t i = 0; i < k; i++) {
            tomo_tracker_untrack(t, ss[i], &st);
            tomo_rt_session_release(ss[i]);
        }
        free(ss);
        break;
    }
    case TOMO_SC_SEND: {
        json_t *sj = json_object();
        json_object_set_new(sj, "mode", json_integer(lc->mode));
        if (lc->subject[0])
            json_object_set_new(sj, "subject", json_string(lc->subject));
        if (lc->subcontext[0])
            json_object_set_new(sj, "subcontext", json_string(lc->subcontext));
        if (lc->label[0])
            json_object_set_new(sj, "label", json_string(lc->label));
        json_t *sd = json_object();
        json_object_set_new(sd, "stream", sj);
        json_t *d = json_stringn(lc->data, lc->data_len);
        json_object_set_new(sd, "data", d ? d : json_string(""));
        if (lc->reliable)
            json_object_set_new(sd, "reliable", json_true());
        json_t *env = json_pack("{s:o}", "stream_data", sd);
        size_t n = tomo_tracker_count(t, &st), k = 0;
        tomo_rt_session **ss = tomo_xcalloc(n ? n : 1, sizeof(*ss));
        for (tomo_presence *p = tomo_tracker_first(t, &st); p && k < n; p = tomo_presence_next(p))
            if (wanted(lc, p->session->id)) {
                ss[k] = p->session;
                tomo_rt_session_hold(ss[k++]);
            }
        for (size_t i = 0; i < k; i++) {
            tomo_rt_session_send(ss[i], env);
            tomo_rt_session_release(ss[i]);
        }
        free(ss);
        json_decref(env);
        break;
    }
    case TOMO_SC_DISCONNECT:
        s = tomo_rt_route_reach(lc->rt, lc->session_id);
        if (s)
            tomo_rt_session_close(s, NULL, TOMO_WS_CLOSE_NORMAL, "");
        break;
    }
out:;
}


tomo_stream_call *tomo_stream_call_new(tomo_runtime *rt, int op)
{
    if (!rt || !rt->deps.rt || !rt->deps.loop)
        return NULL;
    tomo_stream_call *lc = tomo_xcalloc(1, sizeof(*lc));
    lc->rt = rt->deps.rt;
    lc->loop = rt->deps.loop;
    lc->node = rt->deps.cfg ? rt->deps.cfg->name : "";
    lc->op = op;
    return lc;
}

/* A UUID (any case) into out[37] lower-cased; NULL/"" leaves "". */
static int uuid_in(const char *s, char out[37])
{
    out[0] = '\0';
    if (!s || !*s)
        return 0;
    uuid_t u;
    if (uuid_parse(s, u) != 0)
        return -1;
    uuid_unparse_lower(u, out);
    return 0;
}

const char *tomo_stream_call_stream(tomo_stream_call *c, int mode, const char *subject,
                                    const char *subcontext, const char *label)
{
    if (mode < 0 || mode >= TOMO_STREAM_MODE_MAX)
        return "stream mode must be 0..15 (tomo's tracker keeps 16 modes)";
    c->mode = mode;
    if (uuid_in(subject, c->subject) < 0 || uuid_in(subcontext, c->subcontext) < 0)
        return "stream subject and subcontext must be UUIDs";
    size_t n = label ? strlen(label) : 0;
    if (n >= sizeof(c->label))
        return "stream label is too long";
    memcpy(c->label, label ? label : "", n + 1);
    return NULL;
}

const char *tomo_stream_call_stream_json(tomo_stream_call *c, const json_t *st)
{
    if (!json_is_object(st))
        return "expects a stream object";
    json_t *mode = json_object_get(st, "mode");
    if (!json_is_integer(mode))
        return "stream mode is required";
    static const char *const f[] = {"subject", "subcontext", "label"};
    const char *v[3];
    for (int i = 0; i < 3; i++) {
        json_t *x = json_object_get(st, f[i]);
        if (x && !json_is_string(x) && !json_is_null(x))
            return "stream subject, subcontext and label must be strings";
        v[i] = json_string_value(x);
    }
    return tomo_stream_call_stream(c, (int)json_integer_value(mode), v[0], v[1], v[2]);
}

const char *tomo_stream_call_ids(tomo_stream_call *c, const char *user_id,
                                 const char *session_id)
{
    if (!user_id || !*user_id || uuid_in(user_id, c->user_id) < 0)
        return "expects a valid user id";
    if (!session_id || !*session_id || uuid_in(session_id, c->session_id) < 0)
        return "expects a valid session id";
    return NULL;
}

int tomo_stream_call_run(tomo_runtime *rt, tomo_stream_call *c)
{
    return tomo_runtime_loop_wait(rt->deps.loop, on_loop, c, tomo_stream_call_free);
}
