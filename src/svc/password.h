/* svc/password.h: password hashing for email/username accounts.
 * Owns: nothing; bcrypt ($2b$, cost 10, Nakama's cost) through libxcrypt.
 * Threads: any, but hashing takes tens of milliseconds: call it on worker
 *          threads only, never on the loop thread. */
#ifndef TOMO_SVC_PASSWORD_H
#define TOMO_SVC_PASSWORD_H

#include <stddef.h>

/* Hash a password; returns a heap string ("$2b$10$...") or NULL when the
 * system cannot produce a salt/hash (logged). Caller frees. */
char *tomo_password_hash(const char *password);

/* 1 when password matches the stored hash, 0 otherwise (including a NULL
 * or malformed hash). The final comparison is constant-time. */
int tomo_password_check(const char *password, const char *hash);

#endif
