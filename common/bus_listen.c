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
 * The statistics of the endpoint of that kind ("listener", "dialer") and
 * id. Not nng_stat_find_listener: in 1.5 it returns the first listener of
 * the process, whatever the id.
 */
static nng_stat *
find_endpoint(nng_stat *s, const char *kind, int id)
{
    if (nng_stat_type(s) == NNG_STAT_SCOPE
        && strcmp(nng_stat_name(s), kind) == 0) {
        nng_stat *c = child_named(s, "id");
        return c != NULL && nng_stat_value(c) == (uint64_t)id ? s : NULL;
    }
    for (nng_stat *c = nng_stat_child(s); c != NULL; c = nng_stat_next(c)) {
        nng_stat *found = find_endpoint(c, kind, id);
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
    if ((mine = find_endpoint(all, "listener", nng_listener_id(ep))) != NULL)
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
check(void *arg)
{
    struct bus_listen *w = arg;
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

/*
 * A watch thread's life: every BUS_LISTEN_CHECK_MS, check(arg) runs with mu
 * released, until *stopping is set (under mu, cv signalled).
 */
static void
every_check(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stopping,
    void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(mu);
    while (!*stopping) {
        struct timespec until = clock_realtime_in(BUS_LISTEN_CHECK_MS);
        pthread_cond_timedwait(cv, mu, &until);
        if (*stopping)
            break;
        pthread_mutex_unlock(mu);
        fn(arg);
        pthread_mutex_lock(mu);
    }
    pthread_mutex_unlock(mu);
}

static void *
watch_main(void *arg)
{
    struct bus_listen *w = arg;

    every_check(&w->mu, &w->cv, &w->stopping, check, w);
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

/* ---- dialers ------------------------------------------------------------ */

/*
 * What a dialer's statistics count: links made and every way a try failed.
 * The first two are where nng 1.5 counts the failures after which it stops
 * (NNG_ECLOSED, NNG_ECANCELED), and also some after which it tries again.
 */
#define STOPPERS 2
static const char *const attempts[] = {"other", "canceled", "connect",
    "refused", "disconnect", "timeout", "proto", "auth", "oom", "reject"};

struct dial_one {
    char *url;
    nng_dialer d;
    bool open;      /* d is a dialer (nng_dial succeeded) */
    bool bad;       /* the first nng_dial failed: never tried again */
    bool last_stop; /* the last move was a failure of a stopping kind */
    uint64_t seen;  /* its tries when last looked at */
    uint64_t stops; /* of which of the stopping kinds */
    int64_t moved;  /* when they last moved, or a link was up */
};

struct bus_dial {
    nng_socket sock;
    char *what;
    struct dial_one *one;
    int n;
    int quiet_ms; /* no link and no attempt for this long: stopped */
    int renewed;
    bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
};

/*
 * A dialer's links up, its tries so far and those of the stopping kinds,
 * from one snapshot of nng's statistics; false if it has none.
 */
static bool
dialer_state(nng_stat *all, nng_dialer d, uint64_t *pipes, uint64_t *tries,
    uint64_t *stops)
{
    nng_stat *mine = find_endpoint(all, "dialer", nng_dialer_id(d)), *c;

    if (mine == NULL || (c = child_named(mine, "pipes")) == NULL)
        return false;
    *pipes = nng_stat_value(c);
    *tries = *stops = 0;
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        if ((c = child_named(mine, attempts[i])) == NULL)
            continue;
        *tries += nng_stat_value(c);
        if (i < STOPPERS)
            *stops += nng_stat_value(c);
    }
    return true;
}

/* A new dialer's counts start at 0. */
static void
dial_fresh(struct dial_one *o, int64_t now)
{
    o->moved = now;
    o->seen = o->stops = 0;
    o->last_stop = false;
}

/* Close a stopped dialer and dial its address again. */
static void
redial(struct bus_dial *w, struct dial_one *o, int64_t now)
{
    nng_dialer d;
    int rv;

    if (o->open)
        nng_dialer_close(o->d);
    o->open = false;
    dial_fresh(o, now);
    if ((rv = nng_dial(w->sock, o->url, &d, NNG_FLAG_NONBLOCK)) != 0) {
        log_error("bus: %s: cannot dial %s again: %s", w->what, o->url,
            nng_strerror(rv));
        return;
    }
    pthread_mutex_lock(&w->mu);
    o->d = d;
    o->open = true;
    w->renewed++;
    pthread_mutex_unlock(&w->mu);
    log_warn("bus: %s: the dialer of %s had stopped trying (a link failed "
             "mid-handshake: nng 1.5); dialing afresh",
        w->what, o->url);
}

static void
dial_check(void *arg)
{
    struct bus_dial *w = arg;
    int64_t now = clock_mono_ms();
    nng_stat *all = NULL;

    for (int i = 0; i < w->n; i++) {
        struct dial_one *o = &w->one[i];
        uint64_t pipes, tries, stops;
        if (o->bad)
            continue;
        if (!o->open) {
            redial(w, o, now);
            continue;
        }
        if (all == NULL && nng_stats_get(&all) != 0)
            return;
        if (!dialer_state(all, o->d, &pipes, &tries, &stops))
            continue;
        if (pipes > 0 || tries != o->seen) {
            o->last_stop = pipes == 0 && stops != o->stops;
            o->seen = tries;
            o->stops = stops;
            o->moved = now;
        } else if (o->last_stop && now - o->moved >= w->quiet_ms) {
            /* Not a try in flight (a TCP connect can take minutes): a
             * failure of the stopping kind, then nothing. */
            redial(w, o, now);
        }
    }
    if (all != NULL)
        nng_stats_free(all);
}

static void *
dial_main(void *arg)
{
    struct bus_dial *w = arg;

    every_check(&w->mu, &w->cv, &w->stopping, dial_check, w);
    return NULL;
}

#define URL_MAX 512

/*
 * The addresses of a comma-separated list, blanks trimmed, into w->one;
 * one of URL_MAX bytes or more is logged and left out (*skipped counts).
 */
static int
dial_parse(struct bus_dial *w, const char *urls, int *skipped)
{
    for (const char *p = urls; *p != '\0';) {
        size_t len = strcspn(p, ",");
        const char *next = p + len + (p[len] == ',');
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len >= URL_MAX) {
            log_error("bus: %s: cannot dial an address of %zu bytes (at most "
                      "%d)",
                w->what, len, URL_MAX - 1);
            ++*skipped;
        } else if (len > 0) {
            struct dial_one *one
                = realloc(w->one, (size_t)(w->n + 1) * sizeof(*one));
            if (one == NULL)
                return NNG_ENOMEM;
            w->one = one;
            memset(&one[w->n], 0, sizeof(*one));
            if ((one[w->n].url = strndup(p, len)) == NULL)
                return NNG_ENOMEM;
            w->n++;
        }
        p = next;
    }
    return 0;
}

static void
dial_free(struct bus_dial *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->one[i].url);
    free(w->one);
    free(w->what);
    free(w);
}

int
bus_dial_start(
    struct bus_dial **wp, nng_socket sock, const char *urls, const char *what)
{
    struct bus_dial *w = calloc(1, sizeof(*w));
    nng_duration maxt = 0;
    int rv, first = 0;

    *wp = NULL;
    if (w == NULL || (w->what = strdup(what)) == NULL) {
        free(w);
        return NNG_ENOMEM;
    }
    w->sock = sock;
    int skipped = 0;
    if ((rv = dial_parse(w, urls, &skipped)) != 0) {
        dial_free(w);
        return rv;
    }
    if (w->n == 0) {
        if (skipped == 0)
            log_error("bus: %s: no address given", what);
        dial_free(w);
        return NNG_EADDRINVAL;
    }
    if (skipped > 0)
        first = NNG_EADDRINVAL;
    /* A dialer with no link tries at least once per RECONNMAXT. */
    nng_socket_get_ms(sock, NNG_OPT_RECONNMAXT, &maxt);
    w->quiet_ms = 2 * (maxt > 0 ? maxt : 1000) + 500;
    int64_t now = clock_mono_ms();
    for (int i = 0; i < w->n; i++) {
        struct dial_one *o = &w->one[i];
        dial_fresh(o, now);
        /* Non-blocking: tries in the background until the peer is up. */
        rv = nng_dial(sock, o->url, &o->d, NNG_FLAG_NONBLOCK);
        o->open = rv == 0;
        o->bad = rv != 0;
        if (rv != 0) {
            log_error(
                "bus: %s: cannot dial %s: %s", what, o->url, nng_strerror(rv));
            if (first == 0)
                first = rv;
        }
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, dial_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        dial_free(w);
        return NNG_ENOMEM;
    }
    *wp = w;
    return first;
}

void
bus_dial_stop(struct bus_dial *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    dial_free(w);
}

int
bus_dial_renewed(struct bus_dial *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->renewed;
    pthread_mutex_unlock(&w->mu);
    return n;
}
