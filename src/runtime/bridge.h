/* runtime/bridge.h: connects the runtime to the realtime layer's seam
 * (rt/hooks.h) so socket RPCs and realtime hooks run Lua.
 * Threads: install on the main thread after tomo_rt_init. */
#ifndef TOMO_RUNTIME_BRIDGE_H
#define TOMO_RUNTIME_BRIDGE_H

#include "runtime.h"

/* Fill realtime's runtime seam (and the matchmaker hook when a module
 * registered one) of rtc with rt. */
void tomo_runtime_bridge_install(tomo_runtime *rt, tomo_rt *rtc);

#endif
