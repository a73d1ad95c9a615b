/* api/revoke.c: session revocation. Placeholder until the accounts/auth
 * module lands: nothing is revoked. */
#include "api.h"

int tomo_session_is_revoked(tomo_server *srv, const tomo_session_claims *c)
{
    (void)srv;
    (void)c;
    return 0;
}
