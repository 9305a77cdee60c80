/*
 * service.h - the intent-agent's bus methods: "classify" answers intent,
 * confidence, per-intent scores and the sentence embedding, which the
 * gateway hands on to the support agent so a message is encoded once.
 */
#ifndef INTENT_SERVICE_H
#define INTENT_SERVICE_H

#include "bus.h"
#include "classifier.h"

/* Longest text classified; longer ones are cut (the encoder sees 256
 * tokens at most anyway). */
#define INTENT_TEXT_MAX 16384

struct intent_service {
    struct classifier *clf;
};

/* The bus handler; arg is a struct intent_service. */
void intent_service_handle(struct bus_call *call, void *arg);

#endif
