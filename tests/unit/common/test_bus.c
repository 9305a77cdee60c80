/*
 * The bus over a real ipc socket: a client and one or two servers in this
 * process, requests, deferred replies, health, failover, events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>

#include "bus.h"
#include "bus_harness.h"
#include "clock.h"
#include "metrics.pb-c.h"

static char url[128];

/* Echo the body back; "slow" sleeps first; "defer" answers from a thread. */
static void *
deferred(void *arg)
{
    usleep(50 * 1000);
    bus_call_reply(arg, BUS_OK, "deferred", NULL);
    return NULL;
}

/* "gather": held until GATHER calls have arrived, then all answered. */
#define GATHER 6
static pthread_mutex_t gather_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bus_call *gathered[GATHER];
static int ngathered;

static void *
answer_gathered(void *arg)
{
    (void)arg;
    for (int i = 0; i < GATHER; i++)
        bus_call_reply(gathered[i], BUS_OK, "gathered", NULL);
    return NULL;
}

static void
gather(struct bus_call *call)
{
    pthread_mutex_lock(&gather_mu);
    gathered[ngathered++] = call;
    if (ngathered == GATHER) {
        pthread_t t;
        ngathered = 0;
        pthread_create(&t, NULL, answer_gathered, NULL);
        pthread_detach(t);
    }
    pthread_mutex_unlock(&gather_mu);
}

/* "hold" waits (on a worker) until a "release" arrives. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static bool holding, released;

static void
hold(struct bus_call *call)
{
    pthread_mutex_lock(&hold_mu);
    holding = true;
    pthread_cond_broadcast(&hold_cv);
    while (!released)
        pthread_cond_wait(&hold_cv, &hold_mu);
    pthread_mutex_unlock(&hold_mu);
    bus_call_reply(call, BUS_OK, "held", NULL);
}

static void
release(struct bus_call *call)
{
    pthread_mutex_lock(&hold_mu);
    released = true;
    pthread_cond_broadcast(&hold_cv);
    pthread_mutex_unlock(&hold_mu);
    bus_call_reply(call, BUS_OK, "released", NULL);
}

static bool
release_inline(const char *method)
{
    return strcmp(method, "release") == 0;
}

static void
handler(struct bus_call *call, void *arg)
{
    const char *m = bus_call_method(call);
    size_t len;
    const uint8_t *body = bus_call_body(call, &len);
    Bus__Status echo = BUS__STATUS__INIT;
    char text[64];

    if (strcmp(m, "echo") == 0) {
        Bus__Status *in = bus__status__unpack(NULL, len, body);
        snprintf(text, sizeof(text), "%s/%s", in ? in->message : "?",
            (const char *)arg);
        echo.code = in ? in->code : 0;
        echo.message = text;
        bus__status__free_unpacked(in, NULL);
        bus_call_reply(call, BUS_OK, "ok", &echo.base);
    } else if (strcmp(m, "slow") == 0) {
        usleep(300 * 1000);
        bus_call_reply(call, BUS_OK, arg, NULL);
    } else if (strcmp(m, "hold") == 0) {
        hold(call);
    } else if (strcmp(m, "release") == 0) {
        release(call);
    } else if (strcmp(m, "gather") == 0) {
        gather(call);
    } else if (strcmp(m, "defer") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, deferred, call);
        pthread_detach(t);
    } else {
        bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
    }
}

static struct bus_server *
start_server(const char *name, int workers)
{
    return serve(url, name, workers, handler);
}

static void
test_call_echo_and_health(void **state)
{
    struct bus_client *c;
    Bus__Meta meta = BUS__META__INIT;
    Bus__Reply *rep;
    Bus__Status in = BUS__STATUS__INIT;

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    /* Nobody connected: unavailable at once, not after the deadline. */
    int64_t t0 = clock_mono_ms();
    assert_int_equal(
        bus_call(c, &meta, "echo", NULL, 2000, &rep), BUS_UNAVAILABLE);
    assert_true(clock_mono_ms() - t0 < 500);

    struct bus_server *s = start_server("one", 2);
    wait_peers(c, 1);
    in.code = 7;
    in.message = (char *)"hi";
    meta.request_id = (char *)"r1";
    assert_int_equal(bus_call(c, &meta, "echo", &in.base, 2000, &rep), BUS_OK);
    assert_int_equal(rep->status->code, BUS_OK);
    assert_string_equal(rep->instance, "one");
    Bus__Status *out = bus__status__unpack(NULL, rep->body.len, rep->body.data);
    assert_non_null(out);
    assert_int_equal(out->code, 7);
    assert_string_equal(out->message, "hi/one");
    bus__status__free_unpacked(out, NULL);
    bus__reply__free_unpacked(rep, NULL);

    assert_int_equal(bus_call(c, &meta, "health", NULL, 2000, &rep), BUS_OK);
    Bus__Health *h = bus__health__unpack(NULL, rep->body.len, rep->body.data);
    assert_non_null(h);
    assert_string_equal(h->service, "test");
    assert_string_equal(h->instance, "one");
    bus__health__free_unpacked(h, NULL);
    bus__reply__free_unpacked(rep, NULL);

    assert_int_equal(bus_call(c, &meta, "nope", NULL, 2000, &rep), BUS_OK);
    assert_int_equal(rep->status->code, BUS_NOT_FOUND);
    bus__reply__free_unpacked(rep, NULL);

    assert_int_equal(bus_call(c, &meta, "defer", NULL, 2000, &rep), BUS_OK);
    assert_string_equal(rep->status->message, "deferred");
    bus__reply__free_unpacked(rep, NULL);

    /* A deadline shorter than the handler: 504, no hang. */
    assert_int_equal(bus_call(c, &meta, "slow", NULL, 50, &rep), BUS_DEADLINE);
    /* A deadline already passed when the daemon picks it up: not handled. */
    meta.deadline_ms = clock_now_ms() - 1;
    assert_int_equal(bus_call(c, &meta, "slow", NULL, 2000, &rep), BUS_OK);
    assert_int_equal(rep->status->code, BUS_DEADLINE);
    bus__reply__free_unpacked(rep, NULL);

    bus_server_stop(s, 2000);
    wait_peers(c, 0);
    bus_client_close(c);
}

