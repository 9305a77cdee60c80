/*
 * intake.h - the metrics daemon's event intake: a PULL socket every service
 * pushes EventBatch messages to, applied to the stats as they arrive, and a
 * flusher writing what changed to the store once a second.
 */
#ifndef METRICS_INTAKE_H
#define METRICS_INTAKE_H

#include "stats.h"

struct intake;

/* Listen for events on url into st. Returns 0 with *ip set, or an nng
 * error. */
int intake_start(struct intake **ip, const char *url, struct stats *st);

/* Stop listening, write what is left, free; NULL is a no-op. */
void intake_stop(struct intake *in);

#endif
