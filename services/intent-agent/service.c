#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.pb-c.h"
#include "llm_intent.h"
#include "log.h"

struct intent_job {
    struct bus_call *call;
    char *text;
    bool want_embedding;
    struct intent_job *next;
};

static void
reply_as(struct intent_job *j, const struct classify_result *res, int intent,
    float confidence, const char *source, const char *why)
{
    Intent__ClassifyReply out = INTENT__CLASSIFY_REPLY__INIT;

    out.intent = (char *)intent_name(intent);
    out.confidence = confidence;
    out.fallback_reason = (char *)why;
    out.scores = (float *)res->scores;
    out.n_scores = INTENT_COUNT;
    if (res->has_embedding && j->want_embedding) {
        out.embedding = (float *)res->embedding;
        out.n_embedding = ENCODER_DIM;
    }
    out.source = (char *)source;
    char conf[16];
    snprintf(conf, sizeof(conf), "%.3f", (double)confidence);
    bus_call_attr(j->call, "intent", out.intent);
    bus_call_attr(j->call, "confidence", conf);
    bus_call_attr(j->call, "source", source);
    bus_call_reply(j->call, BUS_OK, "ok", &out.base);
}

static void
reply(struct intent_job *j, const struct classify_result *res)
{
    reply_as(j, res, res->intent, res->confidence, "builtin", "");
}

/* An LLM call in flight: the built-in result waits as the fallback. */
struct llm_pending {
    struct intent_job *job;
    struct classify_result res;
};

static void
on_llm(const struct llm_result *r, void *arg)
{
    struct llm_pending *p = arg;
    int label = r->error == LLM_OK ? intent_parse_answer(r->content) : -1;

    if (label >= 0) {
        /* The model gives no probability: the built-in one when the two
         * agree, else a fixed middling confidence. */
        float conf = label == p->res.intent ? p->res.confidence : 0.7f;
        reply_as(p->job, &p->res, label, conf, "llm", "");
    } else {
        const char *why = r->error != LLM_OK ? llm_strerror(r->error)
                                             : "answer outside the labels";
        log_warn("llm intent: %s: built-in answer instead", why);
        reply_as(p->job, &p->res, p->res.intent, p->res.confidence,
            "builtin-fallback", why);
    }
    free(p->job->text);
    free(p->job);
    free(p);
}

/* Ask the model about job; false when that could not start. */
static bool
ask_llm(struct intent_service *s, struct intent_job *j,
    const struct classify_result *res)
{
    struct llm_pending *p = malloc(sizeof(*p));
    struct intent_prompt prompt;

    if (p == NULL || intent_prompt_build(&prompt, j->text) != 0) {
        free(p);
        return false;
    }
    p->job = j;
    p->res = *res;
    int rv = llm_submit(s->llm, &prompt.req, on_llm, p);
    intent_prompt_release(&prompt);
    if (rv != 0)
        free(p);
    return rv == 0;
}

static void
run_batch(struct intent_service *s, struct intent_job **jobs, int n)
{
    const char *texts[INTENT_BATCH_MAX];
    static _Thread_local struct classify_result res[INTENT_BATCH_MAX];

    for (int i = 0; i < n; i++)
        texts[i] = jobs[i]->text;
    /* Every text is encoded: the embedding goes on to the support agent. */
    int rv = classifier_classify(s->clf, texts, (size_t)n, NULL, 0, res);
    for (int i = 0; i < n; i++) {
        bool llm = rv == 0 && s->llm != NULL
            && (s->mode == MODE_LLM
                || (s->mode == MODE_HYBRID
                    && res[i].confidence < INTENT_HYBRID_BELOW));
        if (llm && ask_llm(s, jobs[i], &res[i]))
            continue; /* answered from the LLM's callback */
        if (rv == 0) {
            reply(jobs[i], &res[i]);
        } else {
            log_error("classify failed: %d", rv);
            bus_call_reply(
                jobs[i]->call, BUS_INTERNAL, "classification failed", NULL);
        }
        free(jobs[i]->text);
        free(jobs[i]);
    }
}

static void *
batcher_main(void *arg)
{
    struct intent_service *s = arg;
    struct intent_job *jobs[INTENT_BATCH_MAX];

    for (;;) {
        int n = 0;
        pthread_mutex_lock(&s->mu);
        while (!s->stopping
            && (s->head == NULL
                || (s->running > 0 && s->queued < INTENT_BATCH_SPLIT)))
            pthread_cond_wait(&s->cv, &s->mu);
        while (s->head != NULL && n < INTENT_BATCH_MAX) {
            jobs[n++] = s->head;
            s->head = s->head->next;
        }
        if (s->head == NULL)
            s->tail = NULL;
        s->queued -= n;
        bool stop = s->stopping && n == 0;
        s->running += n > 0;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            return NULL;
        run_batch(s, jobs, n);
        pthread_mutex_lock(&s->mu);
        s->running--; /* what waited for this batch is this thread's next */
        pthread_mutex_unlock(&s->mu);
    }
}

int
intent_service_start(struct intent_service *s, struct classifier *clf,
    struct llm *llm, enum intent_mode mode, int batchers)
{
    memset(s, 0, sizeof(*s));
    s->clf = clf;
    s->llm = llm;
    s->mode = llm != NULL ? mode : MODE_BUILTIN;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (batchers < 1)
        batchers = 1;
    if (batchers > INTENT_BATCHERS_MAX)
        batchers = INTENT_BATCHERS_MAX;
    for (int i = 0; i < batchers; i++) {
        if (pthread_create(&s->threads[i], NULL, batcher_main, s) != 0)
            break;
        s->nthreads++;
    }
    return s->nthreads > 0 ? 0 : -1;
}

void
intent_service_stop(struct intent_service *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static void
classify(struct bus_call *call, struct intent_service *s)
{
    size_t len;
    const uint8_t *body = bus_call_body(call, &len);
    Intent__ClassifyRequest *in
        = intent__classify_request__unpack(NULL, len, body);
    struct intent_job *j;

    if (in == NULL || in->text == NULL) {
        intent__classify_request__free_unpacked(in, NULL);
        bus_call_reply(
            call, BUS_BAD_REQUEST, "malformed classify request", NULL);
        return;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL
        || (j->text = strndup(in->text, INTENT_TEXT_MAX)) == NULL) {
        free(j);
        intent__classify_request__free_unpacked(in, NULL);
        bus_call_reply(call, BUS_UNAVAILABLE, "out of memory", NULL);
        return;
    }
    j->call = call;
    j->want_embedding = in->want_embedding;
    intent__classify_request__free_unpacked(in, NULL);
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queued++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

bool
intent_service_inline(const char *method)
{
    /* classify only queues the message for the batchers. */
    return strcmp(method, "classify") == 0;
}

void
intent_service_handle(struct bus_call *call, void *arg)
{
    if (strcmp(bus_call_method(call), "classify") == 0)
        classify(call, arg);
    else
        bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}
