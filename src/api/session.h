/* api/session.h: issuing and checking session and refresh tokens
 * (Nakama 3.40 claim set: tid, uid, usn, vrs, exp, iat).
 * Owns: nothing beyond the calls; revocation state lives in api/revoke.h.
 * Threads: any (pure CPU work plus the revocation cache). Bearer
 *          verification itself is declared in api.h (tomo_session_verify). */
#ifndef TOMO_API_SESSION_H
#define TOMO_API_SESSION_H

#include <jansson.h>
#include <stdint.h>

#include "server.h"

/* Sign a session token and its refresh token for a user. Both carry the same
 * tid and iat. tid NULL: a new UUIDv4. iat 0: the issue time the revocation
 * module allows now (tomo_revoke_issue_sec). vars: object of strings or
 * NULL (borrowed; omitted from the claims when empty). *token and *refresh
 * are heap strings the caller frees; refresh may be NULL when not wanted. */
void tomo_session_issue(tomo_server *srv, const char *user_id, const char *username,
                        const json_t *vars, const char *tid, int64_t iat, char **token,
                        char **refresh);

/* Verify a refresh token: signature (session.refresh_encryption_key),
 * expiry and revocation. 0 or TOMO_EAUTH; claims as tomo_session_verify. */
int tomo_session_verify_refresh(tomo_server *srv, const char *token, tomo_session_claims *out);

/* Signature and expiry only, with the session (refresh=0) or refresh key;
 * no revocation check (logout names tokens that may already be revoked). */
int tomo_session_parse(tomo_server *srv, const char *token, int refresh,
                       tomo_session_claims *out);

#endif
