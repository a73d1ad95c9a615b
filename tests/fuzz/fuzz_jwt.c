/* tests/fuzz/fuzz_jwt.c: libFuzzer target for JWT parsing. First byte even:
 * the input is a token checked against the key (header/segment/base64url
 * parsing, signature check). Odd: the input is a payload signed with the key
 * and then verified, so claim parsing and expiry checks see hostile JSON. */
#include <stdint.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const char KEY[] = "defaultencryptionkey";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (!len)
        return 0;
    json_t *claims = NULL;
    if (data[0] % 2 == 0) {
        char *tok = malloc(len);
        memcpy(tok, data + 1, len - 1);
        tok[len - 1] = '\0';
        if (tomo_jwt_verify(tok, KEY, sizeof(KEY) - 1, 1700000000, &claims) == 0)
            json_decref(claims);
        free(tok);
    } else {
        char *tok = tomo_jwt_sign_payload((const char *)data + 1, len - 1, KEY, sizeof(KEY) - 1);
        if (tomo_jwt_verify(tok, KEY, sizeof(KEY) - 1, 1700000000, &claims) == 0)
            json_decref(claims);
        free(tok);
    }
    return 0;
}
