/*
 * bus.h - the suite's message bus: nng REQ/REP carrying bus.proto envelopes,
 * and PUSH/PULL for metric events.
 *
 * The gateway holds a client per daemon and listens; every daemon instance
 * runs a server that dials in, so starting one more instance is all it takes
 * to scale a daemon. A request whose instance dies is resent by nng to
 * another instance: handlers must be idempotent (the request id is the key).
 */
#ifndef COMMON_BUS_H
#define COMMON_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "bus.pb-c.h"
#include "trace.h"

/* Status codes carry HTTP's meaning. */
enum bus_code {
    BUS_OK = 200,
    BUS_CREATED = 201,
    BUS_BAD_REQUEST = 400,
    BUS_FORBIDDEN = 403,
    BUS_NOT_FOUND = 404,
    BUS_CONFLICT = 409,
    BUS_INTERNAL = 500,
    BUS_UNAVAILABLE = 503,
    BUS_DEADLINE = 504,
};

/* Largest envelope accepted on the bus. */
#define BUS_MAX_MSG (4u << 20)

/* ---- client (the gateway) ----------------------------------------------- */

struct bus_client;

/*
 * Listen on url for instances of one daemon. On success *cp owns the client
 * (bus_client_close) and 0 is returned; otherwise an nng error code.
 */
int bus_client_open(struct bus_client **cp, const char *url);

/* Close the socket and free the client; NULL is a no-op. */
void bus_client_close(struct bus_client *c);

/* Daemon instances connected right now. */
int bus_client_peers(const struct bus_client *c);

/*
 * Times the client's ipc listener was found to have stopped accepting and
 * was opened afresh (bus_listen.h); each is also logged.
 */
int bus_client_relistened(struct bus_client *c);

/*
 * Call `method` with the packed message `body` (may be NULL) and wait for
 * the reply, at most timeout_ms. Returns BUS_OK with *out set to the reply
 * (free with bus__reply__free_unpacked(*out, NULL)); the reply's own status
 * says how the daemon judged the request. Returns BUS_UNAVAILABLE when no
 * instance is connected or sending failed, BUS_DEADLINE when no reply came
 * in time, BUS_INTERNAL on a malformed reply; *out is then untouched.
 */
int bus_call(struct bus_client *c, const Bus__Meta *meta, const char *method,
    const ProtobufCMessage *body, int timeout_ms, Bus__Reply **out);

/* ---- server (every daemon) ---------------------------------------------- */

struct bus_server;
struct bus_call;

/*
 * Called on a worker thread for every request but "health" when the server
 * answers that itself. The handler must answer with bus_call_reply exactly
 * once, now or later from any thread (a deferred reply frees the worker).
 */
typedef void (*bus_handler_fn)(struct bus_call *call, void *arg);

/* Extra health facts a daemon reports; may be NULL. */
typedef bool (*bus_health_fn)(void *arg);

/*
 * Whether the handler of `method` never blocks (reads memory, queues work
 * for its own threads): such requests run on nng's completion thread as
 * they arrive, without the hand-over to a worker. NULL: none does.
 */
typedef bool (*bus_inline_fn)(const char *method);

struct bus_server_opts {
    const char *url;      /* gateways' addresses, comma-separated */
    const char *service;  /* for logs and health */
    const char *instance; /* this instance's name */
    int workers;          /* threads running handlers */
    int contexts;         /* requests accepted at once */
    bus_handler_fn handler;
    void *arg;                 /* handed to handler */
    bus_inline_fn inline_ok;   /* methods handled without a worker */
    bus_health_fn store_ok;    /* NULL: the daemon does not use the store */
    void *store_arg;           /* handed to store_ok */
    struct bus_events *events; /* when set, each traced call is a span */
};

/*
 * Dial each gateway of o->url (retrying in the background until it is up)
 * and start the workers, which answer requests from every gateway. Returns
 * 0 with *sp set, or an nng error code (an address that cannot be parsed,
 * or none given).
 */
int bus_server_start(struct bus_server **sp, const struct bus_server_opts *o);

/*
 * Stop taking requests, let the ones in flight finish (at most grace_ms),
 * close the socket (requests queued for this instance go to another one)
 * and free the server. NULL is a no-op.
 */
void bus_server_stop(struct bus_server *s, int grace_ms);

/* The request's meta block, method and packed body. */
const Bus__Meta *bus_call_meta(const struct bus_call *call);
const char *bus_call_method(const struct bus_call *call);
const uint8_t *bus_call_body(const struct bus_call *call, size_t *len);

/*
 * The call's span (a traced request on a server with events): attributes
 * for it (e.g. "intent"), the span itself (the parent of the handler's own
 * spans; NULL when not traced) and where spans go (may be NULL).
 */
void bus_call_attr(struct bus_call *call, const char *key, const char *val);
const struct span *bus_call_span(const struct bus_call *call);
struct bus_events *bus_call_events(const struct bus_call *call);

/*
 * Answer the call with a status and an optional body message, and give the
 * call back to the server (it must not be touched afterwards).
 */
void bus_call_reply(struct bus_call *call, int code, const char *message,
    const ProtobufCMessage *body);

/* ---- metric events (PUSH, fire-and-forget) ------------------------------ */

struct bus_events;

/*
 * Open a PUSH socket towards url, queueing at most `queue` events; what
 * does not fit is dropped and counted, never waited for.
 */
int bus_events_open(struct bus_events **ep, const char *url,
    const char *service, const char *instance, int queue);

/* Flush what is queued (briefly) and free; NULL is a no-op. */
void bus_events_close(struct bus_events *e);

/*
 * Queue one event: name, a value (e.g. a duration in ms) and label pairs
 * given as a NULL-terminated list of key, value strings. Never blocks.
 * e may be NULL (reporting disabled).
 */
void bus_event(struct bus_events *e, const char *name, double value, ...);

/* Queue a finished span (copied); never blocks; e may be NULL. */
void bus_span(struct bus_events *e, const struct span *s);

/* Events dropped so far because the queue was full or the sink was down. */
uint64_t bus_events_dropped(const struct bus_events *e);

/* ---- notices (PUB/SUB, fire-and-forget) --------------------------------- */

struct bus_notify;

/*
 * Publish to each address of urls (comma-separated), dialled in the
 * background; a subscriber that is away misses what is sent meanwhile.
 */
int bus_notify_open(struct bus_notify **np, const char *urls);

/* Close; NULL is a no-op. */
void bus_notify_close(struct bus_notify *n);

/* Send one message to every subscriber; never blocks. n may be NULL. */
void bus_notify_send(struct bus_notify *n, const ProtobufCMessage *m);

/*
 * Listen for notices on url; each message's bytes go to cb(data, len, arg)
 * on a thread of the listener's own. Returns 0 with *lp set.
 */
typedef void (*bus_notice_fn)(const uint8_t *data, size_t len, void *arg);
struct bus_listener;
int bus_listener_open(
    struct bus_listener **lp, const char *url, bus_notice_fn cb, void *arg);

/*
 * The same for the messages PUSHed to url (the metrics daemon's event
 * intake); closed with bus_listener_close.
 */
int bus_intake_open(
    struct bus_listener **lp, const char *url, bus_notice_fn cb, void *arg);

/*
 * Stop the thread (within 200 ms: it receives with that deadline), then
 * close; NULL is a no-op.
 */
void bus_listener_close(struct bus_listener *l);

#endif
