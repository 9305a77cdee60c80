#include "queue.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "escalation.pb-c.h"
#include "intent.h"
#include "knowledge.h"
#include "log.h"

#define COLL "escalations"
#define FEEDBACK "human_feedback"
#define LIST_MAX 200

int
queue_init(struct queue *q, struct store *store, int claim_ttl_s, int sla_s,
    struct bus_events *events)
{
    bson_t *keys
        = BCON_NEW("status", BCON_INT32(1), "created_at", BCON_INT32(1));
    int rv;

    q->store = store;
    q->claim_ttl_ms = (int64_t)claim_ttl_s * 1000;
    q->sla_ms = (int64_t)sla_s * 1000;
    q->events = events;
    rv = store_ensure_index(store, COLL, "status_age", keys, false);
    bson_destroy(keys);
    if (rv != 0)
        log_error("cannot create the escalations indexes");
    return rv;
}

/* ---- BSON <-> Item ------------------------------------------------------ */

static void
item_to_bson(const Escalation__Item *it, bson_t *doc)
{
    bson_t arr;
    char k[24];

    BSON_APPEND_UTF8(doc, "_id", it->id);
    BSON_APPEND_UTF8(doc, "conversation_id", it->conversation_id);
    BSON_APPEND_UTF8(doc, "customer_user_id", it->customer_user_id);
    BSON_APPEND_UTF8(doc, "customer_message", it->customer_message);
    BSON_APPEND_UTF8(doc, "draft", it->draft);
    BSON_APPEND_UTF8(doc, "intent", it->intent);
    BSON_APPEND_DOUBLE(doc, "confidence", it->confidence);
    BSON_APPEND_UTF8(doc, "reason", it->reason);
    BSON_APPEND_UTF8(doc, "status", "pending");
    BSON_APPEND_INT64(doc, "created_at", it->created_at);
    BSON_APPEND_ARRAY_BEGIN(doc, "knowledge_ids", &arr);
    for (size_t i = 0; i < it->n_knowledge_ids && i < 8; i++) {
        snprintf(k, sizeof(k), "%zu", i);
        BSON_APPEND_UTF8(&arr, k, it->knowledge_ids[i]);
    }
    bson_append_array_end(doc, &arr);
}

static char *
dup_field(const bson_t *doc, const char *key)
{
    bson_iter_t it;

    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
        return strdup(bson_iter_utf8(&it, NULL));
    return strdup("");
}

static int64_t
num_field(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) ? store_int64(&it) : 0;
}

/* A heap Item from a stored document; free with item_free. */
static Escalation__Item *
item_from_bson(const bson_t *doc, int64_t sla_ms)
{
    Escalation__Item *it = calloc(1, sizeof(*it));
    bson_iter_t i, a;

    if (it == NULL)
        return NULL;
    escalation__item__init(it);
    it->id = dup_field(doc, "_id");
    it->conversation_id = dup_field(doc, "conversation_id");
    it->customer_user_id = dup_field(doc, "customer_user_id");
    it->customer_message = dup_field(doc, "customer_message");
    it->draft = dup_field(doc, "draft");
    it->intent = dup_field(doc, "intent");
    it->reason = dup_field(doc, "reason");
    it->status = dup_field(doc, "status");
    it->claimed_by = dup_field(doc, "claimed_by");
    it->resolution = dup_field(doc, "resolution");
    it->final_reply = dup_field(doc, "final_reply");
    it->resolved_by = dup_field(doc, "resolved_by");
    it->notes = dup_field(doc, "notes");
    if (bson_iter_init_find(&i, doc, "confidence"))
        it->confidence = (float)bson_iter_as_double(&i);
    it->claimed_at = num_field(doc, "claimed_at");
    it->created_at = num_field(doc, "created_at");
    it->resolved_at = num_field(doc, "resolved_at");
    it->hand_back = num_field(doc, "hand_back") != 0;
    int64_t until = it->resolved_at ? it->resolved_at : clock_now_ms();
    it->sla_breached = sla_ms > 0 && until - it->created_at > sla_ms;
    if (bson_iter_init_find(&i, doc, "knowledge_ids")
        && BSON_ITER_HOLDS_ARRAY(&i) && bson_iter_recurse(&i, &a)) {
        it->knowledge_ids = calloc(8, sizeof(char *));
        while (
            it->knowledge_ids && it->n_knowledge_ids < 8 && bson_iter_next(&a))
            if (BSON_ITER_HOLDS_UTF8(&a))
                it->knowledge_ids[it->n_knowledge_ids++]
                    = strdup(bson_iter_utf8(&a, NULL));
    }
    return it;
}

