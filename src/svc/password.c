/* svc/password.c: bcrypt via libxcrypt. crypt_r keeps its state on the heap
 * per call, so concurrent workers never share a buffer. */
#define _GNU_SOURCE
#include "password.h"
#include "svc.h"

#include "../core/common.h"
#include "../core/log.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

/* Nakama's bcryptHashCost. */
#define BCRYPT_COST 10

char *tomo_password_hash(const char *password)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    uint8_t rnd[16];
    char *out = NULL;
    tomo_random_bytes(rnd, sizeof(rnd));
    if (!crypt_gensalt_rn("$2b$", BCRYPT_COST, (const char *)rnd, sizeof(rnd), salt,
                          sizeof(salt))) {
        TOMO_LOGE(TOMO_SVC, "bcrypt salt generation failed");
        goto out;
    }
    struct crypt_data *cd = tomo_xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(password, salt, cd);
    if (h && h[0] == '$')
        out = tomo_xstrdup(h);
    else
        TOMO_LOGE(TOMO_SVC, "bcrypt hashing failed");
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
out:
    explicit_bzero(rnd, sizeof(rnd));
    return out;
}

int tomo_password_check(const char *password, const char *hash)
{
    if (!hash || strncmp(hash, "$2", 2))
        return 0;
    struct crypt_data *cd = tomo_xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(password, hash, cd);
    int ok = h && h[0] == '$' && tomo_ct_equal(h, strlen(h), hash, strlen(hash));
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}
