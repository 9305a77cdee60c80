/*
 * config.h - the suite's configuration, read once from the environment.
 *
 * Every variable, its default and its help text stand in one table
 * (config.c); config_load() fills one struct from it and `--help` prints the
 * rows that concern a service. A bad value is an error at start, never a
 * silent default.
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

/* Which services read a variable (a bit mask). */
enum {
    SVC_GATEWAY = 1 << 0,
    SVC_INTENT = 1 << 1,
    SVC_SUPPORT = 1 << 2,
    SVC_ESCALATION = 1 << 3,
    SVC_METRICS = 1 << 4,
    SVC_ALL = 0x1f,
    SVC_STORE = SVC_GATEWAY | SVC_ESCALATION | SVC_METRICS | SVC_SUPPORT,
};

struct config {
    /* everyone */
    char *var_dir;
    char *log_level;
    char *instance;
    char *mongo_uri;
    char *mongo_db;
    int store_wait_s;
    /* the bus */
    char *intent_addr;
    char *support_addr;
    char *escalation_addr;
    char *metrics_addr;
    char *events_addr;
    char *notify_addr;
    int bus_workers;
    int bus_contexts;
    int bus_timeout_ms;
    int event_queue;
    /* gateway */
    char *listen_addr;
    int port;
    int http_threads;
    char *static_dir;
    char *docs_dir;
    long max_body;
    char *jwt_secret;
    int jwt_ttl_s;
    char *admin_username;
    char *admin_password;
    int argon2_m_kib;
    int argon2_t;
    int auth_workers;
    int chat_max_chars;
    int support_timeout_ms;
    char *guard_model;
    char *guard_threshold;
    char *guard_deny_list;
    char *cors_origins;
    int rate_login_ip;
    int rate_login_user;
    int rate_chat_ip;
    int rate_chat_user;
    int login_fail_max;
    int login_lock_s;
    int trusted_proxy;
    /* intent-agent */
    char *intent_mode;
    char *intent_model;
    char *encoder_dir;
    char *encoder_precision; /* checked by encoder_precision_parse() */
    int intent_batchers;
    /* support-agent */
    char *knowledge_file;
    int claim_ttl_s;
    int sla_s;
    /* metrics */
    int metrics_retention_h;
    int trace_ttl_s;
    int trace_slow_ms;
    int trace_notable_per_s;
    int trace_sample_per_s;
    char *metrics_token;
    /* LLM */
    char *llm_base_url;
    char *llm_api_key;
    char *llm_model;
    int llm_timeout_ms;
    int llm_json_mode;
};

/*
 * Fill cfg from the environment for the service `svc` (one SVC_ bit).
 * Derived defaults (bus addresses under VAR_DIR, MONGO_URI from the local
 * store's file) are resolved here. On a bad value, writes a message to err
 * (size errlen) and returns -1; cfg then needs config_release() all the same.
 */
int config_load(struct config *cfg, unsigned svc, char *err, size_t errlen);

/* Free the strings of cfg. */
void config_release(struct config *cfg);

/* Print the variables that concern svc, with defaults and help, to f. */
void config_usage(FILE *f, const char *prog, unsigned svc);

#endif
