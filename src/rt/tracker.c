/* rt/tracker.c: streams, presences and presence events (see tracker.h). */
#define _GNU_SOURCE
#include "tracker.h"

#include "../core/common.h"
#include "../core/log.h"
#include "../core/hmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tomo_tstream {
    tomo_presence *head, *tail;
    size_t count, nremote;
    int mode;
    const char *subject, *subcontext, *label; /* point into key's allocation */
    char key[];                               /* "m.s.c.l\0s\0c\0l\0" */
};

typedef struct event {
    struct event *next;
    json_t *joins, *leaves;
    int remote; /* a batch of ghost changes */
    tomo_stream st;
    char key[]; /* same layout as tomo_tstream.key */
} event;

typedef struct listener {
    tomo_tracker_event_fn fn;
    void *ud;
} listener;

struct tomo_tracker {
    tomo_hmap streams;        /* key -> tomo_tstream */
    tomo_hmap pending_by_key; /* key -> event (this batch, local changes) */
    tomo_hmap pending_remote; /* key -> event (this batch, remote changes) */
    tomo_hmap ghosts;         /* session id -> ghost session */
    tomo_rt *owner;
    tomo_tracker_observe_fn observe;
    void *observe_ud;
    size_t nremote;
    int flushing_remote;
    int applying;             /* inside a *_remote call: ghost changes are not reported */
    void (*ghost_gone)(void *ud, const char *session_id);
    void *ghost_gone_ud;
    event *pending_head, *pending_tail;
    size_t npending;
    size_t size;
    size_t mode_streams[TOMO_STREAM_MODE_MAX];
    listener listeners[TOMO_STREAM_MODE_MAX];
    int flushing;
};

static const char *nz(const char *s) { return s ? s : ""; }

char *tomo_stream_key(const tomo_stream *st)
{
    return tomo_xasprintf("%d.%s.%s.%s", st->mode, nz(st->subject), nz(st->subcontext),
                          nz(st->label));
}

/* Key plus the three parts, NUL-separated, into dst (size from key_size). */
static size_t key_size(const tomo_stream *st)
{
    size_t s = strlen(nz(st->subject)), c = strlen(nz(st->subcontext)), l = strlen(nz(st->label));
    return 12 + 2 * (s + c + l) + 6;
}

static void key_fill(char *dst, const tomo_stream *st, const char **ps, const char **pc,
                     const char **pl)
{
    int n = sprintf(dst, "%d.%s.%s.%s", st->mode, nz(st->subject), nz(st->subcontext),
                    nz(st->label));
    char *p = dst + n + 1;
    *ps = p;
    p = stpcpy(p, nz(st->subject)) + 1;
    *pc = p;
    p = stpcpy(p, nz(st->subcontext)) + 1;
    *pl = p;
    strcpy(p, nz(st->label));
}

/* Append s to buf[*o..cap); returns 0 when it does not fit. */
static int put(char *buf, size_t cap, size_t *o, const char *s)
{
    size_t l = strlen(s);
    if (*o + l + 1 >= cap)
        return 0;
    memcpy(buf + *o, s, l);
    *o += l;
    return 1;
}

/* Lookup key on the stack for short streams (no printf on this hot path),
 * heap otherwise. */
static tomo_tstream *stream_get(const tomo_tracker *t, const tomo_stream *st)
{
    char buf[256];
    size_t o = 0;
    if (st->mode >= 0 && st->mode < 10) {
        buf[o++] = (char)('0' + st->mode);
        buf[o++] = '.';
        if (put(buf, sizeof(buf), &o, nz(st->subject))) {
            buf[o++] = '.';
            if (put(buf, sizeof(buf), &o, nz(st->subcontext))) {
                buf[o++] = '.';
                if (put(buf, sizeof(buf), &o, nz(st->label))) {
                    buf[o] = '\0';
                    return tomo_hmap_get(&t->streams, buf);
                }
            }
        }
    }
    char *k = tomo_stream_key(st);
    tomo_tstream *ts = tomo_hmap_get(&t->streams, k);
    free(k);
    return ts;
}

/* A ghost is freed when its last presence goes, unless someone holds it
 * (tomo_rt_session_hold): then the last release frees it (rt/session.c). */
