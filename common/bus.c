#include "bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bus_listen.h"
#include "clock.h"
#include "log.h"
#include "metrics.pb-c.h"

/* ---- client ------------------------------------------------------------- */

/*
 * A caller's request context and aio, kept for the next call: opening an nng
 * context and allocating an aio on every call cost a quarter of a one-hop
 * request's rate (docs/performance.md). Slots are made on demand, one per
 * call in flight at the busiest moment, and freed with the client.
 */
struct call_slot {
    nng_ctx ctx;
    nng_aio *aio;
    bool busy;
    struct call_slot *next_free;
    struct call_slot *next_all;
};

struct bus_client {
    nng_socket sock;
    struct bus_listen listen;
    atomic_int peers; /* nup, for readers without the lock */
    pthread_mutex_t pipes_mu;
    uint32_t *up; /* ids of the instances' pipes nng started */
    int nup, capup;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* the last instance went away, or closing */
    struct call_slot *free;
    struct call_slot *all;
    int busy;
    bool closing;
    pthread_t watcher;
};

#define ORPHAN_MS 250

/*
 * An instance is counted from its pipe's ADD_POST (nng started it) to its
 * REM_POST, by id: nng 1.5 also reports REM_POST for pipes refused before
 * ADD_POST (a peer of the wrong protocol, a mistyped address, the
 * listener's own probe), and those are no instance at all. A REM_POST may
 * run before the ADD_POST callback of the same pipe (the callbacks run on
 * different threads, unlocked); the id then stays listed after the pipe is
 * gone, and the watcher's sweep (pipes_sweep) takes it out.
 */
static void
pipes_set_locked(struct bus_client *c)
{
    atomic_store(&c->peers, c->nup);
}

static void
client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct bus_client *c = arg;
    uint32_t id = (uint32_t)nng_pipe_id(p);
    bool none_left = false;

    pthread_mutex_lock(&c->pipes_mu);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        if (c->nup == c->capup) {
            int cap = c->capup > 0 ? 2 * c->capup : 8;
            uint32_t *up = realloc(c->up, (size_t)cap * sizeof(*up));
            if (up != NULL) {
                c->up = up;
                c->capup = cap;
            }
        }
        if (c->nup < c->capup)
            c->up[c->nup++] = id;
    } else {
        for (int i = 0; i < c->nup; i++) {
            if (c->up[i] == id) {
                c->up[i] = c->up[--c->nup];
                none_left = c->nup == 0;
                break;
            }
        }
    }
    pipes_set_locked(c);
    pthread_mutex_unlock(&c->pipes_mu);
    if (none_left) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Drop listed pipes nng no longer knows (a REM_POST that came first). */
static void
pipes_sweep(struct bus_client *c)
{
    pthread_mutex_lock(&c->pipes_mu);
    for (int i = 0; i < c->nup;) {
        nng_pipe p = NNG_PIPE_INITIALIZER;
        p.id = c->up[i];
        if (nng_socket_id(nng_pipe_socket(p)) > 0)
            i++;
        else
            c->up[i] = c->up[--c->nup];
    }
    pipes_set_locked(c);
    pthread_mutex_unlock(&c->pipes_mu);
}

/*
 * bus_call resends a request whose instance died to another one; when none is
 * left for ORPHAN_MS the calls in flight are cancelled rather than left
 * waiting for their deadlines, so callers degrade at once. This thread
 * wakes when the last instance goes away while calls are in flight, and
 * every BUS_LISTEN_CHECK_MS to sweep the list of instances.
 */
static void *
watcher_main(void *arg)
{
    struct bus_client *c = arg;
    int64_t alone_since = 0;

    pthread_mutex_lock(&c->mu);
    while (!c->closing) {
        if (c->busy == 0 || atomic_load(&c->peers) > 0) {
            alone_since = 0;
            struct timespec until = clock_realtime_in(BUS_LISTEN_CHECK_MS);
            if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT) {
                pthread_mutex_unlock(&c->mu);
                pipes_sweep(c);
                pthread_mutex_lock(&c->mu);
            }
            continue;
        }
        int64_t now = clock_mono_ms();
        if (alone_since == 0)
            alone_since = now;
        if (now - alone_since >= ORPHAN_MS) {
            for (struct call_slot *s = c->all; s != NULL; s = s->next_all)
                if (s->busy)
                    nng_aio_cancel(s->aio);
            alone_since = 0;
        }
        struct timespec until = clock_realtime_in(50);
        pthread_cond_timedwait(&c->cv, &c->mu, &until);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int
bus_client_open(struct bus_client **cp, const char *url)
{
    struct bus_client *c;
    int rv;

    if ((c = calloc(1, sizeof(*c))) == NULL)
        return NNG_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->pipes_mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if ((rv = nng_req0_open(&c->sock)) != 0)
        goto fail;
    /*
     * No timer-driven resend: a slow handler is never asked twice, and
     * nng 1.5 keeps every context's resend timer in one sorted list under
     * one lock, walked from the front on each send (with 512 calls in
     * flight, 14% of the gateway's CPU). A request whose instance goes away
     * fails with NNG_ECONNRESET, and bus_call sends it again.
     */
    nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, BUS_MAX_MSG);
    nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, client_pipe_cb, c);
    nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, client_pipe_cb, c);
    if ((rv = bus_listen_start(&c->listen, c->sock, url)) != 0) {
        nng_close(c->sock);
        goto fail;
    }
    if (pthread_create(&c->watcher, NULL, watcher_main, c) != 0) {
        bus_listen_stop(&c->listen);
        nng_close(c->sock);
        rv = NNG_ENOMEM;
        goto fail;
    }
    *cp = c;
    return 0;
