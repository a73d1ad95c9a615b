/* rt/modules.h: init functions of the realtime feature modules.
 * Owns: nothing; rt/modules.c calls them from tomo_rt_init.
 * Threads: loop thread (start-up). */
#ifndef TOMO_RT_MODULES_H
#define TOMO_RT_MODULES_H

#include "../api/server.h"

void tomo_rt_modules_init(tomo_server *srv);

void tomo_rt_core_init(tomo_server *srv);
void tomo_rt_status_init(tomo_server *srv);
void tomo_rt_match_init(tomo_server *srv);
void tomo_rt_channel_init(tomo_server *srv); /* rt/channel.h */
void tomo_rt_hooks_init(tomo_server *srv);   /* rt/hooks.h */

#endif
