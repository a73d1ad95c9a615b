/* rt/envelope.h: inbound envelope dispatch and replies.
 * Owns: the dispatch table (envelope type = the oneof field name, e.g.
 *       "match_join" -> handler), tomo_rt_req (one inbound request), the reply
 *       helpers (result with cid, empty ack, error envelope) and the helper
 *       that runs blocking work on the worker pool and resumes on the loop.
 * Borrows: the session (rt/session.h).
 * Threads: loop thread only, except the `work` function of tomo_rt_async,
 *          which runs on a worker and must not touch realtime state.
 *
 * A feature module registers its handlers at start-up from its init
 * function, listed in rt/modules.c:
 *     static int channel_join(tomo_rt_req *req) { ...; return tomo_rt_reply(req, "channel", ch); }
 *     void tomo_rt_channel_init(tomo_rt *rt) { tomo_rt_register(rt, "channel_join", channel_join); }
 *
 * Every request is canonical protojson whatever the socket format: protobuf
 * frames are transcoded before dispatch and replies are encoded per session.
 * A handler returns 0 when it replied (or deliberately sends nothing, as
 * match_data_send does), TOMO_RT_ASYNC when it kept the request for later
 * (tomo_rt_async), or a negative TOMO_E* after tomo_rt_reply_error (any
 * other failure without an error envelope gets code 0 "Internal error").
 * Error codes are Nakama's (TOMO_RT_ERR_*). */
#ifndef TOMO_RT_ENVELOPE_H
#define TOMO_RT_ENVELOPE_H

#include <jansson.h>

#include "session.h"

/* nakama.realtime.Error codes. */
enum {
    TOMO_RT_ERR_RUNTIME_EXCEPTION = 0,
    TOMO_RT_ERR_UNRECOGNIZED_PAYLOAD = 1,
    TOMO_RT_ERR_MISSING_PAYLOAD = 2,
    TOMO_RT_ERR_BAD_INPUT = 3,
    TOMO_RT_ERR_MATCH_NOT_FOUND = 4,
    TOMO_RT_ERR_MATCH_JOIN_REJECTED = 5,
    TOMO_RT_ERR_RUNTIME_FUNCTION_NOT_FOUND = 6,
    TOMO_RT_ERR_RUNTIME_FUNCTION_EXCEPTION = 7,
};

/* Returned by a handler that will reply later. */
#define TOMO_RT_ASYNC 1

typedef struct tomo_rt_req {
    tomo_rt *rt;
    tomo_rt_session *session; /* held while the request lives */
    char *cid;                /* NULL when the request had none */
    const char *type;         /* registered type name (static) */
    json_t *body;             /* the payload object, e.g. {"match_id":"..."} */
    json_t *env;              /* the whole envelope */
    int replied;
    int after_hook;           /* a runtime after hook wants the reply */
    json_t *reply_env;        /* the reply kept for it */
} tomo_rt_req;

typedef int (*tomo_rt_handler)(tomo_rt_req *req);

/* Register the handler of an envelope type on a loop's dispatch table
 * (start-up, from the module's init in rt/modules.c, which runs once per
 * loop context). A type registered twice keeps the last handler. type must
 * be static. */
void tomo_rt_register(tomo_rt *rt, const char *type, tomo_rt_handler fn);
/* Handler of a type, or NULL. */
tomo_rt_handler tomo_rt_handler_of(tomo_rt *rt, const char *type);

/* Reply {cid, <type>: payload}. payload is stolen (NULL means {}); type NULL
 * sends an empty ack {"cid": ...}. Sent only if the session is still open.
 * Returns 0. */
int tomo_rt_reply(tomo_rt_req *req, const char *type, json_t *payload);
/* Reply with an error envelope {cid, error:{code, message}}; returns
 * TOMO_EINVAL so a handler can `return tomo_rt_reply_error(...)`. */
int tomo_rt_reply_error(tomo_rt_req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Envelope {error:{code, message}} without cid (new reference). */
json_t *tomo_rt_error_envelope(const char *cid, int code, const char *message);

/* Run work(req, arg) on the worker pool, then done(req, arg) on the loop;
 * the handler returns TOMO_RT_ASYNC. done runs even if the session closed
 * meanwhile (check tomo_rt_session_alive; replies to a closed session are
 * dropped); the request is freed after done returns. When the pool is full,
 * the client gets error code 0 "Server busy, try again." and the request is
 * finished at once; the return value is then TOMO_EAGAIN (which a handler
 * may return as is: the error was sent). */
int tomo_rt_async(tomo_rt_req *req, void (*work)(tomo_rt_req *req, void *arg),
                  void (*done)(tomo_rt_req *req, void *arg), void *arg);

/* Handle one inbound envelope (canonical JSON, borrowed) for a session.
 * Used by the socket layer; tests may call it directly. */
void tomo_rt_dispatch(tomo_rt_session *s, json_t *env);
/* Run fn on env as a request of `type` (after any before hook when
 * hooked is set); used by rt/hooks.c to resume after a before hook. */
void tomo_rt_dispatch_handler(tomo_rt_session *s, json_t *env, const char *type,
                              tomo_rt_handler fn, int hooked);
/* A request for a handler-less step (rt/hooks.c) and its end (rc < 0 with
 * no reply sends "Internal error"). */
tomo_rt_req *tomo_rt_req_new(tomo_rt_session *s, json_t *env, const char *type);
void tomo_rt_req_finish(tomo_rt_req *r, int rc);

/* rt/hooks.c: 1 if a before hook took the envelope (it resumes later). */
int tomo_rt_hooks_before(tomo_rt_session *s, json_t *env, const char *type, tomo_rt_handler fn);
int tomo_rt_hooks_has_after(tomo_rt *rt, const char *type);
/* Queue the after hook for a finished request with a kept reply. */
void tomo_rt_hooks_after(tomo_rt_req *r);

#endif
