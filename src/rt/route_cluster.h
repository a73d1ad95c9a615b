/* rt/route_cluster.h: the cluster routing: rt/route.h's tomo_rt_routing over
 * the NATS bus (cluster/cluster.h), so streams, presences and sessions
 * span nodes (docs/CLUSTER.md, "Routing").
 * Owns: tomo_rt_cluster (the routing state: which remote sessions are
 *       online, per node) and the routing frames (kinds >= 16).
 * Borrows: every loop's tomo_rt and the bus (all outlive it).
 * Threads: each routing callback on the calling loop's thread (it frames
 *          and publishes from there: NATS publishing is thread-safe, and
 *          one loop's frames keep their order); the bus delivers on loop 0,
 *          which applies each frame to itself and posts a copy to every
 *          other loop (tomo_loop_post: FIFO), or only to the one a
 *          session frame names.
 *
 * A remote node's sessions are ghosts of origin (node id << 8 | its loop)
 * in every loop's tracker; this node's own sessions are origins < 256 (the
 * loop index). With socket.loops > 1 this routing wraps the loop router
 * (rt/loops.c): each callback calls the loop router's first, then frames
 * what concerns other nodes. */
#ifndef TOMO_RT_ROUTE_CLUSTER_H
#define TOMO_RT_ROUTE_CLUSTER_H

#include "../cluster/cluster.h"
#include "rt.h"

typedef struct tomo_rt_cluster tomo_rt_cluster;

/* Install the routing on the n loops rts[0..n) (rts[0] is the bus's loop),
 * wrapping the routing each already has, and start the bus with it as the
 * handler. Main thread, before the loops run. */
tomo_rt_cluster *tomo_rt_cluster_attach(tomo_rt *const *rts, int n, tomo_cluster *bus);
/* Shutdown, once the other loops' threads ended: frames still posted to
 * them are only freed. NULL is fine. */
void tomo_rt_cluster_stop(tomo_rt_cluster *rc);
/* After tomo_cluster_stop (no more frames) and the loops are drained; NULL
 * is fine. */
void tomo_rt_cluster_free(tomo_rt_cluster *rc);

#endif
