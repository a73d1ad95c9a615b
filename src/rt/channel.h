/* rt/channel.h: chat over the realtime socket.
 * Owns: the channel_join, channel_leave, channel_message_send,
 *       channel_message_update and channel_message_remove handlers, the
 *       channel_presence_event listener of the room, group and DM stream
 *       modes, per-session chat state (token buckets for
 *       chat.messages_per_sec / chat.burst, and the sequence that delivers a
 *       session's writes in the order sent), the content size limit
 *       (chat.max_message_bytes), and the chat_messages_sent_total metric.
 * Borrows: the tracker (presences on channel streams), sessions, the worker
 *          pool (DM target lookups, message history writes: svc/chat.h) and
 *          the notification API (the DM request, svc/notification.h).
 * Threads: loop thread; database work runs in tomo_rt_async jobs whose
 *          worker half touches only the copies it was given. */
#ifndef TOMO_RT_CHANNEL_H
#define TOMO_RT_CHANNEL_H

#include "rt.h"

/* Register the handlers and listeners (start-up, from rt/modules.c). */
void tomo_rt_channel_init(tomo_rt *rt);

#endif
