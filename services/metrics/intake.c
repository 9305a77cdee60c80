#include "intake.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#include "log.h"
#include "metrics.pb-c.h"

struct intake {
    nng_socket sock;
    pthread_t thread;
    atomic_uint_least64_t received;
    atomic_uint_least64_t dropped;
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
        atomic_fetch_add(&in->received, b->n_events);
        atomic_fetch_add(&in->dropped, b->dropped);
        metrics__event_batch__free_unpacked(b, NULL);
    }
}

int
intake_start(struct intake **ip, const char *url)
{
    struct intake *in = calloc(1, sizeof(*in));
    int rv;

    if (in == NULL)
        return NNG_ENOMEM;
    if ((rv = nng_pull0_open(&in->sock)) != 0
        || (rv = nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, BUS_MAX_MSG))
            != 0
        || (rv = nng_listen(in->sock, url, NULL, 0)) != 0) {
        log_error("intake: cannot listen on %s: %s", url, nng_strerror(rv));
        nng_close(in->sock);
        free(in);
        return rv;
    }
    pthread_create(&in->thread, NULL, intake_main, in);
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
    free(in);
}

uint64_t
intake_received(const struct intake *in)
{
    return atomic_load(&((struct intake *)in)->received);
}

uint64_t
intake_dropped(const struct intake *in)
{
    return atomic_load(&((struct intake *)in)->dropped);
}

void
intake_handle(struct bus_call *call, void *arg)
{
    (void)arg;
    bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}
