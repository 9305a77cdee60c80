#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>
#include <nng/nng.h>

#include "clock.h"
#include "ids.h"
#include "throttle.h"
#include "log.h"
#include "ratelimit.h"
#include "sessions.h"
#include "users.h"

static const char *const peer_names[NPEERS]
    = {"intent-agent", "support-agent", "escalation", "metrics"};

static const struct route routes[] = {
    {"GET", "/api/health", api_health, ROLE_NONE, true},
    {"POST", "/api/auth/signup", api_signup, ROLE_NONE, false},
    {"POST", "/api/auth/login", api_login, ROLE_NONE, false},
    {"GET", "/api/auth/me", api_me, ROLE_USER, false},
    {"POST", "/api/auth/password", api_password_change, ROLE_USER, false},
    {"GET", "/api/admin/users", api_admin_users_list, ROLE_ADMIN, false},
    {"POST", "/api/admin/users", api_admin_users_create, ROLE_ADMIN, false},
    {"POST", "/api/admin/users/{id}/disable", api_admin_user_disable,
        ROLE_ADMIN, false},
    {"POST", "/api/admin/users/{id}/enable", api_admin_user_enable, ROLE_ADMIN,
        false},
    {"POST", "/api/chat", api_chat, ROLE_NONE, false},
    {"GET", "/api/chat/history", api_chat_history, ROLE_NONE, false},
    {"GET", "/api/chat/stream", api_chat_stream, ROLE_NONE, true},
    {"GET", "/api/admin/audit", api_admin_audit, ROLE_ADMIN, false},
    {"GET", "/api/hitl/stream", api_hitl_stream, ROLE_AGENT, true},
    {"GET", "/api/hitl/escalations/pending", api_hitl_list, ROLE_AGENT, false},
    {"GET", "/api/hitl/escalations/{id}", api_hitl_get, ROLE_AGENT, false},
    {"POST", "/api/hitl/escalations/{id}/claim", api_hitl_claim, ROLE_AGENT,
        false},
    {"POST", "/api/hitl/escalations/{id}/release", api_hitl_release, ROLE_AGENT,
        false},
    {"POST", "/api/hitl/escalations/{id}/approve", api_hitl_approve, ROLE_AGENT,
        false},
    {"POST", "/api/hitl/escalations/{id}/edit", api_hitl_edit, ROLE_AGENT,
        false},
    {"POST", "/api/hitl/escalations/{id}/reject", api_hitl_reject, ROLE_AGENT,
        false},
    {"GET", "/api/monitoring/metrics", api_monitoring_metrics, ROLE_ADMIN,
        true},
    {"GET", "/api/monitoring/dashboard", api_monitoring_dashboard, ROLE_ADMIN,
        true},
    {"GET", "/api/monitoring/traces", api_monitoring_traces, ROLE_ADMIN, true},
    {"GET", "/api/monitoring/traces/{id}", api_monitoring_trace, ROLE_ADMIN,
        true},
    /* Checks its own credentials: an admin, or the scraper's token. */
    {"GET", "/metrics", api_prometheus, ROLE_NONE, true},
};

/*
 * The request-rate limits a route counts against before its handler runs.
 * Sign-ins count in their handlers, once the body is well-formed.
 */
static enum limit_kind
route_limit(const struct route *rt)
{
    return rt->fn == api_chat ? LIMIT_CHAT : LIMIT_NONE;
}

const char *
gateway_peer_name(enum peer p)
{
    return p < NPEERS ? peer_names[p] : "?";
}

void
gateway_meta(const struct req *r, Bus__Meta *m, int timeout_ms)
{
    bus__meta__init(m);
    m->request_id = (char *)r->request_id;
    if (r->span.trace_id[0]) {
        m->trace_id = (char *)r->span.trace_id;
        m->parent_span_id = (char *)r->span.span_id;
    }
    m->deadline_ms = clock_now_ms() + timeout_ms;
    m->user_id = (char *)r->who.user_id;
    m->role = (char *)auth_role_name(r->who.role);
}

void
gateway_span_begin(const struct req *r, struct span *s, const char *name)
{
    if (r->span.trace_id[0] == '\0') {
        s->trace_id[0] = '\0';
        return;
    }
    span_begin(s, r->span.trace_id, r->span.span_id, name);
}

