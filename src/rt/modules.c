/* rt/modules.c: the realtime feature modules, initialised in this order by
 * tomo_rt_init. Each registers its envelope handlers (rt/envelope.h) and
 * tracker listeners (rt/tracker.h). Add a feature with one line here. */
#include "modules.h"

#include "rt_int.h"

void tomo_rt_modules_init(tomo_server *srv)
{
    tomo_rt_core_init(srv);   /* ping, pong, rpc (rt/rt.c) */
    tomo_rt_status_init(srv); /* status_* (rt/status.c) */
    tomo_rt_match_init(srv);  /* relayed matches (rt/match.c) */
    tomo_rt_channel_init(srv); /* chat channels (rt/channel.c) */
    tomo_rt_matchmaker_init(srv); /* matchmaker (rt/matchmaker_rt.c) */
    tomo_rt_party_init(srv);      /* parties (rt/party.c) */
    tomo_rt_hooks_init(srv);  /* rpc through the runtime seam (rt/hooks.c) */
}
