/*
 * chat.c - POST /api/chat and GET /api/chat/history: the chat flow.
 *
 * message stored first -> intent-agent (intent + embedding) -> support-agent
 * (draft, needs a human?) -> reply stored, window saved, events pushed. Two
 * bus hops and four store round trips per chat in a conversation (three,
 * all inserts, for its first message). Degrades, never loses:
 * intent-agent down -> "other", flagged; support-agent down -> handed to a
 * human; store down -> 503 and nothing half-written is acknowledged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat_guard.h"
#include "clock.h"
#include "conversations.h"
#include "gateway.h"
#include "intent.h"
#include "escalation.pb-c.h"
#include "intent.pb-c.h"
#include "log.h"
#include "support.pb-c.h"

#define HISTORY_MAX 200

static const char human_soon[]
    = "Thanks for your message. A member of our support team will answer you "
      "here shortly.";

struct chat_result {
    char intent[16];
    float confidence;
    bool intent_degraded;
    float *embedding; /* owned, ENCODER_DIM floats or NULL */
    size_t n_embedding;
    char *reply; /* owned */
    char *draft; /* owned: the AI's draft when a human must answer */
    char *kids[3];
    size_t nkids;
    bool escalated;
    char reason[48];
    char agent_type[24];
};

static void
store_down(struct req *r)
{
    http_error_hdr(r, 503, "store_unavailable",
        "the database is unavailable, try again shortly", "Retry-After: 2\r\n");
}

/* Ask intent-agent; on any failure the intent is "other", flagged. */
static void
classify(struct req *r, const char *text, struct chat_result *out)
{
    Intent__ClassifyRequest in = INTENT__CLASSIFY_REQUEST__INIT;
    Bus__Meta meta;
    Bus__Reply *rep = NULL;
    int timeout = r->gw->cfg->bus_timeout_ms;

    snprintf(out->intent, sizeof(out->intent), "other");
    out->confidence = 0;
    out->intent_degraded = true;
    in.text = (char *)text;
    in.want_embedding = true;
    gateway_meta(r, &meta, timeout);
    int rv = bus_call(
        r->gw->peers[PEER_INTENT], &meta, "classify", &in.base, timeout, &rep);
    if (rv != BUS_OK || rep->status->code != BUS_OK) {
        log_warn("intent-agent unavailable (%d): intent other",
            rv != BUS_OK ? rv : rep->status->code);
        bus__reply__free_unpacked(rep, NULL);
        return;
    }
    Intent__ClassifyReply *c
        = intent__classify_reply__unpack(NULL, rep->body.len, rep->body.data);
    bus__reply__free_unpacked(rep, NULL);
    if (c == NULL || intent_parse(c->intent) < 0) {
        log_warn("intent-agent sent a malformed reply: intent other");
        intent__classify_reply__free_unpacked(c, NULL);
        return;
    }
    snprintf(out->intent, sizeof(out->intent), "%s", c->intent);
    out->confidence = c->confidence;
    out->intent_degraded = false;
    if (c->n_embedding > 0 && c->n_embedding <= 4096) {
        out->embedding = malloc(c->n_embedding * sizeof(float));
        if (out->embedding != NULL) {
            memcpy(
                out->embedding, c->embedding, c->n_embedding * sizeof(float));
            out->n_embedding = c->n_embedding;
        }
    }
    intent__classify_reply__free_unpacked(c, NULL);
}

/* Ask support-agent for a draft; down -> a human takes it. */
static void
draft(struct req *r, const struct conversation *conv, const char *text,
    struct chat_result *out)
{
    Support__DraftRequest in = SUPPORT__DRAFT_REQUEST__INIT;
    Support__Turn turns[CONV_WINDOW], *tp[CONV_WINDOW];
    Bus__Meta meta;
    Bus__Reply *rep = NULL;
    int timeout = r->gw->cfg->support_timeout_ms;

