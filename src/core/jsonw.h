/* core/jsonw.h: JSON text written straight into a growing buffer, byte for
 * byte what jansson's json_dumps(JSON_COMPACT) prints for the same tree:
 * members in the order written, strings escaped as jansson does, and a
 * string that is not valid UTF-8 left out (json_string() refuses it, so a
 * tree built with it would not have the member). For hot listings that
 * would otherwise build a jansson tree only to print and free it.
 * Owns: its buffer (tomo_jw_take hands it to the caller).
 * Threads: any; one writer per thread. */
#ifndef TOMO_CORE_JSONW_H
#define TOMO_CORE_JSONW_H

#include <stddef.h>

typedef struct tomo_jw {
    char *p;
    size_t n, cap;
} tomo_jw;

void tomo_jw_init(tomo_jw *w);
/* Containers: a separator is written before a member or element when the
 * container already has one. key NULL: an array element / the top value. */
void tomo_jw_obj(tomo_jw *w, const char *key);
void tomo_jw_obj_end(tomo_jw *w);
void tomo_jw_arr(tomo_jw *w, const char *key);
void tomo_jw_arr_end(tomo_jw *w);
/* "key":"v" escaped; nothing when v is not valid UTF-8 (returns -1). */
int tomo_jw_str(tomo_jw *w, const char *key, const char *v);
/* "key":n */
void tomo_jw_int(tomo_jw *w, const char *key, long long n);
/* "key":<text> with text already JSON (a number, true, ...). */
void tomo_jw_raw(tomo_jw *w, const char *key, const char *text);
/* The text (NUL-terminated, heap; *len its length); the writer is empty
 * again. */
char *tomo_jw_take(tomo_jw *w, size_t *len);
void tomo_jw_free(tomo_jw *w);
/* 1 if s is valid UTF-8 as jansson checks it (no overlongs, surrogates or
 * code points past U+10FFFF). */
int tomo_jw_utf8_ok(const char *s);

#endif
