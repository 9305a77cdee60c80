/*
 * daemon.h - what every executable of the suite does the same way: parse
 * --help, load the configuration, set up logging and signals.
 */
#ifndef COMMON_DAEMON_H
#define COMMON_DAEMON_H

#include <signal.h>

#include "bus.h"
#include "config.h"
#include "llm.h"
#include "store.h"

/* Set by SIGTERM / SIGINT; the main loop watches it. */
extern volatile sig_atomic_t daemon_stop;

/*
 * Handle `--help` (prints usage, exits 0), load cfg for svc (a bad value:
 * message and exit 2), start logging as `service`, install the signal
 * handlers, and initialise the libraries every service uses.
 */
void daemon_init(int argc, char **argv, const char *service, unsigned svc,
    struct config *cfg);

/* Sleep until daemon_stop is set. */
void daemon_wait(void);

/*
 * Open the store of cfg and wait until it answers (logging meanwhile; gives
 * up after STORE_WAIT_S, or on a stop signal). Returns 0 with *sp set, or -1.
 */
int daemon_open_store(
    const struct config *cfg, const char *service, struct store **sp);

/*
 * Start the LLM client described by cfg (LLM_BASE_URL, key, model,
 * timeout; JSON mode when json_mode and LLM_JSON_MODE), retrying failed
 * calls max_retries times. Returns 0 with *lp set, or -1 (logged) when
 * LLM_BASE_URL is unset or the client cannot start.
 */
int daemon_llm(
    const struct config *cfg, int max_retries, bool json_mode, struct llm **lp);

/*
 * Serve `handler` on the bus at addr until SIGTERM/SIGINT, then finish the
 * requests in flight and return 0 (or 1 when the bus could not start).
 * inline_ok (may be NULL) names the methods whose handler never blocks
 * (bus_inline_fn). store, when not NULL, is pinged for health requests;
 * events, when not NULL, receives a span for every traced request served.
 */
int daemon_serve(const struct config *cfg, const char *service,
    const char *addr, bus_handler_fn handler, void *arg,
    bus_inline_fn inline_ok, struct store *store, struct bus_events *events);

#endif
