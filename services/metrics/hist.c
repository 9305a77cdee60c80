#include "hist.h"

static const double mant[10] = {1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8};

double
hist_bound(int i)
{
    double p = 0.1;
    for (int k = 0; k < i / 10; k++)
        p *= 10;
    return mant[i % 10] * p;
}

int
hist_index(double ms)
{
    if (!(ms > 0))
        return 0;
    /* Binary search over the bounds: bucket i holds (bound(i-1), bound(i)]. */
    int lo = 0, hi = HIST_BOUNDS;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (ms <= hist_bound(mid))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

bool
hist_coarse(int i)
{
    int m = i % 10;
    return m == 0 || m == 4 || m == 7;
}

double
hist_quantile(const uint64_t *h, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        total += h[i];
    if (total == 0)
        return 0;
    double rank = q * (double)total;
    uint64_t cum = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (h[i] == 0)
            continue;
        if ((double)(cum + h[i]) >= rank) {
            if (i == HIST_BOUNDS)
                return hist_bound(HIST_BOUNDS - 1);
            double lo = i == 0 ? 0 : hist_bound(i - 1), hi = hist_bound(i);
            double f = (rank - (double)cum) / (double)h[i];
            if (f < 0)
                f = 0;
            return lo + (hi - lo) * f;
        }
        cum += h[i];
    }
    return hist_bound(HIST_BOUNDS - 1);
}
