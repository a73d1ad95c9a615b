/* cluster/cluster.h: the cluster bus: this node's NATS connection, the
 * membership table (which other tomo nodes are alive) and the framing of
 * the messages nodes exchange (docs/CLUSTER.md).
 * Owns: tomo_cluster (the connection, its subscriptions, the node table,
 *       the inbound queue, the heartbeat timer) and tomo_cluster_buf.
 * Borrows: the config and the loop (tomo_loop) it was made with.
 * Threads: made, started, stopped and freed on the loop thread; the
 *          handler's callbacks run there too (inbound messages cross from
 *          the NATS delivery thread through a queue). tomo_cluster_send,
 *          tomo_cluster_connected and the node queries may be called from
 *          any thread (the node table has a mutex).
 *
 * Layer: beside svc, below rt. It knows nothing of streams or sessions:
 * the routing (rt/route_cluster.c, installed by serve.c) frames those into
 * tomo_cluster_buf and gets them back through tomo_cluster_handler.
 *
 * With cluster.nats_url empty there is no tomo_cluster at all (one node). */
#ifndef TOMO_CLUSTER_CLUSTER_H
#define TOMO_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/config.h"
#include "../net/loop.h"

typedef struct tomo_cluster tomo_cluster;

/* Node ids: 1..TOMO_CLUSTER_MAX_NODES for other nodes (a slot in the table;
 * a node that dies and comes back gets a fresh id). */
enum { TOMO_CLUSTER_MAX_NODES = 64, TOMO_CLUSTER_ALL = 0 };

/* Message kinds. Below 16: the membership protocol (cluster.c); the rest
 * belong to the routing and are opaque here. */
enum {
    TOMO_CLUSTER_HEARTBEAT = 1,
    TOMO_CLUSTER_HELLO = 2, /* connected (again): flags bit 0 = send me your state */
    TOMO_CLUSTER_BYE = 3,   /* graceful shutdown */
    TOMO_CLUSTER_BATCH = 4, /* whole frames of one sender, in order (u32 length + frame each) */
    TOMO_CLUSTER_KIND_USER = 16,
};

/* A frame being written or read. Writers: tomo_cluster_buf_begin, then
 * put_*; readers (handler.message) get one positioned after the header and
 * call get_*, which fail (return -1 / NULL) past the end: check r->bad. */
typedef struct tomo_cluster_buf {
    uint8_t *p;
    size_t len, cap, pos;
    int bad;
    int kind, flags;
} tomo_cluster_buf;

void tomo_cluster_buf_begin(tomo_cluster *c, tomo_cluster_buf *b, int kind, int flags);
void tomo_cluster_buf_free(tomo_cluster_buf *b);
void tomo_cluster_put_u8(tomo_cluster_buf *b, unsigned v);
void tomo_cluster_put_u32(tomo_cluster_buf *b, uint32_t v);
void tomo_cluster_put_u64(tomo_cluster_buf *b, uint64_t v);
/* A string: u32 length then bytes (s may be NULL: ""). */
void tomo_cluster_put_str(tomo_cluster_buf *b, const char *s);
void tomo_cluster_put_bytes(tomo_cluster_buf *b, const void *p, size_t n);
unsigned tomo_cluster_get_u8(tomo_cluster_buf *r);
uint32_t tomo_cluster_get_u32(tomo_cluster_buf *r);
uint64_t tomo_cluster_get_u64(tomo_cluster_buf *r);
/* Next string as a pointer into the frame (NOT NUL-terminated) and its
 * length; NULL when the frame is short. */
const char *tomo_cluster_get_bytes(tomo_cluster_buf *r, size_t *n);
/* Next string copied into a heap string (free()); "" on a bad frame. */
char *tomo_cluster_get_str(tomo_cluster_buf *r);
/* Next string into buf (truncated at cap-1; bad frame if it does not fit). */
void tomo_cluster_get_strn(tomo_cluster_buf *r, char *buf, size_t cap);