fail:
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->pipes_mu);
    pthread_mutex_destroy(&c->mu);
    free(c->up);
    free(c);
    return rv;
}

/* Only once no call is in flight: the process is stopping. */
void
bus_client_close(struct bus_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->watcher, NULL);
    bus_listen_stop(&c->listen);
    nng_close(c->sock);
    for (struct call_slot *s = c->all, *next; s != NULL; s = next) {
        next = s->next_all;
        nng_aio_free(s->aio);
        free(s);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->pipes_mu);
    pthread_mutex_destroy(&c->mu);
    free(c->up);
    free(c);
}

int
bus_client_relistened(struct bus_client *c)
{
    return bus_listen_renewed(&c->listen);
}

int
bus_client_peers(const struct bus_client *c)
{
    return atomic_load(&((struct bus_client *)c)->peers);
}

static struct call_slot *
slot_take(struct bus_client *c)
{
    struct call_slot *s;

    pthread_mutex_lock(&c->mu);
    if ((s = c->free) != NULL) {
        c->free = s->next_free;
    } else if ((s = calloc(1, sizeof(*s))) != NULL) {
        if (nng_aio_alloc(&s->aio, NULL, NULL) != 0) {
            free(s);
            s = NULL;
        } else if (nng_ctx_open(&s->ctx, c->sock) != 0) {
            nng_aio_free(s->aio);
            free(s);
            s = NULL;
        } else {
            s->next_all = c->all;
            c->all = s;
        }
    }
    if (s != NULL) {
        s->busy = true;
        c->busy++;
    }
    pthread_mutex_unlock(&c->mu);
    return s;
}

static void
slot_give(struct bus_client *c, struct call_slot *s)
{
    pthread_mutex_lock(&c->mu);
    s->busy = false;
    c->busy--;
    s->next_free = c->free;
    c->free = s;
    pthread_mutex_unlock(&c->mu);
}

static int
pack_message(nng_msg **mp, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    nng_msg *msg;

    if (len > BUS_MAX_MSG || nng_msg_alloc(&msg, len) != 0)
        return -1;
    protobuf_c_message_pack(m, nng_msg_body(msg));
    *mp = msg;
    return 0;
}

/* Pack body into a freshly allocated buffer (NULL body: empty). */
static int
pack_body(const ProtobufCMessage *body, ProtobufCBinaryData *out)
{
    out->data = NULL;
    out->len = 0;
    if (body == NULL)
        return 0;
    out->len = protobuf_c_message_get_packed_size(body);
    if (out->len > BUS_MAX_MSG)
        return -1;
    if ((out->data = malloc(out->len ? out->len : 1)) == NULL)
        return -1;
    protobuf_c_message_pack(body, out->data);
    return 0;
}

