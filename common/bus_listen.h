/*
 * bus_listen.h - bus listeners that keep accepting, dialers that keep
 * dialing.
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
 *
 * The dialing side has the twin bug: a dialer whose link fails mid-handshake
 * with EPIPE (its peer gone between connect and the handshake's write: a
 * gateway killed as the daemon redials it) reads it as being closed and
 * never dials again, so the daemon stays away from that gateway for good.
 * A kept dialer is watched by a thread of its own: a dialer with no link
 * whose last counted try failed in a way nng may stop after, and whose
 * tries (nng counts each link made and each failure) have not moved since
 * for twice RECONNMAXT, has stopped, and is closed and dialed afresh. One
 * still connecting (no count yet) is left to finish.
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

struct bus_dial;

/*
 * nng_dial (in the background) each address of the comma-separated list
 * urls on sock, blanks around an address ignored, and keep each dialing.
 * Returns 0, or the first error (each logged with what; such an address is
 * not tried again), or NNG_EADDRINVAL for a list naming none; *wp is set
 * whenever a watch started, to be stopped even after an error.
 */
int bus_dial_start(
    struct bus_dial **wp, nng_socket sock, const char *urls, const char *what);

/* Ends the watch; before the socket closes. NULL is ignored. */
void bus_dial_stop(struct bus_dial *w);

/* The times a dialer was found stopped and dialed afresh. */
int bus_dial_renewed(struct bus_dial *w);

#endif
