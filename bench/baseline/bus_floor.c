/*
 * bus_floor - the floor of an authenticated one-hop gateway request: a
 * civetweb handler (set up like civetweb_bare) that checks nothing but makes
 * one nng REQ/REP round trip carrying the suite's own envelopes (bus.proto:
 * a Request with its Meta, a Reply with a small body) to a REP process, the
 * way the gateway calls a daemon: the HTTP side listens on an ipc address,
 * the REP side dials it. The REP side answers from nng's callback, with no
 * hand-off to a worker thread; each HTTP thread keeps its own context and
 * aio. bench/compare.sh reports the gateway's one-hop figure against this.
 *
 * The bus-* modes make the same round trip through the suite's own bus
 * library (common/bus.c: pooled contexts and aios on the calling side; on
 * the daemon's side the handler declared non-blocking, so it runs on nng's
 * thread like the metrics daemon's reads), still checking nothing:
 * between the two floors is the library's cost, above the second one the
 * gateway's and the metrics daemon's own work.
 *
 *   bus_floor rep URL                     the answering process
 *   bus_floor http PORT URL [THREADS]     the HTTP side (THREADS default 128)
 *   bus_floor bus-rep URL                 the same through common/bus.c
 *   bus_floor bus-http PORT URL [THREADS]
 *
 * Two knobs of the http mode take one of bus_call's habits at a time, to
 * tell what each costs: FLOOR_PER_CALL=1 opens and closes the context and
 * the aio for every call; FLOOR_CALLBACK=1 gives the aio a completion
 * callback that signals a condition variable the caller waits on.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bus.h"
#include "bus.pb-c.h"

#define REP_CONTEXTS 256

static volatile sig_atomic_t stop;
static nng_socket sock;
static struct bus_client *client; /* bus-http mode */

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static nng_msg *
pack(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    nng_msg *msg;

    if (nng_msg_alloc(&msg, len) != 0)
        return NULL;
    protobuf_c_message_pack(m, nng_msg_body(msg));
    return msg;
}

/* ---- the REP side ---- */

struct slot {
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
};

