/* api/auth.h: request-field checks shared by the authenticate, link and
 * account handlers (Nakama's validation rules and messages).
 * Owns: nothing. Threads: worker (they record errors on the ctx). */
#ifndef TOMO_API_AUTH_H
#define TOMO_API_AUTH_H

#include "api.h"

/* The body as an object (NULL when empty); 400 when it is not an object. */
int tomo_auth_body(tomo_api_ctx *ctx, const json_t **out);
/* Field by its proto name or lowerCamelCase name (camel may be NULL). */
const json_t *tomo_auth_field(const json_t *obj, const char *snake, const char *camel);
/* String field; "" when absent or null; 400 when not a string. */
int tomo_auth_str(tomo_api_ctx *ctx, const json_t *obj, const char *snake, const char *camel,
                  const char **out);
/* A map<string,string> field: NULL when absent or empty; 400 unless an
 * object of strings. */
int tomo_auth_string_map(tomo_api_ctx *ctx, const json_t *obj, const char *field,
                         const json_t **out);
/* The `vars` map (tomo_auth_string_map). */
int tomo_auth_vars(tomo_api_ctx *ctx, const json_t *obj, const json_t **out);
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
