/*
 * metrics - receives events from every service and answers the gateway's
 * monitoring queries. Owns metric_rollups and traces.
 */
#include <mongoc/mongoc.h>

#include "daemon.h"
#include "intake.h"
#include "log.h"

int
main(int argc, char **argv)
{
    struct config cfg;
    struct store *store;
    struct intake *in = NULL;
    int rv = 1;

    daemon_init(argc, argv, "metrics", SVC_METRICS, &cfg);
    mongoc_init();
    if (daemon_open_store(&cfg, "metrics", &store) != 0)
        goto out;
    if (intake_start(&in, cfg.events_addr) == 0)
        rv = daemon_serve(
            &cfg, "metrics", cfg.metrics_addr, intake_handle, in, store);
    intake_stop(in);
    store_close(store);
out:
    mongoc_cleanup();
    config_release(&cfg);
    return rv;
}
