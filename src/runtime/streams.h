/* runtime/streams.h: presence streams for the runtime's callers (nk.stream_*
 * and session_disconnect, the plugin host's stream_* calls): one call is
 * checked here, posted to the loop thread that owns the tracker, and the
 * calling worker (or match thread) waits for its answer, at most 5 s.
 * Owns: tomo_stream_call (the caller allocates it with
 *       tomo_stream_call_new and frees it with tomo_stream_call_free, unless
 *       tomo_stream_call_run timed out: the loop frees it then).
 * Threads: new/set/free on the calling thread; the call itself on the loop. */
#ifndef TOMO_RUNTIME_STREAMS_H
#define TOMO_RUNTIME_STREAMS_H

#include <jansson.h>
#include <stddef.h>

#include "runtime.h"

enum { TOMO_SC_JOIN, TOMO_SC_UPDATE, TOMO_SC_LEAVE, TOMO_SC_GET, TOMO_SC_LIST, TOMO_SC_COUNT,
       TOMO_SC_CLOSE, TOMO_SC_SEND, TOMO_SC_DISCONNECT };

typedef struct tomo_stream_call {
    tomo_rt *rt;
    tomo_loop *loop;
    const char *node; /* config name (presences) */
    int op;
    /* inputs (owned copies) */
    int mode;
    char subject[37], subcontext[37], label[256];
    char user_id[37], session_id[37];
    int hidden, persistence, include_hidden, include_visible, reliable, reason;
    char *status, *data;
    size_t data_len;
    char **targets; /* stream_send: session ids, NULL = everyone */
    size_t ntargets;
    /* outputs */
    int rc;
    char msg[128];
    json_t *out;
    long long count;
} tomo_stream_call;

/* A call of op for the runtime's realtime layer; NULL when it has none. */
tomo_stream_call *tomo_stream_call_new(tomo_runtime *rt, int op);
void tomo_stream_call_free(void *call);
/* The stream (mode 0..15; subject and subcontext UUIDs or NULL/""; label
 * NULL/"" or shorter than 256 bytes): NULL, or why it is refused. */
const char *tomo_stream_call_stream(tomo_stream_call *c, int mode, const char *subject,
                                    const char *subcontext, const char *label);
/* The same from a JSON object {mode, subject?, subcontext?, label?}. */
const char *tomo_stream_call_stream_json(tomo_stream_call *c, const json_t *stream);
/* The user and session a join/update/leave/get acts on (UUIDs; user_id may
 * be NULL for a disconnect): NULL, or why they are refused. */
const char *tomo_stream_call_ids(tomo_stream_call *c, const char *user_id,
                                 const char *session_id);
/* Run on the loop and wait: 1 when it ran (c->rc / c->msg tell the
 * outcome, c->out / c->count the answer); 0 when it timed out (c belongs to
 * the loop then: do not touch it). */
int tomo_stream_call_run(tomo_runtime *rt, tomo_stream_call *c);

#endif
