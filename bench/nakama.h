/* bench/nakama.h: Nakama protocol helpers for tomo-bench.
 * Owns: the JWT `uid` claim reader (base64 comes from core/codec_util.h), device ids, device-auth
 * requests and the auth pool (authenticates a batch of devices over a few keep-alive connections on
 * one worker), envelope field scanners. Threads: pure functions anywhere; an lg_authpool on its
 * worker's loop. */
#ifndef LG_NAKAMA_H
#define LG_NAKAMA_H

#include <stddef.h>
#include <stdint.h>

#include "http_client.h"
#include "lg.h"

/* Copies the `uid` claim of a session JWT into out (NUL-terminated).
 * 0 or -1. */
int lg_jwt_uid(const char *jwt, char *out, size_t cap);

/* Device id for index idx of a kind ("idle", "relay", ...): prefix + kind +
 * index, always 10..128 bytes. */
void lg_device_id(const lg_ctx *ctx, const char *kind, uint64_t idx, char *out, size_t cap);

/* Sends POST /v2/account/authenticate/device?create=true& for device id. */
int lg_auth_device(lg_http *c, const char *device_id, lg_http_cb cb, void *arg);
/* Extracts "token" from an auth response body; malloc'ed or NULL. Sets
 * *created when the body says "created":true. */
char *lg_auth_token(const char *body, size_t n, int *created);

/* Authenticates `n` devices (kind, global indices idx[i]) with `conns`
 * connections on worker w; tokens[i] receives a malloc'ed token or NULL.
 * A failed device is tried once more. Counts LG_C_AUTH_OK / LG_C_AUTH_ERR.
 * done(arg) runs on the loop once every request finished and the
 * connections are closed; the pool frees itself after done returns. */
typedef void (*lg_authpool_done)(void *arg);
void lg_authpool_run(lg_worker *w, const char *kind, const uint64_t *idx, int n, int conns,
                     char **tokens, lg_authpool_done done, void *arg);

/* Finds `"key":"` in p[0..n) and returns a pointer to the string value
 * (after the opening quote) or NULL; *vlen gets its length up to the next
 * unescaped quote. */
const char *lg_scan_str(const char *p, size_t n, const char *key, size_t *vlen);
/* True if p contains `"name":` as a key (e.g. "match_data"). */
int lg_has_key(const char *p, size_t n, const char *name);

#endif