    in.conversation_id = (char *)conv->id;
    in.message = (char *)text;
    in.intent = out->intent;
    in.confidence = out->confidence;
    in.embedding = out->embedding;
    in.n_embedding = out->n_embedding;
    for (int i = 0; i < conv->nrecent; i++) {
        support__turn__init(&turns[i]);
        turns[i].role = (char *)conv->recent[i].role;
        turns[i].text = conv->recent[i].text;
        tp[i] = &turns[i];
    }
    in.history = tp;
    in.n_history = (size_t)conv->nrecent;
    gateway_meta(r, &meta, timeout);
    int rv = bus_call(
        r->gw->peers[PEER_SUPPORT], &meta, "draft", &in.base, timeout, &rep);
    Support__DraftReply *d = NULL;
    if (rv == BUS_OK && rep->status->code == BUS_OK)
        d = support__draft_reply__unpack(NULL, rep->body.len, rep->body.data);
    bus__reply__free_unpacked(rep, NULL);
    if (d == NULL || d->reply == NULL || d->reply[0] == '\0') {
        log_warn("support-agent unavailable (%d): handing over to a human", rv);
        out->reply = strdup(human_soon);
        out->escalated = true;
        snprintf(out->reason, sizeof(out->reason), "agent_unavailable");
        snprintf(out->agent_type, sizeof(out->agent_type), "escalation");
        support__draft_reply__free_unpacked(d, NULL);
        return;
    }
    out->escalated = d->needs_human;
    snprintf(
        out->reason, sizeof(out->reason), "%s", d->reason ? d->reason : "");
    snprintf(out->agent_type, sizeof(out->agent_type), "%s",
        d->needs_human ? "escalation" : "support_agent");
    /* A human will answer: the customer is told so, the draft waits. */
    out->reply = strdup(d->needs_human ? human_soon : d->reply);
    if (d->needs_human)
        out->draft = strdup(d->reply);
    for (size_t i = 0; i < d->n_knowledge_ids && out->nkids < 3; i++)
        out->kids[out->nkids++] = strdup(d->knowledge_ids[i]);
    support__draft_reply__free_unpacked(d, NULL);
}

/*
 * Put the conversation in the human queue. Returns 0, -1 when the
 * escalation daemon could not take it (the caller answers 503; the
 * customer's message is already stored), or STORE_DOWN when the daemon
 * answered that its store failed (the store is down, not the queue).
 */
static int
escalate(struct req *r, const struct conversation *conv, const char *text,
    const struct chat_result *res)
{
    Escalation__CreateRequest in = ESCALATION__CREATE_REQUEST__INIT;
    Escalation__Item it = ESCALATION__ITEM__INIT;
    Bus__Meta meta;
    Bus__Reply *rep = NULL;
    int timeout = r->gw->cfg->bus_timeout_ms;

    it.conversation_id = (char *)conv->id;
    it.customer_user_id = (char *)r->who.user_id;
    it.customer_message = (char *)text;
    it.draft = res->draft ? res->draft : (char *)"";
    it.intent = (char *)res->intent;
    it.confidence = res->confidence;
    it.reason = (char *)res->reason;
    it.knowledge_ids = (char **)res->kids;
    it.n_knowledge_ids = res->nkids;
    in.item = &it;
    gateway_meta(r, &meta, timeout);
    int rv = bus_call(r->gw->peers[PEER_ESCALATION], &meta, "create", &in.base,
        timeout, &rep);
    int code = rv == BUS_OK ? rep->status->code : rv;
    bus__reply__free_unpacked(rep, NULL);
    if (code != BUS_CREATED && code != BUS_OK) {
        log_error(
            "escalation unavailable (%d): cannot queue %s", code, conv->id);
        return rv == BUS_OK && code == BUS_UNAVAILABLE ? STORE_DOWN : -1;
    }
    return 0;
}

static const char human_owned[]
    = "Thanks, your message has been added to your conversation. A member of "
      "our support team is looking after it and will reply here.";

