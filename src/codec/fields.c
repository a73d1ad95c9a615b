/* codec/fields.c: canonical message field readers (see fields.h). */
#include "fields.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return TOMO_EINVAL;
}

const json_t *tomo_field_get(const json_t *obj, const char *name)
{
    if (!json_is_object(obj) || !name)
        return NULL;
    const json_t *v = json_object_get(obj, name);
    if (!v && strchr(name, '_')) {
        char camel[128];
        size_t n = 0;
        for (const char *p = name; *p && n + 1 < sizeof(camel); p++) {
            if (*p == '_' && p[1] >= 'a' && p[1] <= 'z')
                camel[n++] = (char)(*++p - 'a' + 'A');
            else
                camel[n++] = *p;
        }
        camel[n] = '\0';
        v = json_object_get(obj, camel);
    }
    return json_is_null(v) ? NULL : v;
}

int tomo_field_str(const json_t *obj, const char *name, const char *def, const char **out,
                   char *why, size_t whylen)
{
    const json_t *v = tomo_field_get(obj, name);
    *out = def;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return fail(why, whylen, "Invalid value for field %s: expected a string.", name);
    *out = json_string_value(v);
    return 0;
}

int tomo_field_bool(const json_t *obj, const char *name, int def, int *out, char *why,
                    size_t whylen)
{
    const json_t *v = tomo_field_get(obj, name);
    *out = def;
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && (!strcmp(json_string_value(v), "true") ||
                              !strcmp(json_string_value(v), "false"))) {
        *out = !strcmp(json_string_value(v), "true");
        return 0;
    }
    return fail(why, whylen, "Invalid value for field %s: expected a boolean.", name);
}

int tomo_field_int_value(const json_t *v, long long *out)
{
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (!*s || *end || errno)
            return TOMO_EINVAL;
        *out = x;
        return 0;
    }
    return TOMO_EINVAL;
}

int tomo_field_int(const json_t *obj, const char *name, long long def, long long min,
                   long long max, long long *out, char *why, size_t whylen)
{
    const json_t *v = tomo_field_get(obj, name);
    long long x;
    *out = def;
    if (!v)
        return 0;
    if (tomo_field_int_value(v, &x) < 0 || x < min || x > max)
        return fail(why, whylen, "Invalid value for field %s: expected an integer.", name);
    *out = x;
    return 0;
}

int tomo_field_array(const json_t *obj, const char *name, int want_objects, const json_t **out,
                     char *why, size_t whylen)
{
    const json_t *v = tomo_field_get(obj, name);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return fail(why, whylen, "Invalid value for field %s: expected an array.", name);
    for (size_t i = 0; want_objects && i < json_array_size(v); i++)
        if (!json_is_object(json_array_get(v, i)))
            return fail(why, whylen, "Invalid value for field %s[%zu]: expected an object.",
                        name, i);
    *out = json_array_size(v) ? v : NULL;
    return 0;
}

int tomo_field_str_map(const json_t *obj, const char *name, const json_t **out, char *why,
                       size_t whylen)
{
    const json_t *v = tomo_field_get(obj, name);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(why, whylen, "Invalid value for field %s: expected an object of strings.",
                    name);
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)v, k, val) {
        if (!json_is_string(val))
            return fail(why, whylen, "Invalid value for %s entry %s: expected a string.", name,
                        k);
    }
    *out = json_object_size(v) ? v : NULL;
    return 0;
}
