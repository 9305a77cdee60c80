/*
 * escalation - the human-in-the-loop queue. Owns the escalations,
 * human_feedback and knowledge collections.
 */
#include <mongoc/mongoc.h>

#include "daemon.h"
#include "knowledge.h"
#include "log.h"
#include "queue.h"

int
main(int argc, char **argv)
{
    struct config cfg;
    struct store *store;
    struct queue q;
    struct bus_events *events = NULL;
    struct bus_notify *notify = NULL;
    int rv = 1;

    daemon_init(argc, argv, "escalation", SVC_ESCALATION, &cfg);
    mongoc_init();
    if (daemon_open_store(&cfg, "escalation", &store) != 0)
        goto out;
    /* The knowledge base ships as a file; this daemon owns the collection. */
    struct kb kb;
    char err[512];
    if (kb_load_file(&kb, cfg.knowledge_file, err, sizeof(err)) != 0) {
        log_error("knowledge: %s", err);
    } else {
        if (kb_seed(store, &kb) == 0)
            log_info("knowledge: %zu entries loaded from %s", kb.n,
                cfg.knowledge_file);
        kb_release(&kb);
    }
    bus_events_open(
        &events, cfg.events_addr, "escalation", cfg.instance, cfg.event_queue);
    bus_notify_open(&notify, cfg.notify_addr);
    if (queue_init(&q, store, cfg.claim_ttl_s, cfg.sla_s, events) == 0) {
        q.notify = notify;
        rv = daemon_serve(&cfg, "escalation", cfg.escalation_addr, queue_handle,
            &q, NULL, store, events);
    }
    bus_notify_close(notify);
    bus_events_close(events);
    store_close(store);
out:
    mongoc_cleanup();
    config_release(&cfg);
    return rv;
}
