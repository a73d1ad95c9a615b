/* runtime/nk_leaderboard.h: the leaderboard and tournament nk functions
 * and the reset/end hooks (runtime/nk_leaderboard.c).
 * Threads: open on the thread creating a state; install on the main thread
 *          after the runtime is created (before serving). */
#ifndef TOMO_RUNTIME_NK_LEADERBOARD_H
#define TOMO_RUNTIME_NK_LEADERBOARD_H

#include <lua.h>

#include "runtime.h"

/* Register nk.leaderboard_*, nk.tournament_*, nk.cron_next/cron_prev into
 * the nk table at stack index nk. */
void tomo_nk_leaderboard_open(lua_State *L, int nk);

/* Point the leaderboard scheduler's hooks at rt's singleton callbacks
 * (register_leaderboard_reset, register_tournament_reset,
 * register_tournament_end); rt NULL clears them. */
void tomo_nk_leaderboard_install_hooks(tomo_runtime *rt, tomo_svc *svc);

#endif
