/* runtime/nk_chat.c: nk.channel_id_build (the channel id a client gets for
 * a room, a DM or a group, as svc/chat.h formats it) and
 * channel_message_send / update / remove and channel_messages_list over
 * svc/chat.h as the system. Nakama's Lua shapes here use camelCase keys
 * (channelId, messageId, createTime, ...), times in unix seconds.
 * Threads: the worker that borrowed the state. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/codec_util.h"
#include "../core/common.h"
#include "../svc/chat.h"

#include <stdlib.h>
#include <string.h>

static int l_channel_id_build(lua_State *L)
{
    const char *sender = tomo_nk_optstr(L, 1, "", NULL);
    const char *target = tomo_nk_checkstr(L, 2, 1, NULL);
    lua_Integer type = luaL_checkinteger(L, 3);
    tomo_chat_channel c;
    memset(&c, 0, sizeof(c));
    char a[37], b[37];
    switch (type) {
    case 1: {
        const char *why = tomo_chat_room_init(&c, target);
        if (why)
            return tomo_nk_error(L, "error building channel id: %s", why);
        break;
    }
    case 2:
        if (!tomo_nk_optuuid(L, 1, a))
            return luaL_argerror(L, 1, "expects a sender id for a direct message channel");
        tomo_nk_checkuuid(L, 2, b);
        tomo_chat_dm_init(&c, a, b);
        break;
    case 3:
        tomo_nk_checkuuid(L, 2, b);
        c.mode = TOMO_CHAT_GROUP;
        memcpy(c.subject, b, sizeof(c.subject));
        break;
    default: return luaL_argerror(L, 3, "expects type 1 (room), 2 (direct) or 3 (group)");
    }
    (void)sender;
    char id[TOMO_CHAT_ID_MAX];
    tomo_chat_id_format(&c, id);
    lua_pushstring(L, id);
    return 1;
}

/* A protojson ChannelMessage or ChannelMessageAck (borrowed) -> Nakama's
 * camelCase Lua table (new reference); with_body: a message (senderId,
 * content), else an ack. */
static json_t *lua_message(const json_t *m, int with_body)
{
    static const char *const strs[][2] = {
        {"channel_id", "channelId"}, {"message_id", "messageId"}, {"username", "username"},
        {"room_name", "roomName"},   {"group_id", "groupId"},     {"user_id_one", "userIdOne"},
        {"user_id_two", "userIdTwo"}, {"sender_id", "senderId"},  {"content", "content"},
    };
    json_t *o = json_object();
    size_t n = with_body ? TOMO_ARRAY_LEN(strs) : 3; /* an ack has no target, sender, body */
    for (size_t i = 0; i < n; i++) {
        const char *v = tomo_json_str(m, strs[i][0]);
        json_object_set_new(o, strs[i][1], json_string(v ? v : ""));
    }
    json_t *code = json_object_get(m, "code");
    json_object_set_new(o, "code", json_integer(json_is_integer(code) ? json_integer_value(code)
                                                                      : 0));
    json_object_set_new(o, "createTime",
                        json_integer(tomo_nk_rfc3339_secs(tomo_json_str(m, "create_time"))));
    json_object_set_new(o, "updateTime",
                        json_integer(tomo_nk_rfc3339_secs(tomo_json_str(m, "update_time"))));
    json_object_set_new(o, "persistent",
                        json_boolean(json_is_true(json_object_get(m, "persistent"))));
    return o;
}

/* The content table at i (nil/none: NULL) as JSON object text (malloc'd). */
static char *opt_content(lua_State *L, int i)
{
    if (lua_isnoneornil(L, i))
        return NULL;
    if (lua_type(L, i) != LUA_TTABLE)
        luaL_argerror(L, i, "expects message content to be a valid JSON object");
    return tomo_nk_opt_metadata(L, i);
}

