/*
 * rollup.h - what happened in a span of time: per-service calls, errors,
 * escalations and latency histograms; chats by intent; escalations; guard
 * blocks. One per minute, one for all time; merged for windows and series.
 *
 * Everything is bounded: at most ROLLUP_SERVICES services and ROLLUP_KEYS
 * keys per table (what does not fit lands in "other"), names capped.
 */
#ifndef METRICS_ROLLUP_H
#define METRICS_ROLLUP_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

#include "hist.h"
#include "metrics.pb-c.h"

#define ROLLUP_SERVICES 10
#define ROLLUP_KEYS 16
#define ROLLUP_NAME 32

struct ru_svc {
    char name[ROLLUP_NAME];
    uint64_t calls, errors, escalations;
    double sum_ms;
    uint64_t h[HIST_BUCKETS];
};

struct ru_kv {
    char key[ROLLUP_NAME];
    uint64_t n;
    double sum;
};

struct ru_table {
    int n;
    struct ru_kv kv[ROLLUP_KEYS];
};

struct rollup {
    int64_t start_ms;
    int nsvc;
    struct ru_svc svc[ROLLUP_SERVICES];
    struct ru_table intents; /* n chats, sum of confidences */
    struct ru_table guard;   /* blocks by reason */
    struct ru_table actions; /* escalation actions */
    uint64_t chats, chats_escalated;
    uint64_t esc_created, esc_resolved, sla_breaches;
    uint64_t first_resp_n;
    double first_resp_s;
    uint64_t dropped;
};

/* Count one event (Metrics__Event) or one finished span. */
void rollup_event(struct rollup *r, const Metrics__Event *ev);
void rollup_span(struct rollup *r, const Metrics__Span *sp);

/* Which service a span counts for: its own, or "store" / "llm" for the
 * gateway's store calls and the agents' model calls. */
const char *rollup_span_service(const Metrics__Span *sp);

/* Add src into dst (start_ms kept). */
void rollup_merge(struct rollup *dst, const struct rollup *src);

/* The row of service name, or NULL. */
const struct ru_svc *rollup_service(const struct rollup *r, const char *name);

/*
 * Fill a protobuf view of r; the arrays it allocates are freed by
 * rollup_pb_free (the strings point into r, which must outlive it).
 */
int rollup_to_pb(const struct rollup *r, Metrics__Rollup *out);
void rollup_pb_free(Metrics__Rollup *out);

/* Write r as a BSON document body (without _id) / read it back. */
void rollup_to_bson(const struct rollup *r, bson_t *doc);
int rollup_from_bson(struct rollup *r, const bson_t *doc);

#endif
