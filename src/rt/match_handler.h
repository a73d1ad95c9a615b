/* rt/match_handler.h: the match-handler seam: the interface an
 * authoritative match's logic implements (the Lua runtime, a C plugin), and
 * the dispatcher rt gives it to act on the match. rt/amatch.c hosts the
 * matches (registry, match threads, joins, listing).
 * Owns: the tables below; nothing is allocated here.
 * Threads: every handler function of one match runs on that match's own
 *          thread (a match worker), one call at a time, never on a loop
 *          thread; the dispatcher's functions may be called only from inside
 *          those calls and post their effects to the loops that own the
 *          sockets (through the routing seam, rt/route.h), so a handler
 *          never touches realtime state directly.
 *
 * The calls follow Nakama's match handler (MatchInit, MatchJoinAttempt,
 * MatchJoin, MatchLeave, MatchLoop, MatchSignal, MatchTerminate):
 *   init           once, with the create parameters; sets the tick rate
 *                  (1..60 per second) and the label; returns the state.
 *   join_attempt   per join request; accept or refuse with a reason.
 *   join / leave   presences that joined / left since the last tick.
 *   loop           once per tick with the messages received since the last
 *                  one (in arrival order); a NULL state ends the match.
 *   signal         match_signal from the runtime; returns a result string.
 *   terminate      the server is stopping: grace_seconds to wrap up.
 * A handler owns its state (an opaque pointer: a Lua registry ref, a C
 * struct) and frees it when terminate or loop returns NULL. Setting *state
 * to NULL from any call ends the match (join_attempt: the join is
 * refused). Presences and messages are borrowed for the call. Errors: a handler returns a negative
 * TOMO_E* value and the match ends with a logged error (Nakama: the match
 * stops when a handler raises). */
#ifndef TOMO_RT_MATCH_HANDLER_H
#define TOMO_RT_MATCH_HANDLER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A presence in a match (UserPresence fields). */
typedef struct tomo_match_presence {
    const char *user_id, *session_id, *username, *node;
    /* join / leave only: 0 unknown, 1 join, 2 update, 3 leave, 4 disconnect
     * (Nakama's presence reason); 0 elsewhere. */
    int reason;
} tomo_match_presence;

/* A message sent to the match (MatchDataSend from a client). */
typedef struct tomo_match_message {
    tomo_match_presence sender;
    int64_t op_code;
    const uint8_t *data;
    size_t len;
    int reliable;
    int64_t receive_time_ms;
} tomo_match_message;

/* What rt lets a handler do to its match (Nakama's dispatcher). Every
 * function may be called only from the handler's own calls. presences NULL
 * means every presence of the match; a non-NULL list (n may be 0: nobody)
 * reaches those of them still in the match; sender may be NULL. Each
 * returns 0, TOMO_ETOOBIG (deferred queue full: match.deferred_queue_size;
 * label over 2048 bytes) or TOMO_EINVAL (the match has stopped). */
typedef struct tomo_match_dispatcher {
    void *ctx; /* rt's: pass it back */
    int (*broadcast)(void *ctx, int64_t op_code, const uint8_t *data, size_t len,
                     const tomo_match_presence *presences, size_t n,
                     const tomo_match_presence *sender, int reliable);
    /* Deferred: sent together at the end of the current tick. */
    int (*broadcast_deferred)(void *ctx, int64_t op_code, const uint8_t *data, size_t len,
                              const tomo_match_presence *presences, size_t n,
                              const tomo_match_presence *sender, int reliable);
    int (*kick)(void *ctx, const tomo_match_presence *presences, size_t n);
    int (*label_update)(void *ctx, const char *label);
} tomo_match_dispatcher;

/* The match's identity and context for every call. */
typedef struct tomo_match_ctx {
    const char *match_id; /* "<uuid>.<node>" */
    const char *node;
    int64_t tick;         /* current tick number (0 during init) */
    const tomo_match_dispatcher *dispatcher;
    /* Appended (session 3): */
    const char *label;    /* the current label ("" during init) */
    int tick_rate;        /* 0 during init */
    /* join_attempt only (else NULL / 0): the joining session's token vars
     * (object) and expiry (unix seconds). */
    json_t *vars;
    int64_t session_exp;
    /* join_attempt only: the joining socket's address ("" when unknown). */
    const char *client_ip, *client_port;
} tomo_match_ctx;

/* One authoritative match's logic (implemented by the runtime). */
typedef struct tomo_match_handler {
    void *ud; /* the implementation's (a Lua module, a plugin instance) */
    /* params: the create parameters (object or NULL). Set *tick_rate and
     * copy the label into label[0..label_len). */
    int (*init)(void *ud, const tomo_match_ctx *mc, json_t *params, void **state, int *tick_rate,
                char *label, size_t label_len);
    /* *accept = 1 or 0; a refusal may set reason (copied, may stay ""). */
    int (*join_attempt)(void *ud, const tomo_match_ctx *mc, void **state,
                        const tomo_match_presence *p, json_t *metadata, int *accept,
                        char *reason, size_t reason_len);
    int (*join)(void *ud, const tomo_match_ctx *mc, void **state, const tomo_match_presence *ps,
                size_t n);
    int (*leave)(void *ud, const tomo_match_ctx *mc, void **state, const tomo_match_presence *ps,
                 size_t n);
    int (*loop)(void *ud, const tomo_match_ctx *mc, void **state, const tomo_match_message *msgs,
                size_t n);
    /* *result: a heap string the caller frees, or NULL. */
    int (*signal)(void *ud, const tomo_match_ctx *mc, void **state, const char *data,
                  char **result);
    int (*terminate)(void *ud, const tomo_match_ctx *mc, void **state, int grace_seconds);
    /* The handler is no longer used: release ud. */
    void (*release)(void *ud);
    /* Appended (session 3), may be NULL: the message of the last failed
     * call (valid until the next call), e.g. what init raised, which
     * match_create reports as "error creating match: <message>". */
    const char *(*error)(void *ud);
    /* Appended (session 4), may be NULL: render the state for the console
     * (Nakama's MatchState.state: for Lua, the state as JSON) into *out, a
     * heap string the caller frees. The state must not change. */
    int (*state)(void *ud, const tomo_match_ctx *mc, void **state, char **out);
} tomo_match_handler;

/* How rt finds the handler for a module name (match_create(module) from
 * the runtime, the matchmaker's matched hook): filled in by the runtime at
 * start-up. Every lookup makes a fresh instance for one match (out->ud is
 * that match's: a Lua state of its own, a plugin instance); rt calls
 * out->release once the match is over (also when init fails). Returns 0
 * with *out filled, TOMO_ENOTFOUND, or another negative value (the module
 * failed to load: logged by the implementation). Any thread; it may block
 * (it loads code). */
typedef struct tomo_match_handler_registry {
    void *ctx;
    int (*lookup)(void *ctx, const char *module, tomo_match_handler *out);
} tomo_match_handler_registry;

#endif
