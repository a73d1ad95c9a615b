/* rt/loops.h: several event loops in one process (socket.loops): the
 * in-process routing implementation (rt/route.h) that joins their tomo_rt.
 * Owns: tomo_rt_loops (one per process) and the hand-off messages between
 *       loops (heap; each one freed by the loop that runs it).
 * Borrows: every loop's tomo_rt (registered with tomo_rt_loops_add).
 * Threads: new/add/stop/free on the main thread (start-up, shutdown); the
 *          routing callbacks run on the sending loop's thread and append to
 *          the destination loop's inbox (one FIFO per loop, so the order of
 *          one sender's messages holds, and a presence change always arrives
 *          before the messages that follow it). The destination runs its
 *          inbox when woken and before it handles an envelope (pump); the
 *          sender posts the wake-up (tomo_loop_post) once per destination at
 *          the end of its turn (routing.flush), not once per message.
 *
 * What crosses: every local presence change (replicated into the other
 * loops' trackers as remote presences, so listings, counts and presence
 * events are process-wide); stream messages, once per destination loop
 * that has members (a deep copy of the envelope; that loop encodes it once
 * per format for all its members); messages to a user (loops holding the
 * user's sockets, from the notification stream); messages to given remote
 * sessions (relayed and authoritative match data: only the JSON frame
 * crosses, refcounted; the destination parses its text into a tree only
 * for a protobuf recipient; the message block, ids inline, is recycled);
 * session closes (single_socket) and disconnect_user. Loop 0 is the home
 * of the single owners (parties, the matchmaker, authoritative matches,
 * the runtime's seam): envelopes for them are forwarded there with the
 * session's id (tomo_rt_route_forwarded runs them on its ghost), and the
 * presence changes loop 0 makes on such a ghost go to the session's loop
 * (tomo_rt_route_apply), which replicates them as usual.
 * Bounded: at most max_queue messages wait per destination loop; beyond
 * that, messages (not presence changes or closes) are dropped and counted
 * (tomo_rt_loops_dropped; metric tomo_rt_cross_loop_dropped_total). */
#ifndef TOMO_RT_LOOPS_H
#define TOMO_RT_LOOPS_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

typedef struct tomo_rt_loops tomo_rt_loops;

/* Room for n loops (1..TOMO_RT_LOOPS_MAX). */
#define TOMO_RT_LOOPS_MAX 64
tomo_rt_loops *tomo_rt_loops_new(int n, size_t max_queue);
/* Register loop idx's realtime context and install the routing on it
 * (origin = idx; home = loop 0's, so add loop 0 first). Before any loop
 * runs. */
void tomo_rt_loops_add(tomo_rt_loops *L, int idx, tomo_rt *rt);
/* Shutdown: hand-offs from now on are dropped (messages still queued are
 * freed when their loop drains them). */
void tomo_rt_loops_stop(tomo_rt_loops *L);
void tomo_rt_loops_free(tomo_rt_loops *L);
/* Messages dropped on a full queue so far. */
uint64_t tomo_rt_loops_dropped(tomo_rt_loops *L);

#endif
