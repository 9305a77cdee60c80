#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoder.h"

enum type { T_STR, T_INT, T_LONG };

struct var {
    const char *name;
    enum type type;
    size_t off;
    const char *def;
    long min, max;
    unsigned svc;
    bool secret;
    const char *help;
};

#define S(f) T_STR, offsetof(struct config, f)
#define I(f) T_INT, offsetof(struct config, f)
#define L(f) T_LONG, offsetof(struct config, f)

/* The one table of every variable. Empty default = derived or unset. */
static const struct var vars[] = {
    {"VAR_DIR", S(var_dir), "./var", 0, 0, SVC_ALL, false,
        "run folder: sockets, local store, generated secrets"},
    {"LOG_LEVEL", S(log_level), "info", 0, 0, SVC_ALL, false,
        "debug, info, warn or error"},
    {"INSTANCE", S(instance), "", 0, 0, SVC_ALL, false,
        "name of this instance in logs and metrics (default host:pid)"},
    {"MONGO_URI", S(mongo_uri), "", 0, 0, SVC_STORE, true,
        "MongoDB URI; unset: the local store's, from VAR_DIR/store/mongo_uri"},
    {"MONGO_DB", S(mongo_db), "support", 0, 0, SVC_STORE, false,
        "database name"},
    {"STORE_WAIT_S", I(store_wait_s), "0", 0, 86400, SVC_STORE, false,
        "give up when the store is unreachable this long at start (0: never)"},
    {"INTENT_ADDR", S(intent_addr), "", 0, 0, SVC_GATEWAY | SVC_INTENT, false,
        "bus address of intent-agent: the gateway listens on it; intent-agent "
        "dials each of a comma-separated list, one per gateway "
        "(default ipc://VAR_DIR/run/intent.ipc)"},
    {"SUPPORT_ADDR", S(support_addr), "", 0, 0, SVC_GATEWAY | SVC_SUPPORT,
        false,
        "bus address of support-agent: the gateway listens on it; "
        "support-agent dials each of a comma-separated list, one per gateway "
        "(default ipc://VAR_DIR/run/support.ipc)"},
    {"ESCALATION_ADDR", S(escalation_addr), "", 0, 0,
        SVC_GATEWAY | SVC_ESCALATION, false,
        "bus address of escalation: the gateway listens on it; escalation "
        "dials each of a comma-separated list, one per gateway "
        "(default ipc://VAR_DIR/run/escalation.ipc)"},
    {"METRICS_ADDR", S(metrics_addr), "", 0, 0, SVC_GATEWAY | SVC_METRICS,
        false,
        "bus address of metrics: the gateway listens on it; metrics "
        "dials each of a comma-separated list, one per gateway "
        "(default ipc://VAR_DIR/run/metrics.ipc)"},
    {"EVENTS_ADDR", S(events_addr), "", 0, 0, SVC_ALL, false,
        "metrics event intake (default ipc://VAR_DIR/run/events.ipc)"},
    {"NOTIFY_ADDR", S(notify_addr), "", 0, 0, SVC_GATEWAY | SVC_ESCALATION,
        false,
        "escalation notices for live streams; the gateway listens, escalation "
        "dials each of a comma-separated list (default "
        "ipc://VAR_DIR/run/notify.ipc)"},
    {"BUS_WORKERS", I(bus_workers), "4", 1, 256,
        SVC_INTENT | SVC_SUPPORT | SVC_ESCALATION | SVC_METRICS, false,
        "worker threads of a daemon"},
    {"BUS_CONTEXTS", I(bus_contexts), "1024", 1, 65536,
        SVC_INTENT | SVC_SUPPORT | SVC_ESCALATION | SVC_METRICS, false,
        "requests a daemon instance accepts at once"},
    {"BUS_TIMEOUT_MS", I(bus_timeout_ms), "5000", 10, 600000, SVC_GATEWAY,
        false, "deadline of one call on the bus"},
    {"EVENT_QUEUE", I(event_queue), "1024", 1, 1 << 20, SVC_ALL, false,
        "metric events buffered before new ones are dropped (and counted)"},
    {"LISTEN_ADDR", S(listen_addr), "127.0.0.1", 0, 0, SVC_GATEWAY, false,
        "HTTP listen address"},
    {"PORT", I(port), "8080", 1, 65535, SVC_GATEWAY, false, "HTTP port"},
    {"HTTP_THREADS", I(http_threads), "128", 4, 4096, SVC_GATEWAY, false,
        "HTTP worker threads; must exceed the open connections, streams "
        "included"},
    {"STATIC_DIR", S(static_dir), "frontend/dist", 0, 0, SVC_GATEWAY, false,
        "folder of the web UI served at /"},
    {"DOCS_DIR", S(docs_dir), "docs", 0, 0, SVC_GATEWAY, false,
        "folder holding openapi.json and api.html"},
    {"MAX_BODY", L(max_body), "65536", 1024, 16 << 20, SVC_GATEWAY, false,
        "largest request body accepted, bytes (more: 413)"},
    {"JWT_SECRET", S(jwt_secret), "", 0, 0, SVC_GATEWAY, true,
        "HS256 key, at least 32 bytes; unset: random, kept in "
        "VAR_DIR/jwt-secret"},
    {"JWT_TTL_S", I(jwt_ttl_s), "86400", 60, 2592000, SVC_GATEWAY, false,
        "token lifetime, seconds"},
    {"ADMIN_USERNAME", S(admin_username), "", 0, 0, SVC_GATEWAY, false,
        "first admin, created at start if missing"},
    {"ADMIN_PASSWORD", S(admin_password), "", 0, 0, SVC_GATEWAY, true,
        "its password"},
    {"ARGON2_M_KIB", I(argon2_m_kib), "19456", 8192, 1 << 22, SVC_GATEWAY,
        false, "argon2id memory per hash, KiB"},
    {"ARGON2_T", I(argon2_t), "2", 1, 16, SVC_GATEWAY, false,
        "argon2id passes"},
    {"AUTH_WORKERS", I(auth_workers), "2", 1, 64, SVC_GATEWAY, false,
        "password hashes computed at once; more logins wait"},
    {"CHAT_MAX_CHARS", I(chat_max_chars), "2000", 1, 100000, SVC_GATEWAY, false,
        "longest chat message, in characters (more: 400)"},
    {"SUPPORT_TIMEOUT_MS", I(support_timeout_ms), "30000", 100, 600000,
        SVC_GATEWAY, false,
        "deadline of a support-agent draft (an LLM call may be slow)"},
    {"GUARD_MODEL", S(guard_model), "models/guard/injection.bin", 0, 0,
        SVC_GATEWAY, false,
        "the prompt-injection detector's weights (empty: no detector)"},
    {"GUARD_THRESHOLD", S(guard_threshold), "", 0, 0, SVC_GATEWAY, false,
        "block at this injection probability, 0 < x <= 1 (empty: the "
        "model's tuned one)"},
    {"GUARD_DENY_LIST", S(guard_deny_list), "", 0, 0, SVC_GATEWAY, false,
        "comma-separated phrases whose messages are refused (case and "
        "punctuation ignored, whole words)"},
    {"CORS_ORIGINS", S(cors_origins), "", 0, 0, SVC_GATEWAY, false,
        "comma-separated origins allowed to call the API from a browser "
        "(empty: none; same-origin needs none)"},
    {"RATE_LOGIN_IP", I(rate_login_ip), "60", 0, 1000000, SVC_GATEWAY, false,
        "sign-up, login and password-change attempts per minute per client "
        "address (0: off)"},
    {"RATE_LOGIN_USER", I(rate_login_user), "10", 0, 1000000, SVC_GATEWAY,
        false, "login attempts per minute per account (0: off)"},
    {"RATE_CHAT_IP", I(rate_chat_ip), "120", 0, 1000000, SVC_GATEWAY, false,
        "chat messages per minute per client address (0: off)"},
    {"RATE_CHAT_USER", I(rate_chat_user), "60", 0, 1000000, SVC_GATEWAY, false,
        "chat messages per minute per signed-in account (0: off)"},
    {"LOGIN_FAIL_MAX", I(login_fail_max), "5", 0, 1000, SVC_GATEWAY, false,
        "failed logins of an account from one address before it must wait "
        "(0: off)"},
    {"LOGIN_LOCK_S", I(login_lock_s), "60", 1, 86400, SVC_GATEWAY, false,
        "first wait after LOGIN_FAIL_MAX failures, seconds; doubles per "
        "further failure up to 15 min, and never locks out other addresses"},
    {"TRUSTED_PROXY", I(trusted_proxy), "0", 0, 1, SVC_GATEWAY, false,
        "1: the client address is the last X-Forwarded-For entry (behind a "
        "reverse proxy); 0: the TCP peer"},
    {"INTENT_MODE", S(intent_mode), "builtin", 0, 0, SVC_INTENT, false,
        "builtin, llm or hybrid"},
    {"INTENT_MODEL", S(intent_model), "models/intent/head.bin", 0, 0,
        SVC_INTENT, false, "the built-in classifier's head"},
    {"INTENT_BATCHERS", I(intent_batchers), "2", 1, 16, SVC_INTENT, false,
        "threads classifying queued messages in batches (one per core)"},
    {"ENCODER_DIR", S(encoder_dir), "build/model/minilm", 0, 0,
        SVC_INTENT | SVC_SUPPORT, false,
        "MiniLM model.safetensors + vocab.txt"},
    {"ENCODER_PRECISION", S(encoder_precision), "auto", 0, 0,
        SVC_INTENT | SVC_SUPPORT, false,
        "the encoder's dense layers: auto (bf16 on CPUs with AMX, float32 "
        "elsewhere), float32, bf16, int8 (faster, slightly less accurate) or "
        "int8-ffn (docs/encoder.md); the tools read it too"},
    {"SLA_S", I(sla_s), "900", 1, 604800, SVC_ESCALATION, false,
        "an escalation open longer than this breaches the SLA, seconds"},
    {"CLAIM_TTL_S", I(claim_ttl_s), "900", 1, 86400, SVC_ESCALATION, false,
        "an agent's claim on an escalation expires after this many seconds"},
    {"METRICS_RETENTION_H", I(metrics_retention_h), "24", 1, 720, SVC_METRICS,
        false,
        "per-minute rollups kept (hours), in memory and in metric_rollups"},
    {"TRACE_TTL_S", I(trace_ttl_s), "86400", 60, 2592000, SVC_METRICS, false,
        "how long a kept trace stays in the traces collection"},
    {"TRACE_SLOW_MS", I(trace_slow_ms), "1000", 1, 600000, SVC_METRICS, false,
        "traces at least this long are kept first (errors too), up to "
        "TRACE_NOTABLE_PER_S"},
    {"TRACE_NOTABLE_PER_S", I(trace_notable_per_s), "20", 0, 100000,
        SVC_METRICS, false,
        "errors and slow traces kept per second at most (beyond it they "
        "compete for TRACE_SAMPLE_PER_S; the rest are counted, not stored)"},
    {"TRACE_SAMPLE_PER_S", I(trace_sample_per_s), "10", 0, 100000, SVC_METRICS,
        false,
        "other traces kept per second (the rest are counted, not stored)"},
    {"METRICS_TOKEN", S(metrics_token), "", 0, 0, SVC_GATEWAY, true,
        "bearer token a Prometheus scraper may use for GET /metrics (an "
        "admin's token always works); unset: admins only"},
    {"KNOWLEDGE_FILE", S(knowledge_file), "data/knowledge/kb.json", 0, 0,
        SVC_ESCALATION, false, "knowledge base loaded into the store at start"},
    {"LLM_BASE_URL", S(llm_base_url), "", 0, 0, SVC_INTENT | SVC_SUPPORT, false,
        "OpenAI-compatible endpoint; unset: built-in mode"},
    {"LLM_API_KEY", S(llm_api_key), "", 0, 0, SVC_INTENT | SVC_SUPPORT, true,
        "bearer key (OPENAI_API_KEY is read too)"},
    {"LLM_MODEL", S(llm_model), "gpt-4o-mini", 0, 0, SVC_INTENT | SVC_SUPPORT,
        false, "model name"},
    {"LLM_TIMEOUT_MS", I(llm_timeout_ms), "20000", 100, 600000,
        SVC_INTENT | SVC_SUPPORT, false,
        "deadline of one LLM call, retries included"},
    {"LLM_JSON_MODE", I(llm_json_mode), "0", 0, 1, SVC_SUPPORT, false,
        "1: ask the model for response_format json_object (OpenAI, vLLM)"},
};

