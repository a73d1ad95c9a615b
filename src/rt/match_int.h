/* rt/match_int.h: what rt/match.c (relayed matches, the shared envelope
 * handlers) and rt/amatch.c (authoritative matches) share (private).
 * Owns: nothing.
 * Threads: loop thread, except tomo_rt_md_frame / tomo_rt_md_tree (pure: any
 *          thread). */
#ifndef TOMO_RT_MATCH_INT_H
#define TOMO_RT_MATCH_INT_H

#include <jansson.h>

#include "session.h"
#include "tracker.h"

/* The fields of a match_data envelope (borrowed strings). user_id NULL: no
 * presence (a server broadcast without sender); op_code is the int64 as a
 * decimal string and data the base64 text, each omitted when NULL or "". */
typedef struct tomo_md_fields {
    const char *match_id;
    const char *user_id, *session_id, *username;
    const char *op_code;
    const char *data;
    int reliable;
} tomo_md_fields;

/* The canonical JSON text of {"match_data":{...}} as a text frame (refs =
 * 1, the caller's), and the same envelope as a tree (new reference). */
tomo_frame *tomo_rt_md_frame(const tomo_md_fields *f);
/* The same with extra bytes in the frame's block (tomo_frame_new_extra). */
tomo_frame *tomo_rt_md_frame_extra(const tomo_md_fields *f, size_t extra, void **extra_out);
json_t *tomo_rt_md_tree(const tomo_md_fields *f);
/* A broadcast of that frame: json[0..len) copied, the tree built from f
 * (which must outlive o) only for protobuf recipients. */
void tomo_rt_md_out(tomo_rt_out *o, const char *json, size_t len, tomo_md_fields *f);
/* The same with the JSON frame already built (referenced, not copied):
 * authoritative matches build it on the match thread. */
void tomo_rt_md_out_frame(tomo_rt_out *o, tomo_frame *frame, tomo_md_fields *f);

/* "<uuid>.<node>" -> lower-case uuid and a pointer to the node part.
 * Returns 0 or TOMO_EINVAL. */
int tomo_rt_match_parse_id(const char *id, char uuid[37], const char **node);
/* The Match message {match_id, authoritative (when label is not NULL),
 * label, size, presences (stolen; NULL = none), self}. */
json_t *tomo_rt_match_obj(const char *match_id, const char *label, size_t size,
                          json_t *presences, const tomo_rt_session *self);
/* UserPresence array of a stream's members, without self unless
 * include_self. */
json_t *tomo_rt_match_others(tomo_tracker *t, const tomo_stream *st,
                             const tomo_rt_session *self, int include_self);
/* session.single_match: leave every other match (relayed or authoritative)
 * but keep. */
void tomo_rt_match_single(tomo_rt *rt, tomo_rt_session *s, const tomo_stream *keep);
/* match_presence_event {match_id, joins, leaves} to the stream's members. */
void tomo_rt_match_presence_event(tomo_rt *rt, const tomo_stream *st, json_t *joins,
                                  json_t *leaves);

#endif
