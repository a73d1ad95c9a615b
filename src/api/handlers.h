/* api/handlers.h: every REST handler, declared for the route table.
 * Owns: nothing; each area's handlers live in their own file (auth.c,
 *       account.c, storage.c, ...). Threads: worker unless the route says. */
#ifndef TOMO_API_HANDLERS_H
#define TOMO_API_HANDLERS_H

#include "api.h"

/* health.c */
int tomo_api_healthcheck(tomo_api_ctx *ctx);
int tomo_api_readyz(tomo_api_ctx *ctx);

/* Each area adds its declarations in its own block below. */

/* auth.c (authenticate, session refresh/logout, link/unlink) */

/* account.c (account get/update/delete, users) */

/* storage.c */

/* notification.c */

/* channel.c (chat history) */

/* match.c (match listing) */
int tomo_api_match_list(tomo_api_ctx *ctx);

/* rpc.c */

#endif
