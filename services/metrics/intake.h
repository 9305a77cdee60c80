/*
 * intake.h - the metrics daemon's event intake: a PULL socket every
 * service pushes EventBatch messages to, and counters over what arrived.
 */
#ifndef METRICS_INTAKE_H
#define METRICS_INTAKE_H

#include <stdint.h>

#include "bus.h"

struct intake;

/* Listen for events on url. Returns 0 with *ip set, or an nng error. */
int intake_start(struct intake **ip, const char *url);

/* Stop listening and free; NULL is a no-op. */
void intake_stop(struct intake *in);

/* Events received so far, and events senders reported dropping. */
uint64_t intake_received(const struct intake *in);
uint64_t intake_dropped(const struct intake *in);

/* The bus handler of the metrics daemon ("counts"). */
void intake_handle(struct bus_call *call, void *arg);

#endif
