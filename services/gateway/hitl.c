/*
 * hitl.c - /api/hitl/escalations: the human review queue for agents and
 * admins. The escalation daemon owns the items; the gateway owns the
 * conversation, so a resolution appends the human's reply to it here and
 * says who has the conversation next (the AI again, or still a person).
 * Every action is written to the audit log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "conversations.h"
#include "escalation.pb-c.h"
#include "gateway.h"
#include "log.h"
#include "sse.h"
#include "utf8.h"

#define REPLY_MAX_CHARS 4000

cJSON *
hitl_item_json(const Escalation__Item *it)
{
    cJSON *o = cJSON_CreateObject();
    char when[32];
    int64_t age = it->created_at ? clock_now_ms() - it->created_at : 0;

    cJSON_AddStringToObject(o, "id", it->id);
    cJSON_AddStringToObject(o, "conversation_id", it->conversation_id);
    cJSON_AddStringToObject(o, "customer_message", it->customer_message);
    cJSON_AddStringToObject(o, "ai_draft", it->draft);
    cJSON_AddStringToObject(o, "intent", it->intent);
    cJSON_AddNumberToObject(
        o, "confidence", (double)(int)(it->confidence * 10000) / 10000);
    cJSON_AddStringToObject(o, "reason", it->reason);
    cJSON_AddStringToObject(o, "status", it->status);
    if (it->claimed_by[0])
        cJSON_AddStringToObject(o, "claimed_by", it->claimed_by);
    clock_iso8601(when, sizeof(when), it->created_at);
    cJSON_AddStringToObject(o, "created_at", when);
    cJSON_AddNumberToObject(o, "age_seconds", (double)(age / 1000));
    cJSON_AddBoolToObject(o, "sla_breached", it->sla_breached);
    if (it->resolved_at) {
        clock_iso8601(when, sizeof(when), it->resolved_at);
        cJSON_AddStringToObject(o, "resolved_at", when);
        cJSON_AddStringToObject(o, "resolution", it->resolution);
        cJSON_AddStringToObject(o, "final_reply", it->final_reply);
        cJSON_AddStringToObject(o, "resolved_by", it->resolved_by);
        cJSON_AddBoolToObject(o, "handed_back", it->hand_back);
    }
    cJSON *k = cJSON_AddArrayToObject(o, "knowledge_ids");
    for (size_t i = 0; i < it->n_knowledge_ids; i++)
        cJSON_AddItemToArray(k, cJSON_CreateString(it->knowledge_ids[i]));
    return o;
}

/* One call to the escalation daemon. Returns the reply (caller frees) or
 * NULL with a 503 written. */
static Bus__Reply *
call_queue(struct req *r, const char *method, const ProtobufCMessage *body)
{
    Bus__Meta meta;
    Bus__Reply *rep = NULL;
    int timeout = r->gw->cfg->bus_timeout_ms;

    gateway_meta(r, &meta, timeout);
    int rv = bus_call(
        r->gw->peers[PEER_ESCALATION], &meta, method, body, timeout, &rep);
    if (rv != BUS_OK || rep->status->code == BUS_UNAVAILABLE) {
        bus__reply__free_unpacked(rep, NULL);
        http_error_hdr(r, 503, "escalation_unavailable",
            "the review queue is unavailable, try again shortly",
            "Retry-After: 2\r\n");
        return NULL;
    }
    return rep;
}

static bool
valid_id(const char *id)
{
    size_t n = strlen(id);
    return n > 2 && n < 48 && strncmp(id, "e_", 2) == 0
        && strspn(id + 2, "0123456789abcdefABCDEF-_") == n - 2;
}

