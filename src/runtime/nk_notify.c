/* runtime/nk_notify.c: nk.notification_send / nk.notifications_send over
 * the notification service (svc/notification.h: stored when persistent, pushed to
 * live sockets after commit). The system sends: any user, any sender. */
#define _GNU_SOURCE
#include "runtime_int.h"

#include "../core/common.h"
#include "../svc/notification.h"

#include <stdlib.h>
#include <string.h>

typedef struct note {
    char user_id[37], sender_id[37];
    char *subject, *content;
    int code, persistent;
} note;

static void note_clear(note *n)
{
    free(n->subject);
    free(n->content);
}

/* Fill n from the Lua values at indexes (user, subject, content, code,
 * sender, persistent). Raises on bad input (n owns nothing yet then). */
static void check_note(lua_State *L, int iu, int is, int ic, int icode, int isender, int ipers,
                       note *n)
{
    memset(n, 0, sizeof(*n));
    tomo_nk_checkuuid(L, iu, n->user_id);
    const char *subject = tomo_nk_checkstr(L, is, 1, NULL);
    if (lua_type(L, ic) != LUA_TTABLE)
        luaL_argerror(L, ic, "expects content to be a table");
    if (lua_type(L, icode) != LUA_TNUMBER)
        luaL_argerror(L, icode, "expects code to be a number");
    lua_Integer code = lua_tointeger(L, icode);
    if (code <= 0)
        luaL_argerror(L, icode, "expects code to be above 0 (codes <= 0 are reserved)");
    if (!tomo_nk_optuuid(L, isender, n->sender_id))
        n->sender_id[0] = '\0';
    n->persistent = tomo_nk_optbool(L, ipers, 0);
    json_t *c = tomo_nk_to_json(L, ic);
    if (!json_is_object(c)) {
        json_decref(c);
        c = json_object();
    }
    n->content = tomo_nk_json_dump(c);
    json_decref(c);
    n->subject = tomo_xstrdup(subject);
    n->code = (int)code;
}

static int send_all(lua_State *L, note *ns, size_t n)
{
    tomo_svc *svc = tomo_nk_svc(L);
    char msg[256] = "";
    int rc = 0;
    json_t **objs = tomo_xcalloc(n ? n : 1, sizeof(*objs));
    tomo_dbconn *c = NULL;
    if (!svc || !svc->db) {
        snprintf(msg, sizeof(msg), "failed to send notifications: no server");
        rc = -1;
        goto out;
    }
    if (tomo_db_acquire(svc->db, &c) < 0) {
        snprintf(msg, sizeof(msg), "failed to send notifications: database unavailable");
        rc = -1;
        goto out;
    }
    if (n > 1 && tomo_db_begin(c) < 0) {
        snprintf(msg, sizeof(msg), "failed to send notifications: %s", tomo_db_errmsg(c));
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        int r = tomo_notify_store(c, ns[i].user_id, ns[i].subject, ns[i].content, ns[i].code,
                                  ns[i].sender_id[0] ? ns[i].sender_id : NULL, ns[i].persistent,
                                  &objs[i]);
        if (r < 0) {
            snprintf(msg, sizeof(msg), "failed to send notifications: %s",
                     r == TOMO_EINVAL ? "invalid notification" : tomo_db_errmsg(c));
            rc = -1;
        }
    }
    if (n > 1 && rc == 0 && tomo_db_commit(c) < 0) {
        snprintf(msg, sizeof(msg), "failed to send notifications: %s", tomo_db_errmsg(c));
        rc = -1;
    }
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            tomo_notify_push(svc, ns[i].user_id, objs[i]);
out:
    tomo_db_release(c);
    for (size_t i = 0; i < n; i++) {
        json_decref(objs[i]);
        note_clear(&ns[i]);
    }
    free(objs);
    if (rc < 0)
        return tomo_nk_error(L, "%s", msg);
    return 0;
}

static int l_notification_send(lua_State *L)
{
    note n;
    check_note(L, 1, 2, 3, 4, 5, 6, &n);
    send_all(L, &n, 1);
    return 0;
}

static int l_notifications_send(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t k = lua_objlen(L, 1);
    if (k > 1000)
        return luaL_argerror(L, 1, "too many notifications (1000 at most)");
    note *ns = lua_newuserdata(L, (k ? k : 1) * sizeof(note)); /* freed by the GC */
    int base = lua_gettop(L);
    for (size_t i = 0; i < k; i++) {
        lua_rawgeti(L, 1, (int)i + 1);
        if (!lua_istable(L, -1)) {
            for (size_t j = 0; j < i; j++)
                note_clear(&ns[j]);
            return luaL_argerror(L, 1, "expects a table of notification tables");
        }
        int t = lua_gettop(L);
        lua_getfield(L, t, "user_id");
        lua_getfield(L, t, "subject");
        lua_getfield(L, t, "content");
        lua_getfield(L, t, "code");
        lua_getfield(L, t, "sender_id");
        lua_getfield(L, t, "persistent");
        /* an error here would leak the notes already built: check types
         * with a protected call would cost more than these few strings */
        check_note(L, t + 1, t + 2, t + 3, t + 4, t + 5, t + 6, &ns[i]);
        lua_settop(L, base);
    }
    send_all(L, ns, k);
    return 0;
}

void tomo_nk_notify_open(lua_State *L, int nk)
{
    static const luaL_Reg fns[] = {
        {"notification_send", l_notification_send},
        {"notifications_send", l_notifications_send},
        {NULL, NULL},
    };
    tomo_nk_register(L, nk, fns);
}