int
bus_call(struct bus_client *c, const Bus__Meta *meta, const char *method,
    const ProtobufCMessage *body, int timeout_ms, Bus__Reply **out)
{
    Bus__Request req = BUS__REQUEST__INIT;
    struct call_slot *slot;
    nng_msg *msg = NULL;
    int code = BUS_UNAVAILABLE;
    int rv;

    if (bus_client_peers(c) <= 0)
        return BUS_UNAVAILABLE;
    req.meta = (Bus__Meta *)meta;
    req.method = (char *)method;
    if (pack_body(body, &req.body) != 0)
        return BUS_INTERNAL;
    if (pack_message(&msg, &req.base) != 0) {
        free(req.body.data);
        return BUS_INTERNAL;
    }
    if ((slot = slot_take(c)) == NULL) {
        nng_msg_free(msg);
        free(req.body.data);
        return BUS_UNAVAILABLE;
    }
    nng_aio *aio = slot->aio;
    int64_t until = clock_mono_ms() + timeout_ms;
    for (;;) {
        int left = (int)(until - clock_mono_ms());
        if (msg == NULL && left <= 0) {
            code = BUS_DEADLINE;
            goto done;
        }
        if (msg == NULL && pack_message(&msg, &req.base) != 0) {
            code = BUS_INTERNAL;
            goto done;
        }
        nng_aio_set_timeout(aio, left > 1 ? left : 1);
        nng_aio_set_msg(aio, msg);
        nng_ctx_send(slot->ctx, aio);
        nng_aio_wait(aio);
        msg = NULL;
        if ((rv = nng_aio_result(aio)) != 0) {
            nng_msg_free(nng_aio_get_msg(aio));
            nng_aio_set_msg(aio, NULL);
            goto done;
        }
        left = (int)(until - clock_mono_ms());
        nng_aio_set_timeout(aio, left > 1 ? left : 1);
        nng_ctx_recv(slot->ctx, aio);
        nng_aio_wait(aio);
        rv = nng_aio_result(aio);
        if (rv != NNG_ECONNRESET)
            break;
        /* Its instance went away holding it: to another one, same id. */
    }
    if (rv != 0) {
        code = rv == NNG_ETIMEDOUT ? BUS_DEADLINE : BUS_UNAVAILABLE;
        goto done;
    }
    msg = nng_aio_get_msg(aio);
    nng_aio_set_msg(aio, NULL);
    Bus__Reply *rep
        = bus__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    if (rep == NULL || rep->status == NULL) {
        bus__reply__free_unpacked(rep, NULL);
        code = BUS_INTERNAL;
        goto done;
    }
    *out = rep;
    code = BUS_OK;
done:
    free(req.body.data);
    slot_give(c, slot);
    return code;
}

/* ---- server ------------------------------------------------------------- */

enum slot_state { SLOT_IDLE, SLOT_RECV, SLOT_WORK, SLOT_SEND };

struct bus_call {
    struct bus_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    enum slot_state state;
    Bus__Request *req;
    struct bus_call *next; /* work queue */
    bool traced;
    struct span span; /* this call's span, when the request is traced */
};

struct bus_server {
    nng_socket sock;
    struct bus_dial *dial;
    struct bus_server_opts o;
    char *service, *instance;
    struct bus_call *slots;
    int nslots;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work queued, or stopping */
    pthread_cond_t idle_cv; /* a slot went idle */
    struct bus_call *head, *tail;
    bool stopping;
    int sending; /* bus_call_reply()s inside nng_ctx_send: stop waits */
    int64_t started_ms;
};

static void
slot_recv(struct bus_call *call)
{
    pthread_mutex_lock(&call->srv->mu);
    call->state = SLOT_RECV;
    pthread_mutex_unlock(&call->srv->mu);
    nng_ctx_recv(call->ctx, call->aio);
}

/* The slot's request is done: arm the next receive, or go idle. */
static void
slot_finish(struct bus_call *call)
{
    struct bus_server *s = call->srv;

    bus__request__free_unpacked(call->req, NULL);
    call->req = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        call->state = SLOT_IDLE;
        pthread_cond_broadcast(&s->idle_cv);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    call->state = SLOT_RECV;
    pthread_mutex_unlock(&s->mu);
    nng_ctx_recv(call->ctx, call->aio);
}

static void answer_health(struct bus_call *call);

/* A received request: its deadline, then health or the daemon's handler. */
static void
run_call(struct bus_server *s, struct bus_call *call)
{
    const Bus__Meta *m = call->req->meta;

    log_set_context(m ? m->request_id : NULL, m ? m->trace_id : NULL);
    if (m != NULL && m->deadline_ms > 0 && clock_now_ms() > m->deadline_ms)
        bus_call_reply(call, BUS_DEADLINE, "deadline passed", NULL);
    else if (strcmp(call->req->method, "health") == 0)
        answer_health(call);
    else {
        call->traced = s->o.events != NULL && m != NULL && m->trace_id != NULL
            && m->trace_id[0] != '\0';
        if (call->traced)
            span_begin(
                &call->span, m->trace_id, m->parent_span_id, call->req->method);
        s->o.handler(call, s->o.arg);
    }
    log_set_context(NULL, NULL);
}

static void
slot_cb(void *arg)
{
    struct bus_call *call = arg;
    struct bus_server *s = call->srv;
    int rv = nng_aio_result(call->aio);

    if (call->state == SLOT_SEND) {
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(call->aio));
        slot_finish(call);
        return;
    }
    /* SLOT_RECV */
    if (rv != 0) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping || rv == NNG_ECLOSED;
        if (stop) {
            call->state = SLOT_IDLE;
            pthread_cond_broadcast(&s->idle_cv);
        }
        pthread_mutex_unlock(&s->mu);
        if (!stop)
            slot_recv(call);
        return;
    }
    nng_msg *msg = nng_aio_get_msg(call->aio);
    call->req = bus__request__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    if (call->req == NULL || call->req->method == NULL) {
        /* Not ours to crash on: answer, so the caller does not wait. */
        bus_call_reply(call, BUS_BAD_REQUEST, "malformed request", NULL);
        return;
    }
    pthread_mutex_lock(&s->mu);
    call->state = SLOT_WORK;
    if (s->o.inline_ok != NULL && s->o.inline_ok(call->req->method)) {
        /* Cheap and non-blocking: no thread switch to a worker. */
        pthread_mutex_unlock(&s->mu);
        run_call(s, call);
        return;
    }
    call->next = NULL;
    if (s->tail)
        s->tail->next = call;
    else
        s->head = call;
    s->tail = call;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
