/* svc/provider.h: the social identity providers (Apple, Facebook, Facebook
 * Instant Games, Game Center, Google, Steam) for authenticate, link,
 * unlink and the friend imports: Nakama's input checks in its order and
 * words, and the verification of what the client presents.
 * - Facebook Instant Games signed player info is verified here, as Nakama
 *   does it, with social.facebook_instant_game.app_secret (HMAC-SHA256).
 * - Apple and Steam need settings tomo does not have: they fail as Nakama
 *   does unconfigured, FAILED_PRECONDITION "<X> authentication is not
 *   configured.".
 * - Facebook, Game Center and Google tokens can only be verified by their
 *   vendor's servers, which tomo does not call: once the input passes,
 *   UNIMPLEMENTED.
 * Owns: nothing. Threads: any (no database, no blocking). */
#ifndef TOMO_SVC_PROVIDER_H
#define TOMO_SVC_PROVIDER_H

#include "account.h" /* TOMO_UNLINK_APPLE .. TOMO_UNLINK_STEAM */
#include "svc.h"

/* What a client presents for a provider (Nakama's Account<Provider>). */
typedef struct tomo_provider_account {
    int kind;    /* TOMO_UNLINK_APPLE .. TOMO_UNLINK_STEAM */
    int present; /* the account message was sent at all */
    /* Apple, Facebook, Google, Steam: the token; Facebook Instant Games:
     * the signed player info. NULL = "". */
    const char *token;
    /* Game Center (NULL = ""; timestamp 0 = absent) */
    const char *player_id, *bundle_id, *salt, *signature, *public_key_url;
    long long timestamp_seconds;
} tomo_provider_account;

/* The operations, whose checks differ. */
enum {
    TOMO_PROVIDER_AUTHENTICATE = 0,
    TOMO_PROVIDER_LINK,
    TOMO_PROVIDER_UNLINK,
    TOMO_PROVIDER_IMPORT, /* friends import (Facebook, Steam) */
};

/* Longest provider id kept (a Facebook Instant Games player id). */
#define TOMO_PROVIDER_ID_MAX 256

/* The name in Nakama's messages ("Apple", "Facebook", "Facebook Instant
 * Game", "GameCenter", "Google", "Steam"). */
const char *tomo_svc_provider_name(int kind);

/* Nakama's checks of the input for op, before anything else it does with
 * it (authenticate then checks the username): 0 or an error. */
int tomo_svc_provider_check(int op, const tomo_provider_account *a, tomo_err *err);

/* Verify what the client presents and put the provider's id for this user
 * in id. Unlink with no credentials (an empty token; Game Center: any
 * field missing) succeeds with id "" (unlink whatever is linked). A
 * presentation that fails is AUTHENTICATE: DATA_LOSS (Facebook Instant
 * Games, as Nakama), else UNAUTHENTICATED "Could not authenticate <X>
 * profile.". */
int tomo_svc_provider_verify(const tomo_config *cfg, int op, const tomo_provider_account *a,
                             char id[TOMO_PROVIDER_ID_MAX], tomo_err *err);

#endif