static void ghost_free(tomo_rt_session *g)
{
    free(g->username);
    free(g->lang);
    json_decref(g->vars);
    free(g);
}

static void ghost_drop(tomo_rt_session *g)
{
    g->_gone = 1;
    if (--g->_refs == 0)
        ghost_free(g);
}

tomo_tracker *tomo_tracker_new(void)
{
    tomo_tracker *t = tomo_xcalloc(1, sizeof(*t));
    tomo_hmap_init(&t->streams);
    tomo_hmap_init(&t->pending_by_key);
    tomo_hmap_init(&t->pending_remote);
    tomo_hmap_init(&t->ghosts);
    return t;
}

static void event_free(event *e)
{
    json_decref(e->joins);
    json_decref(e->leaves);
    free(e);
}

void tomo_tracker_free(tomo_tracker *t)
{
    if (!t)
        return;
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&t->streams, i, &k, &v)) != 0;) {
        tomo_tstream *ts = v;
        tomo_presence *p = ts->head;
        while (p) {
            tomo_presence *n = p->_snext;
            free(p->status);
            free(p);
            p = n;
        }
        free(ts);
    }
    tomo_hmap_free(&t->streams);
    while (t->pending_head) {
        event *e = t->pending_head;
        t->pending_head = e->next;
        event_free(e);
    }
    tomo_hmap_free(&t->pending_by_key);
    tomo_hmap_free(&t->pending_remote);
    for (size_t i = 0; (i = tomo_hmap_next(&t->ghosts, i, &k, &v)) != 0;)
        ghost_drop(v);
    tomo_hmap_free(&t->ghosts);
    free(t);
}

json_t *tomo_presence_json(const tomo_presence *p)
{
    const tomo_rt_session *s = p->session;
    json_t *o = json_object();
    json_object_set_new(o, "user_id", json_string(s->user_id));
    json_object_set_new(o, "session_id", json_string(s->id));
    if (s->username && *s->username)
        json_object_set_new(o, "username", json_string(s->username));
    if (p->persistence)
        json_object_set_new(o, "persistence", json_true());
    if (p->_stream->mode == TOMO_STREAM_STATUS)
        json_object_set_new(o, "status", json_string(p->status ? p->status : ""));
    return o;
}

/* ---- events ---- */

static void queue_event(tomo_tracker *t, const tomo_tstream *ts, const tomo_presence *p, int join)
{
    int remote = p->session->_ghost;
    tomo_hmap *pend = remote ? &t->pending_remote : &t->pending_by_key;
    event *e = tomo_hmap_get(pend, ts->key);
    if (!e) {
        size_t kl = strlen(ts->key) + 1;
        size_t rest = strlen(ts->subject) + strlen(ts->subcontext) + strlen(ts->label) + 3;
        e = tomo_xcalloc(1, sizeof(*e) + kl + rest);
        memcpy(e->key, ts->key, kl + rest);
        /* parts follow the key in the same layout */
        const char *ps = e->key + kl;
        const char *pc = ps + strlen(ps) + 1;
        const char *pl = pc + strlen(pc) + 1;
        e->st.mode = ts->mode;
        e->st.subject = ps;
        e->st.subcontext = pc;
        e->st.label = pl;
        e->joins = json_array();
        e->leaves = json_array();
        e->remote = remote;
        if (t->pending_tail)
            t->pending_tail->next = e;
        else
            t->pending_head = e;
        t->pending_tail = e;
        t->npending++;
        tomo_hmap_put(pend, e->key, e);
    }
    json_array_append_new(join ? e->joins : e->leaves, tomo_presence_json(p));
}

static void default_listener(tomo_rt *rt, const tomo_stream *st, json_t *joins,
                             json_t *leaves, void *ud)
{
    tomo_tracker *t = ud;
    (void)rt;
    json_t *stream = json_object();
    if (st->mode)
        json_object_set_new(stream, "mode", json_integer(st->mode));
    if (*st->subject)
        json_object_set_new(stream, "subject", json_string(st->subject));
    if (*st->subcontext)
        json_object_set_new(stream, "subcontext", json_string(st->subcontext));
    if (*st->label)
        json_object_set_new(stream, "label", json_string(st->label));
    json_t *ev = json_pack("{s:o}", "stream", stream);
    if (json_array_size(joins))
        json_object_set(ev, "joins", joins);
    if (json_array_size(leaves))
        json_object_set(ev, "leaves", leaves);
    tomo_tracker_broadcast(t, st, json_pack("{s:o}", "stream_presence_event", ev), NULL);
}