answer_health(struct bus_call *call)
{
    struct bus_server *s = call->srv;
    Bus__Health h = BUS__HEALTH__INIT;
    bool ok = true;

    h.service = s->service;
    h.instance = s->instance;
    h.version = (char *)"0.1.0";
    h.uptime_s = (clock_mono_ms() - s->started_ms) / 1000;
    h.store_ok = true;
    if (s->o.store_ok != NULL)
        ok = s->o.store_ok(s->o.store_arg);
    h.store_ok = ok;
    bus_call_reply(call, ok ? BUS_OK : BUS_UNAVAILABLE,
        ok ? "ok" : "store unavailable", &h.base);
}

static void *
worker_main(void *arg)
{
    struct bus_server *s = arg;

    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->head == NULL && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        struct bus_call *call = s->head;
        if (call == NULL) { /* stopping and nothing left */
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->head = call->next;
        if (s->head == NULL)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        run_call(s, call);
    }
}

static char *
dup_or(const char *s, const char *fallback)
{
    return strdup(s != NULL ? s : fallback);
}

/*
 * A daemon's link to a gateway came up or went down: one log line each, so
 * an operator (or a failing test's log) shows whether a restarted gateway
 * was dialed back. The gateway's address is known only while the pipe is
 * attached; the pipe id ties the two lines together.
 */
static void
server_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct bus_server *s = arg;
    char *url = NULL;

    if (ev == NNG_PIPE_EV_ADD_POST) {
        nng_dialer d = nng_pipe_dialer(p);
        if (nng_dialer_id(d) > 0)
            nng_dialer_get_string(d, NNG_OPT_URL, &url);
        log_info("bus: %s: gateway link %u up (%s)", s->service,
            (unsigned)nng_pipe_id(p), url != NULL ? url : "?");
        nng_strfree(url);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        log_info("bus: %s: gateway link %u down", s->service,
            (unsigned)nng_pipe_id(p));
    }
}

int
bus_server_start(struct bus_server **sp, const struct bus_server_opts *o)
{
    struct bus_server *s;
    int rv;

    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NNG_ENOMEM;
    s->o = *o;
    s->service = dup_or(o->service, "daemon");
    s->instance = dup_or(o->instance, "-");
    s->started_ms = clock_mono_ms();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    if ((rv = nng_rep0_open(&s->sock)) != 0)
        goto fail;
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, BUS_MAX_MSG);
    /* Reconnect quickly after the gateway restarts. */
    nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, 1000);
    nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, server_pipe_cb, s);
    nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, server_pipe_cb, s);
    s->nslots = o->contexts > 0 ? o->contexts : 16;
    s->slots = calloc((size_t)s->nslots, sizeof(*s->slots));
    if (s->slots == NULL) {
        rv = NNG_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < s->nslots; i++) {
        struct bus_call *call = &s->slots[i];
        call->srv = s;
        if ((rv = nng_aio_alloc(&call->aio, slot_cb, call)) != 0
            || (rv = nng_ctx_open(&call->ctx, s->sock)) != 0)
            goto fail;
    }
    s->nthreads = o->workers > 0 ? o->workers : 4;
    s->threads = calloc((size_t)s->nthreads, sizeof(*s->threads));
    if (s->threads == NULL) {
        rv = NNG_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < s->nthreads; i++)
        pthread_create(&s->threads[i], NULL, worker_main, s);
    for (int i = 0; i < s->nslots; i++)
        slot_recv(&s->slots[i]);
    /*
     * Non-blocking: keeps retrying in the background until each gateway is
     * up; one dialer per gateway named, requests taken from all of them.
     */
    if ((rv = bus_dial_start(&s->dial, s->sock, o->url, s->service)) != 0) {
        bus_server_stop(s, 0);
        return rv;
    }
    *sp = s;
    return 0;
fail:
    log_error("bus: cannot start server on %s: %s", o->url, nng_strerror(rv));
    if (s->slots)
        for (int i = 0; i < s->nslots; i++)
            nng_aio_free(s->slots[i].aio);
    nng_close(s->sock);
    free(s->slots);
    free(s->service);
    free(s->instance);
    free(s);
    return rv;
}

