#include "prom.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void
put(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* A label value with \, " and newlines escaped (values are capped). */
static const char *
esc(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s != '\0' && k + 3 < n; s++) {
        if (*s == '\\' || *s == '"') {
            out[k++] = '\\';
            out[k++] = *s;
        } else if (*s == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
    return out;
}

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
per_service(struct buf *b, const struct rollup *t, const char *name,
    const char *help, size_t off)
{
    char e[96];
    head(b, name, "counter", help);
    for (int i = 0; i < t->nsvc; i++) {
        uint64_t v = *(const uint64_t *)((const char *)&t->svc[i] + off);
        put(b, "%s{service=\"%s\"} %llu\n", name,
            esc(e, sizeof(e), t->svc[i].name), (unsigned long long)v);
    }
}

static void
table(struct buf *b, const struct ru_table *t, const char *name,
    const char *label, const char *help)
{
    char e[96];
    head(b, name, "counter", help);
    for (int i = 0; i < t->n; i++)
        put(b, "%s{%s=\"%s\"} %llu\n", name, label,
            esc(e, sizeof(e), t->kv[i].key), (unsigned long long)t->kv[i].n);
}

static void
counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
    head(b, name, "counter", help);
    put(b, "%s %llu\n", name, (unsigned long long)v);
}

char *
prom_render(const struct rollup *t, const struct instance *inst, int ninst,
    int64_t uptime_s)
{
    struct buf b = {malloc(8192), 0, 8192, 0};
    char e[96], e2[160];

    if (b.p == NULL)
        return NULL;
    per_service(&b, t, "support_calls_total",
        "Requests handled, by service (spans).",
        offsetof(struct ru_svc, calls));
    per_service(&b, t, "support_call_errors_total",
        "Requests that failed (status 500 and above), by service.",
        offsetof(struct ru_svc, errors));
    per_service(&b, t, "support_call_escalations_total",
        "Requests whose answer was handed to a person, by service.",
        offsetof(struct ru_svc, escalations));
    head(&b, "support_call_duration_seconds", "histogram",
        "Request latency, by service.");
    for (int i = 0; i < t->nsvc; i++) {
        const struct ru_svc *s = &t->svc[i];
        uint64_t cum = 0;
        esc(e, sizeof(e), s->name);
        for (int k = 0; k < HIST_BOUNDS; k++) {
            cum += s->h[k];
            if (hist_coarse(k))
                put(&b,
                    "support_call_duration_seconds_bucket{service=\"%s\","
                    "le=\"%g\"} %llu\n",
                    e, hist_bound(k) / 1000, (unsigned long long)cum);
        }
        cum += s->h[HIST_BOUNDS];
        put(&b,
            "support_call_duration_seconds_bucket{service=\"%s\",le=\"+Inf\"} "
            "%llu\n",
            e, (unsigned long long)cum);
        put(&b, "support_call_duration_seconds_sum{service=\"%s\"} %.6f\n", e,
            s->sum_ms / 1000);
        put(&b, "support_call_duration_seconds_count{service=\"%s\"} %llu\n", e,
            (unsigned long long)cum);
    }
    counter(&b, "support_chats_total", "Chat messages answered.", t->chats);
    counter(&b, "support_chats_escalated_total",
        "Chat messages handed to a person.", t->chats_escalated);
    table(&b, &t->intents, "support_chat_intents_total", "intent",
        "Chat messages by intent.");
    table(&b, &t->guard, "support_guard_blocks_total", "reason",
        "Messages blocked by the guardrails, by reason.");
    counter(&b, "support_escalations_created_total",
        "Escalations queued for a person.", t->esc_created);
    counter(&b, "support_escalations_resolved_total", "Escalations resolved.",
        t->esc_resolved);
    counter(&b, "support_escalation_sla_breaches_total",
        "Escalations answered after the SLA.", t->sla_breaches);
    table(&b, &t->actions, "support_escalation_actions_total", "action",
        "Reviewer actions and resolutions.");
    head(&b, "support_escalation_first_response_seconds", "summary",
        "Time from escalation to the person's answer.");
    put(&b, "support_escalation_first_response_seconds_sum %.3f\n",
        t->first_resp_s);
    put(&b, "support_escalation_first_response_seconds_count %llu\n",
        (unsigned long long)t->first_resp_n);
    counter(&b, "support_events_dropped_total",
        "Events and spans senders dropped instead of waiting.", t->dropped);
    head(&b, "support_instance_uptime_seconds", "gauge",
        "Uptime of each instance heard from in the last 30 s.");
    for (int i = 0; i < ninst; i++)
        put(&b,
            "support_instance_uptime_seconds{service=\"%s\",instance=\"%s\"} "
            "%lld\n",
            esc(e, sizeof(e), inst[i].service),
            esc(e2, sizeof(e2), inst[i].instance), (long long)inst[i].uptime_s);
    head(&b, "support_metrics_uptime_seconds", "gauge",
        "Uptime of the metrics daemon answering.");
    put(&b, "support_metrics_uptime_seconds %lld\n", (long long)uptime_s);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