static void
rep_cb(void *arg)
{
    struct slot *s = arg;
    int rv = nng_aio_result(s->aio);

    if (s->sending || rv != 0) {
        if (rv != 0 && s->sending)
            nng_msg_free(nng_aio_get_msg(s->aio));
        s->sending = false;
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return;
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    nng_msg *in = nng_aio_get_msg(s->aio);
    Bus__Request *req
        = bus__request__unpack(NULL, nng_msg_len(in), nng_msg_body(in));
    nng_msg_free(in);

    Bus__Health h = BUS__HEALTH__INIT;
    Bus__Status st = BUS__STATUS__INIT;
    Bus__Reply rep = BUS__REPLY__INIT;
    uint8_t body[128];
    h.service = (char *)"floor";
    h.instance = (char *)"floor-1";
    h.version = (char *)"0.1.0";
    h.store_ok = true;
    rep.body.len = bus__health__pack(&h, body);
    rep.body.data = body;
    st.code = req != NULL && req->method != NULL ? 200 : 400;
    st.message = (char *)"ok";
    rep.status = &st;
    rep.instance = (char *)"floor-1";
    bus__request__free_unpacked(req, NULL);

    nng_msg *out = pack(&rep.base);
    if (out == NULL) {
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    s->sending = true;
    nng_aio_set_msg(s->aio, out);
    nng_ctx_send(s->ctx, s->aio);
}

static int
run_rep(const char *url)
{
    static struct slot slots[REP_CONTEXTS];
    int rv;

    if ((rv = nng_rep0_open(&sock)) != 0)
        return rv;
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 1000);
    for (int i = 0; i < REP_CONTEXTS; i++) {
        if ((rv = nng_aio_alloc(&slots[i].aio, rep_cb, &slots[i])) != 0
            || (rv = nng_ctx_open(&slots[i].ctx, sock)) != 0)
            return rv;
        nng_ctx_recv(slots[i].ctx, slots[i].aio);
    }
    if ((rv = nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
        return rv;
    while (!stop)
        usleep(100 * 1000);
    nng_close(sock);
    for (int i = 0; i < REP_CONTEXTS; i++)
        nng_aio_free(slots[i].aio);
    return 0;
}

/*
 * The bus-rep mode's handler. It answers from memory, so it is declared
 * inline like the metrics daemon's reads: it runs on nng's thread.
 */
static bool
bus_inline(const char *method)
{
    (void)method;
    return true;
}

static void
bus_handler(struct bus_call *call, void *arg)
{
    Bus__Health h = BUS__HEALTH__INIT;

    (void)arg;
    h.service = (char *)"floor";
    h.instance = (char *)"floor-1";
    h.version = (char *)"0.1.0";
    h.store_ok = true;
    bus_call_reply(call, BUS_OK, "ok", &h.base);
}

static int
run_bus_rep(const char *url)
{
    struct bus_server *srv;
    /* The daemons' defaults (BUS_WORKERS, BUS_CONTEXTS). */
    struct bus_server_opts o = {.url = url,
        .service = "floor",
        .instance = "floor-1",
        .workers = 4,
        .contexts = 1024,
        .handler = bus_handler,
        .inline_ok = bus_inline};
    int rv = bus_server_start(&srv, &o);

    if (rv != 0)
        return rv;
    while (!stop)
        usleep(100 * 1000);
    bus_server_stop(srv, 1000);
    return 0;
}

/* ---- the HTTP side ---- */

static bool per_call, with_callback; /* FLOOR_PER_CALL, FLOOR_CALLBACK */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static _Thread_local nng_ctx t_ctx;
static _Thread_local nng_aio *t_aio;
static _Thread_local struct waiter t_wait
    = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};

static void
waiter_cb(void *arg)
{
    struct waiter *w = arg;

    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void
wait_for(nng_aio *aio)
{
    if (!with_callback) {
        nng_aio_wait(aio);
        return;
    }
    pthread_mutex_lock(&t_wait.mu);
    while (!t_wait.done)
        pthread_cond_wait(&t_wait.cv, &t_wait.mu);
    t_wait.done = false;
    pthread_mutex_unlock(&t_wait.mu);
}

/* One round trip; the reply's status code, or -1. */
static int
call_once(void)
{
    Bus__Meta meta = BUS__META__INIT;
    Bus__Request req = BUS__REQUEST__INIT;
    int code = -1;

    if (per_call && t_aio != NULL) {
        nng_ctx_close(t_ctx);
        nng_aio_free(t_aio);
        t_aio = NULL;
    }
    if (t_aio == NULL) {
        if (nng_aio_alloc(&t_aio, with_callback ? waiter_cb : NULL, &t_wait)
            != 0)
            return -1;
        if (nng_ctx_open(&t_ctx, sock) != 0) {
            nng_aio_free(t_aio);
            t_aio = NULL;
            return -1;
        }
        nng_aio_set_timeout(t_aio, 5000);
    }
    /* Sizes like the gateway's: ids and a trace context in the meta. */
    meta.request_id = (char *)"0123456789abcdef0123456789abcdef";
    meta.trace_id = (char *)"4bf92f3577b34da6a3ce929d0e0e4736";
    meta.parent_span_id = (char *)"00f067aa0ba902b7";
    meta.deadline_ms = 0;
    meta.user_id = (char *)"000000000000000000000001";
    meta.role = (char *)"admin";
    req.meta = &meta;
    req.method = (char *)"traces";
    nng_msg *msg = pack(&req.base);
    if (msg == NULL)
        return -1;
    nng_aio_set_msg(t_aio, msg);
    nng_ctx_send(t_ctx, t_aio);
    wait_for(t_aio);
    if (nng_aio_result(t_aio) != 0) {
        nng_msg_free(nng_aio_get_msg(t_aio));
        return -1;
    }
    nng_ctx_recv(t_ctx, t_aio);
    wait_for(t_aio);
    if (nng_aio_result(t_aio) != 0)
        return -1;
    msg = nng_aio_get_msg(t_aio);
    Bus__Reply *rep
        = bus__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
    nng_msg_free(msg);
    if (rep != NULL && rep->status != NULL)
        code = rep->status->code;
    bus__reply__free_unpacked(rep, NULL);
    return code;
}

/* The same round trip through common/bus.c. */
static int
bus_call_once(void)
{
    Bus__Meta meta = BUS__META__INIT;
    Bus__Reply *rep = NULL;
    int code = -1;

    meta.request_id = (char *)"0123456789abcdef0123456789abcdef";
    meta.trace_id = (char *)"4bf92f3577b34da6a3ce929d0e0e4736";
    meta.parent_span_id = (char *)"00f067aa0ba902b7";
    meta.user_id = (char *)"000000000000000000000001";
    meta.role = (char *)"admin";
    if (bus_call(client, &meta, "traces", NULL, 5000, &rep) == BUS_OK) {
        code = rep->status->code;
        bus__reply__free_unpacked(rep, NULL);
    }
    return code;
}

static int
handler(struct mg_connection *conn)
{
    /* The bus library's client is the server's user data when it is used. */
    bool bus = mg_get_user_data(mg_get_context(conn)) != NULL;
    char buf[512], body[128];
    int n, code = bus ? bus_call_once() : call_once();

    int blen = snprintf(
        body, sizeof(body), "{\"status\":%d,\"service\":\"floor\"}", code);
    n = snprintf(buf, sizeof(buf),
        "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\n\r\n%s",
        code == 200 ? "200 OK" : "503 Service Unavailable", blen, body);
    mg_write(conn, buf, (size_t)n);
    return code == 200 ? 200 : 503;
}

static int
run_http(const char *port_arg, const char *url, const char *threads, bool bus)
{
    char port[64];
    int rv;

    if (bus) {
        if ((rv = bus_client_open(&client, url)) != 0)
            return rv;
    } else {
        if ((rv = nng_req0_open(&sock)) != 0)
            return rv;
        nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, 3600 * 1000);
        if ((rv = nng_listen(sock, url, NULL, 0)) != 0)
            return rv;
    }
    snprintf(port, sizeof(port), "127.0.0.1:%s", port_arg);
    const char *opts[] = {"listening_ports", port, "num_threads", threads,
        "enable_keep_alive", "yes", "tcp_nodelay", "1", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.begin_request = handler; /* as the gateway does */
    mg_init_library(0);
    struct mg_context *ctx = mg_start(&cb, bus ? (void *)client : NULL, opts);
    if (ctx == NULL) {
        fprintf(stderr, "cannot listen on %s\n", port);
        return 1;
    }
    while (!stop)
        usleep(100 * 1000);
    mg_stop(ctx);
    mg_exit_library();
    if (bus)
        bus_client_close(client);
    else
        nng_close(sock);
    return 0;
}

int
main(int argc, char **argv)
{
    int rv;

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    per_call = getenv("FLOOR_PER_CALL") != NULL
        && strcmp(getenv("FLOOR_PER_CALL"), "1") == 0;
    with_callback = getenv("FLOOR_CALLBACK") != NULL
        && strcmp(getenv("FLOOR_CALLBACK"), "1") == 0;
    bool bus = strncmp(argc > 1 ? argv[1] : "", "bus-", 4) == 0;
    const char *mode = bus ? argv[1] + 4 : argc > 1 ? argv[1] : "";

    if (argc == 3 && strcmp(mode, "rep") == 0)
        rv = bus ? run_bus_rep(argv[2]) : run_rep(argv[2]);
    else if ((argc == 4 || argc == 5) && strcmp(mode, "http") == 0)
        rv = run_http(argv[2], argv[3], argc == 5 ? argv[4] : "128", bus);
    else {
        fprintf(stderr,
            "usage: %s [bus-]rep URL | [bus-]http PORT URL [THREADS]\n",
            argv[0]);
        return 2;
    }
    if (rv != 0 && rv != 1)
        fprintf(stderr, "bus_floor: %s\n", nng_strerror(rv));
    return rv == 0 ? 0 : 1;
}
