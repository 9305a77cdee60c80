#include "sse.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "clock.h"
#include "escalation.pb-c.h"
#include "gateway.h"
#include "log.h"

#define QUEUE_MAX 64 /* events a slow stream may lag; older ones dropped */
#define PING_S 15

struct sse_client {
    char conversation_id[64]; /* "" for a queue stream */
    char *events[QUEUE_MAX];
    int head, n;
    struct sse_client *next;
};

static void
push(struct sse_client *c, const char *event)
{
    if (c->n == QUEUE_MAX) { /* a stream this far behind loses the oldest */
        free(c->events[c->head]);
        c->head = (c->head + 1) % QUEUE_MAX;
        c->n--;
    }
    char *e = strdup(event);
    if (e != NULL)
        c->events[(c->head + c->n++) % QUEUE_MAX] = e;
}

static char *
sse_event(const char *name, cJSON *data)
{
    char *json = cJSON_PrintUnformatted(data), *out = NULL;

    cJSON_Delete(data);
    if (json != NULL
        && asprintf(&out, "event: %s\ndata: %s\n\n", name, json) < 0)
        out = NULL;
    cJSON_free(json);
    return out;
}

/* On the listener's thread: one notice to every stream it concerns. */
static void
on_notice(const uint8_t *data, size_t len, void *arg)
{
    struct sse_hub *h = arg;
    Escalation__Notice *n = escalation__notice__unpack(NULL, len, data);
    char *queue_ev = NULL, *reply_ev = NULL;

    if (n == NULL || n->kind == NULL || n->item == NULL) {
        escalation__notice__free_unpacked(n, NULL);
        return;
    }
    cJSON *q = cJSON_CreateObject();
    cJSON_AddStringToObject(q, "kind", n->kind);
    cJSON_AddItemToObject(q, "escalation", hitl_item_json(n->item));
    queue_ev = sse_event("escalation", q);
    if (strcmp(n->kind, "resolved") == 0 && n->item->final_reply[0]) {
        char when[32];
        cJSON *m = cJSON_CreateObject();
        clock_iso8601(when, sizeof(when), n->item->resolved_at);
        cJSON_AddStringToObject(m, "role", "agent");
        cJSON_AddStringToObject(m, "text", n->item->final_reply);
        cJSON_AddStringToObject(m, "conversation_id", n->item->conversation_id);
        cJSON_AddStringToObject(m, "timestamp", when);
        cJSON_AddBoolToObject(m, "handed_back", n->item->hand_back);
        reply_ev = sse_event("message", m);
    }
    pthread_mutex_lock(&h->mu);
    for (struct sse_client *c = h->clients; c != NULL; c = c->next) {
        if (c->conversation_id[0] == '\0' && queue_ev != NULL)
            push(c, queue_ev);
        else if (reply_ev != NULL
            && strcmp(c->conversation_id, n->item->conversation_id) == 0)
            push(c, reply_ev);
    }
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    free(queue_ev);
    free(reply_ev);
    escalation__notice__free_unpacked(n, NULL);
}

int
sse_hub_start(struct sse_hub *h, const char *url)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    return bus_listener_open(&h->listener, url, on_notice, h);
}

void
sse_hub_close_streams(struct sse_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void
sse_hub_stop(struct sse_hub *h)
{
    bus_listener_close(h->listener);
    h->listener = NULL;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
}

static bool
send_text(struct req *r, const char *s)
{
    return mg_write(r->conn, s, strlen(s)) > 0;
}

void
sse_serve(struct sse_hub *h, struct req *r, const char *conversation_id)
{
    struct sse_client *c = calloc(1, sizeof(*c));
    char head[512];

    if (c == NULL) {
        http_error(r, 503, "busy", "out of memory");
        return;
    }
    snprintf(c->conversation_id, sizeof(c->conversation_id), "%s",
        conversation_id ? conversation_id : "");
    snprintf(head, sizeof(head),
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n"
        "X-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\n\r\n"
        ": stream open\n\n",
        r->request_id);
    r->status = 200;
    pthread_mutex_lock(&h->mu);
    c->next = h->clients;
    h->clients = c;
    pthread_mutex_unlock(&h->mu);
    bool ok = send_text(r, head);
    while (ok) {
        char *batch[QUEUE_MAX];
        int n = 0;
        struct timespec until = clock_realtime_in(PING_S * 1000);
        pthread_mutex_lock(&h->mu);
        while (c->n == 0 && !h->stopping)
            if (pthread_cond_timedwait(&h->cv, &h->mu, &until) != 0)
                break;
        bool stop = h->stopping;
        while (c->n > 0) {
            batch[n++] = c->events[c->head];
            c->head = (c->head + 1) % QUEUE_MAX;
            c->n--;
        }
        pthread_mutex_unlock(&h->mu);
        if (n == 0 && !stop)
            ok = send_text(r, ": ping\n\n");
        for (int i = 0; i < n; i++) {
            if (ok)
                ok = send_text(r, batch[i]);
            free(batch[i]);
        }
        if (stop)
            break;
    }
    pthread_mutex_lock(&h->mu);
    for (struct sse_client **p = &h->clients; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    for (int i = 0; i < c->n; i++)
        free(c->events[(c->head + i) % QUEUE_MAX]);
    free(c);
}