static void
item_free(Escalation__Item *it)
{
    if (it == NULL)
        return;
    char **fields[] = {&it->id, &it->conversation_id, &it->customer_user_id,
        &it->customer_message, &it->draft, &it->intent, &it->reason,
        &it->status, &it->claimed_by, &it->resolution, &it->final_reply,
        &it->resolved_by, &it->notes};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        free(*fields[i]);
    for (size_t i = 0; i < it->n_knowledge_ids; i++)
        free(it->knowledge_ids[i]);
    free(it->knowledge_ids);
    free(it);
}

/* ---- store operations --------------------------------------------------- */

/* Look one item up. 0, STORE_NOTFOUND or STORE_DOWN. */
static int
find_item(struct queue *q, const char *id, Escalation__Item **out)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(q->store, COLL, &c);
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *o = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, f, o, NULL);
    const bson_t *doc;
    bson_error_t err;
    int rv = STORE_NOTFOUND;

    if (mongoc_cursor_next(cur, &doc))
        rv = (*out = item_from_bson(doc, q->sla_ms)) ? 0 : STORE_DOWN;
    else if (mongoc_cursor_error(cur, &err))
        rv = store_error(&err, "find escalation");
    mongoc_cursor_destroy(cur);
    bson_destroy(o);
    bson_destroy(f);
    store_put(q->store, c, coll);
    return rv;
}

/*
 * findAndModify: the update applies only when query matches (that is the
 * atomic claim). 0 with *out the new item, STORE_NOTFOUND when nothing
 * matched, STORE_DOWN.
 */
static int
modify(struct queue *q, const bson_t *query, const bson_t *update,
    Escalation__Item **out)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(q->store, COLL, &c);
    mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
    bson_t reply;
    bson_error_t err;
    bson_iter_t it, v;
    int rv = STORE_NOTFOUND;

    mongoc_find_and_modify_opts_set_update(opts, update);
    mongoc_find_and_modify_opts_set_flags(
        opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
    if (!mongoc_collection_find_and_modify_with_opts(
            coll, query, opts, &reply, &err)) {
        rv = store_error(&err, "update escalation");
    } else if (bson_iter_init_find(&it, &reply, "value")
        && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_t doc;
        bson_iter_document(&it, &len, &data);
        if (bson_init_static(&doc, data, len))
            rv = (*out = item_from_bson(&doc, q->sla_ms)) ? 0 : STORE_DOWN;
        (void)v;
    }
    bson_destroy(&reply);
    mongoc_find_and_modify_opts_destroy(opts);
    store_put(q->store, c, coll);
    return rv;
}

/* ---- methods ------------------------------------------------------------ */

/* Tell every gateway's live streams (fire-and-forget). */
static void
notify(struct queue *q, const char *kind, const Escalation__Item *it)
{
    Escalation__Notice n = ESCALATION__NOTICE__INIT;

    n.kind = (char *)kind;
    n.item = (Escalation__Item *)it;
    bus_notify_send(q->notify, &n.base);
}

static void
reply_item(struct bus_call *call, int code, const char *msg,
    const Escalation__Item *it)
{
    Escalation__ItemReply out = ESCALATION__ITEM_REPLY__INIT;
    out.item = (Escalation__Item *)it;
    bus_call_reply(call, code, msg, it ? &out.base : NULL);
}

static void
store_failed(struct bus_call *call)
{
    bus_call_reply(call, BUS_UNAVAILABLE, "store unavailable", NULL);
}

static void
create(struct queue *q, struct bus_call *call, const uint8_t *b, size_t n)
{
    Escalation__CreateRequest *in
        = escalation__create_request__unpack(NULL, n, b);
    const Bus__Meta *m = bus_call_meta(call);
    Escalation__Item *it = NULL;
    char id[64];

    if (in == NULL || in->item == NULL || in->item->conversation_id == NULL
        || m->request_id[0] == '\0') {
        escalation__create_request__free_unpacked(in, NULL);
        bus_call_reply(call, BUS_BAD_REQUEST, "malformed create", NULL);
        return;
    }
    /* The request id is the key: a resent request finds its first item. */
    snprintf(id, sizeof(id), "e_%.40s", m->request_id);
    in->item->id = id;
    in->item->created_at = clock_now_ms();
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(q->store, COLL, &c);
    bson_t doc = BSON_INITIALIZER;
    bson_error_t err;
    item_to_bson(in->item, &doc);
    int rv = mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err)
        ? 0
        : store_error(&err, "insert escalation");
    store_put(q->store, c, coll);
    /*
     * New: the reply is read off the document just written (a look-up
     * scans the collection on FerretDB v1, and grew with the queue).
     * Resent: the first item is read back.
     */
    if (rv == 0 && (it = item_from_bson(&doc, q->sla_ms)) == NULL)
        rv = STORE_DOWN;
    bson_destroy(&doc);
    in->item->id = NULL; /* not ours to free */
    escalation__create_request__free_unpacked(in, NULL);
    if (rv == STORE_DUP)
        rv = find_item(q, id, &it);
    if (rv != 0) {
        store_failed(call);
        return;
    }
    log_info("escalation %s created (%s)", it->id, it->reason);
    bus_event(q->events, "escalation_created", 1, "reason", it->reason,
        "intent", it->intent, NULL);
    notify(q, "created", it);
    reply_item(call, BUS_CREATED, "created", it);
    item_free(it);
}

