/* runtime/nk_domains.c: the nk table's contents: first every Nakama 3.15 nk
 * function name bound to a raiser ("<name> is not implemented in tomo yet"),
 * then each domain's open function, which replaces the names it implements.
 * A new domain (nk_social.c, nk_leaderboard.c, nk_match.c, ...) adds its
 * open function to `domains` below and nothing else. */
#include "nk_leaderboard.h"
#include "nk_social.h"
#include "runtime_int.h"

static const char *const unimplemented[] = {
    /* utilities */
    "cron_next", "cron_prev", "rsa_sha256_hash", "jwt_generate", "event", "metricsCounterAdd",
    "metricsGaugeSet", "metricsTimerRecord", "metrics_counter_add", "metrics_gauge_set",
    "metrics_timer_record", "secure_random_bytes", "get_config", "get_satori",
    /* accounts, users, authentication */
    "account_get_id", "accounts_get_id", "account_update_id", "account_delete_id",
    "account_export_id", "account_import_id", "users_get_id", "users_get_username",
    "users_get_random", "users_ban_id", "users_unban_id", "authenticate_device",
    "authenticate_custom", "authenticate_email", "authenticate_apple", "authenticate_facebook",
    "authenticate_facebook_instant_game", "authenticate_game_center", "authenticate_google",
    "authenticate_steam", "authenticate_token_generate", "link_custom", "link_device",
    "link_email", "link_apple", "link_google", "link_facebook", "link_facebook_instant_game",
    "link_gamecenter", "link_steam", "unlink_custom", "unlink_device", "unlink_email",
    "unlink_apple", "unlink_google", "unlink_facebook", "unlink_facebook_instant_game",
    "unlink_gamecenter", "unlink_steam",
    /* storage */
    "storage_read", "storage_write", "storage_delete", "storage_list", "multi_update",
    "storage_index_list", "register_storage_index", "register_storage_index_filter",
    /* wallet, notifications */
    "wallet_update", "wallets_update", "wallet_ledger_update", "wallet_ledger_list",
    "notification_send", "notifications_send", "notification_send_all", "notifications_delete",
    "notifications_list", "notifications_get_id", "notifications_delete_id",
    "notifications_update",
    /* streams, sessions, status */
    "stream_user_join", "stream_user_update", "stream_user_leave", "stream_user_kick",
    "stream_user_get", "stream_user_list", "stream_count", "stream_close", "stream_send",
    "stream_send_raw", "session_disconnect", "session_logout", "status_follow",
    "status_unfollow",
    /* matches */
    "match_create", "match_get", "match_list", "match_signal",
    /* leaderboards, tournaments */
    "leaderboard_create", "leaderboard_delete", "leaderboard_list", "leaderboard_records_list",
    "leaderboard_records_list_cursor_from_rank", "leaderboard_record_write",
    "leaderboard_records_haystack", "leaderboard_record_delete", "leaderboards_get_id",
    "leaderboard_ranks_disable", "tournament_create", "tournament_delete",
    "tournament_add_attempt", "tournament_join", "tournament_list", "tournaments_get_id",
    "tournament_records_list", "tournament_record_write", "tournament_record_delete",
    "tournament_records_haystack", "tournament_ranks_disable",
    /* groups, friends, chat */
    "group_create", "group_update", "group_delete", "group_user_join", "group_user_leave",
    "group_users_add", "group_users_ban", "group_users_kick", "group_users_promote",
    "group_users_demote", "group_users_list", "user_groups_list", "groups_list",
    "groups_get_id", "groups_get_random", "friends_list", "friends_add", "friends_delete",
    "friends_block", "friends_of_friends_list", "friend_metadata_update",
    "users_get_friend_status", "channel_id_build", "channel_message_send",
    "channel_message_update", "channel_message_remove", "channel_messages_list",
    /* parties */
    "party_list",
    /* purchases, subscriptions */
    "purchase_validate_apple", "purchase_validate_google", "purchase_validate_huawei",
    "purchase_validate_facebook_instant", "purchase_validate_samsung",
    "purchase_get_by_transaction_id", "purchases_list", "subscription_validate_apple",
    "subscription_validate_gogle", "subscription_validate_google",
    "subscription_get_by_product_id", "subscriptions_list",
    /* satori, storage retry */
    "storage_write_retry",
};

static int l_unimplemented(lua_State *L)
{
    return luaL_error(L, "%s is not implemented in tomo yet", lua_tostring(L, lua_upvalueindex(1)));
}

typedef void (*domain_open)(lua_State *L, int nk);

static const domain_open domains[] = {
    tomo_nk_register_open,
    tomo_nk_util_open,
    tomo_nk_http_open,
    tomo_nk_sql_open,
    tomo_nk_stream_open,
    tomo_nk_notify_open,
    tomo_nk_chat_open,
    tomo_nk_leaderboard_open,
    tomo_nk_storage_open,
    tomo_nk_wallet_open,
    tomo_nk_account_open,
    tomo_nk_social_open,
    tomo_nk_match_open,
    tomo_nk_auth_open,
};

void tomo_nk_open_all(lua_State *L, int nk)
{
    for (size_t i = 0; i < sizeof(unimplemented) / sizeof(unimplemented[0]); i++) {
        lua_pushstring(L, unimplemented[i]);
        lua_pushcclosure(L, l_unimplemented, 1);
        lua_setfield(L, nk, unimplemented[i]);
    }
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++)
        domains[i](L, nk);
}
