/*
 * query.h - the metrics daemon's bus methods: "summary", "traces", "trace"
 * and "prometheus", answered from struct stats.
 */
#ifndef METRICS_QUERY_H
#define METRICS_QUERY_H

#include "bus.h"

/* The bus handler; arg is the struct stats. */
void query_handle(struct bus_call *call, void *arg);

/* The methods answered from memory without blocking (bus_inline_fn). */
bool query_inline(const char *method);

#endif