static void
list(struct queue *q, struct bus_call *call, const uint8_t *b, size_t n)
{
    Escalation__ListRequest *in = escalation__list_request__unpack(NULL, n, b);
    Escalation__ListReply out = ESCALATION__LIST_REPLY__INIT;
    Escalation__Item *items[LIST_MAX];
    size_t count = 0;
    bson_error_t err;
    int rv = 0;

    if (in == NULL) {
        bus_call_reply(call, BUS_BAD_REQUEST, "malformed list", NULL);
        return;
    }
    int limit = in->limit > 0 && in->limit <= LIST_MAX ? in->limit : 50;
    bson_t filter = BSON_INITIALIZER, or, one;
    const char *st = in->status && in->status[0] ? in->status : "open";
    if (strcmp(st, "open") == 0) {
        BSON_APPEND_ARRAY_BEGIN(&filter, "$or", & or);
        BSON_APPEND_DOCUMENT_BEGIN(& or, "0", &one);
        BSON_APPEND_UTF8(&one, "status", "pending");
        bson_append_document_end(& or, &one);
        BSON_APPEND_DOCUMENT_BEGIN(& or, "1", &one);
        BSON_APPEND_UTF8(&one, "status", "claimed");
        bson_append_document_end(& or, &one);
        bson_append_array_end(&filter, & or);
    } else {
        BSON_APPEND_UTF8(&filter, "status", st);
    }
    if (in->intent && in->intent[0])
        BSON_APPEND_UTF8(&filter, "intent", in->intent);
    if (in->breached) {
        bson_t lt;
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "created_at", &lt);
        BSON_APPEND_INT64(&lt, "$lt", clock_now_ms() - q->sla_ms);
        bson_append_document_end(&filter, &lt);
    }
    /* Oldest first: the queue is served in order of age. */
    bson_t *opts = BCON_NEW("sort", "{", "created_at", BCON_INT32(1), "}",
        "limit", BCON_INT64(limit), "skip", BCON_INT64(in->offset));
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(q->store, COLL, &c);
    int64_t total = mongoc_collection_count_documents(
        coll, &filter, NULL, NULL, NULL, &err);
    if (total < 0) {
        rv = store_error(&err, "count escalations");
    } else {
        mongoc_cursor_t *cur
            = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
        const bson_t *doc;
        while (count < LIST_MAX && mongoc_cursor_next(cur, &doc))
            if ((items[count] = item_from_bson(doc, q->sla_ms)) != NULL)
                count++;
        if (mongoc_cursor_error(cur, &err))
            rv = store_error(&err, "list escalations");
        mongoc_cursor_destroy(cur);
    }
    store_put(q->store, c, coll);
    bson_destroy(opts);
    bson_destroy(&filter);
    escalation__list_request__free_unpacked(in, NULL);
    if (rv != 0) {
        store_failed(call);
    } else {
        out.items = items;
        out.n_items = count;
        out.total = total;
        bus_call_reply(call, BUS_OK, "ok", &out.base);
    }
    for (size_t i = 0; i < count; i++)
        item_free(items[i]);
}

static void
get(struct queue *q, struct bus_call *call, const uint8_t *b, size_t n)
{
    Escalation__GetRequest *in = escalation__get_request__unpack(NULL, n, b);
    Escalation__Item *it = NULL;

    if (in == NULL || in->id == NULL) {
        escalation__get_request__free_unpacked(in, NULL);
        bus_call_reply(call, BUS_BAD_REQUEST, "malformed get", NULL);
        return;
    }
    int rv = find_item(q, in->id, &it);
    escalation__get_request__free_unpacked(in, NULL);
    if (rv == STORE_NOTFOUND)
        bus_call_reply(call, BUS_NOT_FOUND, "no such escalation", NULL);
    else if (rv != 0)
        store_failed(call);
    else
        reply_item(call, BUS_OK, "ok", it);
    item_free(it);
}

