/* rt/tracker.h: streams and presences (who is where), with join/leave events.
 * Owns: tomo_tracker, its streams (one per {mode, subject, subcontext,
 *       label} with at least one presence) and tomo_presence entries, the
 *       stream map (key -> stream) and each session's presence list, the
 *       pending presence events and the per-mode event listeners.
 * Borrows: tomo_rt_session (rt/session.h); a presence's user id, session id
 *          and username are the session's own.
 * Threads: loop thread only.
 *
 * Events: track/untrack/update queue join and leave entries per stream
 * (hidden presences are never announced); tomo_tracker_flush() delivers them
 * in order, one call per stream with all its joins and leaves, to the
 * listener registered for the stream's mode. The realtime layer flushes
 * after every handled envelope, after every closed session and once per loop
 * iteration, so a reply is always sent before the events it causes.
 * Modes without a listener get Nakama's default: a `stream_presence_event`
 * to every session on the stream.
 *
 * Remote presences: sessions on another loop (socket.loops) or node are
 * tracked here too, through the *_remote functions a routing
 * implementation (rt/route.h) calls, on *ghost* sessions the tracker owns
 * (session.h `_ghost`; created with the first remote presence of a session
 * id, freed with its last). Listings and counts are therefore process-wide
 * (cluster-wide once the cluster feeds them). Events are queued for remote
 * changes too, so each loop's listeners tell ITS sessions; broadcasts skip
 * ghosts (the routing serves them once per origin). The observer sees every
 * local (non-ghost) change, for the routing to replicate. */
#ifndef TOMO_RT_TRACKER_H
#define TOMO_RT_TRACKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* Stream modes (Nakama's numbering). */
enum {
    TOMO_STREAM_NOTIFICATIONS = 0,
    TOMO_STREAM_STATUS = 1,
    TOMO_STREAM_CHANNEL = 2,
    TOMO_STREAM_GROUP = 3,
    TOMO_STREAM_DM = 4,
    TOMO_STREAM_MATCH_RELAYED = 5,
    TOMO_STREAM_MATCH_AUTHORITATIVE = 6,
    TOMO_STREAM_PARTY = 7,
    TOMO_STREAM_MODE_MAX = 16,
};

/* A stream address. Strings are borrowed for the call; NULL means "". */
typedef struct tomo_stream {
    int mode;
    const char *subject, *subcontext, *label;
} tomo_stream;

typedef struct tomo_tracker tomo_tracker;
typedef struct tomo_tstream tomo_tstream; /* a tracked stream (private) */

/* What a tracker reports to its observer (tomo_tracker_observe). */
enum { TOMO_TRACKER_TRACK = 1, TOMO_TRACKER_UPDATE = 2, TOMO_TRACKER_UNTRACK = 3 };

struct tomo_presence {
    tomo_rt_session *session; /* user id, session id and username */
    char *status;             /* status streams only, else NULL (heap) */
    uint8_t persistence, hidden;
    /* private */
    tomo_tstream *_stream;
    tomo_presence *_sprev, *_snext;   /* on the stream */
    tomo_presence *_next_of_session;  /* the session's list */
};

tomo_tracker *tomo_tracker_new(void);
/* Frees streams and presences without events. */
void tomo_tracker_free(tomo_tracker *t);

/* Track session s on stream st. Returns 1 if newly tracked, 0 if it was
 * already there (nothing changes), TOMO_EINVAL for a bad mode. status may be
 * NULL (it is copied). A join event is queued unless hidden. */
int tomo_tracker_track(tomo_tracker *t, tomo_rt_session *s, const tomo_stream *st,
                       int persistence, int hidden, const char *status);
/* Track or replace the presence's meta; a visible old presence leaves and
 * the new one joins (Nakama's update). Returns 1 if new, 0 if updated. */
int tomo_tracker_update(tomo_tracker *t, tomo_rt_session *s, const tomo_stream *st,
                        int persistence, int hidden, const char *status);
/* Untrack; returns 1 if it was tracked. A leave event is queued unless
 * hidden. */
int tomo_tracker_untrack(tomo_tracker *t, tomo_rt_session *s, const tomo_stream *st);
/* Untrack the session everywhere (its socket closed). Returns the count. */
size_t tomo_tracker_untrack_all(tomo_tracker *t, tomo_rt_session *s);
/* Untrack the session from every stream of `mode` except `keep` (may be
 * NULL): single_match style. Returns the count. */
size_t tomo_tracker_untrack_mode(tomo_tracker *t, tomo_rt_session *s, int mode,
                                 const tomo_stream *keep);

/* The session's presence on a stream, or NULL. */
tomo_presence *tomo_tracker_get(tomo_tracker *t, const tomo_rt_session *s,
                                const tomo_stream *st);
/* Presences on a stream (hidden ones included), or 0. */
size_t tomo_tracker_count(tomo_tracker *t, const tomo_stream *st);
/* Iterate a stream's presences, oldest first:
 *     for (tomo_presence *p = tomo_tracker_first(t, &st); p; p = tomo_presence_next(p))
 * Do not track/untrack on that stream while iterating. */
tomo_presence *tomo_tracker_first(tomo_tracker *t, const tomo_stream *st);
tomo_presence *tomo_presence_next(const tomo_presence *p);
/* The stream a presence is on (strings valid while the presence is). */
void tomo_presence_stream(const tomo_presence *p, tomo_stream *out);
/* The session's presences: p = s->_presences; p = p->_next_of_session. */

