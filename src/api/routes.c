/* api/routes.c: the REST route table: every Nakama 3.15 route plus the ones
 * nakama-js 2.8 calls from later releases. A route whose handler is NULL is
 * answered with Nakama's Unimplemented error (501, code 12). */
#include "handlers.h"

#include "../rt/rt.h"

#define G TOMO_HTTP_GET
#define P TOMO_HTTP_POST
#define U TOMO_HTTP_PUT
#define D TOMO_HTTP_DELETE
#define B TOMO_AUTH_BASIC
#define T TOMO_AUTH_BEARER
#define N TOMO_AUTH_NONE
#define W TOMO_ROUTE_WORKER

static const tomo_api_route table[] = {
    /* health */
    {G, "/healthcheck", "Healthcheck", N, TOMO_ROUTE_LOOP, tomo_api_healthcheck, NULL},
    {G, "/readyz", "Readyz", N, W, tomo_api_readyz, NULL},
    /* realtime socket; other verbs reach the upgrade too, which answers 400 */
    {G, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, tomo_rt_handle_upgrade},
    {P, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, tomo_rt_handle_upgrade},
    {U, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, tomo_rt_handle_upgrade},
    {D, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, tomo_rt_handle_upgrade},

    /* authenticate and session */
    {P, "/v2/account/authenticate/apple", "AuthenticateApple", B, W, NULL, NULL},
    {P, "/v2/account/authenticate/custom", "AuthenticateCustom", B, W, tomo_api_authenticate_custom, NULL},
    {P, "/v2/account/authenticate/device", "AuthenticateDevice", B, W, tomo_api_authenticate_device, NULL},
    {P, "/v2/account/authenticate/email", "AuthenticateEmail", B, W, tomo_api_authenticate_email, NULL},
    {P, "/v2/account/authenticate/facebook", "AuthenticateFacebook", B, W, NULL, NULL},
    {P, "/v2/account/authenticate/facebookinstantgame", "AuthenticateFacebookInstantGame", B, W, NULL, NULL},
    {P, "/v2/account/authenticate/gamecenter", "AuthenticateGameCenter", B, W, NULL, NULL},
    {P, "/v2/account/authenticate/google", "AuthenticateGoogle", B, W, NULL, NULL},
    {P, "/v2/account/authenticate/steam", "AuthenticateSteam", B, W, NULL, NULL},
    {P, "/v2/account/session/refresh", "SessionRefresh", B, W, tomo_api_session_refresh, NULL},
    {P, "/v2/session/logout", "SessionLogout", T, W, tomo_api_session_logout, NULL},

    /* link / unlink */
    {P, "/v2/account/link/apple", "LinkApple", T, W, NULL, NULL},
    {P, "/v2/account/link/custom", "LinkCustom", T, W, tomo_api_link_custom, NULL},
    {P, "/v2/account/link/device", "LinkDevice", T, W, tomo_api_link_device, NULL},
    {P, "/v2/account/link/email", "LinkEmail", T, W, tomo_api_link_email, NULL},
    {P, "/v2/account/link/facebook", "LinkFacebook", T, W, NULL, NULL},
    {P, "/v2/account/link/facebookinstantgame", "LinkFacebookInstantGame", T, W, NULL, NULL},
    {P, "/v2/account/link/gamecenter", "LinkGameCenter", T, W, NULL, NULL},
    {P, "/v2/account/link/google", "LinkGoogle", T, W, NULL, NULL},
    {P, "/v2/account/link/steam", "LinkSteam", T, W, NULL, NULL},
    {P, "/v2/account/unlink/apple", "UnlinkApple", T, W, NULL, NULL},
    {P, "/v2/account/unlink/custom", "UnlinkCustom", T, W, tomo_api_unlink_custom, NULL},
    {P, "/v2/account/unlink/device", "UnlinkDevice", T, W, tomo_api_unlink_device, NULL},
    {P, "/v2/account/unlink/email", "UnlinkEmail", T, W, tomo_api_unlink_email, NULL},
    {P, "/v2/account/unlink/facebook", "UnlinkFacebook", T, W, NULL, NULL},
    {P, "/v2/account/unlink/facebookinstantgame", "UnlinkFacebookInstantGame", T, W, NULL, NULL},
    {P, "/v2/account/unlink/gamecenter", "UnlinkGameCenter", T, W, NULL, NULL},
    {P, "/v2/account/unlink/google", "UnlinkGoogle", T, W, NULL, NULL},
    {P, "/v2/account/unlink/steam", "UnlinkSteam", T, W, NULL, NULL},

    /* account and users */
    {G, "/v2/account", "GetAccount", T, W, tomo_api_account_get, NULL},
    {U, "/v2/account", "UpdateAccount", T, W, tomo_api_account_update, NULL},
    {D, "/v2/account", "DeleteAccount", T, W, tomo_api_account_delete, NULL},
    {G, "/v2/user", "GetUsers", T, W, tomo_api_users_get, NULL},
    {G, "/v2/user/{user_id}/group", "ListUserGroups", T, W, tomo_api_user_groups_list,
     NULL},

    /* friends */
    {G, "/v2/friend", "ListFriends", T, W, tomo_api_friend_list, NULL},
    {P, "/v2/friend", "AddFriends", T, W, tomo_api_friend_add, NULL},
    {D, "/v2/friend", "DeleteFriends", T, W, tomo_api_friend_delete, NULL},
    {P, "/v2/friend/block", "BlockFriends", T, W, tomo_api_friend_block, NULL},
    {P, "/v2/friend/facebook", "ImportFacebookFriends", T, W, NULL, NULL},
    {P, "/v2/friend/steam", "ImportSteamFriends", T, W, NULL, NULL},
    {G, "/v2/friend/friends", "ListFriendsOfFriends", T, W, tomo_api_friend_list_fof,
     NULL},

    /* groups */
    {G, "/v2/group", "ListGroups", T, W, tomo_api_group_list, NULL},
    {P, "/v2/group", "CreateGroup", T, W, tomo_api_group_create, NULL},
    {U, "/v2/group/{group_id}", "UpdateGroup", T, W, tomo_api_group_update, NULL},
    {D, "/v2/group/{group_id}", "DeleteGroup", T, W, tomo_api_group_delete, NULL},
    {P, "/v2/group/{group_id}/add", "AddGroupUsers", T, W, tomo_api_group_add, NULL},
    {P, "/v2/group/{group_id}/ban", "BanGroupUsers", T, W, tomo_api_group_ban, NULL},
    {P, "/v2/group/{group_id}/kick", "KickGroupUsers", T, W, tomo_api_group_kick, NULL},
    {P, "/v2/group/{group_id}/promote", "PromoteGroupUsers", T, W, tomo_api_group_promote, NULL},
    {P, "/v2/group/{group_id}/demote", "DemoteGroupUsers", T, W, tomo_api_group_demote, NULL},
    {P, "/v2/group/{group_id}/join", "JoinGroup", T, W, tomo_api_group_join, NULL},
    {P, "/v2/group/{group_id}/leave", "LeaveGroup", T, W, tomo_api_group_leave, NULL},
    {G, "/v2/group/{group_id}/user", "ListGroupUsers", T, W, tomo_api_group_users_list,
     NULL},

    /* storage */
    {P, "/v2/storage", "ReadStorageObjects", T, W, tomo_api_storage_read, NULL},
    {U, "/v2/storage", "WriteStorageObjects", T, W, tomo_api_storage_write, NULL},
    {U, "/v2/storage/delete", "DeleteStorageObjects", T, W, tomo_api_storage_delete, NULL},
    {G, "/v2/storage/{collection}", "ListStorageObjects", T, W, tomo_api_storage_list, NULL},
    {G, "/v2/storage/{collection}/{user_id}", "ListStorageObjects", T, W, tomo_api_storage_list,
     NULL},

    /* leaderboards and tournaments */
    {G, "/v2/leaderboard/{leaderboard_id}", "ListLeaderboardRecords", T, W,
     tomo_api_leaderboard_list, NULL},
    {P, "/v2/leaderboard/{leaderboard_id}", "WriteLeaderboardRecord", T, W,
     tomo_api_leaderboard_write, NULL},
    {D, "/v2/leaderboard/{leaderboard_id}", "DeleteLeaderboardRecord", T, W,
     tomo_api_leaderboard_delete, NULL},
    {G, "/v2/leaderboard/{leaderboard_id}/owner/{owner_id}", "ListLeaderboardRecordsAroundOwner", T, W,
     tomo_api_leaderboard_around_owner, NULL},
    {G, "/v2/tournament", "ListTournaments", T, W, tomo_api_tournament_list, NULL},
    {G, "/v2/tournament/{tournament_id}", "ListTournamentRecords", T, W,
     tomo_api_tournament_records_list, NULL},
    {U, "/v2/tournament/{tournament_id}", "WriteTournamentRecord", T, W,
     tomo_api_tournament_write, NULL},
    {P, "/v2/tournament/{tournament_id}", "WriteTournamentRecord", T, W,
     tomo_api_tournament_write, NULL},
    {D, "/v2/tournament/{tournament_id}", "DeleteTournamentRecord", T, W,
     tomo_api_tournament_delete, NULL},
    {P, "/v2/tournament/{tournament_id}/join", "JoinTournament", T, W,
     tomo_api_tournament_join, NULL},
    {G, "/v2/tournament/{tournament_id}/owner/{owner_id}", "ListTournamentRecordsAroundOwner", T, W,
     tomo_api_tournament_around_owner, NULL},

    /* notifications, chat, matches, events, rpc */
    {G, "/v2/notification", "ListNotifications", T, W, tomo_api_notification_list, NULL},
    {D, "/v2/notification", "DeleteNotifications", T, W, tomo_api_notification_delete, NULL},
    {G, "/v2/channel/{channel_id}", "ListChannelMessages", T, W, tomo_api_channel_messages_list,
     NULL},
    {G, "/v2/match", "ListMatches", T, TOMO_ROUTE_LOOP, tomo_api_match_list, NULL},
    {P, "/v2/event", "Event", T, W, NULL, NULL},
    {G, "/v2/rpc/{id}", "Rpc", TOMO_AUTH_RPC, W, NULL, NULL},
    {P, "/v2/rpc/{id}", "Rpc", TOMO_AUTH_RPC, W, NULL, NULL},
    {G, "/v2/matchmaker/stats", "GetMatchmakerStats", T, W, NULL, NULL},
    {G, "/v2/party", "ListParties", T, W, NULL, NULL},

    /* in-app purchases */
    {P, "/v2/iap/purchase/apple", "ValidatePurchaseApple", T, W, NULL, NULL},
    {P, "/v2/iap/purchase/google", "ValidatePurchaseGoogle", T, W, NULL, NULL},
    {P, "/v2/iap/purchase/huawei", "ValidatePurchaseHuawei", T, W, NULL, NULL},
    {P, "/v2/iap/purchase/facebookinstant", "ValidatePurchaseFacebookInstant", T, W, NULL, NULL},
    {P, "/v2/iap/subscription/apple", "ValidateSubscriptionApple", T, W, NULL, NULL},
    {P, "/v2/iap/subscription/google", "ValidateSubscriptionGoogle", T, W, NULL, NULL},
    {P, "/v2/iap/subscription", "ListSubscriptions", T, W, NULL, NULL},
    {G, "/v2/iap/subscription/{product_id}", "GetSubscription", T, W, NULL, NULL},
};

const tomo_api_route *tomo_api_routes(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
