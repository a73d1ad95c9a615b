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

/* Profile fields: NULL = unchanged, "" = cleared (lang_tag: set to "").
 * metadata (a JSON object), custom_id and email (""= cleared) are the
 * system's only (the console): a user caller naming them is refused. */
typedef struct tomo_account_update {
    const char *username, *display_name, *avatar_url, *lang_tag, *location, *timezone;
    const char *metadata, *custom_id, *email;
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

/* Ban (the system only): disable_time = now, every token of the user
 * revoked (the next REST call and socket connect are refused "Auth token
 * invalid"), its sockets closed; authenticate and refresh then answer
 * PERMISSION_DENIED "User account banned.". NOT_FOUND "Account not found.". */
int tomo_svc_account_ban(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                         const char *user_id, tomo_err *err);
/* Unban (the system only): disable_time = 0. Tokens revoked by the ban stay
 * revoked (the user authenticates again). */
int tomo_svc_account_unban(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, tomo_err *err);

/* Identifiers an account can be unlinked from. */
enum {
    TOMO_UNLINK_DEVICE = 0, TOMO_UNLINK_CUSTOM, TOMO_UNLINK_EMAIL, TOMO_UNLINK_APPLE,
    TOMO_UNLINK_FACEBOOK, TOMO_UNLINK_FACEBOOK_INSTANT_GAME, TOMO_UNLINK_GAMECENTER,
    TOMO_UNLINK_GOOGLE, TOMO_UNLINK_STEAM,
};
/* Link an identifier to the account (Nakama's core_link rules): kind
 * TOMO_UNLINK_DEVICE (value 10-128 bytes), TOMO_UNLINK_CUSTOM (6-128) or
 * TOMO_UNLINK_EMAIL (value the email, password at least 8 bytes; stored
 * lower-cased with the password's bcrypt hash); the social kinds go through
 * tomo_svc_account_link_social. Linking what the account already holds is fine; held by
 * another account: ALREADY_EXISTS ("Device ID already in use.", "Custom ID
 * is already in use.", "Email is already in use."). Users act on their own
 * account. */
int tomo_svc_account_link(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *user_id, int kind, const char *value, const char *password,
                          tomo_err *err);

/* Unlink an identifier (Nakama's core_unlink rules: never the last way to
 * log in, PERMISSION_DENIED "Cannot unlink last account identifier. Check
 * profile exists and is not last link."). value: the device id (required),
 * or the stored custom id / email / provider id to match (NULL or "" =
 * whatever is stored). Users act on their own account. */
int tomo_svc_account_unlink(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *user_id, int kind, const char *value, tomo_err *err);

/* The users column holding an identifier kind other than devices
 * ("custom_id", "email", "apple_id", ...; NULL for others). */
const char *tomo_svc_account_login_column(int kind);

struct tomo_provider_account;
/* Link a social provider (svc/provider.h: Nakama's checks, then the
 * provider's verification) to the account; the id held by another account:
 * ALREADY_EXISTS "<X> ID is already in use.". */
int tomo_svc_account_link_social(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 const char *user_id, const struct tomo_provider_account *a,
                                 tomo_err *err);
/* Unlink a social provider: with credentials, only the id they verify to;
 * without, whatever is linked (Nakama's core_unlink). */
int tomo_svc_account_unlink_social(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                   const char *user_id, const struct tomo_provider_account *a,
                                   tomo_err *err);

#endif