void tomo_tracker_listen(tomo_tracker *t, int mode, tomo_tracker_event_fn fn, void *ud)
{
    if (mode < 0 || mode >= TOMO_STREAM_MODE_MAX)
        return;
    t->listeners[mode].fn = fn;
    t->listeners[mode].ud = ud;
}

void tomo_tracker_flush(tomo_tracker *t, tomo_rt *rt)
{
    if (t->flushing)
        return; /* events queued by listeners go out in the loop below */
    t->flushing = 1;
    while (t->pending_head) {
        event *e = t->pending_head;
        t->pending_head = NULL;
        t->pending_tail = NULL;
        t->npending = 0;
        tomo_hmap_free(&t->pending_by_key);
        tomo_hmap_free(&t->pending_remote);
        while (e) {
            event *next = e->next;
            listener *l = &t->listeners[e->st.mode];
            t->flushing_remote = e->remote;
            if (l->fn)
                l->fn(rt, &e->st, e->joins, e->leaves, l->ud);
            else
                default_listener(rt, &e->st, e->joins, e->leaves, t);
            event_free(e);
            e = next;
        }
    }
    t->flushing_remote = 0;
    t->flushing = 0;
}

size_t tomo_tracker_pending(const tomo_tracker *t) { return t->npending; }
size_t tomo_tracker_size(const tomo_tracker *t) { return t->size; }
size_t tomo_tracker_local_size(const tomo_tracker *t) { return t->size - t->nremote; }
int tomo_tracker_event_is_remote(const tomo_tracker *t) { return t->flushing_remote; }

void tomo_tracker_observe(tomo_tracker *t, tomo_tracker_observe_fn fn, void *ud)
{
    t->observe = fn;
    t->observe_ud = ud;
}

static void observe(tomo_tracker *t, int op, const tomo_presence *p)
{
    /* Ghost changes are reported only when this loop made them (a party or
     * match join on the owner), not when a routing applies a replica. */
    if (!t->observe || (p->session->_ghost && t->applying))
        return;
    tomo_stream st;
    tomo_presence_stream(p, &st);
    t->observe(t->observe_ud, op, p->session, &st, p->persistence, p->hidden,
               op == TOMO_TRACKER_UNTRACK ? NULL : p->status);
}

/* ---- track / untrack ---- */

static tomo_presence *find_in_session(const tomo_rt_session *s, const tomo_tstream *ts)
{
    for (tomo_presence *p = s->_presences; p; p = p->_next_of_session)
        if (p->_stream == ts)
            return p;
    return NULL;
}

tomo_presence *tomo_tracker_get(tomo_tracker *t, const tomo_rt_session *s, const tomo_stream *st)
{
    tomo_tstream *ts = stream_get(t, st);
    return ts ? find_in_session(s, ts) : NULL;
}

static tomo_tstream *stream_make(tomo_tracker *t, const tomo_stream *st)
{
    tomo_tstream *ts = stream_get(t, st);
    if (ts)
        return ts;
    ts = tomo_xcalloc(1, sizeof(*ts) + key_size(st));
    ts->mode = st->mode;
    key_fill(ts->key, st, &ts->subject, &ts->subcontext, &ts->label);
    tomo_hmap_put(&t->streams, ts->key, ts);
    t->mode_streams[st->mode]++;
    return ts;
}

static void stream_drop_if_empty(tomo_tracker *t, tomo_tstream *ts)
{
    if (ts->count)
        return;
    tomo_hmap_del(&t->streams, ts->key);
    t->mode_streams[ts->mode]--;
    free(ts);
}

static void presence_set_meta(tomo_presence *p, int persistence, int hidden, const char *status,
                              int mode)
{
    p->persistence = persistence ? 1 : 0;
    p->hidden = hidden ? 1 : 0;
    free(p->status);
    p->status = status ? tomo_xstrdup(status) : mode == TOMO_STREAM_STATUS ? tomo_xstrdup("") : NULL;
}

