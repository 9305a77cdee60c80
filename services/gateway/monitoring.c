/*
 * monitoring.c - /api/monitoring/{metrics,dashboard,traces} and /metrics:
 * the metrics daemon's figures, for admins (and a Prometheus scraper).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "escalation.pb-c.h"
#include "gateway.h"
#include "log.h"
#include "metrics.pb-c.h"

#define WINDOW_MAX_S (30L * 86400)

/* Ask the metrics daemon; NULL with a 503 written when it cannot answer. */
static Bus__Reply *
ask_metrics(struct req *r, const char *method, const ProtobufCMessage *body)
{
    Bus__Meta meta;
    Bus__Reply *rep = NULL;
    int timeout = r->gw->cfg->bus_timeout_ms;

    gateway_meta(r, &meta, timeout);
    int rv = bus_call(
        r->gw->peers[PEER_METRICS], &meta, method, body, timeout, &rep);
    if (rv != BUS_OK || rep->status->code >= 500) {
        bus__reply__free_unpacked(rep, NULL);
        http_error_hdr(r, 503, "metrics_unavailable",
            "the metrics service is unavailable, try again shortly",
            "Retry-After: 2\r\n");
        return NULL;
    }
    return rep;
}

static double
round2(double v)
{
    return round(v * 100) / 100;
}

/* "intent-agent" -> "intent_agent", the seed's key style. */
static void
key_of(char *out, size_t n, const char *service)
{
    snprintf(out, n, "%s", service);
    for (char *p = out; *p; p++)
        if (*p == '-')
            *p = '_';
}

static const Metrics__ServiceStats *
find_svc(const Metrics__Rollup *ru, const char *name)
{
    for (size_t i = 0; ru != NULL && i < ru->n_services; i++)
        if (strcmp(ru->services[i]->service, name) == 0)
            return ru->services[i];
    return NULL;
}

static cJSON *
counters_json(Metrics__Counter **c, size_t n, bool avg)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++)
        cJSON_AddNumberToObject(o, c[i]->key,
            avg ? (
                c[i]->n ? round(c[i]->sum / (double)c[i]->n * 1000) / 1000 : 0)
                : (double)c[i]->n);
    return o;
}

static double
deflection(const Metrics__Rollup *ru)
{
    if (ru->chats == 0)
        return 0;
    return round((double)(ru->chats - ru->chats_escalated) / (double)ru->chats
               * 10000)
        / 10000;
}

static cJSON *
agent_json(const Metrics__ServiceStats *all, const Metrics__ServiceStats *win,
    double window_min)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "total_calls", (double)all->calls);
    cJSON_AddNumberToObject(o, "errors", (double)all->errors);
    cJSON_AddNumberToObject(o, "escalations", (double)all->escalations);
    cJSON_AddNumberToObject(o, "error_rate",
        all->calls
            ? round((double)all->errors / (double)all->calls * 10000) / 10000
            : 0);
    cJSON_AddNumberToObject(o, "avg_response_time",
        all->calls ? round2(all->sum_ms / (double)all->calls) : 0);
    json_add_fixed(o, "p50_ms", all->p50_ms, 2);
    json_add_fixed(o, "p95_ms", all->p95_ms, 2);
    json_add_fixed(o, "p99_ms", all->p99_ms, 2);
    uint64_t wcalls = win ? win->calls : 0;
    cJSON_AddNumberToObject(
        o, "calls_per_minute", round2((double)wcalls / window_min));
    cJSON *rec = cJSON_AddObjectToObject(o, "recent");
    cJSON_AddNumberToObject(rec, "calls", (double)wcalls);
    cJSON_AddNumberToObject(rec, "errors", win ? (double)win->errors : 0);
    json_add_fixed(rec, "p50_ms", win ? win->p50_ms : 0, 2);
    json_add_fixed(rec, "p95_ms", win ? win->p95_ms : 0, 2);
    json_add_fixed(rec, "p99_ms", win ? win->p99_ms : 0, 2);
    return o;
}

