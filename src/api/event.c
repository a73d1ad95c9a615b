/* api/event.c: POST /v2/event, a client's analytics event (Nakama's Event
 * call). Nakama hands it to the runtime's event functions, which only its
 * Go runtime can register; tomo has none, so after the shape checks and the
 * request hooks (routed by name like every call) it is accepted and counted.
 * Owns: nothing. Threads: worker. */
#include "auth.h"
#include "handlers.h"

#include "../core/metrics.h"

int tomo_api_event(tomo_api_ctx *ctx)
{
    const json_t *body, *properties;
    const char *name, *timestamp;
    if (tomo_auth_body(ctx, &body) < 0 || tomo_auth_str(ctx, body, "name", NULL, &name) < 0 ||
        tomo_auth_str(ctx, body, "timestamp", NULL, &timestamp) < 0 ||
        tomo_auth_string_map(ctx, body, "properties", &properties) < 0)
        return -1;
    const json_t *external = tomo_auth_field(body, "external", NULL);
    if (external && !json_is_boolean(external) && !json_is_null(external))
        return tomo_api_error(ctx, TOMO_GRPC_INVALID_ARGUMENT,
                              "Invalid value for field external: expected a boolean.");
    tomo_metric_add(tomo_metrics_counter("api_events_received_total",
                                         "Client events accepted (POST /v2/event)", NULL),
                    NULL, 1);
    ctx->out = json_object();
    return 0;
}
