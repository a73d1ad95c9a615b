/* svc/account.h: a user's own account: get (the Account message), update
 * the profile fields, delete (complete: every row the user owns, friends and
 * groups fixed up, every token revoked, sockets closed).
 * Owns: the account queries. Borrows: svc/users.h (User), svc/revoke.h,
 *       the push seam (disconnect after a deletion committed).
 * Threads: worker (blocks on the database).
 *
 * Caller rules: a user acts on its own account (user_id NULL or its own id;
 * another id is PERMISSION_DENIED); the system on any account (user_id
 * required). */
#ifndef TOMO_SVC_ACCOUNT_H
#define TOMO_SVC_ACCOUNT_H

#include "svc.h"

/* *out = Account {user (with online), wallet, email?, devices?, custom_id?,
 * verify_time?, disable_time?}. NOT_FOUND "Account not found." */
int tomo_svc_account_get(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *user_id, struct json_t **out, tomo_err *err);

/* Profile fields: NULL = unchanged, "" = cleared (lang_tag: set to ""). */
typedef struct tomo_account_update {
    const char *username, *display_name, *avatar_url, *lang_tag, *location, *timezone;
} tomo_account_update;

/* Update the fields given. INVALID_ARGUMENT (bad username, nothing to
 * update), ALREADY_EXISTS "Username is already in use.". */
int tomo_svc_account_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *user_id, const tomo_account_update *u, tomo_err *err);

/* Delete the account in one transaction (chat messages the user sent stay
 * in their channels' history, as in Nakama), revoke all its tokens, then
 * close its sockets through the push seam. db must not be inside a
 * transaction. */
int tomo_svc_account_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *user_id, tomo_err *err);

#endif
