/* codec/fields.h: readers of a canonical message's fields (a protojson
 * message held as a jansson tree: a REST body, a decoded gRPC request, a
 * realtime envelope body), with protojson's input rules.
 * Owns: nothing (every tree is borrowed; strings returned point into it).
 * Threads: any (pure functions).
 *
 * Rules (protojson input, what Nakama's gateway accepts):
 *   - a field is found under its proto name ("display_name") or its
 *     lowerCamelCase JSON name ("displayName"); null means absent;
 *   - 32- and 64-bit integers and their wrappers are JSON integers or
 *     decimal strings; bools and BoolValue are true/false or "true"/"false";
 *   - wrappers are bare values.
 * Every reader returns 0 (the default stored when the field is absent), or
 * TOMO_EINVAL with a client-facing reason in why[whylen] (why may be NULL):
 * "Invalid value for field <name>: expected a string." */
#ifndef TOMO_CODEC_FIELDS_H
#define TOMO_CODEC_FIELDS_H

#include <stddef.h>

#include <jansson.h>

/* Enough for every reason these readers write. */
#define TOMO_FIELD_WHY_MAX 192

/* The field `name` (proto name) of obj, or its lowerCamelCase spelling;
 * NULL when obj is not an object, or the field is absent or null. */
const json_t *tomo_field_get(const json_t *obj, const char *name);

/* A string; *out = def when absent (def may be NULL). */
int tomo_field_str(const json_t *obj, const char *name, const char *def, const char **out,
                   char *why, size_t whylen);
/* A bool or BoolValue; *out = def when absent. */
int tomo_field_bool(const json_t *obj, const char *name, int def, int *out, char *why,
                    size_t whylen);
/* An integer (int32/int64 or a wrapper) within [min, max]; *out = def when
 * absent. */
int tomo_field_int(const json_t *obj, const char *name, long long def, long long min,
                   long long max, long long *out, char *why, size_t whylen);
/* The integer value v itself (a JSON integer or a decimal string); 0 or
 * TOMO_EINVAL. NULL or null gives 0. */
int tomo_field_int_value(const json_t *v, long long *out);
/* A repeated field; *out = NULL when absent or empty. With want_objects,
 * every element must be an object (a repeated message). */
int tomo_field_array(const json_t *obj, const char *name, int want_objects, const json_t **out,
                     char *why, size_t whylen);
/* A map<string, string>; *out = NULL when absent or empty. */
int tomo_field_str_map(const json_t *obj, const char *name, const json_t **out, char *why,
                       size_t whylen);

#endif
