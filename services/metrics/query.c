#include "query.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "stats.h"

static void
summary(struct bus_call *call, struct stats *st)
{
    size_t len;
    const uint8_t *body = bus_call_body(call, &len);
    Metrics__SummaryRequest *in
        = metrics__summary_request__unpack(NULL, len, body);
    struct summary *s = malloc(sizeof(*s));

    if (in == NULL || s == NULL) {
        bus_call_reply(call, in == NULL ? BUS_BAD_REQUEST : BUS_UNAVAILABLE,
            in == NULL ? "malformed summary request" : "out of memory", NULL);
    } else if (stats_summary(st, clock_now_ms(), in->window_s, in->step_s, s)
        != 0) {
        bus_call_reply(call, BUS_UNAVAILABLE, "out of memory", NULL);
    } else {
        bus_call_reply(call, BUS_OK, "ok", &s->reply.base);
        stats_summary_free(s);
    }
    free(s);
    metrics__summary_request__free_unpacked(in, NULL);
}

static void
traces(struct bus_call *call, struct stats *st)
{
    size_t len;
    const uint8_t *body = bus_call_body(call, &len);
    Metrics__TracesRequest *in
        = metrics__traces_request__unpack(NULL, len, body);
    struct traces_view *v = malloc(sizeof(*v));

    if (in == NULL || v == NULL) {
        bus_call_reply(call, in == NULL ? BUS_BAD_REQUEST : BUS_UNAVAILABLE,
            in == NULL ? "malformed traces request" : "out of memory", NULL);
    } else {
        stats_traces(st, in, v);
        bus_call_reply(call, BUS_OK, "ok", &v->reply.base);
    }
    free(v);
    metrics__traces_request__free_unpacked(in, NULL);
}

static void
trace(struct bus_call *call, struct stats *st)
{
    size_t len;
    const uint8_t *body = bus_call_body(call, &len);
    Metrics__TraceRequest *in = metrics__trace_request__unpack(NULL, len, body);
    struct trace_view *v = malloc(sizeof(*v));

    if (in == NULL || v == NULL || in->trace_id == NULL) {
        bus_call_reply(call, v == NULL ? BUS_UNAVAILABLE : BUS_BAD_REQUEST,
            "malformed trace request", NULL);
    } else {
        int rv = stats_trace(st, in->trace_id, v);
        if (rv == 0) {
            bus_call_reply(call, BUS_OK, "ok", &v->reply.base);
            stats_trace_free(v);
        } else if (rv == STORE_NOTFOUND) {
            bus_call_reply(call, BUS_NOT_FOUND, "no such trace", NULL);
        } else {
            bus_call_reply(call, BUS_UNAVAILABLE, "store unavailable", NULL);
        }
    }
    free(v);
    metrics__trace_request__free_unpacked(in, NULL);
}

static void
prometheus(struct bus_call *call, struct stats *st)
{
    Metrics__PrometheusReply out = METRICS__PROMETHEUS_REPLY__INIT;
    char *text = stats_prometheus(st, clock_now_ms());

    if (text == NULL) {
        bus_call_reply(call, BUS_UNAVAILABLE, "out of memory", NULL);
        return;
    }
    out.text = text;
    bus_call_reply(call, BUS_OK, "ok", &out.base);
    free(text);
}

bool
query_inline(const char *method)
{
    /* From memory, under the stats lock, which no store call holds. */
    return strcmp(method, "summary") == 0 || strcmp(method, "traces") == 0
        || strcmp(method, "prometheus") == 0;
}

void
query_handle(struct bus_call *call, void *arg)
{
    struct stats *st = arg;
    const char *m = bus_call_method(call);

    if (strcmp(m, "summary") == 0)
        summary(call, st);
    else if (strcmp(m, "traces") == 0)
        traces(call, st);
    else if (strcmp(m, "trace") == 0)
        trace(call, st);
    else if (strcmp(m, "prometheus") == 0)
        prometheus(call, st);
    else
        bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}