/* Presences on a stream as a JSON array of UserPresence objects
 * ({user_id, session_id, username, persistence, status}; hidden ones only
 * when include_hidden). New reference. */
json_t *tomo_tracker_list_json(tomo_tracker *t, const tomo_stream *st, int include_hidden);
/* One presence as a UserPresence object (status only on status streams). */
json_t *tomo_presence_json(const tomo_presence *p);

/* Streams of one mode: count and iteration (match listing). The callback
 * gets the stream and its presence count; return non-zero to stop. */
size_t tomo_tracker_stream_count(tomo_tracker *t, int mode);
void tomo_tracker_each_stream(tomo_tracker *t, int mode,
                              int (*fn)(const tomo_stream *st, size_t count, void *ud), void *ud);

/* Event listener for a mode. joins and leaves are JSON arrays of
 * UserPresence (borrowed; either may be empty, not both). The stream's
 * strings are valid during the call. One listener per mode; a later call
 * replaces it. */
typedef void (*tomo_tracker_event_fn)(tomo_rt *rt, const tomo_stream *st, json_t *joins,
                                      json_t *leaves, void *ud);
void tomo_tracker_listen(tomo_tracker *t, int mode, tomo_tracker_event_fn fn, void *ud);
/* Deliver queued events (see above). rt is passed to listeners. */
void tomo_tracker_flush(tomo_tracker *t, tomo_rt *rt);
/* Events waiting for a flush. */
size_t tomo_tracker_pending(const tomo_tracker *t);
/* Total presences tracked. */
size_t tomo_tracker_size(const tomo_tracker *t);

/* Send an envelope (stolen) to every session on a stream, encoded once per
 * format; skip_session (may be NULL) is left out. Returns recipients. */
size_t tomo_tracker_broadcast(tomo_tracker *t, const tomo_stream *st, json_t *envelope,
                              const tomo_rt_session *skip_session);
/* The same through the caller's o (not cleared: the frames it encoded stay
 * there for the caller, e.g. for the hand-off to other loops). */
size_t tomo_tracker_broadcast_out(tomo_tracker *t, const tomo_stream *st, tomo_rt_out *o,
                                  const tomo_rt_session *skip_session);

/* ---- remote presences (routing implementations; see above) ---- */

/* The loop the ghosts are sent through (their `rt`; tomo_rt_new sets it). */
void tomo_tracker_set_owner(tomo_tracker *t, tomo_rt *rt);
/* Track (or update the meta of) session session_id of origin on st. The
 * ghost's user id and username are those of its first presence. Returns 1
 * if new, 0 if updated, TOMO_EINVAL for a bad mode or id. Events as for
 * tomo_tracker_update. */
int tomo_tracker_track_remote(tomo_tracker *t, uint32_t origin, const char *session_id,
                              const char *user_id, const char *username, const tomo_stream *st,
                              int persistence, int hidden, const char *status);
/* Untrack a remote presence; 1 if it was tracked. */
int tomo_tracker_untrack_remote(tomo_tracker *t, const char *session_id, const tomo_stream *st);
/* Untrack every presence of a remote session / of every session of an
 * origin (a loop or node is gone). Returns the count. */
size_t tomo_tracker_untrack_remote_session(tomo_tracker *t, const char *session_id);
size_t tomo_tracker_untrack_origin(tomo_tracker *t, uint32_t origin);
/* fn(ud, session_id) when a ghost's last presence leaves (the remote
 * session is gone: its matchmaker tickets go too). One callback. */
void tomo_tracker_on_ghost_gone(tomo_tracker *t, void (*fn)(void *ud, const char *session_id),
                                void *ud);
/* The ghost of a remote session, or NULL. */
tomo_rt_session *tomo_tracker_ghost(tomo_tracker *t, const char *session_id);
/* Remote presences on a stream (0: local delivery is all there is). */
size_t tomo_tracker_remote_count(tomo_tracker *t, const tomo_stream *st);
/* Distinct origins of a stream's remote presences into out[0..cap); returns
 * how many (at most cap), in first-presence order. */
size_t tomo_tracker_origins(tomo_tracker *t, const tomo_stream *st, uint32_t *out, size_t cap);
/* Local presences only (the presences gauge; tomo_tracker_size counts all). */
size_t tomo_tracker_local_size(const tomo_tracker *t);
/* 1 while a listener runs for an event batch made of remote changes only
 * (listeners with side effects beyond telling local sessions, e.g. telling
 * a match handler, act on local batches only: the origin's loop acts). */
int tomo_tracker_event_is_remote(const tomo_tracker *t);

/* Observer of local changes: fn(ud, op, s, st, persistence, hidden, status)
 * runs synchronously after each track/update/untrack of a non-ghost
 * session (op TOMO_TRACKER_*; status NULL unless a status stream), and of
 * a ghost when this loop made the change itself (not through the *_remote
 * calls): the owner of a party or match tracking a session that lives
 * elsewhere; s->_ghost tells them apart. One observer; NULL removes it.
 * A tomo_tracker_track_remote identical to the presence already held is a
 * no-op (no events): the replica of such an owner-made change. */
typedef void (*tomo_tracker_observe_fn)(void *ud, int op, const tomo_rt_session *s,
                                        const tomo_stream *st, int persistence, int hidden,
                                        const char *status);
void tomo_tracker_observe(tomo_tracker *t, tomo_tracker_observe_fn fn, void *ud);

/* Canonical stream key "<mode>.<subject>.<subcontext>.<label>" into a heap
 * string (the same shape as a channel id). */
char *tomo_stream_key(const tomo_stream *st);

#endif
