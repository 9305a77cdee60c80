#include "intake.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "metrics.pb-c.h"

#define FLUSH_MS 1000
#define SWEEP_EVERY 60 /* flushes */

struct intake {
    struct bus_listener *listener;
    struct stats *st;
    pthread_t flusher;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
};

static void
on_batch(const uint8_t *data, size_t len, void *arg)
{
    struct intake *in = arg;
    Metrics__EventBatch *b = metrics__event_batch__unpack(NULL, len, data);

    if (b == NULL) {
        log_warn("intake: malformed event batch dropped");
        return;
    }
    stats_apply(in->st, b, clock_now_ms());
    metrics__event_batch__free_unpacked(b, NULL);
}

static void *
flusher_main(void *arg)
{
    struct intake *in = arg;
    int n = 0;
    bool failing = false;

    pthread_mutex_lock(&in->mu);
    while (!in->stopping) {
        struct timespec until = clock_realtime_in(FLUSH_MS);
        while (!in->stopping
            && pthread_cond_timedwait(&in->cv, &in->mu, &until) == 0)
            ;
        pthread_mutex_unlock(&in->mu);
        int rv = stats_flush(in->st, clock_now_ms(), ++n % SWEEP_EVERY == 1);
        if (rv != 0 && !failing)
            log_warn("metrics: cannot write to the store; kept in memory");
        else if (rv == 0 && failing)
            log_info("metrics: the store is back; history written");
        failing = rv != 0;
        pthread_mutex_lock(&in->mu);
    }
    pthread_mutex_unlock(&in->mu);
    return NULL;
}

int
intake_start(struct intake **ip, const char *url, struct stats *st)
{
    struct intake *in = calloc(1, sizeof(*in));
    int rv;

    if (in == NULL)
        return NNG_ENOMEM;
    in->st = st;
    if ((rv = bus_intake_open(&in->listener, url, on_batch, in)) != 0) {
        log_error("intake: cannot listen on %s: %s", url, nng_strerror(rv));
        free(in);
        return rv;
    }
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    pthread_create(&in->flusher, NULL, flusher_main, in);
    *ip = in;
    return 0;
}

void
intake_stop(struct intake *in)
{
    if (in == NULL)
        return;
    bus_listener_close(in->listener);
    pthread_mutex_lock(&in->mu);
    in->stopping = true;
    pthread_cond_signal(&in->cv);
    pthread_mutex_unlock(&in->mu);
    pthread_join(in->flusher, NULL);
    stats_flush(in->st, clock_now_ms(), false);
    pthread_cond_destroy(&in->cv);
    pthread_mutex_destroy(&in->mu);
    free(in);
}
