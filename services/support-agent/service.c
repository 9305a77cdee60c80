#include "service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "compose.h"
#include "intent.h"
#include "llm_reply.h"
#include "log.h"
#include "support.pb-c.h"

/* Build a new index from the collection and swap it in. */
static int
reload(struct support_service *s, int64_t count)
{
    struct kb kb;
    struct retrieval *idx, *old;
    int64_t t0 = clock_mono_ms();

    if (kb_load_store(&kb, s->store) != 0)
        return -1;
    if (kb.n == 0) {
        kb_release(&kb);
        return -1;
    }
    size_t n = kb.n;
    if (retrieval_build(&idx, &kb, s->enc) != 0) {
        kb_release(&kb);
        log_error("cannot index the knowledge base");
        return -1;
    }
    pthread_rwlock_wrlock(&s->lock);
    old = s->index;
    s->index = idx;
    s->indexed_count = count;
    pthread_rwlock_unlock(&s->lock);
    retrieval_free(old);
    log_info("knowledge indexed: %zu entries in %lld ms", n,
        (long long)(clock_mono_ms() - t0));
    return 0;
}

static void *
refresher_main(void *arg)
{
    struct support_service *s = arg;

    pthread_mutex_lock(&s->stop_mu);
    while (!s->stopping) {
        struct timespec until = clock_realtime_in(SUPPORT_REFRESH_MS);
        pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &until);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->stop_mu);
        int64_t count;
        if (kb_count(s->store, &count) == 0 && count != s->indexed_count)
            reload(s, count);
        pthread_mutex_lock(&s->stop_mu);
    }
    pthread_mutex_unlock(&s->stop_mu);
    return NULL;
}

int
support_service_start(struct support_service *s, struct store *store,
    const struct encoder *enc, struct llm *llm, volatile sig_atomic_t *stop)
{
    int64_t count = 0, last_log = 0;

    memset(s, 0, sizeof(*s));
    s->store = store;
    s->enc = enc;
    s->llm = llm;
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    /*
     * The escalation daemon seeds the collection; wait for it, and for the
     * count to hold still, so the first index is not of a half-seeded set.
     */
    int64_t seen = -1;
    while (kb_count(store, &count) != 0 || count == 0 || count != seen
        || reload(s, count) != 0) {
        seen = count;
        if (*stop)
            return -1;
        if (clock_mono_ms() - last_log > 5000) {
            log_warn("no knowledge in the store yet (the escalation daemon "
                     "loads it); waiting");
            last_log = clock_mono_ms();
        }
        usleep(200 * 1000);
    }
    s->running = pthread_create(&s->refresher, NULL, refresher_main, s) == 0;
    return 0;
}

void
support_service_stop(struct support_service *s)
{
    if (s->running) {
        pthread_mutex_lock(&s->stop_mu);
        s->stopping = true;
        pthread_cond_signal(&s->stop_cv);
        pthread_mutex_unlock(&s->stop_mu);
        pthread_join(s->refresher, NULL);
    }
    retrieval_free(s->index);
    s->index = NULL;
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
}

/* An LLM call in flight, with the built-in draft to fall back on. */
struct llm_job {
    struct bus_call *call;
    char *fallback;
    bool policy_human;         /* a policy hands it to a human anyway */
    bool builtin_human;        /* the built-in draft needs a human */
    const char *policy_reason; /* static string */
    const char *builtin_reason;
    char *ids[COMPOSE_MAX_IDS];
    int nids;
    bool traced;
    struct span span; /* the model call, a child of the draft's span */
};

static void
llm_job_free(struct llm_job *j)
{
    free(j->fallback);
    for (int i = 0; i < j->nids; i++)
        free(j->ids[i]);
    free(j);
}

static void
send_draft(struct bus_call *call, const char *reply, bool needs_human,
    const char *reason, char *const *ids, int nids, const char *mode)
{
    Support__DraftReply out = SUPPORT__DRAFT_REPLY__INIT;

    out.reply = (char *)reply;
    out.needs_human = needs_human;
    out.reason = (char *)reason;
    out.knowledge_ids = (char **)ids;
    out.n_knowledge_ids = (size_t)nids;
    out.agent_type = (char *)"support";
    out.mode = (char *)mode;
    bus_call_attr(call, "escalated", needs_human ? "true" : "false");
    if (reason[0] != '\0')
        bus_call_attr(call, "reason", reason);
    bus_call_attr(call, "mode", mode);
    bus_call_reply(call, BUS_OK, "ok", &out.base);
}

