/* api/session.c: session token verification shared by REST and the socket.
 * Revocation (logout, single_session, account deletion) is checked through
 * tomo_session_is_revoked, owned by the accounts/auth module. */
#include "api.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../core/jwt.h"

#include <stdio.h>
#include <string.h>

void tomo_session_claims_clear(tomo_session_claims *c)
{
    json_decref(c->vars);
    c->vars = NULL;
}

int tomo_session_verify(tomo_server *srv, const char *token, tomo_session_claims *out)
{
    memset(out, 0, sizeof(*out));
    const char *key = srv->cfg->session.encryption_key;
    json_t *claims = NULL;
    if (tomo_jwt_verify(token, key, strlen(key), tomo_now_sec(), &claims) < 0)
        return TOMO_EAUTH;
    const char *uid = json_string_value(json_object_get(claims, "uid"));
    const char *usn = json_string_value(json_object_get(claims, "usn"));
    const char *tid = json_string_value(json_object_get(claims, "tid"));
    if (!uid || !tomo_uuid_valid(uid) || !usn) {
        json_decref(claims);
        return TOMO_EAUTH;
    }
    snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
    snprintf(out->username, sizeof(out->username), "%s", usn);
    snprintf(out->token_id, sizeof(out->token_id), "%s", tid ? tid : "");
    out->exp = json_integer_value(json_object_get(claims, "exp"));
    out->iat = json_integer_value(json_object_get(claims, "iat"));
    json_t *vrs = json_object_get(claims, "vrs");
    if (json_is_object(vrs))
        out->vars = json_incref(vrs);
    json_decref(claims);
    if (tomo_session_is_revoked(srv, out)) {
        tomo_session_claims_clear(out);
        return TOMO_EAUTH;
    }
    return 0;
}