/* send (code 0), update (1), remove (2): the ack. */
static int message_write(lua_State *L, int code, const char *fn)
{
    int a = 1;
    const char *channel_id = tomo_nk_checkstr(L, a++, 0, NULL);
    const char *message_id = code ? tomo_nk_checkstr(L, a++, 0, NULL) : NULL;
    if (message_id && !tomo_uuid_valid(message_id))
        return luaL_argerror(L, 2, "Invalid message identifier");
    int content_at = code == TOMO_CHAT_CODE_REMOVE ? 0 : a++;
    const char *sender = tomo_nk_optstr(L, a, "", NULL);
    if (*sender && !tomo_uuid_valid(sender))
        return luaL_argerror(L, a, "expects sender id to either be not set, empty string or a "
                                   "valid UUID");
    const char *username = tomo_nk_optstr(L, a + 1, "", NULL);
    int persist = tomo_nk_optbool(L, a + 2, 0);
    tomo_svc *svc = tomo_nk_need_svc(L, fn);
    char *content = content_at ? opt_content(L, content_at) : NULL;
    tomo_dbconn *db = NULL;
    tomo_err err = {0};
    json_t *ack = NULL;
    int rc = tomo_db_acquire(svc->db, &db);
    if (rc == 0)
        rc = tomo_svc_chat_write(svc, db, code, channel_id, message_id, content, sender,
                                 username, persist, &ack, &err);
    else
        tomo_err_set(&err, TOMO_GRPC_UNAVAILABLE, "database unavailable");
    tomo_db_release(db);
    free(content);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to send channel message", &err);
    tomo_nk_push_take(L, lua_message(ack, 0));
    json_decref(ack);
    return 1;
}

static int l_channel_message_send(lua_State *L)
{
    return message_write(L, TOMO_CHAT_CODE_CHAT, "channel_message_send");
}

static int l_channel_message_update(lua_State *L)
{
    return message_write(L, TOMO_CHAT_CODE_UPDATE, "channel_message_update");
}

static int l_channel_message_remove(lua_State *L)
{
    return message_write(L, TOMO_CHAT_CODE_REMOVE, "channel_message_remove");
}

static int l_channel_messages_list(lua_State *L)
{
    const char *channel_id = tomo_nk_checkstr(L, 1, 0, NULL);
    lua_Integer limit = tomo_nk_optint(L, 2, 100);
    if (limit < 1 || limit > TOMO_CHAT_LIST_MAX)
        return luaL_argerror(L, 2, "limit must be 1-100");
    int forward = tomo_nk_optbool(L, 3, 1);
    const char *cursor = tomo_nk_optstr(L, 4, "", NULL);
    tomo_svc *svc = tomo_nk_need_svc(L, "channel_messages_list");
    tomo_dbconn *db = tomo_nk_acquire(L, svc, "channel_messages_list");
    tomo_err err = {0};
    json_t *out = NULL;
    int rc = tomo_svc_chat_history(svc, db, &tomo_caller_system, channel_id, (int)limit, forward,
                                   cursor, &out, &err);
    tomo_db_release(db);
    if (rc < 0)
        return tomo_nk_raise_err(L, "failed to list channel messages", &err);
    json_t *res = json_array();
    size_t k;
    json_t *m;
    json_array_foreach(json_object_get(out, "messages"), k, m)
        json_array_append_new(res, lua_message(m, 1));
    tomo_nk_push_take(L, res);
    static const char *const cur[] = {"next_cursor", "prev_cursor"};
    for (int i = 0; i < 2; i++) {
        const char *c = tomo_json_str(out, cur[i]);
        if (c && *c)
            lua_pushstring(L, c);
        else
            lua_pushnil(L);
    }
    json_decref(out);
    return 3;
}

void tomo_nk_chat_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {{"channel_id_build", l_channel_id_build},
                                   {"channel_message_send", l_channel_message_send},
                                   {"channel_message_update", l_channel_message_update},
                                   {"channel_message_remove", l_channel_message_remove},
                                   {"channel_messages_list", l_channel_messages_list},
                                   {NULL, NULL}};
    tomo_nk_register(L, nk, fns);
}
