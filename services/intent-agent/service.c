#include "service.h"

#include <stdlib.h>
#include <string.h>

#include "intent.pb-c.h"
#include "log.h"

static void
classify(struct bus_call *call, struct intent_service *svc)
{
    size_t len;
    const uint8_t *body = bus_call_body(call, &len);
    Intent__ClassifyRequest *in
        = intent__classify_request__unpack(NULL, len, body);
    Intent__ClassifyReply out = INTENT__CLASSIFY_REPLY__INIT;
    struct classify_result res;
    char *text;

    if (in == NULL || in->text == NULL) {
        intent__classify_request__free_unpacked(in, NULL);
        bus_call_reply(
            call, BUS_BAD_REQUEST, "malformed classify request", NULL);
        return;
    }
    text = strndup(in->text, INTENT_TEXT_MAX);
    /* The embedding is wanted downstream; never skip the encoder then. */
    unsigned flags = in->want_embedding ? 0 : CLASSIFY_SKIP_ENCODER;
    const char *texts[1] = {text};
    int rv = text ? classifier_classify(svc->clf, texts, 1, NULL, flags, &res)
                  : -1;
    free(text);
    intent__classify_request__free_unpacked(in, NULL);
    if (rv != 0) {
        log_error("classify failed: %d", rv);
        bus_call_reply(call, BUS_INTERNAL, "classification failed", NULL);
        return;
    }
    out.intent = (char *)intent_name(res.intent);
    out.confidence = res.confidence;
    out.scores = res.scores;
    out.n_scores = INTENT_COUNT;
    if (res.has_embedding) {
        out.embedding = res.embedding;
        out.n_embedding = ENCODER_DIM;
    }
    out.source = (char *)"builtin";
    bus_call_reply(call, BUS_OK, "ok", &out.base);
}

void
intent_service_handle(struct bus_call *call, void *arg)
{
    if (strcmp(bus_call_method(call), "classify") == 0)
        classify(call, arg);
    else
        bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}