void
bus_server_stop(struct bus_server *s, int grace_ms)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /*
     * Waiting receives end; requests being handled finish and reply. Should
     * a cancel race with a reply, the reply is lost but the request is not:
     * the caller resends it to another instance when this one's pipe closes.
     */
    for (int i = 0; i < s->nslots; i++) {
        pthread_mutex_lock(&s->mu);
        bool waiting = s->slots[i].state == SLOT_RECV;
        pthread_mutex_unlock(&s->mu);
        if (waiting)
            nng_aio_cancel(s->slots[i].aio);
    }
    struct timespec until = clock_realtime_in(grace_ms);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int busy = s->sending;
        for (int i = 0; i < s->nslots; i++)
            busy += s->slots[i].state != SLOT_IDLE;
        if (busy == 0)
            break;
        if (pthread_cond_timedwait(&s->idle_cv, &s->mu, &until) == ETIMEDOUT) {
            log_warn("bus: %d request(s) still running at shutdown", busy);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    bus_dial_stop(s->dial);
    nng_close(s->sock);
    for (int i = 0; i < s->nslots; i++) {
        nng_aio_stop(s->slots[i].aio);
        nng_aio_free(s->slots[i].aio);
        bus__request__free_unpacked(s->slots[i].req, NULL);
    }
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->mu);
    free(s->threads);
    free(s->slots);
    free(s->service);
    free(s->instance);
    free(s);
}

const Bus__Meta *
bus_call_meta(const struct bus_call *call)
{
    static const Bus__Meta empty = BUS__META__INIT;
    return call->req && call->req->meta ? call->req->meta : &empty;
}

const char *
bus_call_method(const struct bus_call *call)
{
    return call->req && call->req->method ? call->req->method : "";
}

void
bus_call_attr(struct bus_call *call, const char *key, const char *val)
{
    if (call->traced)
        span_attr(&call->span, key, val);
}

const struct span *
bus_call_span(const struct bus_call *call)
{
    return call->traced ? &call->span : NULL;
}

struct bus_events *
bus_call_events(const struct bus_call *call)
{
    return call->srv->o.events;
}

const uint8_t *
bus_call_body(const struct bus_call *call, size_t *len)
{
    *len = call->req ? call->req->body.len : 0;
    return call->req ? call->req->body.data : NULL;
}