void
api_hitl_list(struct req *r)
{
    Escalation__ListRequest in = ESCALATION__LIST_REQUEST__INIT;
    char status[16] = "open", intent[16] = "";
    long limit, offset;

    if (http_query_long(r, "limit", 1, 200, 50, &limit) != 0
        || http_query_long(r, "offset", 0, 100000, 0, &offset) != 0)
        return;
    in.limit = (int32_t)limit;
    in.offset = (int32_t)offset;
    if (http_query(r, "status", status, sizeof(status))
        && strcmp(status, "open") != 0 && strcmp(status, "pending") != 0
        && strcmp(status, "claimed") != 0 && strcmp(status, "resolved") != 0) {
        http_error(r, 400, "invalid_request",
            "query 'status' must be open, pending, claimed or resolved");
        return;
    }
    http_query(r, "intent", intent, sizeof(intent));
    char breached[8];
    if (http_query(r, "breached", breached, sizeof(breached))) {
        if (strcmp(breached, "true") != 0 && strcmp(breached, "false") != 0) {
            http_error(r, 400, "invalid_request",
                "query 'breached' must be true or false");
            return;
        }
        in.breached = strcmp(breached, "true") == 0;
    }
    in.status = status;
    in.intent = intent;
    Bus__Reply *rep = call_queue(r, "list", &in.base);
    if (rep == NULL)
        return;
    Escalation__ListReply *l
        = escalation__list_reply__unpack(NULL, rep->body.len, rep->body.data);
    bus__reply__free_unpacked(rep, NULL);
    if (l == NULL) {
        http_error(r, 502, "bad_gateway", "malformed reply from the queue");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "escalations");
    for (size_t i = 0; i < l->n_items; i++)
        cJSON_AddItemToArray(arr, hitl_item_json(l->items[i]));
    cJSON_AddNumberToObject(o, "total", (double)l->total);
    cJSON_AddNumberToObject(o, "limit", in.limit);
    cJSON_AddNumberToObject(o, "offset", in.offset);
    escalation__list_reply__free_unpacked(l, NULL);
    http_json(r, 200, o);
}

/* Write the daemon's answer about one item: 200 with it, or the error. */
static Escalation__Item *
item_reply(
    struct req *r, Bus__Reply *rep, int *code, char *before, size_t before_len)
{
    Escalation__ItemReply *ir = NULL;

    *code = rep->status->code;
    if (rep->body.len > 0)
        ir = escalation__item_reply__unpack(
            NULL, rep->body.len, rep->body.data);
    if (*code == BUS_NOT_FOUND) {
        http_error(r, 404, "not_found", "no such escalation");
    } else if (*code == BUS_CONFLICT) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "conflict");
        cJSON_AddStringToObject(o, "detail", rep->status->message);
        if (ir && ir->item)
            cJSON_AddItemToObject(o, "escalation", hitl_item_json(ir->item));
        http_json(r, 409, o);
    } else if (*code == BUS_BAD_REQUEST) {
        http_error(r, 400, "invalid_request", rep->status->message);
    } else if (ir == NULL || ir->item == NULL) {
        http_error(r, 502, "bad_gateway", "malformed reply from the queue");
    } else {
        Escalation__Item *it = ir->item;
        if (before != NULL)
            snprintf(before, before_len, "%s", ir->before ? ir->before : "");
        ir->item = NULL;
        escalation__item_reply__free_unpacked(ir, NULL);
        return it;
    }
    escalation__item_reply__free_unpacked(ir, NULL);
    return NULL;
}

void
api_hitl_get(struct req *r)
{
    Escalation__GetRequest in = ESCALATION__GET_REQUEST__INIT;
    int code;

    if (!valid_id(r->params[0])) {
        http_error(r, 404, "not_found", "no such escalation");
        return;
    }
    in.id = (char *)r->params[0];
    Bus__Reply *rep = call_queue(r, "get", &in.base);
    if (rep == NULL)
        return;
    Escalation__Item *it = item_reply(r, rep, &code, NULL, 0);
    bus__reply__free_unpacked(rep, NULL);
    if (it == NULL)
        return;
    cJSON *o = hitl_item_json(it);
    cJSON *transcript = NULL;
    if (msg_history(r->gw->store, it->conversation_id, 0, 200, &transcript)
        == 0)
        cJSON_AddItemToObject(o, "transcript", transcript);
    escalation__item__free_unpacked(it, NULL);
    http_json(r, 200, o);
}

/* The human's reply joins the conversation; the conversation goes back to
 * the AI or stays with people. */
static int
deliver(struct req *r, const Escalation__Item *it)
{
    struct conversation conv;
    struct message m;
    int rv;

    if ((rv = conv_get(r->gw->store, it->conversation_id, &conv)) != 0)
        return rv;
    memset(&m, 0, sizeof(m));
    msg_new_id(&m);
    m.conversation_id = conv.id;
    m.role = "agent";
    m.text = it->final_reply;
    m.at = clock_now_ms();
    m.request_id = r->request_id;
    m.agent_type = "human";
    if ((rv = msg_insert(r->gw->messages, &m)) == 0) {
        conv_push(&conv, "agent", it->final_reply, m.at);
        snprintf(conv.status, sizeof(conv.status), "%s",
            it->hand_back ? "ai" : "human");
        rv = conv_save(r->gw->store, r->gw->conversations, &conv);
    }
    conv_release(&conv);
    return rv;
}

