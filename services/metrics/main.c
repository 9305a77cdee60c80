/*
 * metrics - receives events and spans from every service, keeps rollups and
 * traces (metric_rollups, traces), and answers the gateway's monitoring
 * queries.
 */
#include <mongoc/mongoc.h>

#include "clock.h"
#include "daemon.h"
#include "intake.h"
#include "log.h"
#include "query.h"
#include "stats.h"

int
main(int argc, char **argv)
{
    struct config cfg;
    struct store *store;
    struct stats st;
    struct intake *in = NULL;
    int rv = 1;

    daemon_init(argc, argv, "metrics", SVC_METRICS, &cfg);
    mongoc_init();
    if (daemon_open_store(&cfg, "metrics", &store) != 0)
        goto out;
    struct stats_opts so = {
        .retention_h = cfg.metrics_retention_h,
        .trace_ttl_s = cfg.trace_ttl_s,
        .trace_slow_ms = cfg.trace_slow_ms,
        .trace_notable_per_s = cfg.trace_notable_per_s,
        .trace_sample_per_s = cfg.trace_sample_per_s,
    };
    if (stats_init(&st, store, &so) != 0) {
        log_error("out of memory");
        goto close;
    }
    if (stats_load(&st, clock_now_ms()) != 0)
        log_warn("history not (fully) read back: the store did not answer");
    if (intake_start(&in, cfg.events_addr, &st) == 0)
        rv = daemon_serve(&cfg, "metrics", cfg.metrics_addr, query_handle, &st,
            query_inline, store, NULL);
    intake_stop(in);
    stats_release(&st);
close:
    store_close(store);
out:
    mongoc_cleanup();
    config_release(&cfg);
    return rv;
}
