#include "bus_listen.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define IPC_SCHEME "ipc://"
#define PROBE_MS 500

/* A direct child of scope named name, or NULL. */
static nng_stat *
child_named(nng_stat *scope, const char *name)
{
    for (nng_stat *c = nng_stat_child(scope); c != NULL; c = nng_stat_next(c))
        if (strcmp(nng_stat_name(c), name) == 0)
            return c;
    return NULL;
}

/*
 * The statistics of listener id. Not nng_stat_find_listener: in 1.5 it
 * returns the first listener of the process, whatever the id.
 */
static nng_stat *
find_listener(nng_stat *s, int id)
{
    if (nng_stat_type(s) == NNG_STAT_SCOPE
        && strcmp(nng_stat_name(s), "listener") == 0) {
        nng_stat *c = child_named(s, "id");
        return c != NULL && nng_stat_value(c) == (uint64_t)id ? s : NULL;
    }
    for (nng_stat *c = nng_stat_child(s); c != NULL; c = nng_stat_next(c)) {
        nng_stat *found = find_listener(c, id);
        if (found != NULL)
            return found;
    }
    return NULL;
}

/* One counter of the listener's statistics; false if nng has none. */
static bool
listener_count(nng_listener ep, const char *name, uint64_t *n)
{
    nng_stat *all, *mine, *c = NULL;

    if (nng_stats_get(&all) != 0)
        return false;
    if ((mine = find_listener(all, nng_listener_id(ep))) != NULL)
        c = child_named(mine, name);
    if (c != NULL)
        *n = nng_stat_value(c);
    nng_stats_free(all);
    return c != NULL;
}

static void
sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* Whether the listener still takes links (the header comment says how). */
static bool
still_accepting(struct bus_listen *w)
{
    /* SP header: "\0SP\0", protocol 0x10 (pair v0), two zero bytes. */
    static const unsigned char hello[8] = {0, 'S', 'P', 0, 0, 0x10, 0, 0};
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    unsigned char theirs[8];
    uint64_t before, now;
    size_t got = 0;
    bool taken = false;
    int fd;

    if (strlen(w->path) >= sizeof(a.sun_path)
        || !listener_count(w->ep, "reject", &before))
        return true; /* cannot tell: leave it */
    memcpy(a.sun_path, w->path, strlen(w->path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return true;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return errno != ENOENT && errno != ECONNREFUSED;
    }
    if (send(fd, hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
        goto out;
    /* The listener's header first: hanging up before it is the harm. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < sizeof(theirs) && poll(&p, 1, PROBE_MS) == 1) {
        ssize_t n = read(fd, theirs + got, sizeof(theirs) - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    for (int waited = 0; waited < PROBE_MS && !taken; waited += 20) {
        taken = listener_count(w->ep, "reject", &now) && now != before;
        if (!taken)
            sleep_ms(20);
    }
out:
    close(fd);
    return taken;
}

/* Close a stopped listener and listen again; false while that fails. */
static bool
renew(struct bus_listen *w)
{
    nng_listener ep;
    int rv;

    if (!w->down) {
        nng_listener_close(w->ep);
        w->down = true;
    }
    if ((rv = nng_listen(w->sock, w->url, &ep, 0)) != 0) {
        log_error("bus: %s: cannot listen again: %s (tried again in %d ms)",
            w->url, nng_strerror(rv), BUS_LISTEN_CHECK_MS);
        return false;
    }
    pthread_mutex_lock(&w->mu);
    w->ep = ep;
    w->down = false;
    w->errors = 0;
    w->renewed++;
    pthread_mutex_unlock(&w->mu);
    log_warn("bus: %s: the listener had stopped accepting (a peer hung up "
             "mid-handshake: nng 1.5); listening afresh, links redial",
        w->url);
    return true;
}

static void
check(struct bus_listen *w)
{
    uint64_t n;

    if (w->down) {
        renew(w);
        return;
    }
    if (!listener_count(w->ep, "other", &n) || n == w->errors)
        return;
    w->errors = n;
    if (!still_accepting(w))
        renew(w);
}

static void *
watch_main(void *arg)
{
    struct bus_listen *w = arg;

    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct timespec until = clock_realtime_in(BUS_LISTEN_CHECK_MS);
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
        if (w->stopping)
            break;
        pthread_mutex_unlock(&w->mu);
        check(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int
bus_listen_start(struct bus_listen *w, nng_socket sock, const char *url)
{
    int rv;

    memset(w, 0, sizeof(*w));
    w->sock = sock;
    if ((w->url = strdup(url)) == NULL)
        return NNG_ENOMEM;
    if (strncmp(url, IPC_SCHEME, strlen(IPC_SCHEME)) == 0)
        w->path = w->url + strlen(IPC_SCHEME);
    if ((rv = nng_listen(sock, url, &w->ep, 0)) != 0) {
        free(w->url);
        return rv;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->watching = w->path != NULL
        && pthread_create(&w->thread, NULL, watch_main, w) == 0;
    return 0;
}

void
bus_listen_stop(struct bus_listen *w)
{
    if (w->url == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->watching)
        pthread_join(w->thread, NULL);
    if (!w->down)
        nng_listener_close(w->ep);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->url);
    w->url = NULL;
}

int
bus_listen_renewed(struct bus_listen *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->renewed;
    pthread_mutex_unlock(&w->mu);
    return n;
}
