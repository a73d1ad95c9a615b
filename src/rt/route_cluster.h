/* rt/route_cluster.h: the cluster routing: rt/route.h's tomo_rt_routing over
 * the NATS bus (cluster/cluster.h), so streams, presences and sessions
 * span nodes (docs/CLUSTER.md, "Routing").
 * Owns: tomo_rt_cluster (the routing state: which remote sessions are
 *       online, per node) and the routing frames (kinds >= 16).
 * Borrows: the loop's tomo_rt and the bus (both outlive it).
 * Threads: the loop thread of rt (the bus delivers there too).
 *
 * A remote node's sessions are ghosts of origin (node id << 8) in the
 * tracker; this node's own sessions are origin tomo_rt_origin(rt) (< 256).
 * One loop per node (socket.loops 1) is what this routes. */
#ifndef TOMO_RT_ROUTE_CLUSTER_H
#define TOMO_RT_ROUTE_CLUSTER_H

#include "../cluster/cluster.h"
#include "rt.h"

typedef struct tomo_rt_cluster tomo_rt_cluster;

/* Install the routing on rt and start the bus with it as the handler. */
tomo_rt_cluster *tomo_rt_cluster_attach(tomo_rt *rt, tomo_cluster *bus);
/* After tomo_cluster_stop (no more frames); NULL is fine. */
void tomo_rt_cluster_free(tomo_rt_cluster *rc);

#endif
