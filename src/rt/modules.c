/* rt/modules.c: the realtime feature modules, initialised in this order by
 * tomo_rt_new, once per loop context. Each registers its envelope handlers
 * (rt/envelope.h) and tracker listeners (rt/tracker.h) on that context.
 * Add a feature with one line here. */
#include "modules.h"

#include "rt_int.h"

void tomo_rt_modules_init(tomo_rt *rt)
{
    tomo_rt_core_init(rt);   /* ping, pong, rpc (rt/rt.c) */
    tomo_rt_status_init(rt); /* status_* (rt/status.c) */
    tomo_rt_match_init(rt);  /* relayed matches (rt/match.c) */
    tomo_rt_channel_init(rt);    /* chat channels (rt/channel.c) */
    tomo_rt_matchmaker_init(rt); /* matchmaker (rt/matchmaker_rt.c) */
    tomo_rt_party_init(rt);      /* parties (rt/party.c) */
    tomo_rt_hooks_init(rt);      /* rpc through the runtime seam (rt/hooks.c) */
}
