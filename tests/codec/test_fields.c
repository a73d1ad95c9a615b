/* tests/codec/test_fields.c: codec/fields.h, the canonical message field
 * readers (names, defaults, protojson input forms, reasons). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "codec/fields.h"
#include "core/common.h"

static int failures;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

int main(void)
{
    json_t *o = json_loads("{\"display_name\":\"d\",\"langTag\":\"en\",\"n\":null,\"i\":5,"
                           "\"s64\":\"-9000000000\",\"bad\":\"12x\",\"b\":true,\"bs\":\"false\","
                           "\"arr\":[{},{}],\"mixed\":[{},1],\"empty\":[],"
                           "\"vars\":{\"a\":\"1\"},\"badvars\":{\"a\":1}}",
                           0, NULL);
    char why[TOMO_FIELD_WHY_MAX];
    const char *s;
    long long x;
    int b;
    const json_t *a;

    /* names: proto name, lowerCamelCase, null = absent */
    CHECK(tomo_field_get(o, "display_name") != NULL);
    CHECK(tomo_field_get(o, "lang_tag") != NULL);
    CHECK(tomo_field_get(o, "n") == NULL);
    CHECK(tomo_field_get(NULL, "i") == NULL);
    CHECK(tomo_field_str(o, "lang_tag", "", &s, why, sizeof(why)) == 0 && !strcmp(s, "en"));
    CHECK(tomo_field_str(o, "missing", "dflt", &s, why, sizeof(why)) == 0 && !strcmp(s, "dflt"));
    CHECK(tomo_field_str(o, "n", NULL, &s, why, sizeof(why)) == 0 && s == NULL);
    CHECK(tomo_field_str(o, "i", "", &s, why, sizeof(why)) == TOMO_EINVAL &&
          !strcmp(why, "Invalid value for field i: expected a string."));

    /* integers: numbers or decimal strings, range */
    CHECK(tomo_field_int(o, "i", 0, 0, 10, &x, why, sizeof(why)) == 0 && x == 5);
    CHECK(tomo_field_int(o, "s64", 0, INT64_MIN, INT64_MAX, &x, why, sizeof(why)) == 0 &&
          x == -9000000000LL);
    CHECK(tomo_field_int(o, "s64", 0, INT32_MIN, INT32_MAX, &x, why, sizeof(why)) == TOMO_EINVAL);
    CHECK(tomo_field_int(o, "bad", 7, 0, 100, &x, why, sizeof(why)) == TOMO_EINVAL &&
          !strcmp(why, "Invalid value for field bad: expected an integer."));
    CHECK(tomo_field_int(o, "missing", 7, 0, 1, &x, NULL, 0) == 0 && x == 7);
    CHECK(tomo_field_int_value(NULL, &x) == 0 && x == 0);

    /* bools: true/false or their strings */
    CHECK(tomo_field_bool(o, "b", 0, &b, why, sizeof(why)) == 0 && b == 1);
    CHECK(tomo_field_bool(o, "bs", 1, &b, why, sizeof(why)) == 0 && b == 0);
    CHECK(tomo_field_bool(o, "missing", -1, &b, why, sizeof(why)) == 0 && b == -1);
    CHECK(tomo_field_bool(o, "i", 0, &b, why, sizeof(why)) == TOMO_EINVAL &&
          !strcmp(why, "Invalid value for field i: expected a boolean."));

    /* repeated fields and maps */
    CHECK(tomo_field_array(o, "arr", 1, &a, why, sizeof(why)) == 0 && json_array_size(a) == 2);
    CHECK(tomo_field_array(o, "empty", 1, &a, why, sizeof(why)) == 0 && a == NULL);
    CHECK(tomo_field_array(o, "mixed", 0, &a, why, sizeof(why)) == 0 && a != NULL);
    CHECK(tomo_field_array(o, "mixed", 1, &a, why, sizeof(why)) == TOMO_EINVAL &&
          !strcmp(why, "Invalid value for field mixed[1]: expected an object."));
    CHECK(tomo_field_array(o, "vars", 1, &a, why, sizeof(why)) == TOMO_EINVAL &&
          !strcmp(why, "Invalid value for field vars: expected an array."));
    CHECK(tomo_field_str_map(o, "vars", &a, why, sizeof(why)) == 0 && a != NULL);
    CHECK(tomo_field_str_map(o, "badvars", &a, why, sizeof(why)) == TOMO_EINVAL &&
          !strcmp(why, "Invalid value for badvars entry a: expected a string."));
    CHECK(tomo_field_str_map(o, "i", &a, why, sizeof(why)) == TOMO_EINVAL);

    json_decref(o);
    if (failures)
        fprintf(stderr, "test_fields: %d failure(s)\n", failures);
    else
        printf("test_fields: ok\n");
    return failures ? 1 : 0;
}
