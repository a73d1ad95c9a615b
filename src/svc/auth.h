/* svc/auth.h: authenticate by device id, custom id, email or username with
 * a password (find the account, or create it), and the identifier checks
 * every transport shares (Nakama's core_authenticate rules and messages).
 * Starting the session is svc/session.h's tomo_svc_session_start; linking
 * and unlinking identifiers is svc/account.h. The identity providers that
 * need their vendor's servers (Apple, Facebook, Game Center, Google, Steam)
 * fail after Nakama's input checks (svc/provider.h); Facebook Instant Games
 * is verified locally.
 * Owns: tomo_auth_account (inline). Threads: worker (the database, bcrypt). */
#ifndef TOMO_SVC_AUTH_H
#define TOMO_SVC_AUTH_H

#include <stdint.h>

#include "account.h" /* the identifier kinds, TOMO_UNLINK_* */
#include "svc.h"

struct tomo_provider_account;

/* 1 when s has control characters or spaces (ids, emails). */
int tomo_auth_has_space_or_cntrl(const char *s);
/* 1 when a username has control characters (a plain space is fine). */
int tomo_auth_username_invalid(const char *s);
/* Nakama's email pattern ^.+@.+\..+$ */
int tomo_auth_email_format_ok(const char *email);
/* 10 random ASCII letters. */
void tomo_auth_random_username(char out[11]);
/* Lower-cased heap copy (ASCII). */
char *tomo_auth_lower(const char *s);

/* Email checks in Nakama's order (characters, format, 10-255 bytes):
 * 0 or INVALID_ARGUMENT. */
int tomo_svc_auth_check_email(const char *email, tomo_err *err);
/* A password: at least 8 bytes. 0 or INVALID_ARGUMENT. */
int tomo_svc_auth_check_password(const char *password, tomo_err *err);
/* A username given to authenticate: control characters, at most 128 bytes;
 * NULL or "" is fine unless required (a login by username). 0 or
 * INVALID_ARGUMENT. */
int tomo_svc_auth_check_username(const char *username, int required, tomo_err *err);
/* A device (kind TOMO_UNLINK_DEVICE, 10-128 bytes) or custom id
 * (TOMO_UNLINK_CUSTOM, 6-128 bytes) given to authenticate: required, no
 * spaces or control characters. 0 or INVALID_ARGUMENT. */
int tomo_svc_auth_check_id(int kind, const char *id, tomo_err *err);

/* The account an authenticate call found or created. */
typedef struct tomo_auth_account {
    char user_id[37];
    char username[129];
    int64_t disable_time; /* 0 unless banned (only ever 0 on success) */
    int created;          /* 1: this call created it */
} tomo_auth_account;

/* Device (kind TOMO_UNLINK_DEVICE) or custom id (TOMO_UNLINK_CUSTOM): the
 * account holding id; none: created with username (NULL or "": a random
 * one) when create is set, else NOT_FOUND "User account not found.". A
 * banned account is PERMISSION_DENIED "User account banned.", a taken
 * username ALREADY_EXISTS. The inputs are checked as above. */
int tomo_svc_auth_id(tomo_svc *svc, tomo_dbconn *db, int kind, const char *id,
                     const char *username, int create, tomo_auth_account *out, tomo_err *err);

/* Email (lower-cased) and password: an existing account must not be banned
 * and the password must match (UNAUTHENTICATED "Invalid credentials.");
 * none is created as for tomo_svc_auth_id. email NULL or "": log in by
 * username (required), never creating an account. Password at least 8
 * bytes. */
int tomo_svc_auth_email(tomo_svc *svc, tomo_dbconn *db, const char *email, const char *password,
                        const char *username, int create, tomo_auth_account *out,
                        tomo_err *err);

/* A social provider (svc/provider.h): Nakama's input checks, the username,
 * the provider's verification, then the account holding the provider id
 * (found, or created as for tomo_svc_auth_id). */
int tomo_svc_auth_social(tomo_svc *svc, tomo_dbconn *db, const struct tomo_provider_account *a,
                         const char *username, int create, tomo_auth_account *out,
                         tomo_err *err);

#endif