/* The live queue size of one status, or -1 when the queue cannot say. */
static int64_t
queue_count(struct req *r, const char *status)
{
    Escalation__ListRequest in = ESCALATION__LIST_REQUEST__INIT;
    Bus__Meta meta;
    Bus__Reply *rep = NULL;
    int64_t n = -1;

    in.status = (char *)status;
    in.limit = 1;
    gateway_meta(r, &meta, 2000);
    if (bus_call(
            r->gw->peers[PEER_ESCALATION], &meta, "list", &in.base, 2000, &rep)
            == BUS_OK
        && rep->status->code == BUS_OK) {
        Escalation__ListReply *lr = escalation__list_reply__unpack(
            NULL, rep->body.len, rep->body.data);
        if (lr != NULL)
            n = lr->total;
        escalation__list_reply__free_unpacked(lr, NULL);
    }
    bus__reply__free_unpacked(rep, NULL);
    return n;
}

static Metrics__SummaryReply *
summary(struct req *r, long window, long step)
{
    Metrics__SummaryRequest in = METRICS__SUMMARY_REQUEST__INIT;
    in.window_s = window;
    in.step_s = step;
    Bus__Reply *rep = ask_metrics(r, "summary", &in.base);
    if (rep == NULL)
        return NULL;
    Metrics__SummaryReply *s
        = metrics__summary_reply__unpack(NULL, rep->body.len, rep->body.data);
    bus__reply__free_unpacked(rep, NULL);
    if (s == NULL || s->total == NULL || s->window == NULL) {
        metrics__summary_reply__free_unpacked(s, NULL);
        http_error(r, 502, "bad_gateway", "the metrics service answered badly");
        return NULL;
    }
    return s;
}

static cJSON *
health_json(struct req *r, const Metrics__SummaryReply *s)
{
    cJSON *h = cJSON_CreateObject(), *svcs;
    bool all_up = true;

    cJSON_AddNumberToObject(h, "uptime_seconds",
        (double)((clock_mono_ms() - r->gw->started_ms) / 1000));
    svcs = cJSON_AddObjectToObject(h, "services");
    for (int p = 0; p < NPEERS; p++) {
        const char *name = gateway_peer_name((enum peer)p);
        int peers = bus_client_peers(r->gw->peers[p]);
        int64_t up = 0;
        for (size_t i = 0; i < s->n_instances; i++)
            if (strcmp(s->instances[i]->service, name) == 0
                && s->instances[i]->uptime_s > up)
                up = s->instances[i]->uptime_s;
        cJSON *o = cJSON_AddObjectToObject(svcs, name);
        cJSON_AddNumberToObject(o, "instances", peers);
        cJSON_AddNumberToObject(o, "uptime_seconds", (double)up);
        all_up = all_up && peers > 0;
    }
    cJSON_AddStringToObject(h, "status", all_up ? "healthy" : "degraded");
    return h;
}

