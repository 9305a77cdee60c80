/*
 * sse.h - live streams (server-sent events). The escalation daemon
 * publishes a notice after every change of the review queue; each gateway
 * listens for them and passes them to its open streams: agents' queue
 * streams get every notice, a customer's conversation stream gets the
 * human replies of that conversation. A stream holds one HTTP thread
 * (HTTP_THREADS must exceed the open connections); idle streams get a
 * comment every 15 s so proxies keep them open.
 */
#ifndef GATEWAY_SSE_H
#define GATEWAY_SSE_H

#include <pthread.h>
#include <stdbool.h>

#include "bus.h"
#include "http.h"

struct sse_client;

struct sse_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sse_client *clients;
    bool stopping;
    struct bus_listener *listener;
};

/* Listen for notices on url. 0, or an nng error. */
int sse_hub_start(struct sse_hub *h, const char *url);

/* End every stream (before the HTTP server stops: they hold its threads). */
void sse_hub_close_streams(struct sse_hub *h);

/* Stop listening and free (after the HTTP server has stopped). */
void sse_hub_stop(struct sse_hub *h);

/*
 * Serve one stream until the client goes or the hub closes: the queue's
 * notices (conversation_id NULL) or one conversation's human replies.
 */
void sse_serve(struct sse_hub *h, struct req *r, const char *conversation_id);

#endif
