/*
 * bus_listen.h - a bus listener that keeps accepting.
 *
 * nng 1.5's ipc listener stops accepting for good when a peer hangs up
 * before the listener has written its handshake: the write fails with
 * EPIPE, which nng reads as the listener itself closing (nng issue 1518,
 * fixed in 1.6; Debian 12 ships 1.5.2). A daemon killed as it connects is
 * enough, and so is a second process trying the same address, as nng
 * probes the file by connecting. Worse, nng goes on negotiating links for
 * the stopped listener and parks them: their daemons believe themselves
 * connected and never redial, while the gateway counts no instance.
 *
 * A watched ipc listener has a thread of its own. When nng's count of the
 * listener's unexpected accept errors moves (a peer closing mid-handshake
 * moves it too, harmlessly), the thread probes: it completes a handshake
 * as a protocol no bus socket speaks, which a listener still accepting
 * takes and refuses (its "reject" count moves) and a stopped one never
 * does. A stopped listener is closed, which drops the links it parked and
 * the links it holds (their peers redial within RECONNMINT), and the
 * address is listened on afresh. Other transports are left alone: their
 * sockets report a hang-up as such.
 */
#ifndef BUS_LISTEN_H
#define BUS_LISTEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#define BUS_LISTEN_CHECK_MS 250

struct bus_listen {
    nng_socket sock;
    nng_listener ep;
    char *url;
    const char *path; /* inside url: the ipc file, NULL for other transports */
    uint64_t errors;  /* the listener's "other" count when last looked at */
    int renewed;      /* times listened afresh */
    bool down;        /* closed, not yet listening again */
    bool stopping, watching;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
};

/* nng_listen on sock, kept accepting. 0, or nng's error (nothing to stop). */
int bus_listen_start(struct bus_listen *w, nng_socket sock, const char *url);

/* Ends the watch (before the socket closes) and closes the listener. */
void bus_listen_stop(struct bus_listen *w);

/* The times the listener was found stopped and listened afresh. */
int bus_listen_renewed(struct bus_listen *w);

#endif
