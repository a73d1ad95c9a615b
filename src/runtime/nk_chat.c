/* runtime/nk_chat.c: nk.channel_id_build (the channel id a client gets for
 * a room, a DM or a group, as svc/chat.h formats it). */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../svc/chat.h"

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

void tomo_nk_chat_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {{"channel_id_build", l_channel_id_build}, {NULL, NULL}};
    tomo_nk_register(L, nk, fns);
}