typedef struct tomo_cluster_handler {
    void *ctx;
    /* Node `node` is alive: new (first message), back after being dead, or
     * `resync` (it or we reconnected to the bus, messages may have been
     * lost): send it this node's state. */
    void (*node_up)(void *ctx, uint32_t node, const char *name, int resync);
    /* Node `node` is gone (silent for cluster.dead_after_ms, said bye, or
     * restarted with a new instance): drop what it held. */
    void (*node_down)(void *ctx, uint32_t node, const char *name);
    /* A routing message (kind >= TOMO_CLUSTER_KIND_USER) from node. */
    void (*message)(void *ctx, uint32_t node, tomo_cluster_buf *r);
} tomo_cluster_handler;

/* Connect to cfg->cluster.nats_url (reconnecting for ever; an unreachable
 * bus at start is an outage, not an error). When the connection comes up
 * at once, asks whether another live node already carries cfg->name and
 * refuses (TOMO_ECONFLICT, message in err) if so. */
int tomo_cluster_new(const tomo_config *cfg, tomo_loop *loop, tomo_cluster **out, char *err,
                     size_t errlen);
/* Start heartbeats and delivery (after the handler is set). */
void tomo_cluster_start(tomo_cluster *c, const tomo_cluster_handler *h);
/* Say bye, flush, close the connection and the loop handles (shutdown). */
void tomo_cluster_stop(tomo_cluster *c);
/* After the loop has run the close callbacks. NULL is fine. */
void tomo_cluster_free(tomo_cluster *c);

/* Publish a frame to one node (id) or to all (TOMO_CLUSTER_ALL). Never
 * blocks: the frame is copied to the publisher thread's queue (frames keep
 * the order they were sent in, process-wide; while disconnected NATS keeps
 * up to its reconnect buffer). Returns 0, TOMO_ENOTFOUND (no such live
 * node), TOMO_EUNAVAIL (more than 8 MiB already waiting, or shut down). */
int tomo_cluster_send(tomo_cluster *c, uint32_t node, const tomo_cluster_buf *b);

/* Frames one loop thread sends during one iteration of its loop, handed to
 * the publisher together at the end of the iteration (tomo_cluster_flush):
 * one queue hand-off and at most one wake-up per iteration instead of one
 * per frame, and runs of frames for one node leave as one bus message.
 * Owned by that thread; zero-initialised. The order is kept with every
 * other frame the thread stages; frames it sends with tomo_cluster_send
 * meanwhile go out before them. */
typedef struct tomo_cluster_stage {
    struct outmsg *head, *tail;
    size_t bytes;
    unsigned n;
} tomo_cluster_stage;
/* As tomo_cluster_send, but into st (TOMO_ENOTFOUND when no such live
 * node; a refusal of the publisher is only counted, at the flush). */
int tomo_cluster_stage_send(tomo_cluster *c, tomo_cluster_stage *st, uint32_t node,
                            const tomo_cluster_buf *b);
void tomo_cluster_flush(tomo_cluster *c, tomo_cluster_stage *st);
/* Free what st holds without sending it. */
void tomo_cluster_stage_drop(tomo_cluster_stage *st);

/* Bus connected and this node a member (no name conflict). */
int tomo_cluster_connected(const tomo_cluster *c);
/* Live nodes other than this one; ids into out (up to max). */
size_t tomo_cluster_nodes(tomo_cluster *c, uint32_t *out, size_t max);
/* Name of a live node into buf ("" if none). */
void tomo_cluster_node_name(tomo_cluster *c, uint32_t node, char *buf, size_t cap);
/* The oldest live node (earliest start time, then the smallest name),
 * this one included: its id, or 0 when it is this node. Every node that
 * sees the same members picks the same one, and a node joining never
 * displaces it (it is younger). */
uint32_t tomo_cluster_elder(tomo_cluster *c);
/* The id of the live node named name, or 0 (none, or this node). */
uint32_t tomo_cluster_node_id(tomo_cluster *c, const char *name);
const char *tomo_cluster_self(const tomo_cluster *c);
/* Another live node has this node's name and was there first: this node is
 * out of the cluster (node-local) until it is restarted with another name.
 * The message (static to c) or NULL. */
const char *tomo_cluster_conflict(const tomo_cluster *c);

/* /readyz detail: {"node", "bus": "connected"|"disconnected"|"conflict",
 * "nodes": [names], "url"} (new reference; the URL without credentials). */
struct json_t *tomo_cluster_status_json(tomo_cluster *c);

#endif