void
bus_call_reply(struct bus_call *call, int code, const char *message,
    const ProtobufCMessage *body)
{
    Bus__Reply rep = BUS__REPLY__INIT;
    Bus__Status st = BUS__STATUS__INIT;
    nng_msg *msg;
    int rv;

    if (call->traced) {
        call->traced = false;
        span_end(&call->span, code);
        bus_span(call->srv->o.events, &call->span);
    }
    st.code = code;
    st.message = (char *)(message ? message : "");
    rep.status = &st;
    rep.instance = call->srv->instance;
    if (pack_body(body, &rep.body) != 0) {
        st.code = BUS_INTERNAL;
        st.message = (char *)"reply too large";
    }
    rv = pack_message(&msg, &rep.base);
    free(rep.body.data);
    if (rv != 0) {
        log_error("bus: cannot pack reply");
        slot_finish(call);
        return;
    }
    /*
     * A deferred reply comes from a thread of the caller's (a model's
     * callback): the send may complete, and the slot go idle, before
     * nng_ctx_send returns here, so bus_server_stop also waits for this
     * thread to be out of it before closing the socket under it.
     */
    struct bus_server *s = call->srv;
    pthread_mutex_lock(&s->mu);
    call->state = SLOT_SEND;
    s->sending++;
    pthread_mutex_unlock(&s->mu);
    nng_aio_set_msg(call->aio, msg);
    nng_ctx_send(call->ctx, call->aio);
    pthread_mutex_lock(&s->mu);
    if (--s->sending == 0)
        pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- events ------------------------------------------------------------- */

#define EV_MAX_LABELS 8
#define EV_STR 64
#define HEARTBEAT_MS 10000

struct ev {
    char name[EV_STR];
    double value;
    int64_t ts_ms;
    int nlabels;
    char keys[EV_MAX_LABELS][EV_STR];
    char vals[EV_MAX_LABELS][EV_STR];
};

struct bus_events {
    nng_socket sock;
    struct bus_dial *dial;
    char *service, *instance;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ev *q;
    struct span *sq;
    int cap, len, slen;
    bool stopping;
    atomic_uint_least64_t dropped;
    uint64_t dropped_reported;
    int64_t started_ms, heartbeat_ms;
    pthread_t flusher;
};

/* The protobuf views of one batch, pointing into the queued copies. */
struct batch_pb {
    Metrics__Event *evs;
    Metrics__Event **eptrs;
    Metrics__Event__LabelsEntry *labels;
    Metrics__Event__LabelsEntry **lptrs;
    Metrics__Span *spans;
    Metrics__Span **sptrs;
    Metrics__Span__AttributesEntry *attrs;
    Metrics__Span__AttributesEntry **aptrs;
};

static void
batch_pb_free(struct batch_pb *p)
{
    free(p->evs);
    free(p->eptrs);
    free(p->labels);
    free(p->lptrs);
    free(p->spans);
    free(p->sptrs);
    free(p->attrs);
    free(p->aptrs);
}

static int
batch_pb_fill(struct bus_events *e, Metrics__EventBatch *b, struct batch_pb *p,
    struct ev *ev, int n, struct span *sp, int ns)
{
    size_t un = (size_t)n + 1, us = (size_t)ns + 1;

    p->evs = calloc(un, sizeof(*p->evs));
    p->eptrs = calloc(un, sizeof(*p->eptrs));
    p->labels = calloc(un * EV_MAX_LABELS, sizeof(*p->labels));
    p->lptrs = calloc(un * EV_MAX_LABELS, sizeof(*p->lptrs));
    p->spans = calloc(us, sizeof(*p->spans));
    p->sptrs = calloc(us, sizeof(*p->sptrs));
    p->attrs = calloc(us * SPAN_ATTRS, sizeof(*p->attrs));
    p->aptrs = calloc(us * SPAN_ATTRS, sizeof(*p->aptrs));
    if (!p->evs || !p->eptrs || !p->labels || !p->lptrs || !p->spans
        || !p->sptrs || !p->attrs || !p->aptrs)
        return -1;
    for (int i = 0; i < n; i++) {
        Metrics__Event *m = &p->evs[i];
        metrics__event__init(m);
        m->service = e->service;
        m->instance = e->instance;
        m->name = ev[i].name;
        m->ts_ms = ev[i].ts_ms;
        m->value = ev[i].value;
        m->n_labels = (size_t)ev[i].nlabels;
        m->labels = &p->lptrs[i * EV_MAX_LABELS];
        for (int k = 0; k < ev[i].nlabels; k++) {
            Metrics__Event__LabelsEntry *le = &p->labels[i * EV_MAX_LABELS + k];
            metrics__event__labels_entry__init(le);
            le->key = ev[i].keys[k];
            le->value = ev[i].vals[k];
            m->labels[k] = le;
        }
        p->eptrs[i] = m;
    }
    for (int i = 0; i < ns; i++) {
        Metrics__Span *m = &p->spans[i];
        struct span *s = &sp[i];
        metrics__span__init(m);
        m->trace_id = s->trace_id;
        m->span_id = s->span_id;
        m->parent_span_id = s->parent_id;
        m->name = s->name;
        m->service = e->service;
        m->instance = e->instance;
        m->start_us = s->start_us;
        m->duration_us = s->dur_us;
        m->code = s->code;
        m->root = s->root;
        m->n_attributes = (size_t)s->nattrs;
        m->attributes = &p->aptrs[i * SPAN_ATTRS];
        for (int k = 0; k < s->nattrs; k++) {
            Metrics__Span__AttributesEntry *a = &p->attrs[i * SPAN_ATTRS + k];
            metrics__span__attributes_entry__init(a);
            a->key = s->keys[k];
            a->value = s->vals[k];
            m->attributes[k] = a;
        }
        p->sptrs[i] = m;
    }
    b->n_events = (size_t)n;
    b->events = p->eptrs;
    b->n_spans = (size_t)ns;
    b->spans = p->sptrs;
    return 0;
}

static void
events_flush(
    struct bus_events *e, struct ev *batch, int n, struct span *spans, int ns)
{
    Metrics__EventBatch b = METRICS__EVENT_BATCH__INIT;
    struct batch_pb p = {0};
    nng_msg *msg;

    if (batch_pb_fill(e, &b, &p, batch, n, spans, ns) != 0) {
        atomic_fetch_add(&e->dropped, (uint64_t)(n + ns));
        goto out;
    }
    uint64_t dropped = atomic_load(&e->dropped);
    b.dropped = dropped - e->dropped_reported;
    if (pack_message(&msg, &b.base) != 0) {
        atomic_fetch_add(&e->dropped, (uint64_t)(n + ns));
        goto out;
    }
    if (nng_sendmsg(e->sock, msg, NNG_FLAG_NONBLOCK) != 0) {
        nng_msg_free(msg);
        atomic_fetch_add(&e->dropped, (uint64_t)(n + ns));
    } else {
        e->dropped_reported = dropped;
    }
out:
    batch_pb_free(&p);
}

/* Queue an event; the lock is held. */
static struct ev *
ev_push_locked(struct bus_events *e, const char *name, double value)
{
    if (e->len >= e->cap || e->stopping) {
        atomic_fetch_add(&e->dropped, 1);
        return NULL;
    }
    struct ev *ev = &e->q[e->len++];
    snprintf(ev->name, sizeof(ev->name), "%s", name);
    ev->value = value;
    ev->ts_ms = clock_now_ms();
    ev->nlabels = 0;
    return ev;
}

static void *
flusher_main(void *arg)
{
    struct bus_events *e = arg;
    struct ev *batch = calloc((size_t)e->cap, sizeof(*batch));
    struct span *sbatch = calloc((size_t)e->cap, sizeof(*sbatch));

    for (;;) {
        struct timespec until
            = clock_realtime_in(100); /* batch for up to 100 ms */
        pthread_mutex_lock(&e->mu);
        while (e->len < 64 && e->slen < 64 && !e->stopping
            && pthread_cond_timedwait(&e->cv, &e->mu, &until) != ETIMEDOUT)
            ;
        /* Every 10 s: "I am here, up this long" (instances and uptime). */
        int64_t now = clock_mono_ms();
        if (now - e->heartbeat_ms >= HEARTBEAT_MS && !e->stopping) {
            e->heartbeat_ms = now;
            ev_push_locked(e, "heartbeat", (double)(now - e->started_ms) / 1e3);
        }
        int n = e->len, ns = e->slen;
        bool stop = e->stopping;
        if (batch != NULL && n > 0)
            memcpy(batch, e->q, (size_t)n * sizeof(*batch));
        if (sbatch != NULL && ns > 0)
            memcpy(sbatch, e->sq, (size_t)ns * sizeof(*sbatch));
        e->len = 0;
        e->slen = 0;
        pthread_mutex_unlock(&e->mu);
        if ((n > 0 || ns > 0) && batch != NULL && sbatch != NULL)
            events_flush(e, batch, n, sbatch, ns);
        if (stop)
            break;
    }
    free(batch);
    free(sbatch);
    return NULL;
}

int
bus_events_open(struct bus_events **ep, const char *url, const char *service,
    const char *instance, int queue)
{
    struct bus_events *e;
    int rv;

    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NNG_ENOMEM;
    e->cap = queue > 0 ? queue : 1024;
    e->q = calloc((size_t)e->cap, sizeof(*e->q));
    e->sq = calloc((size_t)e->cap, sizeof(*e->sq));
    e->service = dup_or(service, "-");
    e->instance = dup_or(instance, "-");
    e->started_ms = clock_mono_ms();
    e->heartbeat_ms = e->started_ms - HEARTBEAT_MS; /* one at once */
    if (e->q == NULL || e->sq == NULL || (rv = nng_push0_open(&e->sock)) != 0) {
        free(e->q);
        free(e->sq);
        free(e->service);
        free(e->instance);
        free(e);
        return NNG_ENOMEM;
    }
    nng_socket_set_int(e->sock, NNG_OPT_SENDBUF, 16);
    nng_socket_set_ms(e->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(e->sock, NNG_OPT_RECONNMAXT, 1000);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    /* An address that cannot be dialled is logged; events then drop. */
    bus_dial_start(&e->dial, e->sock, url, "events");
    pthread_create(&e->flusher, NULL, flusher_main, e);
    *ep = e;
    return 0;
}

void
bus_events_close(struct bus_events *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->flusher, NULL);
    bus_dial_stop(e->dial);
    nng_close(e->sock);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e->q);
    free(e->sq);
    free(e->service);
    free(e->instance);
    free(e);
}