/* Query: this item, open, and either free or held by agent (or by someone
 * whose claim has expired). */
static bson_t *
open_to(const char *id, const char *agent, int64_t expired_before)
{
    return BCON_NEW("_id", BCON_UTF8(id), "$or", "[", "{", "status",
        BCON_UTF8("pending"), "}", "{", "status", BCON_UTF8("claimed"),
        "claimed_by", BCON_UTF8(agent), "}", "{", "status",
        BCON_UTF8("claimed"), "claimed_at", "{", "$lt",
        BCON_INT64(expired_before), "}", "}", "]");
}

/* Why an action did not apply: 404, or 409 naming the holder. */
static void
explain_conflict(struct queue *q, struct bus_call *call, const char *id)
{
    Escalation__Item *it = NULL;
    char msg[160];
    int rv = find_item(q, id, &it);

    if (rv == STORE_NOTFOUND) {
        bus_call_reply(call, BUS_NOT_FOUND, "no such escalation", NULL);
        return;
    }
    if (rv != 0) {
        store_failed(call);
        return;
    }
    if (strcmp(it->status, "resolved") == 0)
        snprintf(msg, sizeof(msg), "already resolved by %s", it->resolved_by);
    else if (strcmp(it->status, "claimed") == 0)
        snprintf(msg, sizeof(msg), "claimed by %s", it->claimed_by);
    else
        snprintf(msg, sizeof(msg), "not claimed by you");
    reply_item(call, BUS_CONFLICT, msg, it);
    item_free(it);
}

static void
record_feedback(struct queue *q, const Escalation__Item *it, const char *action)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(q->store, FEEDBACK, &c);
    bson_t doc = BSON_INITIALIZER;
    bson_error_t err;

    BSON_APPEND_UTF8(&doc, "escalation_id", it->id);
    BSON_APPEND_UTF8(&doc, "conversation_id", it->conversation_id);
    BSON_APPEND_UTF8(&doc, "action", action);
    BSON_APPEND_UTF8(&doc, "agent", it->resolved_by);
    BSON_APPEND_UTF8(&doc, "original", it->draft);
    BSON_APPEND_UTF8(&doc, "final", it->final_reply);
    BSON_APPEND_UTF8(&doc, "notes", it->notes);
    BSON_APPEND_UTF8(&doc, "intent", it->intent);
    BSON_APPEND_INT64(&doc, "at", it->resolved_at);
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err))
        store_error(&err, "insert feedback");
    bson_destroy(&doc);
    store_put(q->store, c, coll);
}

/* The final answer as a curated knowledge entry (this daemon owns the
 * collection); the support agents pick it up within seconds. */
static void
teach(struct queue *q, const Escalation__Item *it)
{
    struct kb_entry e;
    char id[80];
    int k = intent_parse(it->intent);

    memset(&e, 0, sizeof(e));
    snprintf(id, sizeof(id), "curated-%s", it->id);
    e.id = id;
    e.title = strndup(it->customer_message, 200);
    e.answer = it->final_reply;
    e.questions[0] = it->customer_message;
    e.nquestions = 1;
    e.intents = k >= 0 ? 1u << k : 0;
    e.curated = true;
    e.updated_at = clock_now_ms();
    if (e.title == NULL || kb_put(q->store, &e) != 0)
        log_error("escalation %s: cannot add the answer to knowledge", it->id);
    else
        log_info("escalation %s: answer added to knowledge as %s", it->id, id);
    free(e.title);
}