/* On the LLM client's thread: never blocks (the bus send is async). */
static void
on_llm(const struct llm_result *res, void *arg)
{
    struct llm_job *j = arg;
    char *reply = NULL, why[128];
    bool handoff = false;

    if (j->traced) {
        span_end(&j->span, res->error == LLM_OK ? 200 : 502);
        if (res->error != LLM_OK)
            span_attr(&j->span, "error", llm_strerror(res->error));
        bus_span(bus_call_events(j->call), &j->span);
    }

    if (res->error == LLM_OK
        && llm_reply_parse(res->content, &reply, &handoff, why, sizeof(why))
            == 0) {
        bool human = handoff || j->policy_human;
        send_draft(j->call, reply, human,
            j->policy_human ? j->policy_reason
                : handoff   ? "model_handoff"
                            : "",
            j->ids, j->nids, "llm");
    } else {
        log_warn("llm: %s (%s): built-in reply instead",
            res->error == LLM_OK ? "unusable answer" : llm_strerror(res->error),
            res->message);
        /* The built-in decision, whole: no match or low confidence too. */
        send_draft(j->call, j->fallback, j->builtin_human, j->builtin_reason,
            j->ids, j->nids, "builtin-fallback");
    }
    free(reply);
    llm_job_free(j);
}

static bool
is_policy(const char *reason)
{
    return strncmp(reason, "policy", 6) == 0;
}

/* Hand the draft to the model; false when that could not start. */
static bool
draft_with_llm(struct support_service *s, struct bus_call *call,
    const Support__DraftRequest *in, const struct hit *hits, int n,
    const struct draft *d)
{
    struct llm_job *j = calloc(1, sizeof(*j));
    struct llm_prompt p;

    if (j == NULL)
        return false;
    j->call = call;
    j->fallback = strdup(d->reply);
    j->policy_human = d->needs_human && is_policy(d->reason);
    j->policy_reason = d->needs_human ? d->reason : "";
    j->builtin_human = d->needs_human;
    j->builtin_reason = d->reason;
    for (int i = 0; i < d->nids; i++)
        if ((j->ids[j->nids] = strdup(d->ids[i])) != NULL)
            j->nids++;
    if (j->fallback == NULL
        || llm_prompt_build(
               &p, in->message, in->intent, in->history, in->n_history, hits, n)
            != 0) {
        llm_job_free(j);
        return false;
    }
    const struct span *parent = bus_call_span(call);
    if (parent != NULL) {
        j->traced = true;
        span_begin(&j->span, parent->trace_id, parent->span_id, "llm");
    }
    int rv = llm_submit(s->llm, &p.req, on_llm, j);
    llm_prompt_release(&p);
    if (rv != 0) {
        llm_job_free(j);
        return false;
    }
    return true;
}

static void
draft(struct bus_call *call, struct support_service *s)
{
    size_t len;
    const uint8_t *body = bus_call_body(call, &len);
    Support__DraftRequest *in = support__draft_request__unpack(NULL, len, body);
    struct hit hits[SUPPORT_TOP_K];
    struct draft d;
    float own[ENCODER_DIM];
    const float *emb = NULL;

    if (in == NULL || in->message == NULL) {
        support__draft_request__free_unpacked(in, NULL);
        bus_call_reply(call, BUS_BAD_REQUEST, "malformed draft request", NULL);
        return;
    }
    /* The embedding comes with the message; compute it only when the
     * intent agent could not (it was down). */
    if (in->n_embedding == ENCODER_DIM) {
        emb = in->embedding;
    } else if (s->enc != NULL) {
        const char *t[1] = {in->message};
        if (encoder_embed(s->enc, t, 1, own) == 0)
            emb = own;
    }
    int intent = intent_parse(in->intent);
    pthread_rwlock_rdlock(&s->lock);
    int n = retrieval_search(
        s->index, in->message, emb, intent, NULL, hits, SUPPORT_TOP_K);
    compose_reply(in->message, intent, in->confidence, hits, n, &d);
    if (s->llm != NULL && draft_with_llm(s, call, in, hits, n, &d)) {
        pthread_rwlock_unlock(&s->lock);
        support__draft_request__free_unpacked(in, NULL);
        return;
    }
    /* Packed while the index (which owns the texts) is still held. */
    send_draft(call, d.reply, d.needs_human, d.reason, (char *const *)d.ids,
        d.nids, "builtin");
    pthread_rwlock_unlock(&s->lock);
    support__draft_request__free_unpacked(in, NULL);
}

void
support_service_handle(struct bus_call *call, void *arg)
{
    if (strcmp(bus_call_method(call), "draft") == 0)
        draft(call, arg);
    else
        bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}
