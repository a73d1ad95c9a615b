/* core/jwt.h: HS256 (and, for signing only, RS256) JSON Web Tokens (Nakama session, refresh and match tokens).
 * Owns: nothing; pure functions over jansson objects.
 * Threads: any. */
#ifndef TOMO_CORE_JWT_H
#define TOMO_CORE_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* HMAC-SHA256 of data[0..n) with key into out (the one copy: JWTs and the
 * other HMAC-signed tokens, e.g. Facebook Instant Games player info). */
void tomo_jwt_hmac_sha256(const char *key, size_t keylen, const char *data, size_t n,
                          uint8_t out[32]);

/* Sign claims with key; returns a heap string "h.p.s". */
char *tomo_jwt_sign(const json_t *claims, const char *key, size_t keylen);

/* Sign a ready-made JSON payload of n bytes (callers that format claims
 * themselves, e.g. the session hot path); returns a heap string. */
char *tomo_jwt_sign_payload(const char *payload, size_t n, const char *key, size_t keylen);

/* Verify signature (constant time) and expiry against now_sec; on success
 * *claims_out is a new reference. Returns 0, TOMO_EINVAL (malformed or bad
 * signature) or TOMO_ETIMEOUT (expired). */
int tomo_jwt_verify(const char *token, const char *key, size_t keylen, long long now_sec,
                    json_t **claims_out);

/* RS256 (the runtime's jwt_generate): sign claims with a PEM private key
 * (PKCS#8 "BEGIN PRIVATE KEY", or PKCS#1 RSA). Returns a heap token, or
 * NULL with the reason in why (why_cap bytes) when the key is unusable. */
char *tomo_jwt_sign_rs256(const json_t *claims, const char *pem, char *why, size_t why_cap);

#endif
