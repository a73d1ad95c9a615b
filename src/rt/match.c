/* rt/match.c: relayed matches (client-relayed, no server logic) and the
 * envelope handlers shared with authoritative ones (rt/amatch.c).
 * Owns: nothing beyond tracker streams of mode 5 (subject = match uuid): a
 *       relayed match exists while someone is on its stream. Handles
 *       match_create, match_join (by id or by matchmaker token), match_leave
 *       and match_data_send (authoritative ids go to rt/amatch.c), routes
 *       match_presence_event, lists relayed matches for GET /v2/match, and
 *       formats match_data frames for both kinds (match_int.h).
 * Borrows: the tracker, sessions.
 * Threads: loop thread only. */
#define _GNU_SOURCE
#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jwt.h"
#include "../core/log.h"
#include "amatch.h"
#include "envelope.h"
#include "match_int.h"
#include "rt.h"
#include "rt_int.h"

#include <stdlib.h>
#include <string.h>

/* Split "<uuid>.<node>" into a lower-case uuid and the node part.
 * Returns 0 or TOMO_EINVAL. */
int tomo_rt_match_parse_id(const char *id, char uuid[37], const char **node)
{
    const char *dot = id ? strchr(id, '.') : NULL;
    if (!dot || dot - id != 36)
        return TOMO_EINVAL;
    memcpy(uuid, id, 36);
    uuid[36] = '\0';
    if (!tomo_uuid_valid(uuid))
        return TOMO_EINVAL;
    for (int i = 0; i < 36; i++)
        if (uuid[i] >= 'A' && uuid[i] <= 'F')
            uuid[i] = (char)(uuid[i] + 32);
    *node = dot + 1;
    return 0;
}

static tomo_stream relayed(const char *uuid)
{
    tomo_stream st = {TOMO_STREAM_MATCH_RELAYED, uuid, NULL, NULL};
    return st;
}

json_t *tomo_rt_match_others(tomo_tracker *t, const tomo_stream *st,
                             const tomo_rt_session *self, int include_self)
{
    json_t *arr = json_array();
    for (tomo_presence *p = tomo_tracker_first(t, st); p; p = tomo_presence_next(p))
        if (include_self || p->session != self)
            json_array_append_new(arr, tomo_rt_session_presence_json(p->session));
    return arr;
}

json_t *tomo_rt_match_obj(const char *match_id, const char *label, size_t size,
                          json_t *presences, const tomo_rt_session *self)
{
    json_t *m = json_object();
    json_object_set_new(m, "match_id", json_string(match_id));
    if (label) {
        json_object_set_new(m, "authoritative", json_true());
        json_object_set_new(m, "label", json_string(label));
    }
    if (size)
        json_object_set_new(m, "size", json_integer((json_int_t)size));
    if (json_array_size(presences))
        json_object_set(m, "presences", presences);
    json_decref(presences);
    json_object_set_new(m, "self", tomo_rt_session_presence_json(self));
    return m;
}

void tomo_rt_match_single(tomo_rt *rt, tomo_rt_session *s, const tomo_stream *keep)
{
    if (!rt->cfg->session.single_match)
        return;
    tomo_tracker_untrack_mode(rt->tracker, s, TOMO_STREAM_MATCH_RELAYED, keep);
    tomo_tracker_untrack_mode(rt->tracker, s, TOMO_STREAM_MATCH_AUTHORITATIVE, keep);
}

static void single_match(tomo_rt_req *req, const tomo_stream *keep)
{
    tomo_rt_match_single(req->rt, req->session, keep);
}

static int h_match_create(tomo_rt_req *req)
{
    tomo_tracker *t = (req->rt)->tracker;
    const char *name = json_string_value(json_object_get(req->body, "name"));
    char uuid[37];
    if (name && *name)
        tomo_uuid_v5_dns(name, strlen(name), uuid);
    else
        tomo_uuid_v4(uuid);
    tomo_stream st = relayed(uuid);
    int isnew = tomo_tracker_track(t, req->session, &st, 0, 0, NULL);
    single_match(req, &st);
    char id[40];
    snprintf(id, sizeof(id), "%s.", uuid);
    size_t size = 1;
    json_t *presences = NULL;
    if (name && *name) {
        size = tomo_tracker_count(t, &st);
        presences = tomo_rt_match_others(t, &st, req->session, !isnew);
    }
    return tomo_rt_reply(req, "match", tomo_rt_match_obj(id, NULL, size, presences, req->session));
}

