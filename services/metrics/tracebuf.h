/*
 * tracebuf.h - spans in, traces out.
 *
 * Spans of one trace come from several processes, each batching for up to
 * 100 ms, so a trace is assembled here and closed one second after its root
 * span arrived (ten seconds when no root ever comes). Closed traces go to a
 * ring of the most recent ones (what the monitoring API lists) and, when
 * kept by the tail sampler, to the store: errors and traces slower than
 * slow_ms up to notable_per_s a second (a slow model makes every chat slow:
 * keeping them all would store the whole traffic), and up to sample_per_s
 * others each second. What is not kept is counted.
 */
#ifndef METRICS_TRACEBUF_H
#define METRICS_TRACEBUF_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

#include "metrics.pb-c.h"
#include "trace.h"

#define TRACE_MAX_SPANS 128
#define TRACE_RING 1000
#define TRACE_MAX_PENDING 20000
#define TRACE_SERVICES 8

struct tspan {
    struct span s;
    char service[32];
    char instance[64];
};

struct trace {
    char trace_id[TRACE_ID_LEN + 1];
    char name[SPAN_NAME];
    int64_t start_us, dur_us;
    int code;
    bool error;
    int nservices;
    char services[TRACE_SERVICES][32];
    int nspans;
    struct tspan *spans; /* start order */
};

struct tracebuf;

struct tracebuf_opts {
    int slow_ms;
    int notable_per_s; /* errors and slow traces kept a second, at most */
    int sample_per_s;  /* others kept a second */
    int ttl_s;         /* for the stored documents' expire_at */
};

struct tracebuf *tracebuf_new(const struct tracebuf_opts *o);
void tracebuf_free(struct tracebuf *tb);

/* Take one span (copied); false when dropped (malformed or full). */
bool tracebuf_add(struct tracebuf *tb, const Metrics__Span *sp, int64_t now_ms);

/*
 * Close what is due at now_ms. Traces to store are appended as BSON
 * documents to docs (up to max; the caller destroys them); returns how many.
 */
int tracebuf_close_due(
    struct tracebuf *tb, int64_t now_ms, bson_t **docs, int max);

/* Put a trace read back from the store into the ring (at start). */
void tracebuf_restore(struct tracebuf *tb, const bson_t *doc);

/*
 * The ring's traces, newest first, matching status ("", "ok", "error") and
 * min_dur_ms: up to max pointers into the ring (valid until the next call
 * that changes the buffer; callers hold their own lock).
 */
int tracebuf_recent(const struct tracebuf *tb, const char *status,
    int64_t min_dur_ms, const struct trace **out, int max);

/* One trace of the ring by id, or NULL. */
const struct trace *tracebuf_find(const struct tracebuf *tb, const char *id);

/* A stored trace document into t (spans malloc'd; trace_release frees). */
int trace_from_bson(struct trace *t, const bson_t *doc);
void trace_release(struct trace *t);

/* Counters: traces closed and kept in the store, closed and not stored,
 * spans dropped. */
void tracebuf_counts(const struct tracebuf *tb, uint64_t *kept,
    uint64_t *sampled_out, uint64_t *dropped);

#endif