void
gateway_span_end(const struct req *r, struct span *s, int code)
{
    if (s->trace_id[0] == '\0')
        return;
    span_end(s, code);
    bus_span(r->gw->events, s);
}

/* Take the client's X-Request-Id when it is sane, else make one. */
static void
set_request_id(struct req *r)
{
    const char *h = http_header(r, "X-Request-Id");
    size_t n = h ? strlen(h) : 0;

    if (n >= 8 && n < sizeof(r->request_id)
        && strspn(h, "0123456789abcdefABCDEF-_") == n) {
        memcpy(r->request_id, h, n + 1);
        return;
    }
    if (ids_hex(r->request_id, 16) != 0)
        snprintf(r->request_id, sizeof(r->request_id), "norandom");
}

/*
 * A token that verified: is its account still usable at this version?
 * 0, or -1 with 401 (revoked) or 503 (store down) written.
 */
static int
still_valid(struct req *r)
{
    int rv = sessions_check(
        r->gw->sessions, r->gw->store, &r->who, clock_mono_ms());
    if (rv == 0)
        return 0;
    memset(&r->who, 0, sizeof(r->who));
    if (rv == STORE_DOWN)
        http_error_hdr(r, 503, "store_unavailable",
            "the database is unavailable, try again shortly",
            "Retry-After: 2\r\n");
    else
        http_error_hdr(r, 401, "token_revoked",
            "this token was revoked (password changed or account disabled)",
            "WWW-Authenticate: Bearer\r\n");
    return -1;
}

/*
 * Check the bearer token if one is sent. Returns 0 when the request may go
 * on (r->who filled or anonymous), -1 when a 401 was written.
 */
static int
authenticate(struct req *r, bool required)
{
    const char *h = http_header(r, "Authorization");
    static const char hdr[] = "WWW-Authenticate: Bearer\r\n";

    /* Browsers' EventSource cannot send headers: streams may carry the token
     * in the query instead. */
    char qtok[1024];
    size_t plen = strlen(r->path);
    if ((h == NULL || *h == '\0') && plen > 7
        && strcmp(r->path + plen - 7, "/stream") == 0
        && http_query(r, "access_token", qtok, sizeof(qtok))) {
        int rv = auth_check(r->gw->auth, qtok, &r->who);
        explicit_bzero(qtok, sizeof(qtok));
        if (rv != 0) {
            http_error_hdr(
                r, 401, "invalid_token", "the token is not valid", hdr);
            return -1;
        }
        return still_valid(r);
    }
    if (h == NULL || *h == '\0') {
        if (!required)
            return 0;
        http_error_hdr(
            r, 401, "unauthorized", "a bearer token is required", hdr);
        return -1;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        http_error_hdr(r, 401, "unauthorized",
            "use the Authorization: Bearer scheme", hdr);
        return -1;
    }
    int rv = auth_check(r->gw->auth, h + 7, &r->who);
    if (rv == AUTH_EXPIRED) {
        http_error_hdr(r, 401, "token_expired", "the token has expired", hdr);
        return -1;
    }
    if (rv != 0) {
        http_error_hdr(r, 401, "invalid_token", "the token is not valid", hdr);
        return -1;
    }
    return still_valid(r);
}

/*
 * CORS: an Origin in CORS_ORIGINS gets Access-Control-Allow-Origin on
 * every answer; a preflight (OPTIONS) is answered here. Returns 0 to go
 * on, -1 when the answer was written.
 */
static int
cors(struct req *r)
{
    const char *origin = http_header(r, "Origin");

    if (origin == NULL)
        return 0;
    bool ok = http_origin_allowed(r->gw->cfg->cors_origins, origin)
        && strlen(origin) < 256;
    if (ok)
        r->cors_origin = origin;
    if (strcmp(r->method, "OPTIONS") != 0)
        return 0;
    if (!ok) {
        http_error(r, 403, "cors_forbidden", "this origin is not allowed");
        return -1;
    }
    http_raw(r, 204, "text/plain", "", 0,
        "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
        "Access-Control-Allow-Headers: Authorization, Content-Type, "
        "X-Request-Id\r\n"
        "Access-Control-Max-Age: 600\r\n");
    return -1;
}

/*
 * An API request is a trace's root span here: continued from the client's
 * traceparent when it sends a valid one, else a new trace. Routes marked
 * untraced are not: streams (they last as long as the client stays), health
 * probes (an orchestrator's every few seconds; their 503 while a daemon is
 * away is an answer, not the gateway failing), and the monitoring reads
 * themselves (a dashboard refreshing every few seconds and a Prometheus
 * scraper would fill the traces they look at with their own).
 */