static void
act(struct req *r, const char *action, bool needs_reply)
{
    Escalation__ActRequest in = ESCALATION__ACT_REQUEST__INIT;
    const char *reply = NULL, *notes = NULL;
    cJSON *doc = NULL;
    int code;

    if (!valid_id(r->params[0])) {
        http_error(r, 404, "not_found", "no such escalation");
        return;
    }
    bool resolving
        = strcmp(action, "claim") != 0 && strcmp(action, "release") != 0;
    const char *len = http_header(r, "Content-Length");
    if (resolving || (len != NULL && strcmp(len, "0") != 0)) {
        if ((doc = http_read_json(r, r->gw->cfg->max_body)) == NULL)
            return;
        if (http_field_string(r, doc, "reply", needs_reply, &reply) != 0
            || http_field_string(r, doc, "notes", false, &notes) != 0)
            goto out;
        const cJSON *hb = cJSON_GetObjectItemCaseSensitive(doc, "hand_back");
        if (hb != NULL && !cJSON_IsBool(hb)) {
            http_error(r, 400, "invalid_request",
                "field 'hand_back' must be true or false");
            goto out;
        }
        in.hand_back = hb == NULL || cJSON_IsTrue(hb);
        const cJSON *teach
            = cJSON_GetObjectItemCaseSensitive(doc, "add_to_knowledge");
        if (teach != NULL && !cJSON_IsBool(teach)) {
            http_error(r, 400, "invalid_request",
                "field 'add_to_knowledge' must be true or false");
            goto out;
        }
        in.add_to_knowledge = cJSON_IsTrue(teach);
        size_t chars = 0;
        if (reply != NULL
            && (!utf8_valid(reply, strlen(reply), &chars)
                || chars > REPLY_MAX_CHARS
                || strspn(reply, " \t\r\n") == strlen(reply))) {
            http_error(r, 400, "invalid_request",
                "field 'reply' must be non-empty UTF-8 of at most 4000 "
                "characters");
            goto out;
        }
        if (notes != NULL && strlen(notes) > 2000) {
            http_error(r, 400, "invalid_request",
                "field 'notes' is longer than 2000 bytes");
            goto out;
        }
    }
    in.id = (char *)r->params[0];
    in.action = (char *)action;
    in.agent = r->who.username;
    in.reply = (char *)(reply ? reply : "");
    in.notes = (char *)(notes ? notes : "");
    Bus__Reply *rep = call_queue(r, "act", &in.base);
    if (rep == NULL)
        goto out;
    char before[16];
    Escalation__Item *it = item_reply(r, rep, &code, before, sizeof(before));
    bus__reply__free_unpacked(rep, NULL);
    if (it == NULL)
        goto out;
    audit_record(
        r->gw->store, r->who.username, action, it->id, before, it->status);
    if (strcmp(it->status, "resolved") == 0 && deliver(r, it) != 0)
        log_error("escalation %s resolved but its reply not delivered", it->id);
    http_json(r, 200, hitl_item_json(it));
    escalation__item__free_unpacked(it, NULL);
out:
    cJSON_Delete(doc);
}

void
api_hitl_claim(struct req *r)
{
    act(r, "claim", false);
}

void
api_hitl_release(struct req *r)
{
    act(r, "release", false);
}

void
api_hitl_approve(struct req *r)
{
    act(r, "approve", false);
}

void
api_hitl_edit(struct req *r)
{
    act(r, "edit", true);
}

void
api_hitl_reject(struct req *r)
{
    act(r, "reject", true);
}

void
api_hitl_stream(struct req *r)
{
    sse_serve(&r->gw->sse, r, NULL);
}

void
api_admin_audit(struct req *r)
{
    char target[64] = "";
    long limit;
    cJSON *arr;

    if (http_query_long(r, "limit", 1, 500, 100, &limit) != 0)
        return;
    http_query(r, "target", target, sizeof(target));
    if (audit_list(r->gw->store, target, (int)limit, &arr) != 0) {
        http_error_hdr(r, 503, "store_unavailable",
            "the database is unavailable, try again shortly",
            "Retry-After: 2\r\n");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "entries", arr);
    http_json(r, 200, o);
}
