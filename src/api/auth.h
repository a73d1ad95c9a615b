/* api/auth.h: request-field checks shared by the authenticate, link and
 * account handlers (Nakama's validation rules and messages; reading the
 * fields is api.h's tomo_api_field_*).
 * Owns: nothing. Threads: worker (they record errors on the ctx). */
#ifndef TOMO_API_AUTH_H
#define TOMO_API_AUTH_H

#include "api.h"

/* 1 when s has control characters or spaces (ids, emails). */
int tomo_auth_has_space_or_cntrl(const char *s);
/* 1 when a username has control characters. */
int tomo_auth_username_invalid(const char *s);
/* Nakama's email pattern ^.+@.+\..+$ */
int tomo_auth_email_format_ok(const char *email);
/* Email checks in Nakama's order (characters, format, 10-255 bytes). */
int tomo_auth_check_email(tomo_api_ctx *ctx, const char *email);
/* 10 random ASCII letters. */
void tomo_auth_random_username(char out[11]);
/* Lower-cased heap copy (ASCII). */
char *tomo_auth_lower(const char *s);

#endif
