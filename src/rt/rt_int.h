/* rt/rt_int.h: realtime state shared by the rt/ modules (private).
 * Owns: struct tomo_rt (hung on tomo_server.rt) and the metric handles.
 * Threads: loop thread only. */
#ifndef TOMO_RT_RT_INT_H
#define TOMO_RT_RT_INT_H

#include "../core/metrics.h"
#include "hmap.h"
#include "session.h"
#include "tracker.h"

typedef struct tomo_rt {
    tomo_server *srv;
    tomo_tracker *tracker;
    tomo_hmap sessions;        /* session id -> session */
    tomo_hmap users;           /* user id -> newest session (chain by _user_next) */
    tomo_rt_session *all;      /* every session, for the liveness scan */
    tomo_rt_session *scan_pos; /* where the next scan batch starts */
    size_t nsessions;
    tomo_hmap followers;       /* user id -> status follower list (rt/status.c) */
    uv_timer_t scan_timer;
    uv_check_t flush_check;
    int stopping;
    size_t trimmed;              /* parser contexts freed since the last malloc_trim */
    int64_t last_malloc_trim_ms;
} tomo_rt;

typedef struct tomo_rt_metrics {
    tomo_metric *conns_active, *sessions_active, *msgs_in, *msgs_out, *bytes_in, *bytes_out,
        *slow_consumers, *ws_opened, *ws_closed, *presences;
} tomo_rt_metrics;
extern tomo_rt_metrics tomo_rt_m;

/* Hot-path counters, kept on the loop thread and pushed to the registry by
 * tomo_rt_metrics_flush (liveness scan, shutdown). */
extern uint64_t tomo_rt_bytes_in;
void tomo_rt_metrics_flush(void);
void tomo_rt_metrics_reset(void);
/* envelope.c: push per-type receive counts to the registry (the hot path
 * takes no metrics lock); drop the dispatch table (process end). */
void tomo_rt_handlers_flush_metrics(void);
void tomo_rt_handlers_reset(void);

static inline tomo_rt *tomo_rt_of(tomo_server *srv) { return (tomo_rt *)srv->rt; }

/* session.c */
tomo_rt_session *tomo_rt_session_new(tomo_server *srv, const tomo_session_claims *c, int format,
                                     const char *lang);
void tomo_rt_session_attach(tomo_rt_session *s, tomo_ws *ws);
void tomo_rt_session_on_closed(tomo_rt_session *s);
/* Envelope type name (oneof member) of an envelope, or NULL. */
const char *tomo_rt_envelope_type(json_t *env);

/* status.c */
void tomo_rt_status_unfollow_all(tomo_rt_session *s);
void tomo_rt_status_follow_self(tomo_rt_session *s);
void tomo_rt_status_free(tomo_rt *rt);

#endif