static void
begin_trace(struct req *r, const struct route *rt)
{
    char trace_id[TRACE_ID_LEN + 1], parent[SPAN_ID_LEN + 1], name[SPAN_NAME];
    bool given = trace_parse(http_header(r, "traceparent"), trace_id, parent);

    if (rt != NULL && rt->untraced) {
        log_set_context(r->request_id, NULL);
        return;
    }
    snprintf(name, sizeof(name), "%s %s", r->method,
        rt != NULL ? rt->pattern : "(no route)");
    span_begin(&r->span, given ? trace_id : NULL, given ? parent : NULL, name);
    r->span.root = true;
    log_set_context(r->request_id, r->span.trace_id);
}

static void
end_trace(struct req *r)
{
    if (r->span.trace_id[0] == '\0')
        return;
    span_end(&r->span, r->status ? r->status : 500);
    if (r->who.role != ROLE_NONE)
        span_attr(&r->span, "role", auth_role_name(r->who.role));
    bus_span(r->gw->events, &r->span);
}

/*
 * Every request, from civetweb's begin_request hook: given to mg_start, so
 * it answers from the first connection on (a handler registered after
 * mg_start left a moment where civetweb answered 404 itself, seen while a
 * restarted gateway took its first requests), and it skips civetweb's own
 * handler lookup and .htpasswd check.
 */
static int
on_request(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct req r;
    bool path_known;

    memset(&r, 0, sizeof(r));
    r.conn = conn;
    r.gw = mg_get_user_data(mg_get_context(conn));
    r.method = ri->request_method;
    r.path = ri->local_uri ? ri->local_uri : "/";
    r.query = ri->query_string;
    set_request_id(&r);
    int64_t t0 = clock_mono_us();
    http_client_addr(
        &r, r.gw->cfg->trusted_proxy != 0, r.client, sizeof(r.client));
    if (cors(&r) != 0)
        goto done;

    if (strncmp(r.path, "/api/", 5) != 0 && strcmp(r.path, "/api") != 0
        && strcmp(r.path, "/metrics") != 0) {
        log_set_context(r.request_id, NULL);
        static_serve(&r);
        goto done;
    }
    const struct route *rt = http_route(
        routes, sizeof(routes) / sizeof(routes[0]), &r, &path_known);
    begin_trace(&r, rt);
    if (rt == NULL) {
        if (path_known)
            http_error(&r, 405, "method_not_allowed",
                "this method is not allowed on this path");
        else
            http_error(&r, 404, "not_found", "no such endpoint");
        goto done;
    }
    if (rt->fn != api_prometheus
        && authenticate(&r, rt->min_role != ROLE_NONE) != 0)
        goto done;
    if (rt->min_role != ROLE_NONE && r.who.role < rt->min_role) {
        http_error(&r, 403, "forbidden", "your role may not do this");
        goto done;
    }
    if (limits_check(&r, route_limit(rt)) != 0)
        goto done;
    rt->fn(&r);
done:
    end_trace(&r);
    log_debug("%s %s -> %d in %ld us", r.method, r.path, r.status,
        (long)(clock_mono_us() - t0));
    log_set_context(NULL, NULL);
    return r.status ? r.status : 500;
}

static int
on_log(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("http: %s", message);
    return 1;
}