void
api_monitoring_metrics(struct req *r)
{
    long window;

    if (http_query_long(r, "window", 60, WINDOW_MAX_S, 3600, &window) != 0)
        return;
    Metrics__SummaryReply *s = summary(r, window, 0);
    if (s == NULL)
        return;
    const Metrics__Rollup *t = s->total, *w = s->window;
    double wmin = (double)window / 60;
    char key[64];
    cJSON *o = cJSON_CreateObject();

    cJSON *ap = cJSON_AddObjectToObject(o, "agent_performance");
    for (size_t i = 0; i < t->n_services; i++) {
        key_of(key, sizeof(key), t->services[i]->service);
        cJSON_AddItemToObject(ap, key,
            agent_json(
                t->services[i], find_svc(w, t->services[i]->service), wmin));
    }
    cJSON_AddNumberToObject(o, "chats", (double)t->chats);
    cJSON_AddNumberToObject(o, "chats_escalated", (double)t->chats_escalated);
    cJSON_AddNumberToObject(o, "deflection_rate", deflection(t));
    cJSON *in = cJSON_AddObjectToObject(o, "intents");
    cJSON_AddItemToObject(
        in, "distribution", counters_json(t->intents, t->n_intents, false));
    cJSON_AddItemToObject(
        in, "avg_confidence", counters_json(t->intents, t->n_intents, true));

    cJSON *e = cJSON_AddObjectToObject(o, "escalations");
    cJSON_AddNumberToObject(e, "created", (double)t->escalations_created);
    cJSON_AddNumberToObject(e, "resolved", (double)t->escalations_resolved);
    int64_t pending = queue_count(r, "pending");
    int64_t claimed = queue_count(r, "claimed");
    if (pending >= 0)
        cJSON_AddNumberToObject(e, "pending", (double)pending);
    else
        cJSON_AddNullToObject(e, "pending");
    if (claimed >= 0)
        cJSON_AddNumberToObject(e, "claimed", (double)claimed);
    else
        cJSON_AddNullToObject(e, "claimed");
    cJSON_AddNumberToObject(e, "avg_first_response_s",
        t->first_response_n
            ? round2(t->first_response_s / (double)t->first_response_n)
            : 0);
    cJSON_AddNumberToObject(e, "sla_breaches", (double)t->sla_breaches);
    cJSON_AddItemToObject(e, "actions",
        counters_json(t->escalation_actions, t->n_escalation_actions, false));

    cJSON *g = cJSON_AddObjectToObject(o, "guardrails");
    uint64_t blocks = 0;
    for (size_t i = 0; i < t->n_guard_blocks; i++)
        blocks += t->guard_blocks[i]->n;
    cJSON_AddNumberToObject(g, "total", (double)blocks);
    cJSON_AddItemToObject(
        g, "blocks", counters_json(t->guard_blocks, t->n_guard_blocks, false));

    cJSON *rw = cJSON_AddObjectToObject(o, "recent");
    cJSON_AddNumberToObject(rw, "window_s", (double)window);
    cJSON_AddNumberToObject(rw, "chats", (double)w->chats);
    cJSON_AddNumberToObject(rw, "deflection_rate", deflection(w));
    cJSON_AddNumberToObject(
        rw, "escalations_created", (double)w->escalations_created);

    cJSON_AddItemToObject(o, "system_health", health_json(r, s));
    cJSON *rep = cJSON_AddObjectToObject(o, "reporting");
    cJSON_AddNumberToObject(rep, "dropped",
        (double)(t->dropped + bus_events_dropped(r->gw->events)));
    cJSON_AddNumberToObject(rep, "traces_kept", (double)s->traces_kept);
    cJSON_AddNumberToObject(
        rep, "traces_sampled_out", (double)s->traces_sampled_out);
    char when[32];
    clock_iso8601(when, sizeof(when), s->since_ms);
    cJSON_AddStringToObject(rep, "since", when);
    cJSON_AddNumberToObject(rep, "metrics_uptime_seconds", (double)s->uptime_s);
    metrics__summary_reply__free_unpacked(s, NULL);
    http_json(r, 200, o);
}

void
api_monitoring_dashboard(struct req *r)
{
    long window, step;

    if (http_query_long(r, "window", 60, WINDOW_MAX_S, 3600, &window) != 0
        || http_query_long(r, "step", 60, WINDOW_MAX_S, 60, &step) != 0)
        return;
    if (step % 60 != 0 || step > window || window / step > 1440) {
        http_error(r, 400, "invalid_request",
            "step must be a multiple of 60 s, at most the window, and give at "
            "most 1440 points");
        return;
    }
    Metrics__SummaryReply *s = summary(r, window, step);
    if (s == NULL)
        return;
    char key[64];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "window_s", (double)window);
    cJSON_AddNumberToObject(o, "step_s", (double)step);
    cJSON *arr = cJSON_AddArrayToObject(o, "series");
    for (size_t i = 0; i < s->n_series; i++) {
        const Metrics__Rollup *p = s->series[i];
        cJSON *pt = cJSON_CreateObject();
        uint64_t errors = 0;
        json_add_int(pt, "t", (long long)p->start_ms);
        cJSON_AddNumberToObject(pt, "chats", (double)p->chats);
        cJSON_AddNumberToObject(
            pt, "escalations", (double)p->escalations_created);
        cJSON *lat = cJSON_AddObjectToObject(pt, "latency_p95_ms");
        cJSON *calls = cJSON_AddObjectToObject(pt, "calls");
        for (size_t k = 0; k < p->n_services; k++) {
            key_of(key, sizeof(key), p->services[k]->service);
            json_add_fixed(lat, key, p->services[k]->p95_ms, 2);
            cJSON_AddNumberToObject(calls, key, (double)p->services[k]->calls);
            errors += p->services[k]->errors;
        }
        cJSON_AddNumberToObject(pt, "errors", (double)errors);
        cJSON_AddItemToArray(arr, pt);
    }
    const Metrics__Rollup *w = s->window;
    cJSON_AddItemToObject(
        o, "intents", counters_json(w->intents, w->n_intents, false));
    cJSON_AddNumberToObject(o, "chats", (double)w->chats);
    cJSON_AddNumberToObject(o, "deflection_rate", deflection(w));
    metrics__summary_reply__free_unpacked(s, NULL);
    http_json(r, 200, o);
}