void
api_chat(struct req *r)
{
    struct gateway *gw = r->gw;
    const char *msg, *conv_id, *conv_token;
    char guest_token[65] = "";
    struct conversation conv;
    struct chat_result res;
    struct message m[2];
    struct guard_result guarded = {0};
    int64_t t0 = clock_mono_ms();
    int rv;

    memset(&res, 0, sizeof(res));
    memset(&conv, 0, sizeof(conv));
    cJSON *doc = http_read_json(r, gw->cfg->max_body);
    if (doc == NULL)
        return;
    if (http_field_string(r, doc, "message", true, &msg) != 0
        || http_field_string(r, doc, "conversation_id", false, &conv_id) != 0
        || http_field_string(r, doc, "conversation_token", false, &conv_token)
            != 0)
        goto out;
    /* Guardrails: limits, deny-list, injection, PII redacted (guard.h). */
    if (chat_guard(r, msg, &guarded) != 0)
        goto out;
    char *text = guarded.text;

    struct span sp;
    if (conv_id != NULL) {
        gateway_span_begin(r, &sp, "store load conversation");
        rv = conv_load(gw->store, conv_id, r->who.user_id, conv_token, &conv);
        gateway_span_end(r, &sp,
            rv == 0                    ? 200
                : rv == STORE_NOTFOUND ? 404
                                       : 503);
        if (rv == STORE_NOTFOUND) {
            http_error(r, 404, "conversation_not_found",
                "no such conversation for this user");
            goto out;
        }
        if (rv != 0) {
            store_down(r);
            goto out;
        }
    } else if (conv_new(&conv, r->who.user_id, guest_token) != 0) {
        http_error(r, 500, "internal", "cannot start a conversation");
        goto out;
    }

    /* The customer's message is stored before anything else happens. */
    memset(m, 0, sizeof(m));
    msg_new_id(&m[0]);
    m[0].conversation_id = conv.id;
    m[0].role = "user";
    m[0].text = text;
    m[0].at = clock_now_ms();
    m[0].request_id = r->request_id;
    /*
     * A new conversation's document is inserted once, at the end, with its
     * window: three inserts and no look-up (every look-up scans on
     * FerretDB). Should the reply fail, the message is kept all the same.
     */
    gateway_span_begin(r, &sp, "store insert message");
    rv = msg_insert(gw->messages, &m[0]);
    gateway_span_end(r, &sp, rv == 0 ? 200 : 503);
    if (rv != 0) {
        store_down(r);
        goto out;
    }

    if (strcmp(conv.status, "human") == 0) {
        /* A person owns this conversation: the AI stays silent. */
        res.reply = strdup(human_owned);
        res.escalated = true;
        snprintf(res.intent, sizeof(res.intent), "other");
        snprintf(res.reason, sizeof(res.reason), "human_owned");
        snprintf(res.agent_type, sizeof(res.agent_type), "human");
    } else {
        classify(r, text, &res);
        draft(r, &conv, text, &res);
        if (res.escalated && (rv = escalate(r, &conv, text, &res)) != 0) {
            /* Keep the message in its conversation for when it is back. */
            conv_push(&conv, "user", text, m[0].at);
            if (conv_save(gw->store, gw->conversations, &conv) == STORE_DOWN
                || rv == STORE_DOWN) {
                /* The store went away after the message was written. */
                store_down(r);
                goto out;
            }
            http_error_hdr(r, 503, "escalation_unavailable",
                "a person must answer this, and the queue is unavailable; "
                "your message is saved, try again shortly",
                "Retry-After: 5\r\n");
            goto out;
        }
        if (res.escalated)
            snprintf(conv.status, sizeof(conv.status), "human");
    }
    m[0].intent = res.intent;
    m[0].confidence = res.confidence;

    msg_new_id(&m[1]);
    m[1].conversation_id = conv.id;
    m[1].role = "assistant";
    m[1].text = res.reply ? res.reply : human_soon;
    m[1].at = clock_now_ms();
    m[1].request_id = r->request_id;
    m[1].intent = res.intent;
    m[1].confidence = res.confidence;
    m[1].escalated = res.escalated;
    m[1].agent_type = res.agent_type;
    conv_push(&conv, "user", text, m[0].at);
    conv_push(&conv, "assistant", m[1].text, m[1].at);
    /*
     * The window is saved only if the conversation's owner did not change
     * while the agents worked: when a person took it over meanwhile, the
     * AI's reply is dropped, never sent over the human's head.
     */
    gateway_span_begin(r, &sp, "store save reply");
    rv = conv_save(gw->store, gw->conversations, &conv);
    if (rv == STORE_CONFLICT) {
        free(res.reply);
        res.reply = strdup(human_owned);
        m[1].text = res.reply ? res.reply : human_owned;
        res.escalated = true;
        snprintf(res.reason, sizeof(res.reason), "human_owned");
        snprintf(res.agent_type, sizeof(res.agent_type), "human");
        m[1].agent_type = res.agent_type;
        m[1].escalated = true;
    } else if (rv != 0 || msg_insert(gw->messages, &m[1]) != 0) {
        gateway_span_end(r, &sp, 503);
        store_down(r);
        goto out;
    }
    gateway_span_end(r, &sp, 200);
    char conf[16];
    snprintf(conf, sizeof(conf), "%.3f", (double)res.confidence);
    span_attr(&r->span, "intent", res.intent);
    span_attr(&r->span, "escalated", res.escalated ? "true" : "false");

    int64_t ms = clock_mono_ms() - t0;
    bus_event(gw->events, "chat", (double)ms, "intent", res.intent, "escalated",
        res.escalated ? "true" : "false", "agent", res.agent_type, "confidence",
        conf, NULL);
    log_info("chat %s intent=%s conf=%.2f escalated=%d%s%s in %lld ms", conv.id,
        res.intent, (double)res.confidence, res.escalated,
        res.reason[0] ? " reason=" : "", res.reason, (long long)ms);

    char when[32];
    clock_iso8601(when, sizeof(when), m[1].at);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "response", m[1].text);
    cJSON_AddStringToObject(o, "intent", res.intent);
    json_add_fixed(o, "confidence", (double)res.confidence, 4);
    cJSON_AddStringToObject(o, "agent_type", res.agent_type);
    cJSON_AddBoolToObject(o, "escalated", res.escalated);
    if (res.escalated)
        cJSON_AddStringToObject(o, "escalation_reason", res.reason);
    if (res.intent_degraded)
        cJSON_AddBoolToObject(o, "intent_unavailable", true);
    cJSON_AddStringToObject(o, "timestamp", when);
    cJSON_AddStringToObject(o, "conversation_id", conv.id);
    cJSON_AddStringToObject(o, "message_id", m[1].id);
    if (guest_token[0] != '\0')
        cJSON_AddStringToObject(o, "conversation_token", guest_token);
    guard_annotate(&guarded, o);
    http_json(r, 200, o);
