/* svc/revoke.h: session revocation, Nakama 3.40's deny-list model.
 * A token with a valid signature and a future exp is accepted unless its
 * token id was revoked (logout) or its user logged out everywhere after it
 * was issued (logout-all, single_session, account deletion).
 * Owns: the process-wide revocation cache (revoked session and refresh
 *       token ids with their expiry; per-user logout-all cut-off) and its
 *       persistence in session_revocation / session_logout_all, so
 *       revocations survive a restart.
 * Threads: checks run on any thread (a read lock, no I/O once loaded);
 *          functions taking a tomo_dbconn block: worker threads only.
 *
 * Logout-all stores a cut-off second C (as unix ms in logout_at): tokens with
 * iat < C are revoked, and tokens issued afterwards get iat >= C (see
 * tomo_revoke_issue_sec), so a token issued in the same second as the
 * logout stays valid while every older one is refused. Repeated logouts
 * within one second move C forward by a second each time. */
#ifndef TOMO_SVC_REVOKE_H
#define TOMO_SVC_REVOKE_H

#include <stdint.h>

#include "session.h"

/* Read the tables into the cache and drop expired rows. Blocking (start-up
 * or a worker). 0, or a store error (the cache stays unloaded and every
 * check fails closed until a later load succeeds; checks retry the load at
 * most once a second). */
int tomo_revoke_load(tomo_svc *svc);

/* 1 when the token (session: refresh=0, refresh token: refresh=1) is
 * revoked. */
int tomo_revoke_check(tomo_svc *svc, const tomo_session_claims *c, int refresh);

/* Revoke one token id of a user until exp_sec (the token's own expiry);
 * refresh selects the refresh token. Written to the database first. */
int tomo_revoke_token(tomo_svc *svc, tomo_dbconn *db, const char *tid, const char *user_id,
                      int refresh, int64_t exp_sec);

/* Revoke every token of a user issued so far (logout-all). */
int tomo_revoke_user(tomo_svc *svc, tomo_dbconn *db, const char *user_id);

/* The iat to give a token issued now for user_id (now, or later when the
 * user's logout-all cut-off lies in the current second). */
int64_t tomo_revoke_issue_sec(tomo_svc *svc, const char *user_id);

/* Forget everything (tests, shutdown). */
void tomo_revoke_reset(void);

/* Clusters: each revocation this process makes is also reported to fn
 * (after its database write, on the calling thread; kind 0: a token key
 * "<tid>" / "r:<tid>" revoked until v ms, kind 1: a user's logout-all
 * cut-off v ms) so the other nodes' caches learn it at once. NULL: none.
 * Set at start-up. */
typedef void (*tomo_revoke_notify_fn)(void *ud, int kind, const char *key, int64_t v);
void tomo_revoke_set_notify(tomo_revoke_notify_fn fn, void *ud);
/* A revocation another node made (and wrote): into the cache only. */
void tomo_revoke_apply(int kind, const char *key, int64_t v);

#endif