static void *
call_gather(void *arg)
{
    return call_method(arg, "gather");
}

static void *
call_hold(void *arg)
{
    return call_method(arg, "hold");
}

/*
 * A method the daemon marks as never blocking is answered on nng's thread:
 * with the only worker held by another request, "release" still gets
 * through (through the worker it would wait for its deadline).
 */
static void
test_inline_method_needs_no_worker(void **state)
{
    struct bus_client *c;
    struct bus_server *s;
    struct caller k = {0};
    pthread_t t;
    Bus__Meta meta = BUS__META__INIT;
    Bus__Reply *rep;
    struct bus_server_opts o = {
        .url = url,
        .service = "test",
        .instance = "inline",
        .workers = 1,
        .contexts = 8,
        .handler = handler,
        .arg = (void *)"inline",
        .inline_ok = release_inline,
    };

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    assert_int_equal(bus_server_start(&s, &o), 0);
    wait_peers(c, 1);
    k.c = c;
    pthread_create(&t, NULL, call_hold, &k);
    pthread_mutex_lock(&hold_mu);
    while (!holding)
        pthread_cond_wait(&hold_cv, &hold_mu);
    pthread_mutex_unlock(&hold_mu);
    int code = bus_call(c, &meta, "release", NULL, 2000, &rep);
    pthread_mutex_lock(&hold_mu);
    released = true; /* should "release" have failed: let "hold" end */
    pthread_cond_broadcast(&hold_cv);
    pthread_mutex_unlock(&hold_mu);
    pthread_join(t, NULL);
    assert_int_equal(code, BUS_OK);
    assert_string_equal(rep->status->message, "released");
    bus__reply__free_unpacked(rep, NULL);
    assert_int_equal(k.code, BUS_OK);
    bus_server_stop(s, 2000);
    bus_client_close(c);
}

/*
 * One worker, handlers that keep their calls: the worker goes on receiving
 * on other contexts, so GATHER calls are all held at once and answered
 * together (with one call at a time they would wait for their deadlines).
 */
static void
test_deferred_calls_held_at_once(void **state)
{
    struct bus_client *c;
    pthread_t t[GATHER];
    struct caller k[GATHER];

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    struct bus_server *s = start_server("one", 1);
    wait_peers(c, 1);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < GATHER; i++) {
            k[i].c = c;
            pthread_create(&t[i], NULL, call_gather, &k[i]);
        }
        for (int i = 0; i < GATHER; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(k[i].code, BUS_OK);
            assert_string_equal(k[i].instance, "one");
        }
    }
    bus_server_stop(s, 2000);
    bus_client_close(c);
}

/*
 * Two instances; the one holding requests stops: what it was handling
 * finishes, and nothing is lost.
 */