int tomo_tracker_track(tomo_tracker *t, tomo_rt_session *s, const tomo_stream *st,
                       int persistence, int hidden, const char *status)
{
    if (st->mode < 0 || st->mode >= TOMO_STREAM_MODE_MAX)
        return TOMO_EINVAL;
    tomo_tstream *ts = stream_make(t, st);
    if (find_in_session(s, ts))
        return 0;
    tomo_presence *p = tomo_xcalloc(1, sizeof(*p));
    p->session = s;
    p->_stream = ts;
    presence_set_meta(p, persistence, hidden, status, st->mode);
    p->_sprev = ts->tail;
    if (ts->tail)
        ts->tail->_snext = p;
    else
        ts->head = p;
    ts->tail = p;
    ts->count++;
    p->_next_of_session = s->_presences;
    s->_presences = p;
    t->size++;
    if (s->_ghost) {
        ts->nremote++;
        t->nremote++;
    }
    if (!p->hidden)
        queue_event(t, ts, p, 1);
    observe(t, TOMO_TRACKER_TRACK, p);
    return 1;
}

int tomo_tracker_update(tomo_tracker *t, tomo_rt_session *s, const tomo_stream *st,
                        int persistence, int hidden, const char *status)
{
    if (st->mode < 0 || st->mode >= TOMO_STREAM_MODE_MAX)
        return TOMO_EINVAL;
    tomo_tstream *ts = stream_get(t, st);
    tomo_presence *p = ts ? find_in_session(s, ts) : NULL;
    if (!p)
        return tomo_tracker_track(t, s, st, persistence, hidden, status);
    /* The old presence leaves (if it was visible), the new one joins. */
    if (!p->hidden)
        queue_event(t, ts, p, 0);
    presence_set_meta(p, persistence, hidden, status, st->mode);
    if (!p->hidden)
        queue_event(t, ts, p, 1);
    observe(t, TOMO_TRACKER_UPDATE, p);
    return 0;
}

static void presence_remove(tomo_tracker *t, tomo_presence *p, int events)
{
    tomo_tstream *ts = p->_stream;
    tomo_rt_session *s = p->session;
    if (events && !p->hidden)
        queue_event(t, ts, p, 0);
    observe(t, TOMO_TRACKER_UNTRACK, p);
    if (p->_sprev)
        p->_sprev->_snext = p->_snext;
    else
        ts->head = p->_snext;
    if (p->_snext)
        p->_snext->_sprev = p->_sprev;
    else
        ts->tail = p->_sprev;
    ts->count--;
    t->size--;
    if (s->_ghost) {
        ts->nremote--;
        t->nremote--;
    }
    tomo_presence **pp = &s->_presences;
    while (*pp && *pp != p)
        pp = &(*pp)->_next_of_session;
    if (*pp)
        *pp = p->_next_of_session;
    free(p->status);
    free(p);
    stream_drop_if_empty(t, ts);
    if (s->_ghost && !s->_presences) {
        tomo_hmap_del(&t->ghosts, s->id);
        if (t->ghost_gone)
            t->ghost_gone(t->ghost_gone_ud, s->id);
        ghost_drop(s);
    }
}

int tomo_tracker_untrack(tomo_tracker *t, tomo_rt_session *s, const tomo_stream *st)
{
    tomo_tstream *ts = stream_get(t, st);
    tomo_presence *p = ts ? find_in_session(s, ts) : NULL;
    if (!p)
        return 0;
    presence_remove(t, p, 1);
    return 1;
}

size_t tomo_tracker_untrack_all(tomo_tracker *t, tomo_rt_session *s)
{
    size_t n = 0;
    s->_refs++; /* a ghost goes with its last presence: not under our feet */
    /* Oldest presence first, so leave events come out in join order. */
    while (s->_presences) {
        tomo_presence *p = s->_presences, *last = p;
        while (last->_next_of_session)
            last = last->_next_of_session;
        presence_remove(t, last, 1);
        n++;
    }
    if (--s->_refs == 0) /* only a ghost can drop to 0 here */
        ghost_free(s);
    return n;
}

