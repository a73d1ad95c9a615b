/* rt/hooks.h: the seam through which the realtime layer reaches the Lua
 * runtime (a layer above it): socket RPCs and realtime before/after hooks.
 * Owns: nothing; serve.c fills the seam at start-up (runtime/bridge.c
 *       implements it) with tomo_rt_set_runtime.
 * Threads: `rpc`, `before` and `after` block (they run Lua): rt calls them
 *          on the worker pool only; `has_hook` may be called on the loop.
 *          The session passed is held by the caller; only its immutable
 *          identity fields (id, user_id, username, lang, vars, expiry) may be
 *          read. */
#ifndef TOMO_RT_HOOKS_H
#define TOMO_RT_HOOKS_H

#include <jansson.h>
#include <stddef.h>

#include "session.h"

typedef struct tomo_rt_runtime {
    void *ctx;
    /* Run RPC id. 0 with *out (malloc'd or NULL) or a negative value with
     * *code (gRPC code) and msg filled. */
    int (*rpc)(void *ctx, tomo_rt_session *s, const char *id, const char *payload, size_t len,
               char **out, size_t *out_len, int *code, char *msg, size_t msglen);
    /* 1 if a before (after=0) or after (after=1) hook exists for the
     * envelope type ("channel_join"). */
    int (*has_hook)(void *ctx, int after, const char *type);
    /* Before hook: 0 with *out the envelope to handle (new reference) or
     * NULL (rejected); negative with msg on a hook error. */
    int (*before)(void *ctx, tomo_rt_session *s, const char *type, json_t *env, json_t **out,
                  char *msg, size_t msglen);
    /* After hook on the reply (borrowed) and the request envelope. */
    void (*after)(void *ctx, tomo_rt_session *s, const char *type, json_t *out_env,
                  json_t *in_env);
} tomo_rt_runtime;

/* Install the seam (start-up, before serving). NULL members are absent. */
void tomo_rt_set_runtime(tomo_rt *rt, const tomo_rt_runtime *seam);
/* The installed seam (never NULL; members may be NULL). */
const tomo_rt_runtime *tomo_rt_runtime_of(tomo_rt *rt);

#endif