static void
test_two_instances_and_graceful_stop(void **state)
{
    struct bus_client *c;
    pthread_t t[8];
    struct caller k[8];

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    struct bus_server *a = start_server("a", 4);
    struct bus_server *b = start_server("b", 4);
    wait_peers(c, 2);
    for (int i = 0; i < 8; i++) {
        k[i].c = c;
        pthread_create(&t[i], NULL, call_slow, &k[i]);
    }
    usleep(100 * 1000);
    bus_server_stop(a, 5000);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    int from_b = 0;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(k[i].code, BUS_OK);
        from_b += strcmp(k[i].instance, "b") == 0;
    }
    assert_true(from_b >= 1);
    bus_server_stop(b, 2000);
    bus_client_close(c);
}

/*
 * One instance serving two gateways: it dials each address of its list
 * (blanks around them ignored) and answers both; one gateway going away
 * leaves the other served. A list naming nothing, or an address that is
 * not one, fails at start.
 */
static void
test_one_instance_two_gateways(void **state)
{
    char url2[160], list[400];
    struct bus_client *g1, *g2;
    struct bus_server *s;
    Bus__Meta meta = BUS__META__INIT;
    Bus__Reply *rep;

    (void)state;
    snprintf(url2, sizeof(url2), "%s.2", url);
    snprintf(list, sizeof(list), " %s ,%s,", url, url2);
    assert_int_equal(bus_client_open(&g1, url), 0);
    assert_int_equal(bus_client_open(&g2, url2), 0);
    struct bus_server_opts o = {
        .url = list,
        .service = "test",
        .instance = "both",
        .workers = 2,
        .contexts = 4,
        .handler = handler,
        .arg = (void *)"both",
    };
    assert_int_equal(bus_server_start(&s, &o), 0);
    wait_peers(g1, 1);
    wait_peers(g2, 1);
    struct bus_client *gws[] = {g1, g2};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            bus_call(gws[i % 2], &meta, "echo", NULL, 2000, &rep), BUS_OK);
        assert_string_equal(rep->instance, "both");
        bus__reply__free_unpacked(rep, NULL);
    }
    bus_client_close(g1);
    assert_int_equal(bus_call(g2, &meta, "echo", NULL, 2000, &rep), BUS_OK);
    bus__reply__free_unpacked(rep, NULL);
    bus_server_stop(s, 2000);
    wait_peers(g2, 0);
    bus_client_close(g2);

    o.url = " , ";
    assert_int_equal(bus_server_start(&s, &o), NNG_EADDRINVAL);
    snprintf(list, sizeof(list), "%s,no-scheme", url);
    o.url = list;
    assert_int_not_equal(bus_server_start(&s, &o), 0);
}

/*
 * The only instance dies holding requests (it took them and never answers):
 * the callers learn it soon after, not at their 5 s deadlines, and the
 * client's pooled contexts serve the next instance as if nothing happened.
 */
static void
test_instance_dies_holding_calls(void **state)
{
    struct bus_client *c;
    nng_socket mute;
    pthread_t t[4];
    struct caller k[4];

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    assert_int_equal(nng_rep0_open(&mute), 0);
    assert_int_equal(nng_dial(mute, url, NULL, 0), 0);
    wait_peers(c, 1);
    int64_t t0 = clock_mono_ms();
    for (int i = 0; i < 4; i++) {
        k[i].c = c;
        pthread_create(&t[i], NULL, call_slow, &k[i]);
    }
    usleep(100 * 1000);
    nng_close(mute);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(k[i].code, BUS_UNAVAILABLE);
    }
    assert_true(clock_mono_ms() - t0 < 2000);

    struct bus_server *s = start_server("next", 2);
    wait_peers(c, 1);
    for (int i = 0; i < 4; i++) {
        k[i].c = c;
        pthread_create(&t[i], NULL, call_slow, &k[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(k[i].code, BUS_OK);
        assert_string_equal(k[i].instance, "next");
    }
    bus_server_stop(s, 2000);
    bus_client_close(c);
}

/*
 * One of two instances dies holding requests: each goes to the other one
 * and is answered there, well before its 5 s deadline, and none fails.
 */
static void
test_dead_instance_calls_go_to_another(void **state)
{
    struct bus_client *c;
    nng_socket mute;
    pthread_t t[8];
    struct caller k[8];

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    assert_int_equal(nng_rep0_open(&mute), 0);
    assert_int_equal(nng_dial(mute, url, NULL, 0), 0);
    struct bus_server *s = start_server("survivor", 4);
    wait_peers(c, 2);
    for (int i = 0; i < 8; i++) {
        k[i].c = c;
        pthread_create(&t[i], NULL, call_slow, &k[i]);
    }
    usleep(100 * 1000);
    nng_close(mute);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(k[i].code, BUS_OK);
        assert_string_equal(k[i].instance, "survivor");
    }
    bus_server_stop(s, 2000);
    bus_client_close(c);
}