size_t tomo_tracker_untrack_mode(tomo_tracker *t, tomo_rt_session *s, int mode,
                                 const tomo_stream *keep)
{
    tomo_tstream *kts = keep ? stream_get(t, keep) : NULL;
    size_t n = 0;
    tomo_presence *p = s->_presences;
    while (p) {
        tomo_presence *next = p->_next_of_session;
        if (p->_stream->mode == mode && p->_stream != kts) {
            presence_remove(t, p, 1);
            n++;
        }
        p = next;
    }
    return n;
}

/* ---- queries ---- */

size_t tomo_tracker_count(tomo_tracker *t, const tomo_stream *st)
{
    tomo_tstream *ts = stream_get(t, st);
    return ts ? ts->count : 0;
}

tomo_presence *tomo_tracker_first(tomo_tracker *t, const tomo_stream *st)
{
    tomo_tstream *ts = stream_get(t, st);
    return ts ? ts->head : NULL;
}

tomo_presence *tomo_presence_next(const tomo_presence *p) { return p->_snext; }

void tomo_presence_stream(const tomo_presence *p, tomo_stream *out)
{
    out->mode = p->_stream->mode;
    out->subject = p->_stream->subject;
    out->subcontext = p->_stream->subcontext;
    out->label = p->_stream->label;
}

json_t *tomo_tracker_list_json(tomo_tracker *t, const tomo_stream *st, int include_hidden)
{
    json_t *arr = json_array();
    for (tomo_presence *p = tomo_tracker_first(t, st); p; p = p->_snext)
        if (include_hidden || !p->hidden)
            json_array_append_new(arr, tomo_presence_json(p));
    return arr;
}

size_t tomo_tracker_stream_count(tomo_tracker *t, int mode)
{
    return mode >= 0 && mode < TOMO_STREAM_MODE_MAX ? t->mode_streams[mode] : 0;
}

void tomo_tracker_each_stream(tomo_tracker *t, int mode,
                              int (*fn)(const tomo_stream *st, size_t count, void *ud), void *ud)
{
    if (mode < 0 || mode >= TOMO_STREAM_MODE_MAX || !t->mode_streams[mode])
        return;
    const char *k;
    void *v;
    for (size_t i = 0; (i = tomo_hmap_next(&t->streams, i, &k, &v)) != 0;) {
        tomo_tstream *ts = v;
        if (ts->mode != mode)
            continue;
        tomo_stream st = {ts->mode, ts->subject, ts->subcontext, ts->label};
        if (fn(&st, ts->count, ud))
            return;
    }
}

size_t tomo_tracker_broadcast(tomo_tracker *t, const tomo_stream *st, json_t *envelope,
                              const tomo_rt_session *skip_session)
{
    tomo_rt_out o;
    tomo_rt_out_init(&o, envelope);
    size_t n = tomo_tracker_broadcast_out(t, st, &o, skip_session);
    tomo_rt_out_clear(&o);
    return n;
}

size_t tomo_tracker_broadcast_out(tomo_tracker *t, const tomo_stream *st, tomo_rt_out *o,
                                  const tomo_rt_session *skip_session)
{
    size_t n = 0;
    tomo_tstream *ts = stream_get(t, st);
    /* A send can disconnect a slow consumer, which untracks it from this
     * very stream: collect the recipients first. */
    size_t cnt = ts ? ts->count : 0;
    tomo_rt_session *stackv[64];
    tomo_rt_session **v = cnt <= 64 ? stackv : tomo_xmalloc(cnt * sizeof(*v));
    size_t k = 0;
    for (tomo_presence *p = ts ? ts->head : NULL; p; p = p->_snext)
        if (p->session != skip_session && !p->session->_ghost) {
            tomo_rt_session_hold(p->session);
            v[k++] = p->session;
        }
    for (size_t i = 0; i < k; i++) {
        if (tomo_rt_out_send(o, v[i]) == 0)
            n++;
        tomo_rt_session_release(v[i]);
    }
    if (v != stackv)
        free(v);
    return n;
}

/* ---- remote presences ---- */

void tomo_tracker_set_owner(tomo_tracker *t, tomo_rt *rt) { t->owner = rt; }

