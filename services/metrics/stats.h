/*
 * stats.h - the metrics daemon's state: per-minute rollups for the kept
 * history, an all-time rollup, the instances heard from, and the traces.
 *
 * One mutex guards it all; the intake thread applies batches, the flusher
 * writes what changed to the store once a second (metric_rollups: one
 * document per minute and one "total"; traces: the kept ones, expiring),
 * and bus workers answer queries from memory. A restarted daemon reads the
 * history back first, so it shows the same figures.
 */
#ifndef METRICS_STATS_H
#define METRICS_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.pb-c.h"
#include "rollup.h"
#include "store.h"
#include "tracebuf.h"

#define STATS_INSTANCES 64
#define INSTANCE_ALIVE_MS 30000

struct instance {
    char service[32];
    char instance[64];
    int64_t uptime_s;
    int64_t last_seen_ms;
};

struct stats {
    pthread_mutex_t mu;
    struct store *store;    /* may be NULL (tests) */
    int nmin;               /* minutes kept */
    struct rollup *minutes; /* ring by minute number % nmin */
    bool *dirty;
    struct rollup total;
    bool total_dirty;
    int ninst;
    struct instance inst[STATS_INSTANCES];
    struct tracebuf *traces;
    int64_t started_ms; /* Unix ms */
    int64_t since_ms;   /* the kept history's start */
    uint64_t events, spans;
};

struct stats_opts {
    int retention_h;
    int trace_ttl_s, trace_slow_ms, trace_notable_per_s, trace_sample_per_s;
};

int stats_init(
    struct stats *st, struct store *store, const struct stats_opts *o);
void stats_release(struct stats *st);

/* Read the kept history back from the store (at start). */
int stats_load(struct stats *st, int64_t now_ms);

/* Count one batch received at now_ms. */
void stats_apply(
    struct stats *st, const Metrics__EventBatch *b, int64_t now_ms);

/*
 * Close due traces and write what changed to the store; also delete
 * rollups past the retention (every call with sweep). Returns 0, or -1 when
 * the store failed (what was not written stays marked).
 */
int stats_flush(struct stats *st, int64_t now_ms, bool sweep);

#define SERIES_MAX 1440

/* The summary view and the memory behind it. */
struct summary {
    Metrics__SummaryReply reply;
    struct rollup total, window;
    struct rollup *series;
    int nseries;
    Metrics__Rollup pb_total, pb_window, *pb_series, **pb_series_ptrs;
    double bounds[HIST_BOUNDS];
    struct instance inst[STATS_INSTANCES];
    Metrics__Instance pb_inst[STATS_INSTANCES], *pb_inst_ptrs[STATS_INSTANCES];
};

/*
 * Fill s: all time, the last window_s, a series by step_s (0: none; a
 * multiple of 60, at most SERIES_MAX points), instances alive. Free with
 * stats_summary_free.
 */
int stats_summary(struct stats *st, int64_t now_ms, int64_t window_s,
    int64_t step_s, struct summary *s);
void stats_summary_free(struct summary *s);

/* A trace's summary as protobuf, with the memory behind it. */
struct trace_sum {
    Metrics__TraceSummary pb; /* first: the reply points here */
    char id[TRACE_ID_LEN + 1];
    char name[SPAN_NAME];
    char svc[TRACE_SERVICES][32];
    char *svcp[TRACE_SERVICES];
};

#define TRACES_MAX 500

struct traces_view {
    Metrics__TracesReply reply;
    struct trace_sum sums[TRACES_MAX];
    Metrics__TraceSummary *ptrs[TRACES_MAX];
};

/* Recent traces (newest first) matching the request (limit 1..500). */
void stats_traces(
    struct stats *st, const Metrics__TracesRequest *in, struct traces_view *v);

struct trace_view {
    Metrics__TraceReply reply;
    struct trace t;
    struct trace_sum sum;
    Metrics__Span *spans, **sptrs;
    Metrics__Span__AttributesEntry *attrs, **aptrs;
};

/* One trace: from memory, else the store. 0, STORE_NOTFOUND or STORE_DOWN;
 * free with stats_trace_free. */
int stats_trace(struct stats *st, const char *id, struct trace_view *v);
void stats_trace_free(struct trace_view *v);

/* Prometheus text exposition of the all-time figures; malloc'd. */
char *stats_prometheus(struct stats *st, int64_t now_ms);

#endif
