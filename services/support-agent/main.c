/*
 * support-agent - drafts a reply from the knowledge base (or an LLM) and
 * decides whether a human is needed.
 */
#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include "daemon.h"
#include "encoder.h"
#include "llm.h"
#include "log.h"
#include "service.h"

int
main(int argc, char **argv)
{
    struct config cfg;
    struct store *store;
    struct encoder *enc = NULL;
    struct support_service svc;
    struct llm *llm = NULL;
    struct bus_events *events = NULL;
    int rv = 1;

    daemon_init(argc, argv, "support-agent", SVC_SUPPORT, &cfg);
    mongoc_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cfg.llm_base_url[0] != '\0') {
        if (daemon_llm(&cfg, 2, true, &llm) != 0)
            goto out;
    }
    enum encoder_precision precision = ENCODER_AUTO;
    encoder_precision_parse(cfg.encoder_precision, &precision); /* checked */
    if (encoder_load_with(&enc, cfg.encoder_dir, precision) != 0)
        log_warn("no sentence encoder in %s: keyword retrieval only",
            cfg.encoder_dir);
    else
        log_info("sentence encoder loaded (%s)",
            encoder_precision_name(encoder_get_precision(enc)));
    if (daemon_open_store(&cfg, "support-agent", &store) != 0)
        goto out;
    if (support_service_start(&svc, store, enc, llm, &daemon_stop) == 0) {
        bus_events_open(&events, cfg.events_addr, "support-agent", cfg.instance,
            cfg.event_queue);
        rv = daemon_serve(&cfg, "support-agent", cfg.support_addr,
            support_service_handle, &svc, NULL, store, events);
        support_service_stop(&svc);
        bus_events_close(events);
    }
    store_close(store);
out:
    llm_free(llm);
    curl_global_cleanup();
    encoder_free(enc);
    mongoc_cleanup();
    config_release(&cfg);
    return rv;
}
