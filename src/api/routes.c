/* api/routes.c: the REST route table: every Nakama 3.15 route plus the ones
 * nakama-js 2.8 calls from later releases. A route whose handler is NULL is
 * answered with Nakama's Unimplemented error (501, code 12). One row per
 * API call and REST binding: method, path, name (metrics label), auth,
 * thread, REST adapter, raw handler, gRPC method, request message. */
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
/* a read-only listing: runs on the read pool (api.h) */
#define R TOMO_ROUTE_READ
/* The gRPC method of Nakama's service and its request message. */
#define GRPC(method, request) "/nakama.api.Nakama/" method, request, NULL
/* ... whose REST body is the whole message ("*") or one field of it. */
#define GRPCB(method, request, body) "/nakama.api.Nakama/" method, request, body
#define API(msg) "nakama.api." msg
#define EMPTY "google.protobuf.Empty"
#define NOGRPC NULL, NULL, NULL

/* The /ws upgrade belongs to the realtime layer (rt/rt.h). */
static void ws_upgrade(tomo_server *srv, tomo_http_req *req) { tomo_rt_handle_upgrade(tomo_rt_of_thread(srv->rt), req); }

static const tomo_api_route table[] = {
    /* health */
    {G, "/healthcheck", "Healthcheck", N, TOMO_ROUTE_LOOP, tomo_api_healthcheck, NULL, GRPC("Healthcheck", EMPTY)},
    {G, "/readyz", "Readyz", N, W, tomo_api_readyz, NULL, NOGRPC},
    /* realtime socket; other verbs reach the upgrade too, which answers 400 */
    {G, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, ws_upgrade, NOGRPC},
    {P, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, ws_upgrade, NOGRPC},
    {U, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, ws_upgrade, NOGRPC},
    {D, "/ws", "WebSocket", N, TOMO_ROUTE_RAW, NULL, ws_upgrade, NOGRPC},

    /* authenticate and session */
    {P, "/v2/account/authenticate/apple", "AuthenticateApple", B, W, tomo_api_authenticate_social, NULL, GRPCB("AuthenticateApple", API("AuthenticateAppleRequest"), "account")},
    {P, "/v2/account/authenticate/custom", "AuthenticateCustom", B, W, tomo_api_authenticate_id, NULL, GRPCB("AuthenticateCustom", API("AuthenticateCustomRequest"), "account")},
    {P, "/v2/account/authenticate/device", "AuthenticateDevice", B, W, tomo_api_authenticate_id, NULL, GRPCB("AuthenticateDevice", API("AuthenticateDeviceRequest"), "account")},
    {P, "/v2/account/authenticate/email", "AuthenticateEmail", B, W, tomo_api_authenticate_email, NULL, GRPCB("AuthenticateEmail", API("AuthenticateEmailRequest"), "account")},
    {P, "/v2/account/authenticate/facebook", "AuthenticateFacebook", B, W, tomo_api_authenticate_social, NULL, GRPCB("AuthenticateFacebook", API("AuthenticateFacebookRequest"), "account")},
    {P, "/v2/account/authenticate/facebookinstantgame", "AuthenticateFacebookInstantGame", B, W, tomo_api_authenticate_social, NULL, GRPCB("AuthenticateFacebookInstantGame", API("AuthenticateFacebookInstantGameRequest"), "account")},
    {P, "/v2/account/authenticate/gamecenter", "AuthenticateGameCenter", B, W, tomo_api_authenticate_social, NULL, GRPCB("AuthenticateGameCenter", API("AuthenticateGameCenterRequest"), "account")},
    {P, "/v2/account/authenticate/google", "AuthenticateGoogle", B, W, tomo_api_authenticate_social, NULL, GRPCB("AuthenticateGoogle", API("AuthenticateGoogleRequest"), "account")},
    {P, "/v2/account/authenticate/steam", "AuthenticateSteam", B, W, tomo_api_authenticate_social, NULL, GRPCB("AuthenticateSteam", API("AuthenticateSteamRequest"), "account")},
    {P, "/v2/account/session/refresh", "SessionRefresh", B, W, tomo_api_session_refresh, NULL, GRPCB("SessionRefresh", API("SessionRefreshRequest"), "*")},
    {P, "/v2/session/logout", "SessionLogout", T, W, tomo_api_session_logout, NULL, GRPCB("SessionLogout", API("SessionLogoutRequest"), "*")},

    /* link / unlink */
    {P, "/v2/account/link/apple", "LinkApple", T, W, tomo_api_link_social, NULL, GRPCB("LinkApple", API("AccountApple"), "*")},
    {P, "/v2/account/link/custom", "LinkCustom", T, W, tomo_api_link_id, NULL, GRPCB("LinkCustom", API("AccountCustom"), "*")},
    {P, "/v2/account/link/device", "LinkDevice", T, W, tomo_api_link_id, NULL, GRPCB("LinkDevice", API("AccountDevice"), "*")},
    {P, "/v2/account/link/email", "LinkEmail", T, W, tomo_api_link_email, NULL, GRPCB("LinkEmail", API("AccountEmail"), "*")},
    {P, "/v2/account/link/facebook", "LinkFacebook", T, W, tomo_api_link_social, NULL, GRPCB("LinkFacebook", API("LinkFacebookRequest"), "account")},
    {P, "/v2/account/link/facebookinstantgame", "LinkFacebookInstantGame", T, W, tomo_api_link_social, NULL, GRPCB("LinkFacebookInstantGame", API("AccountFacebookInstantGame"), "*")},
    {P, "/v2/account/link/gamecenter", "LinkGameCenter", T, W, tomo_api_link_social, NULL, GRPCB("LinkGameCenter", API("AccountGameCenter"), "*")},
    {P, "/v2/account/link/google", "LinkGoogle", T, W, tomo_api_link_social, NULL, GRPCB("LinkGoogle", API("AccountGoogle"), "*")},
    {P, "/v2/account/link/steam", "LinkSteam", T, W, tomo_api_link_social, NULL, GRPCB("LinkSteam", API("LinkSteamRequest"), "*")},
    {P, "/v2/account/unlink/apple", "UnlinkApple", T, W, tomo_api_unlink_social, NULL, GRPCB("UnlinkApple", API("AccountApple"), "*")},
    {P, "/v2/account/unlink/custom", "UnlinkCustom", T, W, tomo_api_unlink_id, NULL, GRPCB("UnlinkCustom", API("AccountCustom"), "*")},
    {P, "/v2/account/unlink/device", "UnlinkDevice", T, W, tomo_api_unlink_id, NULL, GRPCB("UnlinkDevice", API("AccountDevice"), "*")},
    {P, "/v2/account/unlink/email", "UnlinkEmail", T, W, tomo_api_unlink_id, NULL, GRPCB("UnlinkEmail", API("AccountEmail"), "*")},
    {P, "/v2/account/unlink/facebook", "UnlinkFacebook", T, W, tomo_api_unlink_social, NULL, GRPCB("UnlinkFacebook", API("AccountFacebook"), "*")},
    {P, "/v2/account/unlink/facebookinstantgame", "UnlinkFacebookInstantGame", T, W, tomo_api_unlink_social, NULL, GRPCB("UnlinkFacebookInstantGame", API("AccountFacebookInstantGame"), "*")},
    {P, "/v2/account/unlink/gamecenter", "UnlinkGameCenter", T, W, tomo_api_unlink_social, NULL, GRPCB("UnlinkGameCenter", API("AccountGameCenter"), "*")},
    {P, "/v2/account/unlink/google", "UnlinkGoogle", T, W, tomo_api_unlink_social, NULL, GRPCB("UnlinkGoogle", API("AccountGoogle"), "*")},
    {P, "/v2/account/unlink/steam", "UnlinkSteam", T, W, tomo_api_unlink_social, NULL, GRPCB("UnlinkSteam", API("AccountSteam"), "*")},

    /* account and users */
    {G, "/v2/account", "GetAccount", T, R, tomo_api_account_get, NULL, GRPC("GetAccount", EMPTY)},
    {U, "/v2/account", "UpdateAccount", T, W, tomo_api_account_update, NULL, GRPCB("UpdateAccount", API("UpdateAccountRequest"), "*")},
    {D, "/v2/account", "DeleteAccount", T, W, tomo_api_account_delete, NULL, GRPC("DeleteAccount", EMPTY)},
    {G, "/v2/user", "GetUsers", T, R, tomo_api_users_get, NULL, GRPC("GetUsers", API("GetUsersRequest"))},
    {G, "/v2/user/{user_id}/group", "ListUserGroups", T, R, tomo_api_user_groups_list,
     NULL, GRPC("ListUserGroups", API("ListUserGroupsRequest"))},

    /* friends */
    {G, "/v2/friend", "ListFriends", T, R, tomo_api_friend_list, NULL, GRPC("ListFriends", API("ListFriendsRequest"))},
    {P, "/v2/friend", "AddFriends", T, W, tomo_api_friend_add, NULL, GRPC("AddFriends", API("AddFriendsRequest"))},
    {D, "/v2/friend", "DeleteFriends", T, W, tomo_api_friend_delete, NULL, GRPC("DeleteFriends", API("DeleteFriendsRequest"))},
    {P, "/v2/friend/block", "BlockFriends", T, W, tomo_api_friend_block, NULL, GRPC("BlockFriends", API("BlockFriendsRequest"))},
    {P, "/v2/friend/facebook", "ImportFacebookFriends", T, W, tomo_api_friend_import_facebook, NULL, GRPCB("ImportFacebookFriends", API("ImportFacebookFriendsRequest"), "account")},
    {P, "/v2/friend/steam", "ImportSteamFriends", T, W, tomo_api_friend_import_steam, NULL, GRPCB("ImportSteamFriends", API("ImportSteamFriendsRequest"), "account")},
    {G, "/v2/friend/friends", "ListFriendsOfFriends", T, R, tomo_api_friend_list_fof,
     NULL, GRPC("ListFriendsOfFriends", API("ListFriendsOfFriendsRequest"))},

    /* groups */
    {G, "/v2/group", "ListGroups", T, R, tomo_api_group_list, NULL, GRPC("ListGroups", API("ListGroupsRequest"))},
    {P, "/v2/group", "CreateGroup", T, W, tomo_api_group_create, NULL, GRPCB("CreateGroup", API("CreateGroupRequest"), "*")},
    {U, "/v2/group/{group_id}", "UpdateGroup", T, W, tomo_api_group_update, NULL, GRPCB("UpdateGroup", API("UpdateGroupRequest"), "*")},
    {D, "/v2/group/{group_id}", "DeleteGroup", T, W, tomo_api_group_delete, NULL, GRPC("DeleteGroup", API("DeleteGroupRequest"))},
    {P, "/v2/group/{group_id}/add", "AddGroupUsers", T, W, tomo_api_group_add, NULL, GRPC("AddGroupUsers", API("AddGroupUsersRequest"))},
    {P, "/v2/group/{group_id}/ban", "BanGroupUsers", T, W, tomo_api_group_ban, NULL, GRPC("BanGroupUsers", API("BanGroupUsersRequest"))},
    {P, "/v2/group/{group_id}/kick", "KickGroupUsers", T, W, tomo_api_group_kick, NULL, GRPC("KickGroupUsers", API("KickGroupUsersRequest"))},
    {P, "/v2/group/{group_id}/promote", "PromoteGroupUsers", T, W, tomo_api_group_promote, NULL, GRPC("PromoteGroupUsers", API("PromoteGroupUsersRequest"))},
    {P, "/v2/group/{group_id}/demote", "DemoteGroupUsers", T, W, tomo_api_group_demote, NULL, GRPC("DemoteGroupUsers", API("DemoteGroupUsersRequest"))},
    {P, "/v2/group/{group_id}/join", "JoinGroup", T, W, tomo_api_group_join, NULL, GRPC("JoinGroup", API("JoinGroupRequest"))},
    {P, "/v2/group/{group_id}/leave", "LeaveGroup", T, W, tomo_api_group_leave, NULL, GRPC("LeaveGroup", API("LeaveGroupRequest"))},
    {G, "/v2/group/{group_id}/user", "ListGroupUsers", T, R, tomo_api_group_users_list,
     NULL, GRPC("ListGroupUsers", API("ListGroupUsersRequest"))},

    /* storage */
    {P, "/v2/storage", "ReadStorageObjects", T, R, tomo_api_storage_read, NULL, GRPCB("ReadStorageObjects", API("ReadStorageObjectsRequest"), "*")},
    {U, "/v2/storage", "WriteStorageObjects", T, W, tomo_api_storage_write, NULL, GRPCB("WriteStorageObjects", API("WriteStorageObjectsRequest"), "*")},
    {U, "/v2/storage/delete", "DeleteStorageObjects", T, W, tomo_api_storage_delete, NULL, GRPCB("DeleteStorageObjects", API("DeleteStorageObjectsRequest"), "*")},
    {G, "/v2/storage/{collection}", "ListStorageObjects", T, R, tomo_api_storage_list, NULL, GRPC("ListStorageObjects", API("ListStorageObjectsRequest"))},
    {G, "/v2/storage/{collection}/{user_id}", "ListStorageObjects", T, R, tomo_api_storage_list,
     NULL, GRPC("ListStorageObjects", API("ListStorageObjectsRequest"))},

    /* leaderboards and tournaments */
    {G, "/v2/leaderboard/{leaderboard_id}", "ListLeaderboardRecords", T, R,
     tomo_api_leaderboard_list, NULL, GRPC("ListLeaderboardRecords", API("ListLeaderboardRecordsRequest"))},
    {P, "/v2/leaderboard/{leaderboard_id}", "WriteLeaderboardRecord", T, W,
     tomo_api_leaderboard_write, NULL, GRPCB("WriteLeaderboardRecord", API("WriteLeaderboardRecordRequest"), "record")},
    {D, "/v2/leaderboard/{leaderboard_id}", "DeleteLeaderboardRecord", T, W,
     tomo_api_leaderboard_delete, NULL, GRPC("DeleteLeaderboardRecord", API("DeleteLeaderboardRecordRequest"))},
    {G, "/v2/leaderboard/{leaderboard_id}/owner/{owner_id}", "ListLeaderboardRecordsAroundOwner", T, R,
     tomo_api_leaderboard_around_owner, NULL, GRPC("ListLeaderboardRecordsAroundOwner", API("ListLeaderboardRecordsAroundOwnerRequest"))},
    {G, "/v2/tournament", "ListTournaments", T, R, tomo_api_tournament_list, NULL, GRPC("ListTournaments", API("ListTournamentsRequest"))},
    {G, "/v2/tournament/{tournament_id}", "ListTournamentRecords", T, R,
     tomo_api_tournament_records_list, NULL, GRPC("ListTournamentRecords", API("ListTournamentRecordsRequest"))},
    {U, "/v2/tournament/{tournament_id}", "WriteTournamentRecord", T, W,
     tomo_api_tournament_write, NULL, GRPCB("WriteTournamentRecord", API("WriteTournamentRecordRequest"), "record")},
    {P, "/v2/tournament/{tournament_id}", "WriteTournamentRecord", T, W,
     tomo_api_tournament_write, NULL, GRPCB("WriteTournamentRecord", API("WriteTournamentRecordRequest"), "record")},
    {D, "/v2/tournament/{tournament_id}", "DeleteTournamentRecord", T, W,
     tomo_api_tournament_delete, NULL, GRPC("DeleteTournamentRecord", API("DeleteTournamentRecordRequest"))},
    {P, "/v2/tournament/{tournament_id}/join", "JoinTournament", T, W,
     tomo_api_tournament_join, NULL, GRPC("JoinTournament", API("JoinTournamentRequest"))},
    {G, "/v2/tournament/{tournament_id}/owner/{owner_id}", "ListTournamentRecordsAroundOwner", T, R,
     tomo_api_tournament_around_owner, NULL, GRPC("ListTournamentRecordsAroundOwner", API("ListTournamentRecordsAroundOwnerRequest"))},

    /* notifications, chat, matches, events, rpc */
    {G, "/v2/notification", "ListNotifications", T, R, tomo_api_notification_list, NULL, GRPC("ListNotifications", API("ListNotificationsRequest"))},
    {D, "/v2/notification", "DeleteNotifications", T, W, tomo_api_notification_delete, NULL, GRPC("DeleteNotifications", API("DeleteNotificationsRequest"))},
    {G, "/v2/channel/{channel_id}", "ListChannelMessages", T, R, tomo_api_channel_messages_list,
     NULL, GRPC("ListChannelMessages", API("ListChannelMessagesRequest"))},
    {G, "/v2/match", "ListMatches", T, TOMO_ROUTE_LOOP, tomo_api_match_list, NULL, GRPC("ListMatches", API("ListMatchesRequest"))},
    {P, "/v2/event", "Event", T, W, tomo_api_event, NULL, GRPCB("Event", API("Event"), "*")},
    {G, "/v2/rpc/{id}", "Rpc", TOMO_AUTH_RPC, TOMO_ROUTE_RAWBODY, tomo_api_rpc, NULL, GRPC("RpcFunc", API("Rpc"))},
    {P, "/v2/rpc/{id}", "Rpc", TOMO_AUTH_RPC, TOMO_ROUTE_RAWBODY, tomo_api_rpc, NULL, GRPCB("RpcFunc", API("Rpc"), "payload")},
    {G, "/v2/matchmaker/stats", "GetMatchmakerStats", T, W, NULL, NULL, GRPC("GetMatchmakerStats", EMPTY)},
    {G, "/v2/party", "ListParties", T, W, NULL, NULL, GRPC("ListParties", API("ListPartiesRequest"))},

    /* in-app purchases */
    {P, "/v2/iap/purchase/apple", "ValidatePurchaseApple", T, W, tomo_api_iap_purchase_apple, NULL, GRPCB("ValidatePurchaseApple", API("ValidatePurchaseAppleRequest"), "*")},
    {P, "/v2/iap/purchase/google", "ValidatePurchaseGoogle", T, W, tomo_api_iap_purchase_google, NULL, GRPCB("ValidatePurchaseGoogle", API("ValidatePurchaseGoogleRequest"), "*")},
    {P, "/v2/iap/purchase/huawei", "ValidatePurchaseHuawei", T, W, tomo_api_iap_purchase_huawei, NULL, GRPCB("ValidatePurchaseHuawei", API("ValidatePurchaseHuaweiRequest"), "*")},
    {P, "/v2/iap/purchase/facebookinstant", "ValidatePurchaseFacebookInstant", T, W, tomo_api_iap_purchase_facebook_instant, NULL, GRPCB("ValidatePurchaseFacebookInstant", API("ValidatePurchaseFacebookInstantRequest"), "*")},
    {P, "/v2/iap/subscription/apple", "ValidateSubscriptionApple", T, W, tomo_api_iap_subscription_apple, NULL, GRPCB("ValidateSubscriptionApple", API("ValidateSubscriptionAppleRequest"), "*")},
    {P, "/v2/iap/subscription/google", "ValidateSubscriptionGoogle", T, W, tomo_api_iap_subscription_google, NULL, GRPCB("ValidateSubscriptionGoogle", API("ValidateSubscriptionGoogleRequest"), "*")},
    {P, "/v2/iap/subscription", "ListSubscriptions", T, W, tomo_api_iap_subscriptions_list, NULL, GRPCB("ListSubscriptions", API("ListSubscriptionsRequest"), "*")},
    {G, "/v2/iap/subscription/{product_id}", "GetSubscription", T, W, tomo_api_iap_subscription_get, NULL, GRPC("GetSubscription", API("GetSubscriptionRequest"))},
};

const tomo_api_route *tomo_api_routes(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
