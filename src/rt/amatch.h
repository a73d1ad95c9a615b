/* rt/amatch.h: authoritative matches: the registry, the match threads, and
 * what the transports and the runtime call.
 * Owns: every authoritative match (its handler instance and state, its
 *       input and event queues, its label and the label's query document),
 *       the match worker threads (one per CPU; each match lives on one of
 *       them and ticks on its own schedule), the authoritative_match_count
 *       gauge.
 * Borrows: the handler registry (rt/match_handler.h, filled by the runtime),
 *       the loop and tracker of its tomo_rt (joins, data and presence events
 *       come from the loop; outgoing messages are posted back to it).
 * Threads: functions marked "any thread" may be called from workers, match
 *          threads or the loop; the others run on the loop thread only.
 *
 * Flow: nk.match_create runs init on the calling thread, then the match is
 * handed to a match thread. A socket's match_join (loop) queues a join
 * attempt; the match thread answers it and posts the answer to the loop,
 * which tracks the session on the match's stream (mode 6, subject the uuid,
 * label the node) and replies; the tracker's join and leave events become
 * the handler's join / leave calls and match_presence_event envelopes.
 * match_data_send (loop) appends to the match's input queue (bounded by
 * match.input_queue_size: past it messages are dropped); every tick the
 * handler's loop gets the batch. Broadcasts are encoded once (JSON text on
 * the match thread, in one allocation with the message) and what a match
 * thread's calls produce reaches the loop in one post per round of due
 * work (a batch, in call order; at most ~1 ms old). A match's first tick
 * falls on a 1 ms grid, so matches of one tick rate fall due together and
 * run in one wake-up of their thread. */
#ifndef TOMO_RT_AMATCH_H
#define TOMO_RT_AMATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "match_handler.h"
#include "rt.h"
#include "session.h"

#define TOMO_MATCH_LABEL_MAX 2048
#define TOMO_MATCH_ID_MAX 128

/* Install the runtime's handler registry (start-up, main thread; copied). */
void tomo_rt_set_match_handlers(tomo_rt *rt, const tomo_match_handler_registry *reg);

/* Create a match from module `module` with params (object or NULL,
 * borrowed): init runs on the calling thread. Any thread. Returns 0 with
 * id[TOMO_MATCH_ID_MAX], TOMO_ENOTFOUND (no such module: err "not found"),
 * or another negative value with Nakama's message in err. */
int tomo_rt_amatch_create(tomo_rt *rt, const char *module, json_t *params, char *id, char *err,
                          size_t errlen);

/* The match table {match_id, authoritative:true, label, size, tick_rate,
 * handler_name} of a live authoritative match, or NULL. Any thread. */
json_t *tomo_rt_amatch_get(tomo_rt *rt, const char *id);

/* Listing parameters (GET /v2/match, nk.match_list). */
typedef struct tomo_match_query {
    int limit;
    int authoritative;   /* -1 unset, 0 false, 1 true */
    const char *label;   /* exact label or NULL */
    int min_size, max_size; /* -1: no bound */
    const char *query;   /* Nakama query syntax or NULL; "" matches all */
} tomo_match_query;

/* Append matching authoritative matches to out (a JSON array), at most
 * q->limit in all. Any thread. Returns 0 or TOMO_EINVAL (the query does not
 * parse). */
int tomo_rt_amatch_list(tomo_rt *rt, const tomo_match_query *q, json_t *out);
/* The whole listing (authoritative, then relayed matches where Nakama adds
 * them): loop thread. Returns 0 or TOMO_EINVAL (bad query). */
int tomo_rt_match_list_all(tomo_rt *rt, const tomo_match_query *q, json_t *out);

/* match_signal: blocks until the handler answered (at most 10 s). Any
 * thread but the target's own. Returns 0 with *result (heap, may be "") or
 * TOMO_ENOTFOUND / TOMO_EAGAIN (busy, stopped, failed or timed out). */
int tomo_rt_amatch_signal(tomo_rt *rt, const char *id, const char *data, char **result);
/* The console's MatchState of an authoritative match as JSON text (heap):
 * {presences: [UserPresence], tick: "<n>", state: "<the handler's
 * rendering of its state>"}. Read on the match's thread between calls.
 * TOMO_ENOTFOUND, TOMO_EAGAIN (queue full, the state call failed, or
 * 10 s without an answer). Any thread but a loop thread. */
int tomo_rt_amatch_state(tomo_rt *rt, const char *id, char **json_out);

/* Live authoritative matches (any thread). */
size_t tomo_rt_amatch_count(tomo_rt *rt);

/* ---- the cluster's directory of matches (rt/route_cluster.c) ----
 * A match's listing summary. label NULL: the match ended. */
typedef struct tomo_amatch_info {
    const char *id, *label, *handler_name;
    int size, tick_rate;
    int64_t create_ms;
} tomo_amatch_info;
typedef void (*tomo_rt_amatch_observe_fn)(void *ud, const tomo_amatch_info *mi);
/* One observer of this process's matches: fn runs after a match is
 * created, after its label or size changed and when it ended, on the
 * thread that made the change, with the registry locked (so what it
 * publishes is in the order of the changes; it must not call back here).
 * NULL removes it. Start-up / shutdown. */
void tomo_rt_amatch_observe(tomo_rt *rt, tomo_rt_amatch_observe_fn fn, void *ud);
/* fn for every live match of this process (registry locked, as above). */
void tomo_rt_amatch_each(tomo_rt *rt, tomo_rt_amatch_observe_fn fn, void *ud);
/* Matches of other nodes (node: the cluster's id for the node): listed by
 * tomo_rt_amatch_list and returned by tomo_rt_amatch_get like local ones;
 * they run on their node. put adds or updates (mi->label NULL removes);
 * drop removes every match of node (node gone, or its full list follows).
 * Any thread. */
void tomo_rt_amatch_remote_put(tomo_rt *rt, uint32_t node, const tomo_amatch_info *mi);
void tomo_rt_amatch_remote_drop(tomo_rt *rt, uint32_t node);
/* Shutdown with a grace period: every match gets terminate(grace) once and
 * keeps ticking; at the deadline the remaining ones stop. Loop thread. */
void tomo_rt_amatch_terminate_all(tomo_rt *rt, int grace_sec);
/* Stop every match now (no terminate call) and join the match threads:
 * after the loop stopped, before tomo_rt_free. Main thread. */
void tomo_rt_amatch_stop_all(tomo_rt *rt);

/* ---- rt-internal (loop thread) ---- */
struct tomo_rt_req;
void tomo_rt_amatch_init(tomo_rt *rt);
void tomo_rt_amatch_free(tomo_rt *rt); /* stops what still runs (tomo_rt_free) */
/* match_join on an authoritative id: replies now or later (TOMO_RT_ASYNC). */
int tomo_rt_amatch_join(struct tomo_rt_req *req, const char *uuid, const char *node,
                        const char *match_id, json_t *metadata);
/* match_data_send from a member (checked by the caller). */
void tomo_rt_amatch_data(tomo_rt *rt, const char *uuid, const char *node, tomo_rt_session *s,
                         json_t *body);

#endif
