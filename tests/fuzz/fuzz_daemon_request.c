/*
 * libFuzzer harness: a daemon's request decoding. Every daemon first
 * unpacks the bus envelope (bus.Request, common/bus.c), then the body of
 * its method; DAEMON selects which bodies (1 intent-agent, 2
 * support-agent, 3 escalation, 4 metrics). The input is tried as the
 * envelope and as each body; whatever unpacks is walked like a handler
 * walks it, packed again, and must unpack to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.pb-c.h"
#include "escalation.pb-c.h"
#include "intent.pb-c.h"
#include "metrics.pb-c.h"
#include "support.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Pack m (as a reply or a forwarded request would be) and unpack it again.
 * Packing must fill exactly the size it announced. The bytes need not
 * equal the input, and need not even unpack: protobuf-c 1.4 keeps an
 * unknown field numbered 0 when its tag is a non-canonical varint
 * ("81 00") and then refuses its own canonical re-encoding. Harmless here
 * (no daemon re-packs a request), so it is not treated as a failure.
 */
static void
round_trip(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n + 1);
    if (a == NULL)
        return;
    if (protobuf_c_message_pack(m, a) != n)
        abort();
    ProtobufCMessage *again
        = protobuf_c_message_unpack(m->descriptor, NULL, n, a);
    protobuf_c_message_free_unpacked(again, NULL);
    free(a);
}

/* Touch every string the way a handler reads it (strlen, copies). */
static size_t
walk_str(const char *s)
{
    return s ? strlen(s) : 0;
}

static void
envelope(const uint8_t *data, size_t size)
{
    Bus__Request *r = bus__request__unpack(NULL, size, data);
    if (r == NULL)
        return;
    size_t k = walk_str(r->method);
    if (r->meta)
        k += walk_str(r->meta->request_id) + walk_str(r->meta->trace_id)
            + walk_str(r->meta->user_id) + walk_str(r->meta->role);
    (void)k;
    round_trip(&r->base);
    bus__request__free_unpacked(r, NULL);
}

#if DAEMON == 1
static void
bodies(const uint8_t *data, size_t size)
{
    Intent__ClassifyRequest *m
        = intent__classify_request__unpack(NULL, size, data);
    if (m) {
        (void)walk_str(m->text);
        round_trip(&m->base);
        intent__classify_request__free_unpacked(m, NULL);
    }
}
#elif DAEMON == 2
static void
bodies(const uint8_t *data, size_t size)
{
    Support__DraftRequest *m = support__draft_request__unpack(NULL, size, data);
    if (m) {
        size_t k = walk_str(m->message) + walk_str(m->intent)
            + walk_str(m->conversation_id);
        for (size_t i = 0; i < m->n_history; i++)
            k += walk_str(m->history[i]->role) + walk_str(m->history[i]->text);
        float sum = 0;
        for (size_t i = 0; i < m->n_embedding; i++)
            sum += m->embedding[i];
        (void)k;
        (void)sum;
        round_trip(&m->base);
        support__draft_request__free_unpacked(m, NULL);
    }
}
#elif DAEMON == 3
static void
bodies(const uint8_t *data, size_t size)
{
    Escalation__CreateRequest *c
        = escalation__create_request__unpack(NULL, size, data);
    if (c) {
        if (c->item) {
            (void)walk_str(c->item->conversation_id);
            (void)walk_str(c->item->customer_message);
            for (size_t i = 0; i < c->item->n_knowledge_ids; i++)
                (void)walk_str(c->item->knowledge_ids[i]);
        }
        round_trip(&c->base);
        escalation__create_request__free_unpacked(c, NULL);
    }
    Escalation__ListRequest *l
        = escalation__list_request__unpack(NULL, size, data);
    if (l) {
        round_trip(&l->base);
        escalation__list_request__free_unpacked(l, NULL);
    }
    Escalation__GetRequest *g
        = escalation__get_request__unpack(NULL, size, data);
    if (g) {
        round_trip(&g->base);
        escalation__get_request__free_unpacked(g, NULL);
    }
    Escalation__ActRequest *a
        = escalation__act_request__unpack(NULL, size, data);
    if (a) {
        round_trip(&a->base);
        escalation__act_request__free_unpacked(a, NULL);
    }
}
#elif DAEMON == 4
static void
bodies(const uint8_t *data, size_t size)
{
    Metrics__EventBatch *b = metrics__event_batch__unpack(NULL, size, data);
    if (b) {
        round_trip(&b->base);
        metrics__event_batch__free_unpacked(b, NULL);
    }
}
#else
#error "DAEMON must be 1..4"
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    envelope(data, size);
    bodies(data, size);
    return 0;
}
