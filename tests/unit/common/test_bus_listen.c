/*
 * The bus's listeners under nng 1.5's ipc bug (common/bus_listen.h): a peer
 * that hangs up mid-handshake, a second process probing the address, and
 * daemons coming and going, which must not be mistaken for either; and
 * its dialers under the same bug's twin.
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
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
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
/* A unix stream socket, and the ipc address u's file in *a. */
static int
ipc_socket(const char *u, struct sockaddr_un *a)
{
    const char *path = u + strlen("ipc://");

    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof(a->sun_path));
    memcpy(a->sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    return fd;
}

static void
hang_up_at_once(const char *u)
{
    struct sockaddr_un a;
    int fd = ipc_socket(u, &a);

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

/* A peer that takes each connection and hangs up at once, counting them. */
struct hang_up_peer {
    const char *path;
    int fd;
    atomic_int taken;
    atomic_bool stop;
    pthread_t thread;
};

static void *
hang_up_main(void *arg)
{
    struct hang_up_peer *h = arg;

    while (!atomic_load(&h->stop)) {
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        int c = accept(h->fd, NULL, NULL);
        if (c >= 0) {
            close(c);
            atomic_fetch_add(&h->taken, 1);
        }
    }
    return NULL;
}

/* A unix socket bound to the ipc address u (a file left there removed). */
static int
bound(const char *u)
{
    struct sockaddr_un a;
    int fd = ipc_socket(u, &a);

    unlink(a.sun_path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void
hang_up_peer_start(struct hang_up_peer *h, const char *u)
{
    memset(h, 0, sizeof(*h));
    h->path = u + strlen("ipc://");
    h->fd = bound(u);
    assert_int_equal(listen(h->fd, 16), 0);
    assert_int_equal(pthread_create(&h->thread, NULL, hang_up_main, h), 0);
}

static void
hang_up_peer_stop(struct hang_up_peer *h)
{
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    close(h->fd);
    unlink(h->path);
}

/*
 * A dialer whose links fail mid-handshake: each hang-up that comes before
 * the dialer's handshake write is an EPIPE, after which nng 1.5's dialer
 * never tries again (seen after ~13 tries). Kept, it is dialed afresh and
 * goes on trying.
 */
static void
test_dialer_stopped_by_a_hang_up_dials_again(void **state)
{
    char durl[160];
    struct hang_up_peer h;
    struct bus_dial *w;
    nng_socket sock;

    (void)state;
    snprintf(durl, sizeof(durl), "%s.dial", url);
    hang_up_peer_start(&h, durl);
    assert_int_equal(nng_pub0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 10);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 50);
    assert_int_equal(bus_dial_start(&w, sock, durl, "test"), 0);
    for (int i = 0; i < 2000 && bus_dial_renewed(w) < 2; i++)
        usleep(10 * 1000);
    assert_true(bus_dial_renewed(w) >= 2);
    /* Still trying after being dialed afresh. */
    int before = atomic_load(&h.taken);
    for (int i = 0; i < 1000 && atomic_load(&h.taken) == before; i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&h.taken) > before);
    bus_dial_stop(w);
    nng_close(sock);
    hang_up_peer_stop(&h);
}

/*
 * A dialer with nobody to dial (a gateway down: the file gone, or left
 * behind with no listener) goes on trying by itself, and is left alone; so
 * is one whose try is still in flight (a peer that takes the connection
 * and says nothing: nng waits 10 s for its handshake, with nothing counted
 * meanwhile, as with a TCP connect to a host that does not answer).
 */
static void
test_dialer_still_trying_is_left_be(void **state)
{
    char gone[160], stale[160], silent[160];
    struct bus_dial *w;
    nng_socket sock;

    (void)state;
    snprintf(gone, sizeof(gone), "%s.gone", url);
    snprintf(stale, sizeof(stale), "%s.stale", url);
    /* A file with no listener behind it: a gateway that was killed. */
    close(bound(stale));
    /* A listener that never accepts: connections wait in its backlog. */
    snprintf(silent, sizeof(silent), "%s.silent", url);
    int quiet = bound(silent);
    assert_int_equal(listen(quiet, 16), 0);

    assert_int_equal(nng_pub0_open(&sock), 0);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 10);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 50);
    char all[600];
    snprintf(all, sizeof(all), "%s, %s,%s", gone, stale, silent);
    assert_int_equal(bus_dial_start(&w, sock, all, "test"), 0);
    usleep(2000 * 1000); /* more than 3 checks of 600 ms quiet */
    assert_int_equal(bus_dial_renewed(w), 0);
    bus_dial_stop(w);
    nng_close(sock);
    close(quiet);
    unlink(silent + strlen("ipc://"));
    unlink(stale + strlen("ipc://"));
}

/* A list naming no address, one too long, or one nng cannot dial. */
static void
test_dialer_bad_addresses(void **state)
{
    struct bus_dial *w;
    nng_socket sock;

    (void)state;
    assert_int_equal(nng_pub0_open(&sock), 0);
    assert_int_equal(bus_dial_start(&w, sock, " , ", "test"), NNG_EADDRINVAL);
    assert_null(w);
    char is_long[700];
    memset(is_long, 'a', sizeof(is_long) - 1);
    is_long[sizeof(is_long) - 1] = '\0';
    memcpy(is_long, "ipc:///tmp/", strlen("ipc:///tmp/"));
    assert_int_equal(bus_dial_start(&w, sock, is_long, "test"), NNG_EADDRINVAL);
    assert_null(w);
    assert_int_not_equal(bus_dial_start(&w, sock, "nope://x", "test"), 0);
    assert_non_null(w); /* started, to be stopped */
    usleep(600 * 1000);
    assert_int_equal(bus_dial_renewed(w), 0); /* never tried again */
    bus_dial_stop(w);
    nng_close(sock);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_gone_mid_handshake_locks_no_instance_out),
        cmocka_unit_test(test_intake_takes_senders_after_a_hang_up),
        cmocka_unit_test(test_daemons_coming_and_going_leave_the_listener_be),
        cmocka_unit_test(test_dialer_stopped_by_a_hang_up_dials_again),
        cmocka_unit_test(test_dialer_still_trying_is_left_be),
        cmocka_unit_test(test_dialer_bad_addresses),
    };
    snprintf(
        url, sizeof(url), "ipc:///tmp/test-bus-listen-%ld.ipc", (long)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
