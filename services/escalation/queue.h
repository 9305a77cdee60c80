/*
 * queue.h - the escalation daemon's bus methods over its collections.
 */
#ifndef ESCALATION_QUEUE_H
#define ESCALATION_QUEUE_H

#include "bus.h"
#include "store.h"

struct queue {
    struct store *store;
    struct bus_notify *notify; /* may be NULL */
    struct bus_events *events; /* may be NULL */
    int64_t claim_ttl_ms;      /* a claim older than this may be taken over */
    int64_t sla_ms; /* an item open longer than this breaches the SLA */
};

/*
 * Create the collections' indexes (idempotent); claims expire after
 * claim_ttl_s. Returns 0 or a store_err.
 */
int queue_init(struct queue *q, struct store *store, int claim_ttl_s, int sla_s,
    struct bus_events *events);

/*
 * The bus handler: create (idempotent by request id), list (oldest first),
 * get, act (claim / release / approve / edit / reject; the claim is one
 * atomic findAndModify, and a conflict answers 409 naming the holder).
 */
void queue_handle(struct bus_call *call, void *arg);

#endif
