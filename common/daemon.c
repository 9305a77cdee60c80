#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>

#include "log.h"

volatile sig_atomic_t daemon_stop;

static void
on_signal(int sig)
{
    (void)sig;
    daemon_stop = 1;
}

/* The driver's own log lines join ours; its chatter stays at debug. */
static void
on_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message,
    void *arg)
{
    (void)arg;
    if (level <= MONGOC_LOG_LEVEL_ERROR)
        log_warn("mongoc %s: %s", domain, message);
    else
        log_debug("mongoc %s: %s", domain, message);
}

static void
make_run_dir(const char *var_dir)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/run", var_dir);
    if ((mkdir(var_dir, 0700) != 0 && errno != EEXIST)
        || (mkdir(path, 0700) != 0 && errno != EEXIST))
        log_warn("cannot create %s: %s", path, strerror(errno));
}

void
daemon_init(int argc, char **argv, const char *service, unsigned svc,
    struct config *cfg)
{
    char err[512];
    struct sigaction sa;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage(stdout, argv[0], svc);
            exit(0);
        }
    }
    if (config_load(cfg, svc, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: configuration: %s\n", service, err);
        exit(2);
    }
    log_init(service, cfg->log_level);
    mongoc_log_set_handler(on_mongoc_log, NULL);
    make_run_dir(cfg->var_dir);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

void
daemon_wait(void)
{
    while (!daemon_stop)
        usleep(100 * 1000);
}

int
daemon_open_store(
    const struct config *cfg, const char *service, struct store **sp)
{
    struct store *s;

    if (store_open(&s, cfg->mongo_uri, cfg->mongo_db, service) != 0)
        return -1;
    if (store_wait(s, cfg->store_wait_s, &daemon_stop) != 0) {
        store_close(s);
        return -1;
    }
    *sp = s;
    return 0;
}

static bool
ping_store(void *arg)
{
    return store_ping(arg);
}

int
daemon_serve(const struct config *cfg, const char *service, const char *addr,
    bus_handler_fn handler, void *arg, bus_inline_fn inline_ok,
    struct store *store, struct bus_events *events)
{
    struct bus_server *srv;
    struct bus_server_opts o = {
        .url = addr,
        .service = service,
        .instance = cfg->instance,
        .workers = cfg->bus_workers,
        .contexts = cfg->bus_contexts,
        .handler = handler,
        .arg = arg,
        .inline_ok = inline_ok,
        .events = events,
    };
    int rv;

    if (store != NULL) {
        o.store_ok = ping_store;
        o.store_arg = store;
    }
    if ((rv = bus_server_start(&srv, &o)) != 0) {
        log_error("cannot join the bus at %s: %s", addr, nng_strerror(rv));
        return 1;
    }
    log_info("serving on %s as %s (%d workers)", addr, cfg->instance,
        cfg->bus_workers);
    daemon_wait();
    log_info("stopping: finishing requests in flight");
    bus_server_stop(srv, 10000);
    log_info("stopped");
    return 0;
}

int
daemon_llm(
    const struct config *cfg, int max_retries, bool json_mode, struct llm **lp)
{
    struct llm_config lc = {
        .base_url = cfg->llm_base_url,
        .api_key = cfg->llm_api_key,
        .model = cfg->llm_model,
        .timeout_ms = cfg->llm_timeout_ms,
        .max_retries = max_retries,
        .json_mode = json_mode && cfg->llm_json_mode,
    };

    if (cfg->llm_base_url[0] == '\0') {
        log_error("LLM mode needs LLM_BASE_URL");
        return -1;
    }
    if (llm_new(lp, &lc) != 0) {
        log_error("cannot start the LLM client for %s", cfg->llm_base_url);
        return -1;
    }
    log_info("LLM: model %s at %s", cfg->llm_model, cfg->llm_base_url);
    return 0;
}