static char **
str_field(struct config *cfg, const struct var *v)
{
    return (char **)((char *)cfg + v->off);
}

static int
parse_long(const char *s, long min, long max, long *out)
{
    char *end;

    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

static char *
xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        abort();
    return d;
}

static char *
default_addr(const struct config *cfg, const char *name)
{
    char buf[4096];
    const char *dir = cfg->var_dir;

    /* nng ipc paths are relative to the working directory; keep them so. */
    snprintf(buf, sizeof(buf), "ipc://%s/run/%s.ipc", dir, name);
    return xstrdup(buf);
}

static char *
local_store_uri(const struct config *cfg)
{
    char path[4096], line[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/store/mongo_uri", cfg->var_dir);
    f = fopen(path, "r");
    if (f == NULL)
        return xstrdup("mongodb://127.0.0.1:27017/");
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return xstrdup(line[0] ? line : "mongodb://127.0.0.1:27017/");
}

int
config_load(struct config *cfg, unsigned svc, char *err, size_t errlen)
{
    (void)svc;
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const struct var *v = &vars[i];
        const char *val = getenv(v->name);

        if (val == NULL && strcmp(v->name, "LLM_API_KEY") == 0)
            val = getenv("OPENAI_API_KEY");
        if (val == NULL)
            val = v->def;
        if (v->type == T_STR) {
            *str_field(cfg, v) = xstrdup(val);
            continue;
        }
        long x;
        if (parse_long(val, v->min, v->max, &x) != 0) {
            snprintf(err, errlen, "%s=%s: want a whole number from %ld to %ld",
                v->name, val, v->min, v->max);
            return -1;
        }
        if (v->type == T_INT)
            *(int *)((char *)cfg + v->off) = (int)x;
        else
            *(long *)((char *)cfg + v->off) = x;
    }

    /*
     * Who listens takes one address; who dials may take a list (a daemon
     * dials every gateway). The gateway listens on all but EVENTS_ADDR,
     * which only the metrics daemon listens on.
     */
    struct {
        char **field;
        const char *name, *var;
        unsigned listeners;
    } addrs[] = {
        {&cfg->intent_addr, "intent", "INTENT_ADDR", SVC_GATEWAY},
        {&cfg->support_addr, "support", "SUPPORT_ADDR", SVC_GATEWAY},
        {&cfg->escalation_addr, "escalation", "ESCALATION_ADDR", SVC_GATEWAY},
        {&cfg->metrics_addr, "metrics", "METRICS_ADDR", SVC_GATEWAY},
        {&cfg->events_addr, "events", "EVENTS_ADDR", SVC_ALL},
        {&cfg->notify_addr, "notify", "NOTIFY_ADDR", SVC_GATEWAY},
    };
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        if (**addrs[i].field == '\0') {
            free(*addrs[i].field);
            *addrs[i].field = default_addr(cfg, addrs[i].name);
        }
        if ((svc & addrs[i].listeners) != 0
            && strchr(*addrs[i].field, ',') != NULL) {
            snprintf(err, errlen,
                "%s=%s: one address here (only a daemon's addresses of "
                "the gateways may be a list)",
                addrs[i].var, *addrs[i].field);
            return -1;
        }
    }
    if (cfg->mongo_uri[0] == '\0') {
        free(cfg->mongo_uri);
        cfg->mongo_uri = local_store_uri(cfg);
    }
    if (cfg->instance[0] == '\0') {
        char host[256] = "host", buf[300];
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(buf, sizeof(buf), "%s:%ld", host, (long)getpid());
        free(cfg->instance);
        cfg->instance = xstrdup(buf);
    }
    if (strcmp(cfg->log_level, "debug") != 0
        && strcmp(cfg->log_level, "info") != 0
        && strcmp(cfg->log_level, "warn") != 0
        && strcmp(cfg->log_level, "error") != 0) {
        snprintf(err, errlen, "LOG_LEVEL=%s: want debug, info, warn or error",
            cfg->log_level);
        return -1;
    }
    if (strcmp(cfg->intent_mode, "builtin") != 0
        && strcmp(cfg->intent_mode, "llm") != 0
        && strcmp(cfg->intent_mode, "hybrid") != 0) {
        snprintf(err, errlen, "INTENT_MODE=%s: want builtin, llm or hybrid",
            cfg->intent_mode);
        return -1;
    }
    enum encoder_precision precision;
    if (encoder_precision_parse(cfg->encoder_precision, &precision) != 0) {
        snprintf(err, errlen,
            "ENCODER_PRECISION=%s: want auto, float32, bf16, int8 or "
            "int8-ffn",
            cfg->encoder_precision);
        return -1;
    }
    if (cfg->jwt_secret[0] != '\0' && strlen(cfg->jwt_secret) < 32) {
        snprintf(err, errlen, "JWT_SECRET: at least 32 bytes, got %zu",
            strlen(cfg->jwt_secret));
        return -1;
    }
    if ((cfg->admin_username[0] == '\0') != (cfg->admin_password[0] == '\0')) {
        snprintf(err, errlen, "ADMIN_USERNAME and ADMIN_PASSWORD go together");
        return -1;
    }
    return 0;
}

void
config_release(struct config *cfg)
{
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (vars[i].type == T_STR) {
            free(*str_field(cfg, &vars[i]));
            *str_field(cfg, &vars[i]) = NULL;
        }
    }
}

void
config_usage(FILE *f, const char *prog, unsigned svc)
{
    fprintf(f, "usage: %s [--help]\n\nConfiguration (environment):\n", prog);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const struct var *v = &vars[i];
        if ((v->svc & svc) == 0)
            continue;
        fprintf(f, "  %-16s %s\n  %-16s   default: %s\n", v->name, v->help, "",
            v->def[0] ? v->def : "(none)");
    }
}
