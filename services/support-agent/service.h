/*
 * service.h - the support agent's bus method "draft": retrieval over the
 * knowledge base, then the built-in reply (or, in LLM mode, a reply the
 * model writes grounded on the same entries). It holds no conversation
 * state; the gateway sends the message, intent and recent history.
 *
 * LLM mode (an llm client given): the same retrieval grounds a prompt; the
 * call is asynchronous (the bus reply is sent from the LLM client's thread),
 * so hundreds of slow model calls hold no worker. When the model fails or
 * answers something unusable, the built-in reply is sent instead (mode
 * "builtin-fallback"). Policy hand-overs (complaints, refunds above the
 * limit, entries marked for humans) apply in both modes.
 *
 * The knowledge comes from the `knowledge` collection (the escalation
 * daemon seeds it and adds curated answers); a background thread rebuilds
 * the index when the collection changes, and searches use the current
 * index under a read lock.
 */
#ifndef SUPPORT_SERVICE_H
#define SUPPORT_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "encoder.h"
#include "llm.h"
#include "retrieval.h"
#include "store.h"

#define SUPPORT_TOP_K 3
#define SUPPORT_REFRESH_MS 5000

struct support_service {
    struct store *store;
    const struct encoder *enc; /* may be NULL: BM25 only */
    struct llm *llm;           /* NULL: built-in replies only */
    pthread_rwlock_t lock;
    struct retrieval *index; /* guarded by lock */
    int64_t indexed_count;
    pthread_t refresher;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping, running;
};

/*
 * Load the knowledge (waiting until the collection has entries) and start
 * the refresher. Returns 0, or -1 when stopped before any knowledge came.
 */
int support_service_start(struct support_service *s, struct store *store,
    const struct encoder *enc, struct llm *llm, volatile sig_atomic_t *stop);

/* Stop the refresher and free the index. */
void support_service_stop(struct support_service *s);

/* The bus handler; arg is a struct support_service. */
void support_service_handle(struct bus_call *call, void *arg);

#endif
