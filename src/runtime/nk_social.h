/* runtime/nk_social.h: the friends and groups nk functions
 * (runtime/nk_social.c).
 * Threads: open on the thread creating a state. */
#ifndef TOMO_RUNTIME_NK_SOCIAL_H
#define TOMO_RUNTIME_NK_SOCIAL_H

#include <lua.h>

/* Register nk.friends_*, nk.group_*, nk.groups_*, nk.user_groups_list into
 * the nk table at stack index nk. */
void tomo_nk_social_open(lua_State *L, int nk);

#endif
