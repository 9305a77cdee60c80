/*
 * service.h - the intent-agent's bus methods: "classify" answers intent,
 * confidence, per-intent scores and the sentence embedding, which the
 * gateway hands on to the support agent so a message is encoded once.
 *
 * Requests are classified in micro-batches: the bus worker only queues a
 * request (its reply is deferred); `batchers` threads each take whatever
 * is queued (up to INTENT_BATCH_MAX) and run it as one batch, so under load
 * the encoder's matrix products grow from one message's ~14 rows to
 * hundreds, with no added wait when the daemon is idle. A forward pass
 * streams all 42 MB of weights whatever its size, so while one batcher
 * runs, the next starts only once INTENT_BATCH_SPLIT requests wait; fewer
 * requests wait for the running batch to end and go together then (a batch
 * of one costs ~5 ms of CPU a message, a batch of eight ~3 ms).
 *
 * LLM mode asks the model for every message, hybrid mode only when the
 * built-in model is unsure; the built-in result (and its embedding, which
 * the support agent needs anyway) is always computed first and answers when
 * the model times out, fails or says something outside the seven labels
 * (source "builtin-fallback" with the reason).
 */
#ifndef INTENT_SERVICE_H
#define INTENT_SERVICE_H

#include <pthread.h>
#include <stdbool.h>

#include "bus.h"
#include "classifier.h"
#include "llm.h"

/* Longest text classified; longer ones are cut (the encoder sees 256
 * tokens at most anyway). */
#define INTENT_TEXT_MAX 16384
#define INTENT_BATCH_MAX 32
#define INTENT_BATCH_SPLIT 8
#define INTENT_BATCHERS_MAX 16

struct intent_job;

enum intent_mode { MODE_BUILTIN, MODE_LLM, MODE_HYBRID };

/* In hybrid mode the LLM is asked when the built-in model is less sure. */
#define INTENT_HYBRID_BELOW 0.60f

struct intent_service {
    struct classifier *clf;
    struct llm *llm; /* NULL in built-in mode */
    enum intent_mode mode;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct intent_job *head, *tail;
    int queued;  /* jobs in the queue */
    int running; /* batchers running a batch */
    bool stopping;
    pthread_t threads[INTENT_BATCHERS_MAX];
    int nthreads;
};

/* Start `batchers` classifying threads over clf (borrowed). 0 or -1. */
int intent_service_start(struct intent_service *s, struct classifier *clf,
    struct llm *llm, enum intent_mode mode, int batchers);

/* Classify what is queued, then stop the threads. */
void intent_service_stop(struct intent_service *s);

/* The bus handler; arg is a struct intent_service. */
void intent_service_handle(struct bus_call *call, void *arg);

/* The methods that only queue work, never block (bus_inline_fn). */
bool intent_service_inline(const char *method);

#endif