out:
    guard_result_release(&guarded);
    conv_release(&conv);
    free(res.embedding);
    free(res.reply);
    free(res.draft);
    for (size_t i = 0; i < res.nkids; i++)
        free(res.kids[i]);
    cJSON_Delete(doc);
}

/*
 * The conversation named by the query (conversation_id, and
 * conversation_token for a guest's), for its owner only. 0, or -1 with the
 * error written (400 no id, 404 not found or not yours, 503).
 */
static int
load_queried(struct req *r, struct conversation *conv)
{
    char id[64], token[80];

    if (!http_query(r, "conversation_id", id, sizeof(id))) {
        http_error(
            r, 400, "invalid_request", "query 'conversation_id' is required");
        return -1;
    }
    if (!http_query(r, "conversation_token", token, sizeof(token)))
        token[0] = '\0';
    int rv = conv_load(r->gw->store, id, r->who.user_id, token, conv);
    if (rv == STORE_NOTFOUND)
        http_error(r, 404, "conversation_not_found",
            "no such conversation for this user");
    else if (rv != 0)
        store_down(r);
    return rv == 0 ? 0 : -1;
}

void
api_chat_history(struct req *r)
{
    char num[32];
    struct conversation conv;
    long limit = 50;
    int64_t before = 0;
    cJSON *arr;

    if (http_query(r, "limit", num, sizeof(num))) {
        char *end;
        errno = 0;
        limit = strtol(num, &end, 10);
        if (errno || end == num || *end || limit < 1 || limit > HISTORY_MAX) {
            http_error(r, 400, "invalid_request",
                "query 'limit' must be a whole number from 1 to 200");
            return;
        }
    }
    if (http_query(r, "before", num, sizeof(num))) {
        char *end;
        errno = 0;
        before = strtoll(num, &end, 10);
        if (errno || end == num || *end || before < 0) {
            http_error(r, 400, "invalid_request",
                "query 'before' must be a time in Unix milliseconds");
            return;
        }
    }
    if (load_queried(r, &conv) != 0)
        return;
    if (msg_history(r->gw->store, conv.id, before, (int)limit, &arr) != 0) {
        conv_release(&conv);
        store_down(r);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "conversation_id", conv.id);
    cJSON_AddStringToObject(o, "status", conv.status);
    cJSON_AddItemToObject(o, "messages", arr);
    conv_release(&conv);
    http_json(r, 200, o);
}

void
api_chat_stream(struct req *r)
{
    struct conversation conv;

    if (load_queried(r, &conv) != 0)
        return;
    conv_release(&conv);
    sse_serve(&r->gw->sse, r, conv.id);
}
