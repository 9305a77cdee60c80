/*
 * queue.h - the escalation daemon's bus methods over its collections.
 */
#ifndef ESCALATION_QUEUE_H
#define ESCALATION_QUEUE_H

#include "bus.h"
#include "store.h"

struct queue {
    struct store *store;
};

/* Create the collections' indexes (idempotent). Returns 0 or a store_err. */
int queue_init(struct queue *q, struct store *store);

/* The bus handler: answers the escalation methods. */
void queue_handle(struct bus_call *call, void *arg);

#endif
