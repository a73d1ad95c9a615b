/* api/event.c: POST /v2/event, a client's analytics event (Nakama's Event
 * call). Nakama hands it to the runtime's event functions, which only its
 * Go runtime can register; tomo has none, so after the shape checks and the
 * request hooks (routed by name like every call) it is accepted and counted.
 * Owns: nothing. Threads: worker. */
#include "handlers.h"

#include "../core/metrics.h"

int tomo_api_event(tomo_api_ctx *ctx)
{
    const json_t *body, *properties;
    const char *name, *timestamp;
    int external;
    if (tomo_api_body(ctx, &body) < 0 || tomo_api_field_str(ctx, body, "name", "", &name) < 0 ||
        tomo_api_field_str(ctx, body, "timestamp", "", &timestamp) < 0 ||
        tomo_api_field_str_map(ctx, body, "properties", &properties) < 0 ||
        tomo_api_field_bool(ctx, body, "external", 0, &external) < 0)
        return -1;
    tomo_metric_add(tomo_metrics_counter("api_events_received_total",
                                         "Client events accepted (POST /v2/event)", NULL),
                    NULL, 1);
    ctx->out = json_object();
    return 0;
}
