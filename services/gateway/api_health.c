/*
 * api_health.c - GET /api/health: the store and every daemon, up or down.
 */
#include <string.h>
#include <time.h>

#include "clock.h"
#include "gateway.h"

#define HEALTH_TIMEOUT_MS 1000

void
api_health(struct req *r)
{
    struct gateway *gw = r->gw;
    cJSON *o = cJSON_CreateObject();
    cJSON *deps = cJSON_CreateObject();
    bool healthy = true;

    bool store_ok = store_ping(gw->store);
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "status", store_ok ? "up" : "down");
    cJSON_AddItemToObject(deps, "store", st);
    healthy &= store_ok;

    for (int i = 0; i < NPEERS; i++) {
        cJSON *d = cJSON_CreateObject();
        Bus__Meta meta;
        Bus__Reply *rep = NULL;
        int instances = bus_client_peers(gw->peers[i]);
        const char *status = "down";

        gateway_meta(r, &meta, HEALTH_TIMEOUT_MS);
        if (instances > 0
            && bus_call(
                   gw->peers[i], &meta, "health", NULL, HEALTH_TIMEOUT_MS, &rep)
                == BUS_OK) {
            status = rep->status->code == BUS_OK ? "up" : "degraded";
            if (rep->status->code != BUS_OK)
                cJSON_AddStringToObject(d, "detail", rep->status->message);
            bus__reply__free_unpacked(rep, NULL);
        }
        cJSON_AddStringToObject(d, "status", status);
        cJSON_AddNumberToObject(d, "instances", instances);
        cJSON_AddItemToObject(deps, gateway_peer_name((enum peer)i), d);
        healthy &= strcmp(status, "up") == 0;
    }
    cJSON_AddStringToObject(o, "status", healthy ? "healthy" : "degraded");
    cJSON_AddStringToObject(o, "service", "ai-customer-support");
    cJSON_AddStringToObject(o, "version", "0.1.0");
    cJSON_AddNumberToObject(o, "uptime_seconds",
        (double)((clock_mono_ms() - gw->started_ms) / 1000));
    char now[32];
    clock_iso8601(now, sizeof(now), clock_now_ms());
    cJSON_AddStringToObject(o, "timestamp", now);
    cJSON_AddItemToObject(o, "dependencies", deps);
    http_json(r, healthy ? 200 : 503, o);
}
