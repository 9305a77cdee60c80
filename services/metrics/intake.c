#include "intake.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "metrics.pb-c.h"

#define FLUSH_MS 1000
#define SWEEP_EVERY 60 /* flushes */

struct intake {
    nng_socket sock;
    struct stats *st;
    pthread_t thread, flusher;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
};

static void *
intake_main(void *arg)
{
    struct intake *in = arg;

    for (;;) {
        nng_msg *msg;
        int rv = nng_recvmsg(in->sock, &msg, 0);
        if (rv == NNG_ECLOSED)
            return NULL;
        if (rv != 0)
            continue;
        Metrics__EventBatch *b = metrics__event_batch__unpack(
            NULL, nng_msg_len(msg), nng_msg_body(msg));
        nng_msg_free(msg);
        if (b == NULL) {
            log_warn("intake: malformed event batch dropped");
            continue;
        }
        stats_apply(in->st, b, clock_now_ms());
        metrics__event_batch__free_unpacked(b, NULL);
    }
}

static void *
flusher_main(void *arg)
{
    struct intake *in = arg;
    int n = 0;
    bool failing = false;

    pthread_mutex_lock(&in->mu);
    while (!in->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += FLUSH_MS / 1000;
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
    if ((rv = nng_pull0_open(&in->sock)) != 0
        || (rv = nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, BUS_MAX_MSG))
            != 0
        || (rv = nng_listen(in->sock, url, NULL, 0)) != 0) {
        log_error("intake: cannot listen on %s: %s", url, nng_strerror(rv));
        nng_close(in->sock);
        free(in);
        return rv;
    }
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    pthread_create(&in->thread, NULL, intake_main, in);
    pthread_create(&in->flusher, NULL, flusher_main, in);
    *ip = in;
    return 0;
}

void
intake_stop(struct intake *in)
{
    if (in == NULL)
        return;
    nng_close(in->sock);
    pthread_join(in->thread, NULL);
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
