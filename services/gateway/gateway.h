/*
 * gateway.h - the gateway's state and its HTTP server.
 */
#ifndef GATEWAY_GATEWAY_H
#define GATEWAY_GATEWAY_H

#include <stdint.h>

#include "auth.h"
#include "bus.h"
#include "config.h"
#include "guard.h"
#include "http.h"
#include "sse.h"
#include "store.h"
#include "store_batch.h"

/* The daemons the gateway talks to, in health-report order. */
enum peer { PEER_INTENT, PEER_SUPPORT, PEER_ESCALATION, PEER_METRICS, NPEERS };

struct gateway {
    const struct config *cfg;
    struct store *store;
    struct store_batch *messages; /* inserts into messages, group-committed */
    struct store_batch *conversations; /* new conversations, the same */
    struct auth *auth;
    struct bus_client *peers[NPEERS];
    struct bus_events *events;
    struct guard *guard;       /* the chat's input guardrails */
    struct ratelimit *limits;  /* request rates and failed logins */
    struct sessions *sessions; /* token revocation: accounts' states */
    struct mg_context *http;
    struct sse_hub sse;
    bool sse_started;
    int64_t started_ms;
};

/* The name of a peer daemon ("intent-agent"...). */
const char *gateway_peer_name(enum peer p);

/*
 * Listen on the bus for every daemon, make the auth state (secret from cfg
 * or the run folder), and start the HTTP server. Returns 0, or -1 with the
 * reason logged. The store must be open.
 */
int gateway_start(
    struct gateway *gw, const struct config *cfg, struct store *store);

/*
 * The chat's guardrails as cfg describes them (GUARD_MODEL,
 * GUARD_THRESHOLD, GUARD_DENY_LIST, CHAT_MAX_CHARS). 0 with *gp set, or -1
 * with the reason logged.
 */
int gateway_guard_new(const struct config *cfg, struct guard **gp);

/* Stop HTTP (in-flight requests finish), close the bus, free. */
void gateway_stop(struct gateway *gw);

/*
 * Create the first admin: ADMIN_USERNAME/ADMIN_PASSWORD when given and
 * missing; otherwise, when no admin exists, "admin" with a random password
 * printed once on stdout and kept in VAR_DIR/admin-password (mode 0600).
 */
int gateway_bootstrap_admin(struct gateway *gw);

/* Fill a bus meta block for a call made while serving r. */
void gateway_meta(const struct req *r, Bus__Meta *m, int timeout_ms);

/*
 * A child span of r's root span, for work done in the gateway itself (a
 * store call); a no-op when r is not traced. End it with a status code.
 */
void gateway_span_begin(const struct req *r, struct span *s, const char *name);
void gateway_span_end(const struct req *r, struct span *s, int code);

/* Route handlers (api_*.c). */
void api_health(struct req *r);
void api_signup(struct req *r);
void api_login(struct req *r);
void api_me(struct req *r);
void api_admin_users_list(struct req *r);
void api_admin_users_create(struct req *r);
void api_admin_user_disable(struct req *r);
void api_admin_user_enable(struct req *r);
void api_password_change(struct req *r);
void api_chat(struct req *r);
void api_chat_history(struct req *r);
void api_hitl_list(struct req *r);
void api_hitl_get(struct req *r);
void api_hitl_claim(struct req *r);
void api_hitl_release(struct req *r);
void api_hitl_approve(struct req *r);
void api_hitl_edit(struct req *r);
void api_hitl_reject(struct req *r);
void api_hitl_stream(struct req *r);
void api_admin_audit(struct req *r);
void api_chat_stream(struct req *r);
void api_monitoring_metrics(struct req *r);
void api_monitoring_dashboard(struct req *r);
void api_monitoring_traces(struct req *r);
void api_monitoring_trace(struct req *r);
void api_prometheus(struct req *r);

struct Escalation__Item;
/* The public JSON of an escalation item. */
cJSON *hitl_item_json(const struct Escalation__Item *it);

/* Static files: the web UI, /docs and /openapi.json. */
void static_serve(struct req *r);

#endif
