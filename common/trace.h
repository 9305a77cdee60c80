/*
 * trace.h - W3C trace context and spans.
 *
 * The gateway takes a `traceparent` header (or starts a trace), every bus
 * request carries the trace id and the caller's span id in its meta block,
 * and each service reports what it did as finished spans to the metrics
 * daemon (bus_span), which assembles them into traces.
 */
#ifndef COMMON_TRACE_H
#define COMMON_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_ID_LEN 32 /* hex digits */
#define SPAN_ID_LEN 16
#define SPAN_ATTRS 6
#define SPAN_KEY 24
#define SPAN_VAL 64
#define SPAN_NAME 64
#define TRACEPARENT_LEN 55 /* "00-" trace "-" span "-01" */

struct span {
    char trace_id[TRACE_ID_LEN + 1];
    char span_id[SPAN_ID_LEN + 1];
    char parent_id[SPAN_ID_LEN + 1]; /* empty: none */
    char name[SPAN_NAME];
    int64_t start_us; /* Unix µs */
    int64_t mono_us;  /* monotonic µs at the start */
    int64_t dur_us;
    int code; /* HTTP-like; >= 500 is an error */
    bool root;
    int nattrs;
    char keys[SPAN_ATTRS][SPAN_KEY];
    char vals[SPAN_ATTRS][SPAN_VAL];
};

/*
 * Read a W3C traceparent header: version-traceid-parentid-flags, lower-case
 * hex, ids not all zero, version not ff (a later version may append fields).
 * Returns true with the trace and parent ids copied out; false for anything
 * else (the caller then starts a new trace).
 */
bool trace_parse(const char *h, char trace_id[TRACE_ID_LEN + 1],
    char parent_id[SPAN_ID_LEN + 1]);

/* Write "00-<trace>-<span>-01" into out (at least TRACEPARENT_LEN + 1). */
void trace_format(
    char *out, size_t n, const char *trace_id, const char *span_id);

/* A new random id of nbytes bytes as hex (trace: 16, span: 8). */
void trace_new_id(char *out, size_t nbytes);

/*
 * Start a span now: trace_id NULL or invalid starts a new trace; parent may
 * be NULL or empty. The name is truncated to fit.
 */
void span_begin(
    struct span *s, const char *trace_id, const char *parent, const char *name);

/* Add an attribute (at most SPAN_ATTRS; values truncated). */
void span_attr(struct span *s, const char *key, const char *val);

/* Stop the clock with a status code. */
void span_end(struct span *s, int code);

#endif