static cJSON *
summary_json(const Metrics__TraceSummary *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "trace_id", t->trace_id);
    cJSON_AddStringToObject(o, "name", t->name);
    json_add_int(o, "start_ms", (long long)(t->start_us / 1000));
    json_add_fixed(o, "duration_ms", (double)t->duration_us / 1000, 2);
    json_add_int(o, "code", t->code);
    cJSON_AddStringToObject(o, "status", t->code >= 500 ? "error" : "ok");
    cJSON *svcs = cJSON_AddArrayToObject(o, "services");
    for (size_t i = 0; i < t->n_services; i++)
        cJSON_AddItemToArray(svcs, cJSON_CreateString(t->services[i]));
    json_add_int(o, "span_count", t->span_count);
    return o;
}

void
api_monitoring_traces(struct req *r)
{
    Metrics__TracesRequest in = METRICS__TRACES_REQUEST__INIT;
    char status[16] = "";
    long min_ms, limit;

    if (http_query_long(r, "min_duration_ms", 0, 3600000, 0, &min_ms) != 0
        || http_query_long(r, "limit", 1, 500, 50, &limit) != 0)
        return;
    if (http_query(r, "status", status, sizeof(status)) && status[0] != '\0'
        && strcmp(status, "ok") != 0 && strcmp(status, "error") != 0) {
        http_error(r, 400, "invalid_request", "status must be ok or error");
        return;
    }
    in.status = status;
    in.min_duration_ms = min_ms;
    in.limit = (int32_t)limit;
    Bus__Reply *rep = ask_metrics(r, "traces", &in.base);
    if (rep == NULL)
        return;
    Metrics__TracesReply *tr
        = metrics__traces_reply__unpack(NULL, rep->body.len, rep->body.data);
    bus__reply__free_unpacked(rep, NULL);
    if (tr == NULL) {
        http_error(r, 502, "bad_gateway", "the metrics service answered badly");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "traces");
    for (size_t i = 0; i < tr->n_traces; i++)
        cJSON_AddItemToArray(arr, summary_json(tr->traces[i]));
    metrics__traces_reply__free_unpacked(tr, NULL);
    http_json(r, 200, o);
}

static cJSON *
span_json(const Metrics__Span *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "span_id", s->span_id);
    if (s->parent_span_id[0])
        cJSON_AddStringToObject(o, "parent_span_id", s->parent_span_id);
    else
        cJSON_AddNullToObject(o, "parent_span_id");
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "service", s->service);
    cJSON_AddStringToObject(o, "instance", s->instance);
    json_add_fixed(o, "start_ms", (double)s->start_us / 1000, 3);
    json_add_fixed(o, "duration_ms", (double)s->duration_us / 1000, 2);
    cJSON_AddNumberToObject(o, "code", s->code);
    cJSON_AddStringToObject(o, "status", s->code >= 500 ? "error" : "ok");
    cJSON *a = cJSON_AddObjectToObject(o, "attributes");
    for (size_t k = 0; k < s->n_attributes; k++)
        cJSON_AddStringToObject(
            a, s->attributes[k]->key, s->attributes[k]->value);
    cJSON_AddArrayToObject(o, "children");
    return o;
}

/* The spans as a tree: children under their parent, in start order; a span
 * whose parent is not in the trace is a root. */
