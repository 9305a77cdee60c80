/*
 * prom.h - the Prometheus text exposition format (version 0.0.4) of the
 * all-time figures: counters per service, latency as Prometheus histograms
 * (seconds, the 1-2.5-5 bounds), chats by intent, escalations, guard blocks,
 * instances alive.
 */
#ifndef METRICS_PROM_H
#define METRICS_PROM_H

#include <stdint.h>

#include "rollup.h"
#include "stats.h"

/* The text, malloc'd (NULL when out of memory). */
char *prom_render(const struct rollup *total, const struct instance *inst,
    int ninst, int64_t uptime_s);

#endif
