/* store/pg.c: PostgreSQL backend (libpq). Placeholder until the Postgres
 * issue lands: every connection attempt reports the backend as unavailable. */
#include "db.h"

#include "../core/common.h"

#include <stdio.h>

static int p_connect(tomo_db *db, void **out, char *err, size_t errlen)
{
    (void)db;
    *out = NULL;
    snprintf(err, errlen, "PostgreSQL backend is not available in this build");
    return TOMO_EUNAVAIL;
}

static void p_disconnect(void *c) { (void)c; }

static int p_exec(void *c, const char *sql, const tomo_dbval *params, size_t n, tomo_dbres **out,
                  char *err, size_t errlen)
{
    (void)c, (void)sql, (void)params, (void)n, (void)out;
    snprintf(err, errlen, "PostgreSQL backend is not available in this build");
    return TOMO_EUNAVAIL;
}

static int p_ping(void *c)
{
    (void)c;
    return TOMO_EUNAVAIL;
}

const tomo_db_backend tomo_db_postgres_backend = {
    .name = "postgres",
    .kind = TOMO_DB_POSTGRES,
    .connect = p_connect,
    .disconnect = p_disconnect,
    .exec = p_exec,
    .ping = p_ping,
};
