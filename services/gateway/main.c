/*
 * gateway - HTTP API and web UI; orchestrates the chat flow over the bus.
 */
#include <mongoc/mongoc.h>
#include <string.h>

#include "daemon.h"
#include "gateway.h"
#include "guard_cli.h"
#include "log.h"
#include "thread_stack.h"
#include "conversations.h"
#include "users.h"

int
main(int argc, char **argv)
{
    struct config cfg;
    struct store *store;
    struct gateway gw;
    int rv = 1;

    daemon_init(argc, argv, "gateway", SVC_GATEWAY, &cfg);
    if (argc > 1 && strcmp(argv[1], "--guard") == 0) {
        struct guard *g;
        if (gateway_guard_new(&cfg, &g) == 0) {
            rv = guard_cli_run(stdin, stdout, g) == 0 ? 0 : 1;
            guard_free(g);
        }
        config_release(&cfg);
        return rv;
    }
    mongoc_init();
    if (daemon_open_store(&cfg, "gateway", &store) != 0)
        goto out;
    if (users_init(store) != 0)
        log_warn("users index not created yet; will be on the next start");
    if (conv_init(store) != 0)
        log_warn("messages index not created yet");
    log_debug(
        "HTTP thread stacks at least %zu KiB", thread_stack_floor() / 1024);
    if (gateway_start(&gw, &cfg, store) == 0) {
        if (gateway_bootstrap_admin(&gw) != 0)
            log_error("cannot create the first admin");
        daemon_wait();
        log_info("stopping: finishing requests in flight");
        gateway_stop(&gw);
        rv = 0;
    }
    store_close(store);
out:
    mongoc_cleanup();
    config_release(&cfg);
    return rv;
}
