/* svc/provider.c: social provider checks and verification (provider.h). */
#include "provider.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jwt.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The wording the 501 of an unrouted call uses too. */
#define MSG_UNIMPLEMENTED "Not implemented"

static const char *const names[] = {
    [TOMO_UNLINK_APPLE] = "Apple",
    [TOMO_UNLINK_FACEBOOK] = "Facebook",
    [TOMO_UNLINK_FACEBOOK_INSTANT_GAME] = "Facebook Instant Game",
    [TOMO_UNLINK_GAMECENTER] = "GameCenter",
    [TOMO_UNLINK_GOOGLE] = "Google",
    [TOMO_UNLINK_STEAM] = "Steam",
};

const char *tomo_svc_provider_name(int kind)
{
    return kind >= TOMO_UNLINK_APPLE && kind <= TOMO_UNLINK_STEAM ? names[kind] : "";
}

static int empty(const char *s) { return !s || !*s; }

static int not_configured(int kind, tomo_err *err)
{
    return tomo_err_set(err, TOMO_GRPC_FAILED_PRECONDITION, "%s authentication is not configured.",
                        names[kind]);
}

static int required(tomo_err *err, const char *msg)
{
    return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "%s", msg);
}

/* Game Center's fields in Nakama's order; credentials: the message itself
 * must be there (authenticate only). */
static int check_gamecenter(const tomo_provider_account *a, int credentials, tomo_err *err)
{
    if (credentials && !a->present)
        return required(err, "GameCenter access credentials are required.");
    if (empty(a->bundle_id))
        return required(err, "GameCenter bundle ID is required.");
    if (empty(a->player_id))
        return required(err, "GameCenter player ID is required.");
    if (empty(a->public_key_url))
        return required(err, "GameCenter public key URL is required.");
    if (empty(a->salt))
        return required(err, "GameCenter salt is required.");
    if (empty(a->signature))
        return required(err, "GameCenter signature is required.");
    if (a->timestamp_seconds == 0)
        return required(err, "GameCenter timestamp is required.");
    return 0;
}

int tomo_svc_provider_check(int op, const tomo_provider_account *a, tomo_err *err)
{
    int k = a->kind, no_token = empty(a->token);
    if (k < TOMO_UNLINK_APPLE || k > TOMO_UNLINK_STEAM)
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Unknown identifier.");
    if (op == TOMO_PROVIDER_UNLINK)
        return 0; /* unlink takes whatever it is given */
    if (op == TOMO_PROVIDER_IMPORT) {
        if (k == TOMO_UNLINK_STEAM)
            return not_configured(k, err); /* checked before the token */
        if (k == TOMO_UNLINK_FACEBOOK)
            return no_token ? required(err, "Facebook token is required.") : 0;
        return tomo_err_set(err, TOMO_GRPC_INVALID_ARGUMENT, "Unknown identifier.");
    }
    switch (k) {
    case TOMO_UNLINK_APPLE: return not_configured(k, err);
    case TOMO_UNLINK_STEAM:
        /* Link checks the token first, authenticate the configuration. */
        if (op == TOMO_PROVIDER_LINK && no_token)
            return required(err, "Steam access token is required.");
        return not_configured(k, err);
    case TOMO_UNLINK_FACEBOOK:
        return no_token ? required(err, "Facebook access token is required.") : 0;
    case TOMO_UNLINK_GOOGLE:
        return no_token ? required(err, "Google access token is required.") : 0;
    case TOMO_UNLINK_FACEBOOK_INSTANT_GAME:
        return no_token
                   ? required(err, "Signed Player Info for a Facebook Instant Game is required.")
                   : 0;
    default: return check_gamecenter(a, op == TOMO_PROVIDER_AUTHENTICATE, err);
    }
}

/* A base64url segment (padding optional, as JWT segments): heap bytes. */
static int segment(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '+' || s[i] == '/')
            return TOMO_EINVAL; /* the URL alphabet only */
    return tomo_b64_decode(s, n, out, outlen);
}

/* Facebook Instant Games signed player info "<sig>.<payload>": sig is the
 * HMAC-SHA256 of the payload text with the app secret, the payload JSON
 * {algorithm, player_id, issued_at, request_payload}. 0 with the player
 * id, or TOMO_EINVAL. */
static int fbig_player_id(const char *info, const char *secret, char id[TOMO_PROVIDER_ID_MAX])
{
    const char *dot = strchr(info, '.');
    if (!dot || strchr(dot + 1, '.'))
        return TOMO_EINVAL;
    const char *payload64 = dot + 1;
    uint8_t *payload = NULL, *sig = NULL;
    size_t plen = 0, slen = 0;
    json_t *o = NULL;
    int rc = TOMO_EINVAL;
    if (segment(payload64, strlen(payload64), &payload, &plen) < 0 ||
        segment(info, (size_t)(dot - info), &sig, &slen) < 0)
        goto out;
    o = json_loadb((const char *)payload, plen, 0, NULL);
    const json_t *alg = json_object_get(o, "algorithm"), *pid = json_object_get(o, "player_id"),
                 *iat = json_object_get(o, "issued_at"),
                 *req = json_object_get(o, "request_payload");
    /* Nakama decodes into typed fields: a wrong type fails. */
    if (!json_is_object(o) || (alg && !json_is_string(alg)) || (pid && !json_is_string(pid)) ||
        (iat && !json_is_integer(iat)) || (req && !json_is_string(req)))
        goto out;
    const char *a = alg ? json_string_value(alg) : "";
    if (strcmp(a, "HMAC-SHA256") && strcmp(a, "HS256"))
        goto out;
    uint8_t mac[32];
    tomo_jwt_hmac_sha256(secret, strlen(secret), payload64, strlen(payload64), mac);
    if (!tomo_ct_equal(sig, slen, mac, sizeof(mac)))
        goto out;
    const char *p = pid ? json_string_value(pid) : "";
    if (strlen(p) >= TOMO_PROVIDER_ID_MAX)
        goto out;
    snprintf(id, TOMO_PROVIDER_ID_MAX, "%s", p);
    rc = 0;
out:
    json_decref(o);
    free(payload);
    free(sig);
    return rc;
}

/* Unlink verifies only a complete presentation. */
static int has_credentials(const tomo_provider_account *a)
{
    if (a->kind != TOMO_UNLINK_GAMECENTER)
        return !empty(a->token);
    return !empty(a->bundle_id) && !empty(a->player_id) && !empty(a->public_key_url) &&
           !empty(a->salt) && !empty(a->signature) && a->timestamp_seconds != 0;
}

int tomo_svc_provider_verify(const tomo_config *cfg, int op, const tomo_provider_account *a,
                             char id[TOMO_PROVIDER_ID_MAX], tomo_err *err)
{
    id[0] = '\0';
    if (op == TOMO_PROVIDER_UNLINK && !has_credentials(a))
        return 0;
    if (a->kind != TOMO_UNLINK_FACEBOOK_INSTANT_GAME)
        return tomo_err_set(err, TOMO_GRPC_UNIMPLEMENTED, MSG_UNIMPLEMENTED);
    if (fbig_player_id(a->token, cfg->social.fbig_app_secret ? cfg->social.fbig_app_secret : "",
                       id) == 0)
        return 0;
    if (op == TOMO_PROVIDER_AUTHENTICATE)
        return tomo_err_set(err, TOMO_GRPC_DATA_LOSS,
                            "Error extracting the Facebook Instant Game player ID or validating "
                            "the signature");
    return tomo_err_set(err, TOMO_GRPC_UNAUTHENTICATED,
                        "Could not authenticate Facebook Instant Game profile.");
}
