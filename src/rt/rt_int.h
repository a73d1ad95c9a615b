/* rt/rt_int.h: realtime state shared by the rt/ modules (private).
 * Owns: struct tomo_rt (hung on tomo_rt.rt) and the metric handles.
 * Threads: loop thread only. */
#ifndef TOMO_RT_RT_INT_H
#define TOMO_RT_RT_INT_H

#include "../core/metrics.h"
#include "../core/hmap.h"
#include "hooks.h"
#include "rt.h"
#include "route.h"
#include "session.h"
#include "tracker.h"

struct tomo_rt {
    /* dependencies (tomo_rt_deps, copied) */
    const tomo_config *cfg;
    tomo_loop *loop;
    tomo_pool *pool;
    tomo_db *db;
    tomo_svc *svc;
    struct tomo_ratelimit *ratelimit;
    tomo_rt_routing routing;   /* rt/route.h; zero: this loop only */
    uint32_t origin;           /* this loop's origin id (rt/route.h) */
    tomo_rt *home;             /* the loop owning the process's singletons (itself by default) */
    tomo_tracker *tracker;
    tomo_hmap handlers;        /* envelope type -> handler entry (rt/envelope.c) */
    tomo_hmap out_types;       /* envelope type -> sent count (rt/session.c) */
    uint64_t bytes_in, bytes_out, bytes_in_reported, bytes_out_reported;
    double presences_reported; /* presences gauge: this loop's share */
    tomo_hmap chat_sessions;   /* session id -> chat state (rt/channel.c) */
    tomo_ws_loop *ws;          /* this loop's WebSocket state (net/ws.h) */
    tomo_hmap sessions;        /* session id -> session */
    tomo_hmap users;           /* user id -> newest session (chain by _user_next) */
    tomo_rt_session *all;      /* every session, for the liveness scan */
    tomo_rt_session *scan_pos; /* where the next scan batch starts */
    size_t nsessions;
    tomo_hmap followers;       /* user id -> status follower list (rt/status.c) */
    uv_timer_t scan_timer;
    uv_check_t flush_check;
    uv_prepare_t flush_prepare; /* the routing's flush before the loop blocks */
    int stopping;
    size_t trimmed;              /* parser contexts freed since the last malloc_trim */
    int64_t last_malloc_trim_ms;
    uint64_t trim_bytes_in; /* bytes_in at the last scan (a trim waits for a quiet loop) */
    int64_t trim_check_ms;
    void *mm;    /* matchmaker (rt/matchmaker_rt.c) */
    void *party; /* parties (rt/party.c) */
    void *amatch; /* authoritative matches (rt/amatch.c) */
    tomo_rt_runtime runtime; /* the runtime seam (rt/hooks.h) */
};

typedef struct tomo_rt_metrics {
    tomo_metric *conns_active, *sessions_active, *msgs_in, *msgs_out, *bytes_in, *bytes_out,
        *slow_consumers, *ws_opened, *ws_closed, *presences;
} tomo_rt_metrics;
extern tomo_rt_metrics tomo_rt_m;

/* The metric handles are process-wide (registered once, read-only after);
 * the counts behind them are per loop (tomo_rt) and pushed to the registry
 * as deltas by tomo_rt_metrics_flush (liveness scan, shutdown), so several
 * loops add up. */
void tomo_rt_metrics_register(void);
void tomo_rt_metrics_flush(tomo_rt *rt);
void tomo_rt_metrics_reset(tomo_rt *rt);
/* envelope.c: push per-type receive counts to the registry (the hot path
 * takes no metrics lock); drop the dispatch table (tomo_rt_free). */
void tomo_rt_handlers_flush_metrics(tomo_rt *rt);
void tomo_rt_handlers_reset(tomo_rt *rt);

/* The presences gauge counts every loop's presences: add this loop's
 * change since it last reported. */
static inline void tomo_rt_presences_gauge(tomo_rt *rt)
{
    double n = (double)tomo_tracker_local_size(rt->tracker);
    if (n != rt->presences_reported) {
        tomo_metric_add(tomo_rt_m.presences, NULL, n - rt->presences_reported);
        rt->presences_reported = n;
    }
}

/* Untrack this loop's sessions of a user from st (svc_push.c, loops.c). */
void tomo_rt_user_stream_leave_local(tomo_rt *rt, const tomo_stream *st, const char *user_id);

/* channel.c: drop the per-session chat state (tomo_rt_free). */
void tomo_rt_channel_free(tomo_rt *rt);

/* session.c */
tomo_rt_session *tomo_rt_session_new(tomo_rt *rt, const tomo_session_claims *c, int format,
                                     const char *lang);
void tomo_rt_session_attach(tomo_rt_session *s, tomo_ws *ws);
void tomo_rt_session_on_closed(tomo_rt_session *s);
/* Envelope type name (oneof member) of an envelope, or NULL. */
const char *tomo_rt_envelope_type(json_t *env);

/* status.c */
void tomo_rt_status_unfollow_all(tomo_rt_session *s);
void tomo_rt_status_follow_self(tomo_rt_session *s);
void tomo_rt_status_free(tomo_rt *rt);

/* matchmaker_rt.c */
struct json_t;
struct tomo_mm_presence;
void tomo_rt_matchmaker_init(tomo_rt *rt);
void tomo_rt_matchmaker_close(tomo_rt *rt); /* stop its timers (close_all) */
void tomo_rt_matchmaker_free(tomo_rt *rt);
/* Drop every ticket holding the session (teardown). */
void tomo_rt_matchmaker_session_gone(tomo_rt_session *s);
void tomo_rt_matchmaker_session_id_gone(tomo_rt *rt, const char *session_id);
/* matchmaker_add / party_matchmaker_add bounds: NULL if valid, else
 * Nakama's BAD_INPUT message. */
const char *tomo_rt_mm_validate(struct json_t *body);
/* Add a ticket from a (party_)matchmaker_add body; see tomo_mm_add. */
int tomo_rt_mm_add(tomo_rt *rt, const struct tomo_mm_presence *ps, size_t n,
                   const char *party_id, struct json_t *body, char ticket[37]);
void tomo_rt_mm_presence(const tomo_rt_session *s, struct tomo_mm_presence *p);
/* cluster: add again, for session s, a solo ticket a dead matchmaker node
 * held: body is its matchmaker_add body plus "ticket", the id the client
 * holds, which this matchmaker then answers to (remove, matched). 0 or <0
 * (logged). Home loop. */
int tomo_rt_mm_readd(tomo_rt *rt, const tomo_rt_session *s, struct json_t *body);
size_t tomo_rt_mm_remove_party(tomo_rt *rt, const char *party_id);
/* Remove the party's ticket; TOMO_ENOTFOUND if no such ticket of that party. */
int tomo_rt_mm_remove_party_ticket(tomo_rt *rt, const char *party_id, const char *ticket);

/* party.c */
void tomo_rt_party_init(tomo_rt *rt);
void tomo_rt_party_free(tomo_rt *rt);

#endif
