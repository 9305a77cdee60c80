/*
 * support-agent - drafts a reply from the knowledge base (or an LLM) and
 * decides whether a human is needed.
 */
#include "daemon.h"
#include "log.h"

static void
handle(struct bus_call *call, void *arg)
{
    (void)arg;
    bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}

int
main(int argc, char **argv)
{
    struct config cfg;
    int rv;

    daemon_init(argc, argv, "support-agent", SVC_SUPPORT, &cfg);
    rv = daemon_serve(
        &cfg, "support-agent", cfg.support_addr, handle, NULL, NULL);
    config_release(&cfg);
    return rv;
}
