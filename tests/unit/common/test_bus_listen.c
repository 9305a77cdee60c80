/*
 * The bus's listeners under nng 1.5's ipc bug (common/bus_listen.h): a peer
 * that hangs up mid-handshake, a second process probing the address, and
 * daemons coming and going, which must not be mistaken for either.
 *
 * A binary of its own for one reason: nng 1.5 never frees a listener closed
 * with links parked in it (its ipc endpoint waits for their reference
 * count), and these tests make exactly that happen. The leak checker is
 * told so here, and nowhere else: test_bus stays checked in full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "bus.h"
#include "bus_harness.h"
#include "bus_listen.h"

const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
    return "leak:libnng.so\n";
}

static char url[128];

/* "slow" answers after 300 ms with the instance's name. */
static void
handler(struct bus_call *call, void *arg)
{
    if (strcmp(bus_call_method(call), "slow") == 0) {
        usleep(300 * 1000);
        bus_call_reply(call, BUS_OK, arg, NULL);
    } else {
        bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
    }
}

/*
 * Connect to the ipc address and hang up before the listener has written
 * its handshake: what a daemon killed as it connects does, and what nng
 * itself does when a second process tries to listen on the address (it
 * probes the file by connecting). nng 1.5's listener took the failed write
 * for its own closing and never accepted again.
 */
static void
hang_up_at_once(const char *u)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    const char *path = u + strlen("ipc://");

    assert_true(strlen(path) < sizeof(a.sun_path));
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    close(fd);
}

static void
test_peer_gone_mid_handshake_locks_no_instance_out(void **state)
{
    struct bus_client *c, *second;
    struct caller k[4];
    pthread_t t[4];

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    struct bus_server *early = serve(url, "early", 4, handler);
    wait_peers(c, 1);
    /* Calls in flight on the link up when it happens still get answers. */
    for (int i = 0; i < 4; i++) {
        k[i] = (struct caller) {.c = c};
        pthread_create(&t[i], NULL, call_slow, &k[i]);
    }
    /*
     * Whether a hang-up stops the listener is a race with nng's thread,
     * which writes the handshake as it accepts; nng backs off 100 ms after
     * one, so each try is its own chance.
     */
    for (int i = 0; i < 10; i++) {
        hang_up_at_once(url);
        usleep(120 * 1000);
    }
    /* A second gateway on the same address is refused, and probes it. */
    assert_int_not_equal(bus_client_open(&second, url), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(k[i].code, BUS_OK);
    }

    /* An instance that comes afterwards is taken. */
    struct bus_server *late = serve(url, "late", 1, handler);
    for (int i = 0; i < 500 && bus_client_peers(c) != 2; i++)
        usleep(10 * 1000);
    assert_int_equal(bus_client_peers(c), 2);
    assert_true(bus_client_relistened(c) >= 1);
    bus_server_stop(early, 2000);
    wait_peers(c, 1);
    for (int i = 0; i < 4; i++) {
        call_slow(&k[i]);
        assert_int_equal(k[i].code, BUS_OK);
        assert_string_equal(k[i].instance, "late");
    }
    bus_server_stop(late, 2000);
    wait_peers(c, 0);
    bus_client_close(c);
}

/*
 * A daemon stopping closes its dialer, which may hang up a redial in the
 * middle of its handshake: nng counts an error on the listener, which goes
 * on accepting. Such a stop must not be taken for a stopped listener (that
 * would drop every other instance's link).
 */
static void
test_daemons_coming_and_going_leave_the_listener_be(void **state)
{
    struct bus_client *c;

    (void)state;
    assert_int_equal(bus_client_open(&c, url), 0);
    struct bus_server *stay = serve(url, "stay", 1, handler);
    wait_peers(c, 1);
    for (int i = 0; i < 5; i++) {
        struct bus_server *s = serve(url, "brief", 1, handler);
        wait_peers(c, 2);
        bus_server_stop(s, 2000);
        wait_peers(c, 1);
    }
    usleep(2 * BUS_LISTEN_CHECK_MS * 1000 + 500 * 1000); /* checks ran */
    assert_int_equal(bus_client_relistened(c), 0);
    bus_server_stop(stay, 2000);
    wait_peers(c, 0);
    bus_client_close(c);
}

static void
count_notice(const uint8_t *body, size_t len, void *arg)
{
    (void)body;
    (void)len;
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* The same for the metrics daemon's intake, a PULL listener. */
static void
test_intake_takes_senders_after_a_hang_up(void **state)
{
    char eurl[160];
    struct bus_listener *l;
    struct bus_events *e;
    atomic_int got = 0;

    (void)state;
    snprintf(eurl, sizeof(eurl), "%s.intake", url);
    assert_int_equal(bus_intake_open(&l, eurl, count_notice, &got), 0);
    hang_up_at_once(eurl);
    usleep(100 * 1000);
    assert_int_equal(bus_events_open(&e, eurl, "svc", "i1", 100), 0);
    for (int i = 0; i < 300 && atomic_load(&got) == 0; i++) {
        bus_event(e, "call", 1.0, NULL);
        usleep(10 * 1000);
    }
    assert_true(atomic_load(&got) > 0);
    bus_events_close(e);
    bus_listener_close(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_gone_mid_handshake_locks_no_instance_out),
        cmocka_unit_test(test_intake_takes_senders_after_a_hang_up),
        cmocka_unit_test(test_daemons_coming_and_going_leave_the_listener_be),
    };
    snprintf(
        url, sizeof(url), "ipc:///tmp/test-bus-listen-%ld.ipc", (long)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