/*
 * A peer of the wrong protocol (a PUSH socket dialing the gateway's REQ
 * address, as a misconfigured address would) is refused by nng after its
 * ADD_PRE event, with a REM_POST and no ADD_POST. The instance count must
 * neither lose one to each (decremented at every REM_POST it read 0 with a
 * daemon connected, and every call failed as unavailable) nor count the
 * refused ones while they last (counted from ADD_PRE it read 2 now and
 * then).
 */
static void
test_refused_peer_does_not_hide_an_instance(void **state)
{
    struct bus_client *c;
    Bus__Meta meta = BUS__META__INIT;
    Bus__Reply *rep;
    nng_socket push;

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    assert_int_equal(nng_push0_open(&push), 0);
    for (int i = 0; i < 3; i++) {
        nng_dialer d;
        /* Each dial connects, is refused, and redials on its own. */
        assert_int_equal(nng_dialer_create(&d, push, url), 0);
        assert_int_equal(nng_dialer_start(d, NNG_FLAG_NONBLOCK), 0);
    }
    usleep(300 * 1000);
    wait_peers(c, 0);

    struct bus_server *s = start_server("one", 1);
    wait_peers(c, 1);
    usleep(300 * 1000); /* more refusals meanwhile */
    assert_int_equal(bus_client_peers(c), 1);
    assert_int_equal(bus_call(c, &meta, "echo", NULL, 2000, &rep), BUS_OK);
    assert_string_equal(rep->instance, "one");
    bus__reply__free_unpacked(rep, NULL);

    nng_close(push);
    bus_server_stop(s, 2000);
    wait_peers(c, 0);
    bus_client_close(c);
}

static void
test_events_batched_and_dropped(void **state)
{
    char eurl[160];
    nng_socket pull;
    struct bus_events *e;
    nng_msg *msg;

    (void)state;
    snprintf(eurl, sizeof(eurl), "%s.events", url);
    /*
     * No sink yet: events queue up to the cap (100), the rest are counted.
     * The flusher, woken at 64 queued, may drain the queue meanwhile into
     * batches that wait in the socket (16 of them, one more in flight), so
     * of 3,000 events at most 100 + 17 x 100 are not dropped.
     */
    assert_int_equal(bus_events_open(&e, eurl, "svc", "i1", 100), 0);
    for (int i = 0; i < 3000; i++)
        bus_event(e, "call", (double)i, "intent", "billing", NULL);
    assert_true(bus_events_dropped(e) >= 3000 - 100 - 17 * 100);

    assert_int_equal(nng_pull0_open(&pull), 0);
    assert_int_equal(nng_listen(pull, eurl, NULL, 0), 0);
    nng_socket_set_ms(pull, NNG_OPT_RECVTIMEO, 3000);
    usleep(1200 * 1000); /* the PUSH side redials on its own schedule */
    for (int i = 0; i < 5; i++)
        bus_event(e, "escalation", 1.0, "reason", "policy", NULL);
    int got = 0, tries = 0;
    while (got < 5 && tries++ < 40 && nng_recvmsg(pull, &msg, 0) == 0) {
        Metrics__EventBatch *b = metrics__event_batch__unpack(
            NULL, nng_msg_len(msg), nng_msg_body(msg));
        nng_msg_free(msg);
        assert_non_null(b);
        for (size_t i = 0; i < b->n_events; i++) {
            if (strcmp(b->events[i]->name, "escalation") != 0)
                continue;
            assert_string_equal(b->events[i]->service, "svc");
            assert_int_equal(b->events[i]->n_labels, 1);
            assert_string_equal(b->events[i]->labels[0]->key, "reason");
            got++;
        }
        metrics__event_batch__free_unpacked(b, NULL);
    }
    assert_int_equal(got, 5);
    bus_events_close(e);
    nng_close(pull);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_echo_and_health),
        cmocka_unit_test(test_two_instances_and_graceful_stop),
        cmocka_unit_test(test_one_instance_two_gateways),
        cmocka_unit_test(test_deferred_calls_held_at_once),
        cmocka_unit_test(test_inline_method_needs_no_worker),
        cmocka_unit_test(test_instance_dies_holding_calls),
        cmocka_unit_test(test_dead_instance_calls_go_to_another),
        cmocka_unit_test(test_refused_peer_does_not_hide_an_instance),
        cmocka_unit_test(test_events_batched_and_dropped),
    };
    snprintf(url, sizeof(url), "ipc:///tmp/test-bus-%ld.ipc", (long)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
