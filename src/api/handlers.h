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

/* auth.c (authenticate, session refresh/logout), link.c (link/unlink).
 * The social providers (apple, facebook, facebookinstantgame, gamecenter,
 * google, steam) go through svc/provider.h: Nakama's input checks, then
 * Facebook Instant Games is verified locally and the others fail (not
 * configured, or 501 where only the vendor could verify). */
struct tomo_provider_account;
/* Read a provider account message (NULL: not sent) for kind into *a (its
 * strings borrowed from acct); 0 or an error recorded. */
int tomo_api_provider_account(tomo_api_ctx *ctx, const json_t *acct, int kind,
                              struct tomo_provider_account *a);
/* One adapter per shape for the identifier calls; the kind (TOMO_UNLINK_*)
 * comes from the route's name minus its verb ("AuthenticateGameCenter",
 * "LinkSteam", "UnlinkDevice"), so a route row names its identifier once. */
int tomo_api_route_kind(const tomo_api_ctx *ctx);
/* Authenticate / link / unlink a device or custom id (unlink: email too). */
int tomo_api_authenticate_id(tomo_api_ctx *ctx);
int tomo_api_link_id(tomo_api_ctx *ctx);
int tomo_api_unlink_id(tomo_api_ctx *ctx);
/* Authenticate / link / unlink a social provider's account. */
int tomo_api_authenticate_social(tomo_api_ctx *ctx);
int tomo_api_link_social(tomo_api_ctx *ctx);
int tomo_api_unlink_social(tomo_api_ctx *ctx);
/* Email+password, or username+password when the email is empty. */
int tomo_api_authenticate_email(tomo_api_ctx *ctx);
int tomo_api_session_refresh(tomo_api_ctx *ctx);
int tomo_api_session_logout(tomo_api_ctx *ctx);
int tomo_api_event(tomo_api_ctx *ctx);
int tomo_api_link_email(tomo_api_ctx *ctx);

/* account.c (account get/update/delete, users) */
int tomo_api_account_get(tomo_api_ctx *ctx);
/* PUT: wrapper fields, absent = unchanged, "" clears. */
int tomo_api_account_update(tomo_api_ctx *ctx);
/* DELETE: the user's rows in one transaction, all tokens revoked, sockets
 * closed after the response. */
int tomo_api_account_delete(tomo_api_ctx *ctx);
/* GET /v2/user: by ids, usernames, facebook_ids; unknown ones skipped. */
int tomo_api_users_get(tomo_api_ctx *ctx);

/* storage.c (storage objects; Nakama semantics, see api/storage_util.h for limits) */
/* POST /v2/storage: read objects by id (public or the caller's own). */
int tomo_api_storage_read(tomo_api_ctx *ctx);
/* PUT /v2/storage: write a batch as the caller, all or nothing, with OCC. */
int tomo_api_storage_write(tomo_api_ctx *ctx);
/* PUT /v2/storage/delete: delete a batch of the caller's objects, all or nothing. */
int tomo_api_storage_delete(tomo_api_ctx *ctx);
/* GET /v2/storage/{collection}[/{user_id}]: keyset-paged listing. */
int tomo_api_storage_list(tomo_api_ctx *ctx);

/* leaderboard.c (leaderboards and tournaments over svc/leaderboard.h,
 * svc/tournament.h) */
int tomo_api_leaderboard_list(tomo_api_ctx *ctx);
int tomo_api_leaderboard_write(tomo_api_ctx *ctx);
int tomo_api_leaderboard_delete(tomo_api_ctx *ctx);
int tomo_api_leaderboard_around_owner(tomo_api_ctx *ctx);
int tomo_api_tournament_list(tomo_api_ctx *ctx);
int tomo_api_tournament_records_list(tomo_api_ctx *ctx);
int tomo_api_tournament_write(tomo_api_ctx *ctx);
/* DELETE /v2/tournament/{id}: own record (Nakama 3.16+). */
int tomo_api_tournament_delete(tomo_api_ctx *ctx);
int tomo_api_tournament_join(tomo_api_ctx *ctx);
int tomo_api_tournament_around_owner(tomo_api_ctx *ctx);

/* notification.c */
int tomo_api_notification_list(tomo_api_ctx *ctx);
int tomo_api_notification_delete(tomo_api_ctx *ctx);

/* channel.c (chat history) */
int tomo_api_channel_messages_list(tomo_api_ctx *ctx);

/* match.c (match listing) */
int tomo_api_match_list(tomo_api_ctx *ctx);

/* friend.c (svc/friend.h). Facebook and Steam imports: Nakama's checks,
 * then 501 (Facebook) / not configured (Steam). */
int tomo_api_friend_list(tomo_api_ctx *ctx);
int tomo_api_friend_add(tomo_api_ctx *ctx);
int tomo_api_friend_delete(tomo_api_ctx *ctx);
int tomo_api_friend_block(tomo_api_ctx *ctx);
int tomo_api_friend_list_fof(tomo_api_ctx *ctx);
int tomo_api_friend_import_facebook(tomo_api_ctx *ctx);
int tomo_api_friend_import_steam(tomo_api_ctx *ctx);

/* group.c (svc/group.h) */
int tomo_api_group_create(tomo_api_ctx *ctx);
int tomo_api_group_update(tomo_api_ctx *ctx);
int tomo_api_group_delete(tomo_api_ctx *ctx);
int tomo_api_group_join(tomo_api_ctx *ctx);
int tomo_api_group_leave(tomo_api_ctx *ctx);
int tomo_api_group_add(tomo_api_ctx *ctx);
int tomo_api_group_kick(tomo_api_ctx *ctx);
int tomo_api_group_ban(tomo_api_ctx *ctx);
int tomo_api_group_promote(tomo_api_ctx *ctx);
int tomo_api_group_demote(tomo_api_ctx *ctx);
int tomo_api_group_users_list(tomo_api_ctx *ctx);
int tomo_api_user_groups_list(tomo_api_ctx *ctx);
int tomo_api_group_list(tomo_api_ctx *ctx);

/* iap.c (svc/iap.h): validations answer "<Store> IAP is not configured." */
int tomo_api_iap_purchase_apple(tomo_api_ctx *ctx);
int tomo_api_iap_purchase_google(tomo_api_ctx *ctx);
int tomo_api_iap_purchase_huawei(tomo_api_ctx *ctx);
int tomo_api_iap_purchase_facebook_instant(tomo_api_ctx *ctx);
int tomo_api_iap_subscription_apple(tomo_api_ctx *ctx);
int tomo_api_iap_subscription_google(tomo_api_ctx *ctx);
int tomo_api_iap_subscriptions_list(tomo_api_ctx *ctx);
int tomo_api_iap_subscription_get(tomo_api_ctx *ctx);
/* rpc.c: GET/POST /v2/rpc/{id} into the Lua runtime (session or http_key,
 * ?unwrap for a raw body in and out). */
int tomo_api_rpc(tomo_api_ctx *ctx);

#endif
