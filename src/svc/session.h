/* svc/session.h: session and refresh tokens (Nakama 3.40 claim set: tid, uid,
 * usn, vrs, exp, iat): issuing, verification (signature, expiry,
 * revocation), and the session operations shared by every transport:
 * start a session for an account (the common tail of every authenticate
 * flow), refresh, logout.
 * Owns: tomo_session_claims. Revocation state lives in svc/revoke.h.
 * Threads: token issue/parse/verify: any thread (CPU work plus the
 *          revocation cache; the first check after a failed start-up load
 *          may read the tables once). Functions taking a tomo_dbconn block:
 *          worker threads only. */
#ifndef TOMO_SVC_SESSION_H
#define TOMO_SVC_SESSION_H

#include <stdint.h>

#include "svc.h"

/* Verified session claims (Bearer, WebSocket or refresh token). */
typedef struct tomo_session_claims {
    char user_id[37];
    char username[129];
    char token_id[37];
    int64_t exp, iat;
    struct json_t *vars; /* object or NULL; owned (jansson) */
} tomo_session_claims;

/* Release claims->vars (the rest is inline). Safe on zeroed claims. */
void tomo_session_claims_clear(tomo_session_claims *c);

/* Verify a session token: signature (session.encryption_key), expiry and
 * revocation. 0 or TOMO_EAUTH (*out is then cleared). Any thread. Release
 * *out with tomo_session_claims_clear. */
int tomo_svc_session_verify(tomo_svc *svc, const char *token, tomo_session_claims *out);

/* The same for a refresh token (session.refresh_encryption_key). */
int tomo_svc_session_verify_refresh(tomo_svc *svc, const char *token, tomo_session_claims *out);

/* Signature and expiry only, with the session (refresh=0) or refresh key;
 * no revocation check (logout names tokens that may already be revoked). */
int tomo_svc_session_parse(tomo_svc *svc, const char *token, int refresh,
                           tomo_session_claims *out);

/* Sign a session token and its refresh token for a user. Both carry the same
 * tid and iat. tid NULL: a new UUIDv4. iat 0: the issue time the revocation
 * module allows now (tomo_revoke_issue_sec). vars: object of strings or
 * NULL (borrowed; omitted from the claims when empty). *token and *refresh
 * are heap strings the caller frees; refresh may be NULL when not wanted. */
void tomo_svc_session_issue(tomo_svc *svc, const char *user_id, const char *username,
                            const struct json_t *vars, const char *tid, int64_t iat,
                            char **token, char **refresh);

/* A session token alone (the runtime's authenticate_token_generate): a new
 * token id, issued now (tomo_revoke_issue_sec), expiring at exp (unix
 * seconds; 0: now + session.token_expiry_sec), written to *exp_out when
 * not NULL. Heap string; the caller frees. */
char *tomo_svc_session_token(tomo_svc *svc, const char *user_id, const char *username,
                             const struct json_t *vars, int64_t exp, int64_t *exp_out);

/* A session pair (both heap strings; tomo_session_pair_clear frees them). */
typedef struct tomo_session_pair {
    char *token, *refresh_token;
} tomo_session_pair;
void tomo_session_pair_clear(tomo_session_pair *p);

/* Start a session for an account an authenticate flow found or created:
 * refuses a banned account (disable_time > 0: PERMISSION_DENIED "User
 * account banned."), revokes the user's older tokens when
 * session.single_session is set, then issues a pair. Worker. */
int tomo_svc_session_start(tomo_svc *svc, tomo_dbconn *db, const char *user_id,
                           const char *username, int64_t disable_time, const struct json_t *vars,
                           tomo_session_pair *out, tomo_err *err);

/* Refresh: verify the refresh token, check the account still exists and is
 * not banned, and re-sign both tokens with the same token id and issue time
 * (3.40); vars NULL keeps the token's own vars. Errors: INVALID_ARGUMENT
 * (empty token), UNAUTHENTICATED (invalid/expired/revoked), NOT_FOUND,
 * PERMISSION_DENIED (banned), store errors. Worker. */
int tomo_svc_session_refresh(tomo_svc *svc, tomo_dbconn *db, const char *refresh_token,
                             const struct json_t *vars, tomo_session_pair *out, tomo_err *err);

/* Logout as caller (a user): revoke the named session and/or refresh token
 * (each must be the caller's own: INVALID_ARGUMENT otherwise); with neither
 * named (or neither carrying a token id), every token of the caller.
 * token/refresh_token may be NULL or "". Worker. */
int tomo_svc_session_logout(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *token, const char *refresh_token, tomo_err *err);

#endif