/* JWT_SECRET, or the run folder's secret, made once (mode 0600). */
static int
load_secret(const struct config *cfg, char *out, size_t n)
{
    char path[4096];
    int fd;

    if (cfg->jwt_secret[0] != '\0') {
        snprintf(out, n, "%s", cfg->jwt_secret);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/jwt-secret", cfg->var_dir);
    if ((fd = open(path, O_RDONLY)) >= 0) {
        ssize_t k = read(fd, out, n - 1);
        close(fd);
        if (k >= 32) {
            out[k] = '\0';
            out[strcspn(out, "\r\n")] = '\0';
            return strlen(out) >= 32 ? 0 : -1;
        }
        log_error(
            "%s is shorter than 32 bytes; remove it or set JWT_SECRET", path);
        return -1;
    }
    if (n < 65 || ids_hex(out, 32) != 0)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && errno == EEXIST) /* another gateway made it meanwhile */
        return load_secret(cfg, out, n);
    if (fd < 0 || write(fd, out, 64) != 64) {
        log_error("cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    log_warn("JWT_SECRET is not set: using a random secret kept in %s", path);
    return 0;
}

int
gateway_guard_new(const struct config *cfg, struct guard **gp)
{
    struct guard_opts o = {
        .max_chars = cfg->chat_max_chars,
        .deny_list = cfg->guard_deny_list,
        .model_path = cfg->guard_model,
    };
    char err[512], *end;

    if (cfg->guard_threshold[0] != '\0') {
        errno = 0;
        o.threshold = strtod(cfg->guard_threshold, &end);
        if (errno != 0 || *end != '\0' || !(o.threshold > 0)
            || o.threshold > 1) {
            log_error("GUARD_THRESHOLD=%s: want a number in (0, 1]",
                cfg->guard_threshold);
            return -1;
        }
    }
    if (guard_new(gp, &o, err, sizeof err) != 0) {
        log_error("guardrails: %s", err);
        return -1;
    }
    return 0;
}

static int
make_dirs(const char *var_dir)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/run", var_dir);
    if (mkdir(var_dir, 0700) != 0 && errno != EEXIST)
        return -1;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int
gateway_start(struct gateway *gw, const struct config *cfg, struct store *store)
{
    char secret[512], port[300], threads[16], timeout[16];
    const char *addrs[NPEERS] = {cfg->intent_addr, cfg->support_addr,
        cfg->escalation_addr, cfg->metrics_addr};
    int rv;

    memset(gw, 0, sizeof(*gw));
    gw->cfg = cfg;
    gw->store = store;
    gw->started_ms = clock_mono_ms();
    if (make_dirs(cfg->var_dir) != 0) {
        log_error("cannot create %s/run: %s", cfg->var_dir, strerror(errno));
        return -1;
    }
    if (load_secret(cfg, secret, sizeof(secret)) != 0)
        return -1;
    if (gateway_guard_new(cfg, &gw->guard) != 0)
        return -1;
    if (ratelimit_new(&gw->limits, 16384) != 0
        || sessions_new(&gw->sessions, 4096) != 0
        || store_batch_open(&gw->messages, store, "messages", 2) != 0
        || store_batch_open(&gw->conversations, store, "conversations", 2)
            != 0) {
        log_error("out of memory");
        gateway_stop(gw);
        return -1;
    }
    struct auth_opts ao = {
        .secret = secret,
        .secret_len = strlen(secret),
        .ttl_s = cfg->jwt_ttl_s,
        .m_kib = (uint32_t)cfg->argon2_m_kib,
        .t_cost = (uint32_t)cfg->argon2_t,
        .workers = cfg->auth_workers,
    };
    rv = auth_new(&gw->auth, &ao);
    explicit_bzero(secret, sizeof(secret));
    if (rv != 0) {
        log_error("cannot set up authentication");
        return -1;
    }
    for (int i = 0; i < NPEERS; i++) {
        if ((rv = bus_client_open(&gw->peers[i], addrs[i])) != 0) {
            log_error("cannot listen on %s for %s: %s", addrs[i], peer_names[i],
                nng_strerror(rv));
            gateway_stop(gw);
            return -1;
        }
    }
    bus_events_open(&gw->events, cfg->events_addr, "gateway", cfg->instance,
        cfg->event_queue);
    if ((rv = sse_hub_start(&gw->sse, cfg->notify_addr)) != 0) {
        log_error("cannot listen for notices on %s: %s", cfg->notify_addr,
            nng_strerror(rv));
        gateway_stop(gw);
        return -1;
    }
    gw->sse_started = true;

    snprintf(port, sizeof(port), "%s:%d", cfg->listen_addr, cfg->port);
    snprintf(threads, sizeof(threads), "%d", cfg->http_threads);
    snprintf(timeout, sizeof(timeout), "%d", 30000);
    const char *opts[] = {
        "listening_ports",
        port,
        "num_threads",
        threads,
        "enable_keep_alive",
        "yes",
        "tcp_nodelay",
        "1",
        "request_timeout_ms",
        timeout,
        "keep_alive_timeout_ms",
        "30000",
        /* civetweb answers CORS preflights itself, for any origin, unless
         * told not to: the gateway decides (CORS_ORIGINS). */
        "access_control_allow_origin",
        "",
        "access_control_allow_methods",
        "",
        "access_control_allow_headers",
        "",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.log_message = on_log;
    cb.begin_request = on_request;
    mg_init_library(0);
    gw->http = mg_start(&cb, gw, opts);
    if (gw->http == NULL) {
        log_error("cannot listen on http://%s", port);
        gateway_stop(gw);
        return -1;
    }
    log_info("listening on http://%s (%d threads)", port, cfg->http_threads);
    return 0;
}

void
gateway_stop(struct gateway *gw)
{
    if (gw->sse_started)
        sse_hub_close_streams(&gw->sse); /* they hold HTTP threads */
    if (gw->http != NULL) {
        mg_stop(gw->http);
        gw->http = NULL;
        mg_exit_library();
    }
    for (int i = 0; i < NPEERS; i++) {
        bus_client_close(gw->peers[i]);
        gw->peers[i] = NULL;
    }
    if (gw->sse_started) {
        sse_hub_stop(&gw->sse);
        gw->sse_started = false;
    }
    bus_events_close(gw->events);
    gw->events = NULL;
    auth_free(gw->auth);
    gw->auth = NULL;
    guard_free(gw->guard);
    gw->guard = NULL;
    if (gw->messages != NULL) {
        size_t writes, docs;
        store_batch_stats(gw->messages, &writes, &docs);
        log_info("messages: %zu stored in %zu writes", docs, writes);
    }
    store_batch_close(gw->messages);
    store_batch_close(gw->conversations);
    gw->conversations = NULL;
    gw->messages = NULL;
    ratelimit_free(gw->limits);
    gw->limits = NULL;
    sessions_free(gw->sessions);
    gw->sessions = NULL;
}

static int
write_admin_file(const char *var_dir, const char *name, const char *password)
{
    char path[4096], text[512];
    int fd, n;

    snprintf(path, sizeof(path), "%s/admin-password", var_dir);
    n = snprintf(
        text, sizeof(text), "username: %s\npassword: %s\n", name, password);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, (size_t)n) != n) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int
gateway_bootstrap_admin(struct gateway *gw)
{
    const struct config *cfg = gw->cfg;
    char name[USERNAME_MAX + 1], hash[AUTH_HASH_MAX], password[40];
    const char *why;
    struct user u;
    bool exists;
    int rv;

    if (cfg->admin_username[0] != '\0') {
        if (users_check_name(cfg->admin_username, name, &why) != 0
            || users_check_password(cfg->admin_password, &why) != 0) {
            log_error("ADMIN_USERNAME/ADMIN_PASSWORD: %s", why);
            return -1;
        }
        rv = users_find_name(gw->store, name, &u);
        if (rv == 0)
            return 0;
        if (rv != STORE_NOTFOUND)
            return -1;
        if (auth_hash(gw->auth, cfg->admin_password, hash) != 0)
            return -1;
        rv = users_create(gw->store, name, hash, ROLE_ADMIN, &u);
        if (rv == 0)
            log_info("created admin '%s' from ADMIN_USERNAME", name);
        return rv == 0 || rv == STORE_DUP ? 0 : -1;
    }
    if (users_admin_exists(gw->store, &exists) != 0)
        return -1;
    if (exists)
        return 0;
    if (ids_hex(password, 12) != 0 || auth_hash(gw->auth, password, hash) != 0)
        return -1;
    rv = users_create(gw->store, "admin", hash, ROLE_ADMIN, &u);
    if (rv == STORE_DUP) {
        /* Another gateway starting beside this one may have just made it. */
        if (users_admin_exists(gw->store, &exists) == 0 && exists)
            log_info("the first admin was created by another gateway");
        else
            log_warn("no admin exists, but the name 'admin' is taken by a "
                     "non-admin; set ADMIN_USERNAME and ADMIN_PASSWORD");
        explicit_bzero(password, sizeof(password));
        return 0;
    }
    if (rv != 0)
        return -1;
    if (write_admin_file(cfg->var_dir, "admin", password) != 0)
        log_warn("cannot write %s/admin-password", cfg->var_dir);
    /* Printed once, on stdout, never into the log. */
    printf("\n  First admin created:  username admin  password %s\n"
           "  (kept in %s/admin-password, mode 0600)\n\n",
        password, cfg->var_dir);
    fflush(stdout);
    explicit_bzero(password, sizeof(password));
    return 0;
}
