/* store/collation.c: collation version drift check (see collation.h). */
#include "collation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

int tomo_db_collation_check(tomo_db *db, char *msg, size_t len)
{
    if (len)
        msg[0] = '\0';
    if (tomo_db_kind_of(db) != TOMO_DB_POSTGRES)
        return 0;
    tomo_dbconn *c = NULL;
    tomo_dbres *r = NULL;
    int rc = tomo_db_acquire(db, &c);
    if (rc < 0)
        goto out;
    rc = tomo_db_exec(c, "SELECT CAST(current_setting('server_version_num') AS BIGINT)", NULL, 0,
                      &r);
    if (rc < 0)
        goto out;
    int64_t ver = tomo_dbres_int(r, 0, 0);
    tomo_dbres_free(r);
    r = NULL;
    if (ver < 150000)
        goto out; /* pg_database.datcollversion is new in 15 */
    rc = tomo_db_exec(c,
                      "SELECT datname, datcollversion, pg_database_collation_actual_version(oid) "
                      "FROM pg_database WHERE datname = current_database()",
                      NULL, 0, &r);
    if (rc < 0 || tomo_dbres_rows(r) != 1)
        goto out;
    const char *name = tomo_dbres_text(r, 0, 0);
    const char *recorded = tomo_dbres_text(r, 0, 1);
    const char *actual = tomo_dbres_text(r, 0, 2);
    if (!recorded || !actual || !strcmp(recorded, actual))
        goto out;
    snprintf(msg, len,
             "database collation version mismatch: text indexes built under the recorded "
             "version may be ordered wrongly; rebuild them with `REINDEX DATABASE %s;` and then "
             "run `ALTER DATABASE %s REFRESH COLLATION VERSION;` database=%s recorded=%s "
             "actual=%s",
             name, name, name, recorded, actual);
    rc = 1;
out:
    tomo_dbres_free(r);
    tomo_db_release(c);
    return rc;
}