static int h_match_join(tomo_rt_req *req)
{
    tomo_tracker *t = (req->rt)->tracker;
    json_t *jid = json_object_get(req->body, "match_id");
    json_t *jtok = json_object_get(req->body, "token");
    char uuid[37];
    const char *node = NULL;
    const char *id_str = NULL;
    json_t *claims = NULL;
    int allow_empty = 0, rc;
    if (jtok) {
        const char *key = req->rt->cfg->session.encryption_key;
        const char *tok = json_string_value(jtok);
        if (!tok || tomo_jwt_verify(tok, key, strlen(key), tomo_now_sec(), &claims) < 0 ||
            !(id_str = json_string_value(json_object_get(claims, "mid"))) ||
            tomo_rt_match_parse_id(id_str, uuid, &node) < 0) {
            rc = tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid match token");
            goto out;
        }
        allow_empty = 1;
    } else if (jid) {
        id_str = json_string_value(jid);
        if (!id_str || tomo_rt_match_parse_id(id_str, uuid, &node) < 0) {
            rc = tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid match ID");
            goto out;
        }
    } else {
        rc = tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "No match ID or token found");
        goto out;
    }
    if (*node) {
        rc = tomo_rt_amatch_join(req, uuid, node, id_str, json_object_get(req->body, "metadata"));
        goto out;
    }
    tomo_stream st = relayed(uuid);
    if (!allow_empty && tomo_tracker_count(t, &st) == 0) {
        rc = tomo_rt_reply_error(req, TOMO_RT_ERR_MATCH_NOT_FOUND, "Match not found");
        goto out;
    }
    int isnew = tomo_tracker_get(t, req->session, &st) == NULL;
    if (isnew) {
        tomo_tracker_track(t, req->session, &st, 0, 0, NULL);
        single_match(req, &st);
    }
    json_t *presences = tomo_rt_match_others(t, &st, req->session, !isnew);
    size_t size = json_array_size(presences);
    rc = tomo_rt_reply(req, "match", tomo_rt_match_obj(id_str, NULL, size, presences, req->session));
out:
    json_decref(claims);
    return rc;
}

static int h_match_leave(tomo_rt_req *req)
{
    const char *id = json_string_value(json_object_get(req->body, "match_id"));
    char uuid[37];
    const char *node;
    if (!id || tomo_rt_match_parse_id(id, uuid, &node) < 0)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid match ID");
    tomo_stream st = {*node ? TOMO_STREAM_MATCH_AUTHORITATIVE : TOMO_STREAM_MATCH_RELAYED, uuid,
                      NULL, node};
    tomo_tracker_untrack((req->rt)->tracker, req->session, &st);
    return tomo_rt_reply(req, NULL, NULL);
}

/* ---- match_data encoding ---- */

/* The envelope as a tree (protobuf recipients). */
json_t *tomo_rt_md_tree(const tomo_md_fields *f)
{
    json_t *md = json_object();
    json_object_set_new(md, "match_id", json_string(f->match_id));
    if (f->user_id) {
        json_t *p = json_pack("{s:s,s:s}", "user_id", f->user_id, "session_id", f->session_id);
        if (f->username && *f->username)
            json_object_set_new(p, "username", json_string(f->username));
        json_object_set_new(md, "presence", p);
    }
    if (f->op_code && *f->op_code)
        json_object_set_new(md, "op_code", json_string(f->op_code));
    if (f->data && *f->data)
        json_object_set_new(md, "data", json_string(f->data));
    if (f->reliable)
        json_object_set_new(md, "reliable", json_true());
    return json_pack("{s:o}", "match_data", md);
}

static json_t *md_tree_cb(void *arg) { return tomo_rt_md_tree(arg); }

typedef struct sbuf {
    char *p;
    size_t n, cap;
    char stack[512];
} sbuf;