static void
act(struct queue *q, struct bus_call *call, const uint8_t *b, size_t n)
{
    Escalation__ActRequest *in = escalation__act_request__unpack(NULL, n, b);
    Escalation__Item *it = NULL, *cur = NULL;
    int64_t now = clock_now_ms(), expired = now - q->claim_ttl_ms;
    bson_t *query = NULL, *update = NULL;
    const char *action;
    int rv;

    if (in == NULL || in->id == NULL || in->action == NULL || in->agent == NULL
        || in->agent[0] == '\0') {
        escalation__act_request__free_unpacked(in, NULL);
        bus_call_reply(call, BUS_BAD_REQUEST, "malformed action", NULL);
        return;
    }
    action = in->action;
    bool claim = strcmp(action, "claim") == 0;
    bool release = strcmp(action, "release") == 0;
    bool approve = strcmp(action, "approve") == 0;
    bool resolve = approve || strcmp(action, "edit") == 0
        || strcmp(action, "reject") == 0;
    const char *why = NULL;
    if (!claim && !release && !resolve)
        why = "unknown action";
    else if (resolve && !approve && (in->reply == NULL || !in->reply[0]))
        why = "the reply is empty";
    /* One look-up: the state before (audit log) and approve's draft. */
    if (why == NULL && (rv = find_item(q, in->id, &cur)) != 0) {
        escalation__act_request__free_unpacked(in, NULL);
        if (rv == STORE_NOTFOUND)
            bus_call_reply(call, BUS_NOT_FOUND, "no such escalation", NULL);
        else
            store_failed(call);
        return;
    }
    /* The draft as it is stored is what the customer gets on approve. */
    const char *final = approve && cur != NULL ? cur->draft : in->reply;
    if (why == NULL && resolve && (final == NULL || final[0] == '\0'))
        why = "the reply is empty";
    if (why != NULL) {
        escalation__act_request__free_unpacked(in, NULL);
        item_free(cur);
        bus_call_reply(call, BUS_BAD_REQUEST, why, NULL);
        return;
    }
    if (claim) {
        query = open_to(in->id, in->agent, expired);
        update = BCON_NEW("$set", "{", "status", BCON_UTF8("claimed"),
            "claimed_by", BCON_UTF8(in->agent), "claimed_at", BCON_INT64(now),
            "}");
    } else if (release) {
        query = BCON_NEW("_id", BCON_UTF8(in->id), "status",
            BCON_UTF8("claimed"), "claimed_by", BCON_UTF8(in->agent));
        update = BCON_NEW("$set", "{", "status", BCON_UTF8("pending"),
            "claimed_by", BCON_UTF8(""), "claimed_at", BCON_INT64(0), "}");
    } else {
        query = open_to(in->id, in->agent, expired);
        update = BCON_NEW("$set", "{", "status", BCON_UTF8("resolved"),
            "resolution",
            BCON_UTF8(approve                     ? "approved"
                    : strcmp(action, "edit") == 0 ? "edited"
                                                  : "rejected"),
            "final_reply", BCON_UTF8(final), "resolved_by",
            BCON_UTF8(in->agent), "resolved_at", BCON_INT64(now), "notes",
            BCON_UTF8(in->notes ? in->notes : ""), "hand_back",
            BCON_BOOL(in->hand_back), "}");
    }
    char before[16];
    snprintf(before, sizeof(before), "%s", cur->status);
    rv = modify(q, query, update, &it);
    if (rv == STORE_NOTFOUND) {
        explain_conflict(q, call, in->id);
    } else if (rv != 0) {
        store_failed(call);
    } else {
        if (strcmp(it->status, "resolved") == 0) {
            record_feedback(q, it, action);
            if (in->add_to_knowledge)
                teach(q, it);
        }
        log_info("escalation %s: %s by %s", it->id, action, in->agent);
        Escalation__ItemReply out = ESCALATION__ITEM_REPLY__INIT;
        out.item = it;
        out.before = before;
        notify(q,
            strcmp(it->status, "resolved") == 0  ? "resolved"
                : strcmp(action, "release") == 0 ? "released"
                                                 : "claimed",
            it);
        if (strcmp(it->status, "resolved") == 0) {
            /* Time to the first human response, for the SLA figures. */
            bus_event(q->events, "escalation_resolved",
                (double)(it->resolved_at - it->created_at), "resolution",
                it->resolution, "breached", it->sla_breached ? "true" : "false",
                NULL);
        } else {
            bus_event(
                q->events, "escalation_action", 1, "action", action, NULL);
        }
        bus_call_reply(call, BUS_OK, action, &out.base);
    }
    bson_destroy(query);
    bson_destroy(update);
    item_free(it);
    item_free(cur);
    escalation__act_request__free_unpacked(in, NULL);
}

void
queue_handle(struct bus_call *call, void *arg)
{
    struct queue *q = arg;
    const char *m = bus_call_method(call);
    size_t n;
    const uint8_t *b = bus_call_body(call, &n);

    if (strcmp(m, "create") == 0)
        create(q, call, b, n);
    else if (strcmp(m, "list") == 0)
        list(q, call, b, n);
    else if (strcmp(m, "get") == 0)
        get(q, call, b, n);
    else if (strcmp(m, "act") == 0)
        act(q, call, b, n);
    else
        bus_call_reply(call, BUS_NOT_FOUND, "unknown method", NULL);
}