void
bus_event(struct bus_events *e, const char *name, double value, ...)
{
    va_list ap;

    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    struct ev *ev = ev_push_locked(e, name, value);
    if (ev == NULL) {
        pthread_mutex_unlock(&e->mu);
        return;
    }
    va_start(ap, value);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        if (ev->nlabels < EV_MAX_LABELS) {
            snprintf(ev->keys[ev->nlabels], EV_STR, "%s", k);
            snprintf(ev->vals[ev->nlabels], EV_STR, "%s", v ? v : "");
            ev->nlabels++;
        }
    }
    va_end(ap);
    if (e->len >= 64)
        pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void
bus_span(struct bus_events *e, const struct span *s)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    if (e->slen >= e->cap || e->stopping) {
        pthread_mutex_unlock(&e->mu);
        atomic_fetch_add(&e->dropped, 1);
        return;
    }
    e->sq[e->slen++] = *s;
    if (e->slen >= 64)
        pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

uint64_t
bus_events_dropped(const struct bus_events *e)
{
    return e ? atomic_load(&((struct bus_events *)e)->dropped) : 0;
}

/* ---- notices ------------------------------------------------------------ */

struct bus_notify {
    nng_socket sock;
    struct bus_dial *dial;
};

int
bus_notify_open(struct bus_notify **np, const char *urls)
{
    struct bus_notify *n = calloc(1, sizeof(*n));
    int rv;

    if (n == NULL)
        return NNG_ENOMEM;
    if ((rv = nng_pub0_open(&n->sock)) != 0) {
        free(n);
        return rv;
    }
    nng_socket_set_ms(n->sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(n->sock, NNG_OPT_RECONNMAXT, 1000);
    /* A gateway that cannot be dialled misses notices; the others not. */
    bus_dial_start(&n->dial, n->sock, urls, "notices");
    *np = n;
    return 0;
}

void
bus_notify_close(struct bus_notify *n)
{
    if (n == NULL)
        return;
    bus_dial_stop(n->dial);
    nng_close(n->sock);
    free(n);
}

void
bus_notify_send(struct bus_notify *n, const ProtobufCMessage *m)
{
    nng_msg *msg;

    if (n == NULL || pack_message(&msg, m) != 0)
        return;
    if (nng_sendmsg(n->sock, msg, NNG_FLAG_NONBLOCK) != 0)
        nng_msg_free(msg);
}

/*
 * A listener's thread receives with a deadline and checks stopping between
 * receives, and close ends the thread before it closes the socket: nng
 * 1.5's nng_close can wait forever for a receive that another thread
 * starts while the socket is closing (the metrics daemon hung so on
 * SIGTERM under load).
 */
#define LISTENER_POLL_MS 200
#define CLOSE_WAIT_MS 2000

/*
 * nng 1.5's nng_close can wait for good for a pipe accepted while the
 * socket closes (senders redialing meanwhile; fixed in later nng). A
 * listener's socket is closed from a thread of its own, waited for at most
 * ms; past that it is left behind (the process is stopping) with a warning.
 */
struct closer {
    nng_socket sock;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
};

static void
closer_free(struct closer *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void *
closer_main(void *arg)
{
    struct closer *c = arg;

    nng_close(c->sock);
    pthread_mutex_lock(&c->mu);
    c->done = true;
    bool abandoned = c->abandoned;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (abandoned)
        closer_free(c);
    return NULL;
}

static void
close_bounded(nng_socket sock, int ms)
{
    struct closer *c = calloc(1, sizeof(*c));
    pthread_t t;
    struct timespec until;

    if (c == NULL) {
        nng_close(sock);
        return;
    }
    c->sock = sock;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&t, NULL, closer_main, c) != 0) {
        closer_free(c);
        nng_close(sock);
        return;
    }
    until = clock_realtime_in(ms);
    pthread_mutex_lock(&c->mu);
    while (
        !c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) != ETIMEDOUT)
        ;
    if (!c->done) {
        c->abandoned = true;
        pthread_mutex_unlock(&c->mu);
        pthread_detach(t);
        log_warn("bus: a socket did not close within %d ms; left open", ms);
        return;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_join(t, NULL);
    closer_free(c);
}

