/* svc/console_user.h: console users kept in the database (Nakama's
 * console_user table), besides the configured admin and read-only user.
 * Owns: their validation rules (Nakama's: username 3-20 characters,
 *       letters, digits, '_' and '.', stored lower-case; a valid email;
 *       a password of at least 8 characters with a digit and an upper-case
 *       letter), the bcrypt hashes, and the login lookup.
 * Threads: worker only (bcrypt takes tens of milliseconds).
 * Caller: the system only (the console adapter checks roles first). */
#ifndef TOMO_SVC_CONSOLE_USER_H
#define TOMO_SVC_CONSOLE_USER_H

#include "svc.h"

/* A logged-in console user. */
typedef struct tomo_console_user {
    char id[37];
    char username[64];
    char email[256];
    int role; /* Nakama's UserRole: 1 admin .. 4 read-only */
} tomo_console_user;

/* Add a user. reserved (may be NULL) is the configured admin's name, which
 * a database user may not take ("admin" is refused too). role 1..4.
 * FAILED_PRECONDITION "Username or Email already exists" on a clash. */
int tomo_svc_console_user_add(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              const char *username, const char *email, const char *password,
                              int role, const char *reserved, tomo_err *err);

/* UserList {users: [{username, email, role}]} ordered by username. New
 * reference in *out. */
int tomo_svc_console_user_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                               struct json_t **out, tomo_err *err);

/* Delete by username; *id_out (37 bytes, may be NULL) gets the deleted
 * user's id. INVALID_ARGUMENT "User not found" when there is none. */
int tomo_svc_console_user_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 const char *username, char *id_out, tomo_err *err);

/* Check a login by username or email. 0 with *out filled; UNAUTHENTICATED
 * "Invalid credentials." for an unknown name or a wrong password (a dummy
 * hash is checked for an unknown name so both take the same time);
 * PERMISSION_DENIED "Invalid credentials." for a disabled user. */
int tomo_svc_console_user_login(tomo_svc *svc, tomo_dbconn *db, const char *name_or_email,
                                const char *password, tomo_console_user *out, tomo_err *err);

#endif
