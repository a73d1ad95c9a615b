/* api/health.c: liveness (/healthcheck) and readiness (/readyz). */
#include "handlers.h"

#include "../cluster/cluster.h"
#include "../core/log.h"
#include "../store/collation.h"
#include "../store/migrate.h"

int tomo_api_healthcheck(tomo_api_ctx *ctx)
{
    (void)ctx;
    return 0;
}

/* Ready when the database answers and the schema is current, and (in a
 * cluster) this node's name is not taken by an older live node. A bus
 * outage keeps the node ready (it serves node-local): "cluster" says so.
 * Runs on a worker. */
int tomo_api_readyz(tomo_api_ctx *ctx)
{
    int rc = tomo_db_check(ctx->srv->db);
    if (rc < 0)
        return tomo_api_error(ctx, TOMO_GRPC_UNAVAILABLE, "Database unavailable.");
    int cur = 0, latest = 0;
    char err[256];
    rc = tomo_migrate_status(ctx->srv->db, &cur, &latest, err, sizeof(err));
    if (rc < 0)
        return tomo_api_error(ctx, TOMO_GRPC_UNAVAILABLE, "Database unavailable.");
    atomic_store(&ctx->srv->schema_current, cur >= latest);
    if (cur < latest)
        return tomo_api_error(ctx, TOMO_GRPC_UNAVAILABLE,
                              "Database schema is behind (version %d of %d): run `tomo migrate up`.",
                              cur, latest);
    tomo_cluster *cl = ctx->srv->cluster;
    if (cl && tomo_cluster_conflict(cl))
        return tomo_api_error(ctx, TOMO_GRPC_UNAVAILABLE, "%s", tomo_cluster_conflict(cl));
    /* Still ready (the database answers), but say what needs an operator. */
    char coll[512];
    if (tomo_db_collation_check(ctx->srv->db, coll, sizeof(coll)) == 1)
        ctx->out = json_pack("{s:[s]}", "warnings", coll);
    if (cl) {
        if (!ctx->out)
            ctx->out = json_object();
        json_object_set_new(ctx->out, "cluster", tomo_cluster_status_json(cl));
    }
    return 0;
}