static cJSON *
span_tree(const Metrics__TraceReply *t)
{
    size_t n = t->n_spans;
    cJSON **nodes = calloc(n ? n : 1, sizeof(*nodes));
    cJSON *roots = cJSON_CreateArray();

    if (nodes == NULL)
        return roots;
    for (size_t i = 0; i < n; i++)
        nodes[i] = span_json(t->spans[i]);
    for (size_t i = 0; i < n; i++) {
        size_t p = n;
        for (size_t k = 0; k < n && t->spans[i]->parent_span_id[0]; k++)
            if (k != i
                && strcmp(t->spans[k]->span_id, t->spans[i]->parent_span_id)
                    == 0) {
                p = k;
                break;
            }
        if (p < n)
            cJSON_AddItemToArray(
                cJSON_GetObjectItem(nodes[p], "children"), nodes[i]);
        else
            cJSON_AddItemToArray(roots, nodes[i]);
    }
    free(nodes);
    return roots;
}

void
api_monitoring_trace(struct req *r)
{
    Metrics__TraceRequest in = METRICS__TRACE_REQUEST__INIT;
    const char *id = r->params[0];

    if (strlen(id) != TRACE_ID_LEN
        || strspn(id, "0123456789abcdef") != TRACE_ID_LEN) {
        http_error(r, 400, "invalid_request",
            "a trace id is 32 lower-case hex digits");
        return;
    }
    in.trace_id = (char *)id;
    Bus__Meta meta;
    Bus__Reply *rep = NULL;
    int timeout = r->gw->cfg->bus_timeout_ms;
    gateway_meta(r, &meta, timeout);
    int rv = bus_call(
        r->gw->peers[PEER_METRICS], &meta, "trace", &in.base, timeout, &rep);
    if (rv == BUS_OK && rep->status->code == BUS_NOT_FOUND) {
        bus__reply__free_unpacked(rep, NULL);
        http_error(r, 404, "not_found", "no such trace (or it has expired)");
        return;
    }
    if (rv != BUS_OK || rep->status->code != BUS_OK) {
        bus__reply__free_unpacked(rep, NULL);
        http_error_hdr(r, 503, "metrics_unavailable",
            "the metrics service is unavailable, try again shortly",
            "Retry-After: 2\r\n");
        return;
    }
    Metrics__TraceReply *t
        = metrics__trace_reply__unpack(NULL, rep->body.len, rep->body.data);
    bus__reply__free_unpacked(rep, NULL);
    if (t == NULL || t->summary == NULL) {
        metrics__trace_reply__free_unpacked(t, NULL);
        http_error(r, 502, "bad_gateway", "the metrics service answered badly");
        return;
    }
    cJSON *o = summary_json(t->summary);
    cJSON_AddItemToObject(o, "spans", span_tree(t));
    metrics__trace_reply__free_unpacked(t, NULL);
    http_json(r, 200, o);
}

/* Constant time: the scraper's token is a secret. */
static bool
token_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = (unsigned char)(na != nb);
    for (size_t i = 0; i < na && i < nb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

void
api_prometheus(struct req *r)
{
    const char *h = http_header(r, "Authorization");
    const char *tok = r->gw->cfg->metrics_token;
    bool bearer = h != NULL && strncmp(h, "Bearer ", 7) == 0;
    bool scraper = tok[0] != '\0' && bearer && token_equal(h + 7, tok);

    if (!scraper && bearer && auth_check(r->gw->auth, h + 7, &r->who) != 0) {
        http_error_hdr(r, 401, "invalid_token", "the token is not valid",
            "WWW-Authenticate: Bearer\r\n");
        return;
    }
    if (!scraper && r->who.role != ROLE_ADMIN) {
        if (r->who.role == ROLE_NONE)
            http_error_hdr(r, 401, "unauthorized",
                "an admin's token or the scraper token is required",
                "WWW-Authenticate: Bearer\r\n");
        else
            http_error(r, 403, "forbidden", "your role may not do this");
        return;
    }
    Bus__Reply *rep = ask_metrics(r, "prometheus", NULL);
    if (rep == NULL)
        return;
    Metrics__PrometheusReply *p = metrics__prometheus_reply__unpack(
        NULL, rep->body.len, rep->body.data);
    bus__reply__free_unpacked(rep, NULL);
    if (p == NULL || p->text == NULL) {
        metrics__prometheus_reply__free_unpacked(p, NULL);
        http_error(r, 502, "bad_gateway", "the metrics service answered badly");
        return;
    }
    http_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", p->text,
        strlen(p->text), NULL);
    metrics__prometheus_reply__free_unpacked(p, NULL);
}
