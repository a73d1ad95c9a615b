/* rt/modules.h: init functions of the realtime feature modules.
 * Owns: nothing; rt/modules.c calls them from tomo_rt_new.
 * Threads: loop thread (start-up). */
#ifndef TOMO_RT_MODULES_H
#define TOMO_RT_MODULES_H

#include "rt.h"

void tomo_rt_modules_init(tomo_rt *rt);

void tomo_rt_core_init(tomo_rt *rt);
void tomo_rt_status_init(tomo_rt *rt);
void tomo_rt_match_init(tomo_rt *rt);
void tomo_rt_channel_init(tomo_rt *rt); /* rt/channel.h */
void tomo_rt_hooks_init(tomo_rt *rt);   /* rt/hooks.h */

#endif