struct bus_listener {
    nng_socket sock;
    struct bus_listen listen;
    pthread_t thread;
    atomic_bool stopping;
    bus_notice_fn cb;
    void *arg;
};

static void *
listener_main(void *arg)
{
    struct bus_listener *l = arg;

    while (!atomic_load(&l->stopping)) {
        nng_msg *msg;
        int rv = nng_recvmsg(l->sock, &msg, 0);
        if (rv == NNG_ECLOSED)
            return NULL;
        if (rv != 0)
            continue; /* NNG_ETIMEDOUT: look at stopping again */
        l->cb(nng_msg_body(msg), nng_msg_len(msg), l->arg);
        nng_msg_free(msg);
    }
    return NULL;
}

static int
listener_open(struct bus_listener **lp, const char *url, bool pull,
    bus_notice_fn cb, void *arg)
{
    struct bus_listener *l = calloc(1, sizeof(*l));
    int rv;

    if (l == NULL)
        return NNG_ENOMEM;
    l->cb = cb;
    l->arg = arg;
    atomic_init(&l->stopping, false);
    if ((rv = pull ? nng_pull0_open(&l->sock) : nng_sub0_open(&l->sock)) != 0) {
        free(l);
        return rv;
    }
    if (!pull)
        nng_socket_set(l->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, BUS_MAX_MSG);
    nng_socket_set_ms(l->sock, NNG_OPT_RECVTIMEO, LISTENER_POLL_MS);
    if ((rv = bus_listen_start(&l->listen, l->sock, url)) == 0
        && pthread_create(&l->thread, NULL, listener_main, l) != 0) {
        bus_listen_stop(&l->listen);
        rv = NNG_ENOMEM;
    }
    if (rv != 0) {
        nng_close(l->sock);
        free(l);
        return rv;
    }
    *lp = l;
    return 0;
}

int
bus_listener_open(
    struct bus_listener **lp, const char *url, bus_notice_fn cb, void *arg)
{
    return listener_open(lp, url, false, cb, arg);
}

int
bus_intake_open(
    struct bus_listener **lp, const char *url, bus_notice_fn cb, void *arg)
{
    return listener_open(lp, url, true, cb, arg);
}

void
bus_listener_close(struct bus_listener *l)
{
    if (l == NULL)
        return;
    atomic_store(&l->stopping, true);
    pthread_join(l->thread, NULL);
    bus_listen_stop(&l->listen);
    close_bounded(l->sock, CLOSE_WAIT_MS);
    free(l);
}