tomo_rt_session *tomo_tracker_ghost(tomo_tracker *t, const char *session_id)
{
    return tomo_hmap_get(&t->ghosts, session_id);
}

int tomo_tracker_track_remote(tomo_tracker *t, uint32_t origin, const char *session_id,
                              const char *user_id, const char *username, const tomo_stream *st,
                              int persistence, int hidden, const char *status)
{
    if (st->mode < 0 || st->mode >= TOMO_STREAM_MODE_MAX || !session_id ||
        strlen(session_id) >= 37 || !user_id || strlen(user_id) >= 37)
        return TOMO_EINVAL;
    tomo_rt_session *g = tomo_hmap_get(&t->ghosts, session_id);
    if (!g) {
        g = tomo_xcalloc(1, sizeof(*g));
        memcpy(g->id, session_id, strlen(session_id) + 1);
        memcpy(g->user_id, user_id, strlen(user_id) + 1);
        g->username = tomo_xstrdup(username ? username : "");
        g->rt = t->owner;
        g->origin = origin;
        g->_ghost = 1;
        g->_refs = 1; /* the tracker's */
        tomo_hmap_put(&t->ghosts, g->id, g);
    } else {
        /* The replica of a change this loop made itself (the owner tracked
         * the ghost first): nothing new, no events. */
        tomo_presence *p = tomo_tracker_get(t, g, st);
        if (p && p->persistence == (persistence ? 1 : 0) && p->hidden == (hidden ? 1 : 0) &&
            !strcmp(p->status ? p->status : "", status ? status : ""))
            return 0;
    }
    t->applying++;
    int rc = tomo_tracker_update(t, g, st, persistence, hidden, status);
    t->applying--;
    if (!g->_presences) { /* bad mode: nothing tracked */
        tomo_hmap_del(&t->ghosts, g->id);
        ghost_drop(g);
    }
    return rc;
}

int tomo_tracker_untrack_remote(tomo_tracker *t, const char *session_id, const tomo_stream *st)
{
    tomo_rt_session *g = tomo_hmap_get(&t->ghosts, session_id);
    if (!g)
        return 0;
    t->applying++;
    int rc = tomo_tracker_untrack(t, g, st);
    t->applying--;
    return rc;
}

size_t tomo_tracker_untrack_remote_session(tomo_tracker *t, const char *session_id)
{
    tomo_rt_session *g = tomo_hmap_get(&t->ghosts, session_id);
    if (!g)
        return 0;
    t->applying++;
    size_t n = tomo_tracker_untrack_all(t, g);
    t->applying--;
    return n;
}

void tomo_tracker_on_ghost_gone(tomo_tracker *t, void (*fn)(void *ud, const char *session_id),
                                void *ud)
{
    t->ghost_gone = fn;
    t->ghost_gone_ud = ud;
}

size_t tomo_tracker_untrack_origin(tomo_tracker *t, uint32_t origin)
{
    size_t n = 0;
    for (;;) {
        tomo_rt_session *found = NULL;
        void *v;
        for (size_t i = 0; (i = tomo_hmap_next(&t->ghosts, i, NULL, &v)) != 0;)
            if (((tomo_rt_session *)v)->origin == origin) {
                found = v;
                break;
            }
        if (!found)
            return n;
        t->applying++;
        n += tomo_tracker_untrack_all(t, found);
        t->applying--;
    }
}

size_t tomo_tracker_remote_count(tomo_tracker *t, const tomo_stream *st)
{
    tomo_tstream *ts = stream_get(t, st);
    return ts ? ts->nremote : 0;
}

size_t tomo_tracker_origins(tomo_tracker *t, const tomo_stream *st, uint32_t *out, size_t cap)
{
    tomo_tstream *ts = stream_get(t, st);
    size_t n = 0;
    if (!ts || !ts->nremote)
        return 0;
    for (tomo_presence *p = ts->head; p && n < cap; p = p->_snext) {
        if (!p->session->_ghost)
            continue;
        size_t i = 0;
        while (i < n && out[i] != p->session->origin)
            i++;
        if (i == n)
            out[n++] = p->session->origin;
    }
    return n;
}
