/* rt/session.h: realtime sessions (one per WebSocket) and their registry.
 * Owns: tomo_rt_session, the registry maps (session id -> session, user id
 *       -> that user's sessions), outgoing envelope encoding (JSON text or
 *       protobuf binary frames, per session format), and tomo_rt_out, an
 *       envelope encoded at most once per format and shared by every
 *       recipient of a broadcast.
 * Borrows: the WebSocket (net/ws.h), the tracker (rt/tracker.h).
 * Threads: loop thread only.
 *
 * Lifetime: a session lives from the upgrade until its socket is closed.
 * tomo_rt_session_close() only starts closing: presences are dropped at
 * once (everyone sees the leave), the struct is freed later, from the
 * socket's close callback, once no held reference remains
 * (tomo_rt_session_hold/release, e.g. across a worker-pool job). Never keep
 * a session pointer across loop iterations without a hold; check
 * tomo_rt_session_alive() after resuming. */
#ifndef TOMO_RT_SESSION_H
#define TOMO_RT_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../net/ws.h"
#include "../svc/session.h"

enum { TOMO_RT_FORMAT_JSON = 0, TOMO_RT_FORMAT_PROTOBUF = 1 };

typedef struct tomo_rt tomo_rt; /* rt/rt.h */
typedef struct tomo_presence tomo_presence;
typedef struct tomo_rt_session tomo_rt_session;

struct tomo_rt_session {
    char id[37];        /* UUIDv1 */
    char user_id[37];
    char *username;     /* heap */
    char *lang;         /* heap, "en" by default */
    json_t *vars;       /* session vars from the token (object) or NULL */
    int64_t expiry;     /* token exp, unix seconds */
    uint8_t format;     /* TOMO_RT_FORMAT_* */
    /* The client's address at the upgrade (net/http.h tomo_http_client_addr;
     * "" when unknown), for the runtime's ctx. */
    char client_ip[64], client_port[8];
    tomo_rt *rt;
    /* private (rt/session.c, rt/tracker.c) */
    tomo_ws *_ws;
    tomo_presence *_presences;      /* this session's presences (tracker) */
    void *_follows;                 /* status follows (rt/status.c) */
    tomo_rt_session *_user_prev, *_user_next; /* same-user chain */
    tomo_rt_session *_all_prev, *_all_next;   /* every session (liveness scan) */
    int64_t _last_in_ms;            /* last inbound frame */
    int64_t _last_ping_ms;          /* last ping sent (or connect) */
    uint32_t _msgs_since_ping;
    uint16_t _refs;
    uint8_t _closing, _gone;
    /* A ghost stands for a session on another loop or node (rt/tracker.h
     * remote presences): only id, user_id, username and origin are set; it
     * has no socket, is never alive, and sends to it go through the
     * routing (rt/route.h). Owned by the tracker. */
    uint8_t _ghost;
    uint32_t origin; /* where the session lives (tomo_rt_origin of its loop) */
};

/* Session by id, or NULL (also NULL once closing). */
tomo_rt_session *tomo_rt_session_find(tomo_rt *rt, const char *session_id);
/* First live session of a user (NULL if none); walk the rest with
 * tomo_rt_session_next_of_user. Order: newest first. */
tomo_rt_session *tomo_rt_session_first_of_user(tomo_rt *rt, const char *user_id);
tomo_rt_session *tomo_rt_session_next_of_user(tomo_rt_session *s);
/* Live sessions on this rt's loop (its own sockets, not ghosts). */
size_t tomo_rt_session_count(tomo_rt *rt);
/* Live sessions on every loop of this process (the active_sessions_count
 * gauge every loop adds to): what process-wide listings such as the
 * console's status report. Any thread. */
size_t tomo_rt_session_count_process(void);

/* 1 if the session is open here (not closing, not closed, not a ghost). */
int tomo_rt_session_alive(const tomo_rt_session *s);
/* 1 if a send can reach it: alive here, or a ghost whose session still
 * lives elsewhere (the send goes through the routing). What replies and
 * owner-side handlers (parties, matches) check. */
int tomo_rt_session_reachable(const tomo_rt_session *s);
/* Keep the struct from being freed while a job runs; release drops it.
 * Release may free the session: do not touch it afterwards. */
void tomo_rt_session_hold(tomo_rt_session *s);
void tomo_rt_session_release(tomo_rt_session *s);

/* Send an envelope (canonical protojson tree; borrowed) to one session,
 * encoded in its format. Returns 0, TOMO_EIO when the session is closing,
 * TOMO_EINVAL when the envelope does not encode (a bug; logged). A full
 * outgoing queue disconnects the session (slow consumer) and returns
 * TOMO_EAGAIN. */
int tomo_rt_session_send(tomo_rt_session *s, json_t *envelope);

/* Close a session: optional final envelope (e.g. a notification), then a
 * close frame with code/reason. Presences leave at once. Idempotent. */
void tomo_rt_session_close(tomo_rt_session *s, json_t *final_envelope, int ws_code,
                           const char *reason);

/* A broadcast envelope: encoded lazily, once per format, and the encoded
 * frame shared by every recipient's queue.
 *     tomo_rt_out o;
 *     tomo_rt_out_init(&o, env);            // steals env
 *     for (...) tomo_rt_out_send(&o, s);
 *     tomo_rt_out_clear(&o); */
typedef struct tomo_rt_out {
    json_t *env;
    tomo_frame *frame[2];
    int bad;
    tomo_rt *rt;  /* the loop of the recipients (set by the first send) */
    size_t sent;  /* recipients reached (metrics, counted once at clear) */
    size_t bytes; /* payload bytes written, likewise */
    const char *type;                    /* envelope type when env is built lazily */
    json_t *(*build)(void *arg);         /* lazy env (tomo_rt_out_init_json) */
    void *build_arg;
} tomo_rt_out;
void tomo_rt_out_init(tomo_rt_out *o, json_t *envelope);
/* Hot paths that format the JSON text themselves: json[0..len) is the
 * canonical JSON encoding of the envelope (copied into the shared frame);
 * the tree is built with build(arg) only if a protobuf recipient needs it,
 * and arg must stay valid until tomo_rt_out_clear. type is the envelope
 * type (static), for metrics. */
void tomo_rt_out_init_json(tomo_rt_out *o, const char *type, const char *json, size_t len,
                           json_t *(*build)(void *arg), void *arg);
int tomo_rt_out_send(tomo_rt_out *o, tomo_rt_session *s);
/* o's encoding in format (TOMO_RT_FORMAT_*), encoded now if no send needed
 * it yet (borrowed: ref it to keep it); NULL if it cannot be encoded. */
tomo_frame *tomo_rt_out_frame(tomo_rt_out *o, int format);
void tomo_rt_out_clear(tomo_rt_out *o);

/* UserPresence object {user_id, session_id, username} of a session. */
json_t *tomo_rt_session_presence_json(const tomo_rt_session *s);

#endif
