/*
 * bus_harness.h - what the bus tests share: a daemon instance serving a
 * handler, waiting for a client's instance count, calls from threads.
 * Included by one test file each (static functions).
 */
#ifndef BUS_HARNESS_H
#define BUS_HARNESS_H

#include <stdio.h>
#include <unistd.h>

#include "bus.h"

static struct bus_server *
serve(const char *url, const char *name, int workers, bus_handler_fn h)
{
    struct bus_server *s;
    struct bus_server_opts o = {
        .url = url,
        .service = "test",
        .instance = name,
        .workers = workers,
        .contexts = 8,
        .handler = h,
        .arg = (void *)name,
    };
    assert_int_equal(bus_server_start(&s, &o), 0);
    return s;
}

static void
wait_peers(struct bus_client *c, int n)
{
    for (int i = 0; i < 200 && bus_client_peers(c) != n; i++)
        usleep(10 * 1000);
    assert_int_equal(bus_client_peers(c), n);
}

/* One call from a thread of its own: the code and who answered. */
struct caller {
    struct bus_client *c;
    int code;
    char instance[32];
};

static void *
call_method(struct caller *k, const char *method)
{
    Bus__Meta meta = BUS__META__INIT;
    Bus__Reply *rep;

    k->code = bus_call(k->c, &meta, method, NULL, 5000, &rep);
    if (k->code == BUS_OK) {
        snprintf(k->instance, sizeof(k->instance), "%s", rep->instance);
        bus__reply__free_unpacked(rep, NULL);
    }
    return NULL;
}

static void *
call_slow(void *arg)
{
    return call_method(arg, "slow");
}

#endif