static void sb_init(sbuf *b)
{
    b->p = b->stack;
    b->n = 0;
    b->cap = sizeof(b->stack);
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = (b->n + n) * 2;
        char *np = tomo_xmalloc(nc);
        memcpy(np, b->p, b->n);
        if (b->p != b->stack)
            free(b->p);
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_lit(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_free(sbuf *b)
{
    if (b->p != b->stack)
        free(b->p);
}

/* A JSON string literal (input is valid UTF-8: it came through the codec, a
 * verified token or a checked runtime string). */
static void sb_str(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        sb_put(b, run, (size_t)(s - run));
        char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
        if (ch == '"' || ch == '\\') {
            esc[1] = (char)ch;
            sb_put(b, esc, 2);
        } else {
            sb_put(b, esc, 6);
        }
        run = s + 1;
    }
    sb_put(b, run, (size_t)(s - run));
    sb_put(b, "\"", 1);
}

/* The JSON encoding of tomo_rt_md_tree(f) (key order and zero-value
 * omission as the codec renders it; control characters escaped as
 * \\u00XX). */
static void md_json(sbuf *b, const tomo_md_fields *f)
{
    sb_lit(b, "{\"match_data\":{\"match_id\":");
    sb_str(b, f->match_id);
    if (f->user_id) {
        sb_lit(b, ",\"presence\":{\"user_id\":");
        sb_str(b, f->user_id);
        sb_lit(b, ",\"session_id\":");
        sb_str(b, f->session_id);
        if (f->username && *f->username) {
            sb_lit(b, ",\"username\":");
            sb_str(b, f->username);
        }
        sb_lit(b, "}");
    }
    if (f->op_code && *f->op_code) {
        sb_lit(b, ",\"op_code\":");
        sb_str(b, f->op_code);
    }
    if (f->data && *f->data) {
        sb_lit(b, ",\"data\":");
        sb_str(b, f->data);
    }
    if (f->reliable)
        sb_lit(b, ",\"reliable\":true");
    sb_lit(b, "}}");
}

tomo_frame *tomo_rt_md_frame(const tomo_md_fields *f)
{
    return tomo_rt_md_frame_extra(f, 0, NULL);
}

tomo_frame *tomo_rt_md_frame_extra(const tomo_md_fields *f, size_t extra, void **extra_out)
{
    /* Rendered on the stack (a small envelope fits) and copied once, into
     * the frame itself. */
    sbuf b;
    sb_init(&b);
    md_json(&b, f);
    tomo_frame *fr = tomo_frame_new_extra(TOMO_WS_TEXT, b.p, b.n, extra, extra_out);
    sb_free(&b);
    return fr;
}

void tomo_rt_md_out(tomo_rt_out *o, const char *json, size_t len, tomo_md_fields *f)
{
    tomo_rt_out_init_json(o, "match_data", json, len, md_tree_cb, f);
}

void tomo_rt_md_out_frame(tomo_rt_out *o, tomo_frame *frame, tomo_md_fields *f)
{
    memset(o, 0, sizeof(*o));
    o->type = "match_data";
    o->build = md_tree_cb;
    o->build_arg = f;
    o->frame[TOMO_RT_FORMAT_JSON] = tomo_frame_ref(frame);
}

static int h_match_data_send(tomo_rt_req *req)
{
    tomo_tracker *t = (req->rt)->tracker;
    tomo_rt_session *self = req->session;
    /* No reply, and errors carry no cid (nakama-js does not wait). */
    free(req->cid);
    req->cid = NULL;
    req->replied = 1;
    const char *id = json_string_value(json_object_get(req->body, "match_id"));
    char uuid[37];
    const char *node;
    if (!id || tomo_rt_match_parse_id(id, uuid, &node) < 0)
        return tomo_rt_reply_error(req, TOMO_RT_ERR_BAD_INPUT, "Invalid match ID");
    if (*node) {
        tomo_stream ast = {TOMO_STREAM_MATCH_AUTHORITATIVE, uuid, NULL, node};
        if (tomo_tracker_get(t, self, &ast))
            tomo_rt_amatch_data(req->rt, uuid, node, self, req->body);
        return 0; /* not joined: ignored */
    }
    json_t *filters = json_object_get(req->body, "presences");
    size_t i;
    json_t *v;
    json_array_foreach(filters, i, v)
    {
        const char *u = json_string_value(json_object_get(v, "user_id"));
        const char *sid = json_string_value(json_object_get(v, "session_id"));
        if (!u || !sid || !tomo_uuid_valid(u) || !tomo_uuid_valid(sid))
            return 0;
    }
    tomo_stream st = relayed(uuid);
    if (!tomo_tracker_get(t, self, &st))
        return 0; /* not joined: ignored */
    size_t n = tomo_tracker_count(t, &st);
    tomo_rt_session *stackv[64];
    tomo_rt_session **to = n <= 64 ? stackv : tomo_xmalloc(n * sizeof(*to));
    size_t k = 0;
    for (tomo_presence *p = tomo_tracker_first(t, &st); p; p = tomo_presence_next(p)) {
        if (json_array_size(filters)) {
            int hit = 0;
            json_array_foreach(filters, i, v)
            {
                const char *sid = json_string_value(json_object_get(v, "session_id"));
                if (!strcasecmp(sid, p->session->id)) {
                    hit = 1;
                    break;
                }
            }
            if (!hit)
                continue;
        } else if (p->session == self) {
            continue;
        }
        tomo_rt_session_hold(p->session);
        to[k++] = p->session;
    }
    if (k) {
        /* The hot path: the JSON text is formatted directly, the tree only
         * built if a protobuf recipient needs it. */
        tomo_md_fields f = {id,
                            self->user_id,
                            self->id,
                            self->username,
                            json_string_value(json_object_get(req->body, "op_code")),
                            json_string_value(json_object_get(req->body, "data")),
                            json_is_true(json_object_get(req->body, "reliable"))};
        sbuf b;
        sb_init(&b);
        md_json(&b, &f);
        tomo_rt_out o;
        tomo_rt_md_out(&o, b.p, b.n, &f);
        sb_free(&b);
        /* Members on other loops or nodes: one hand-off per origin, the
         * JSON frame shared (rt/route.h). */
        tomo_rt_route_out(req->rt, &o, to, k);
        tomo_rt_out_clear(&o);
    }
    for (size_t r = 0; r < k; r++)
        tomo_rt_session_release(to[r]);
    if (to != stackv)
        free(to);
    return 0;
}

void tomo_rt_match_presence_event(tomo_rt *rt, const tomo_stream *st, json_t *joins,
                                  json_t *leaves)
{
    char id[128];
    snprintf(id, sizeof(id), "%s.%s", st->subject, st->label);
    json_t *ev = json_pack("{s:s}", "match_id", id);
    if (json_array_size(joins))
        json_object_set(ev, "joins", joins);
    if (json_array_size(leaves))
        json_object_set(ev, "leaves", leaves);
    tomo_tracker_broadcast((rt)->tracker, st,
                           json_pack("{s:o}", "match_presence_event", ev), NULL);
}

static void on_match_event(tomo_rt *rt, const tomo_stream *st, json_t *joins, json_t *leaves,
                           void *ud)
{
    (void)ud;
    tomo_rt_match_presence_event(rt, st, joins, leaves);
}

typedef struct list_ctx {
    int limit, min, max;
    const char *label;
    json_t *out;
} list_ctx;

static int list_one(const tomo_stream *st, size_t count, void *ud)
{
    list_ctx *c = ud;
    if ((c->min >= 0 && (size_t)c->min > count) || (c->max >= 0 && (size_t)c->max < count))
        return 0;
    char id[128];
    snprintf(id, sizeof(id), "%s.%s", st->subject, st->label);
    json_t *m = json_pack("{s:s}", "match_id", id);
    if (c->label)
        json_object_set_new(m, "label", json_string(c->label));
    json_object_set_new(m, "size", json_integer((json_int_t)count));
    json_array_append_new(c->out, m);
    return json_array_size(c->out) >= (size_t)c->limit;
}

void tomo_rt_match_list(tomo_rt *rt, int limit, int min_size, int max_size,
                        const char *label, struct json_t *out)
{
    if (!rt || json_array_size(out) >= (size_t)limit)
        return;
    list_ctx c = {limit, min_size, max_size, label, out};
    tomo_tracker_each_stream(rt->tracker, TOMO_STREAM_MATCH_RELAYED, list_one, &c);
}

void tomo_rt_match_init(tomo_rt *rt)
{
    tomo_tracker_listen((rt)->tracker, TOMO_STREAM_MATCH_RELAYED, on_match_event, NULL);
    tomo_rt_register(rt, "match_create", h_match_create);
    tomo_rt_register(rt, "match_join", h_match_join);
    tomo_rt_register(rt, "match_leave", h_match_leave);
    tomo_rt_register(rt, "match_data_send", h_match_data_send);
    tomo_rt_amatch_init(rt);
}
