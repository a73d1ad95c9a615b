/* rt/online.h: the process-wide online-user table: how many live sockets
 * each user has, readable from any thread without waiting on the loop.
 * Owns: the table (user id -> socket count) and its lock.
 * Threads: add/remove on the loop thread(s) that own the sockets (session
 *          registry); tomo_rt_online_count from any thread (a read lock,
 *          no I/O, never waits for the loop). The answer is a snapshot: a
 *          socket opening or closing at that moment may or may not count. */
#ifndef TOMO_RT_ONLINE_H
#define TOMO_RT_ONLINE_H

/* A socket of user_id was registered / unregistered. */
void tomo_rt_online_add(const char *user_id);
void tomo_rt_online_remove(const char *user_id);
/* Live sockets of user_id right now (0 when offline). Any thread. */
int tomo_rt_online_count(const char *user_id);
/* Forget everything (tests, shutdown). */
void tomo_rt_online_reset(void);

#endif
