/*
 * hist.h - latency histograms with fixed bounds.
 *
 * Ten bounds per decade (1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8 x 10^k ms)
 * from 0.1 ms to 80 s, and one bucket above: every histogram has the same
 * buckets, so merging is adding counts and a percentile is off by at most
 * one bucket's width (~25%). Prometheus gets the 1-2.5-5 subset.
 */
#ifndef METRICS_HIST_H
#define METRICS_HIST_H

#include <stdbool.h>
#include <stdint.h>

#define HIST_BOUNDS 60
#define HIST_BUCKETS (HIST_BOUNDS + 1) /* the last: above every bound */

/* Upper bound of bucket i in ms (i < HIST_BOUNDS). */
double hist_bound(int i);

/* The bucket a duration in ms falls into. */
int hist_index(double ms);

/* True for the bounds Prometheus is given (mantissa 1, 2.5 or 5). */
bool hist_coarse(int i);

/*
 * The q-quantile (0 < q <= 1) of counts h[HIST_BUCKETS], interpolated
 * linearly inside its bucket; 0 when empty.
 */
double hist_quantile(const uint64_t *h, double q);

#endif
