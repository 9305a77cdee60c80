#include "conversations.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "clock.h"
#include "ids.h"

static void
sha256_hex(const char *in, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    EVP_Digest(in, strlen(in), md, &n, EVP_sha256(), NULL);
    ids_to_hex(out, md, 32);
}

void
conv_release(struct conversation *c)
{
    for (int i = 0; i < c->nrecent; i++) {
        free(c->recent[i].text);
        c->recent[i].text = NULL;
    }
    c->nrecent = 0;
}

int
conv_new(struct conversation *c, const char *user_id, char *guest_token)
{
    char hex[25];

    memset(c, 0, sizeof(*c));
    if (ids_hex(hex, 12) != 0)
        return -1;
    snprintf(c->id, sizeof(c->id), "c_%s", hex);
    if (user_id != NULL && user_id[0] != '\0') {
        snprintf(c->user_id, sizeof(c->user_id), "%s", user_id);
    } else {
        if (ids_hex(guest_token, 32) != 0)
            return -1;
        sha256_hex(guest_token, c->guest_hash);
    }
    snprintf(c->status, sizeof(c->status), "ai");
    c->created_at = c->updated_at = clock_now_ms();
    c->is_new = true;
    return 0;
}

void
conv_push(
    struct conversation *c, const char *role, const char *text, int64_t at)
{
    if (c->nrecent == CONV_WINDOW) {
        free(c->recent[0].text);
        memmove(&c->recent[0], &c->recent[1],
            (CONV_WINDOW - 1) * sizeof(c->recent[0]));
        c->nrecent--;
    }
    struct turn *t = &c->recent[c->nrecent++];
    snprintf(t->role, sizeof(t->role), "%s", role);
    t->text = strndup(text, CONV_TEXT_MAX);
    t->at = at;
}

static void
read_window(const bson_t *doc, struct conversation *c)
{
    bson_iter_t it, arr;

    if (!bson_iter_init_find(&it, doc, "recent") || !BSON_ITER_HOLDS_ARRAY(&it)
        || !bson_iter_recurse(&it, &arr))
        return;
    while (bson_iter_next(&arr)) {
        bson_iter_t f;
        const char *role = NULL, *text = NULL;
        int64_t at = 0;

        if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &f))
            continue;
        while (bson_iter_next(&f)) {
            const char *k = bson_iter_key(&f);
            if (strcmp(k, "role") == 0 && BSON_ITER_HOLDS_UTF8(&f))
                role = bson_iter_utf8(&f, NULL);
            else if (strcmp(k, "text") == 0 && BSON_ITER_HOLDS_UTF8(&f))
                text = bson_iter_utf8(&f, NULL);
            else if (strcmp(k, "at") == 0)
                at = store_int64(&f);
        }
        if (role != NULL && text != NULL)
            conv_push(c, role, text, at);
    }
}

int
conv_get(struct store *s, const char *id, struct conversation *c)
{
    mongoc_client_t *cl;
    mongoc_collection_t *coll;
    const bson_t *doc;
    bson_error_t err;
    bson_iter_t it;
    int rv = STORE_NOTFOUND;

    memset(c, 0, sizeof(*c));
    if (strlen(id) != CONV_ID_LEN || strncmp(id, "c_", 2) != 0
        || !ids_is_hex(id + 2, 24))
        return STORE_NOTFOUND;
    coll = store_get(s, "conversations", &cl);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cur
        = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    if (mongoc_cursor_next(cur, &doc)) {
        snprintf(c->id, sizeof(c->id), "%s", id);
        store_string(doc, "user_id", c->user_id, sizeof(c->user_id));
        store_string(doc, "guest_hash", c->guest_hash, sizeof(c->guest_hash));
        if (!store_string(doc, "status", c->status, sizeof(c->status)))
            snprintf(c->status, sizeof(c->status), "ai");
        snprintf(c->loaded_status, sizeof(c->loaded_status), "%s", c->status);
        if (bson_iter_init_find(&it, doc, "created_at"))
            c->created_at = store_int64(&it);
        if (bson_iter_init_find(&it, doc, "updated_at"))
            c->updated_at = store_int64(&it);
        read_window(doc, c);
        rv = 0;
    } else if (mongoc_cursor_error(cur, &err)) {
        rv = store_error(&err, "find conversation");
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    store_put(s, cl, coll);
    if (rv != 0)
        return rv;
    return 0;
}

int
conv_load(struct store *s, const char *id, const char *user_id,
    const char *guest_token, struct conversation *c)
{
    int rv = conv_get(s, id, c);

    if (rv != 0)
        return rv;
    /* Only its owner may see a conversation; others get "not found". */
    bool owner;
    if (c->user_id[0] != '\0') {
        owner = user_id != NULL && strcmp(user_id, c->user_id) == 0;
    } else {
        char h[65];
        owner = guest_token != NULL && guest_token[0] != '\0';
        if (owner) {
            sha256_hex(guest_token, h);
            owner = CRYPTO_memcmp(h, c->guest_hash, 64) == 0;
        }
    }
    if (!owner) {
        conv_release(c);
        return STORE_NOTFOUND;
    }
    return 0;
}

static void
append_window(bson_t *doc, const struct conversation *c)
{
    bson_t arr, t;
    char key[16];

    BSON_APPEND_ARRAY_BEGIN(doc, "recent", &arr);
    for (int i = 0; i < c->nrecent; i++) {
        snprintf(key, sizeof(key), "%d", i);
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &t);
        BSON_APPEND_UTF8(&t, "role", c->recent[i].role);
        BSON_APPEND_UTF8(&t, "text", c->recent[i].text);
        BSON_APPEND_DATE_TIME(&t, "at", c->recent[i].at);
        bson_append_document_end(&arr, &t);
    }
    bson_append_array_end(doc, &arr);
}

int
conv_save(struct store *s, struct store_batch *inserts, struct conversation *c)
{
    mongoc_client_t *cl;
    mongoc_collection_t *coll;
    bson_error_t err;
    bool ok, changed = true;

    c->updated_at = clock_now_ms();
    if (c->is_new) {
        bson_t doc = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&doc, "_id", c->id);
        if (c->user_id[0])
            BSON_APPEND_UTF8(&doc, "user_id", c->user_id);
        else
            BSON_APPEND_UTF8(&doc, "guest_hash", c->guest_hash);
        BSON_APPEND_UTF8(&doc, "status", c->status);
        BSON_APPEND_DATE_TIME(&doc, "created_at", c->created_at);
        BSON_APPEND_DATE_TIME(&doc, "updated_at", c->updated_at);
        append_window(&doc, c);
        int rv = store_batch_insert(inserts, &doc);
        bson_destroy(&doc);
        if (rv != 0)
            return rv;
        c->is_new = false;
        snprintf(c->loaded_status, sizeof(c->loaded_status), "%s", c->status);
        return 0;
    }
    coll = store_get(s, "conversations", &cl);
    /* Only if nobody changed who owns it since it was loaded. */
    bson_t *filter = BCON_NEW(
        "_id", BCON_UTF8(c->id), "status", BCON_UTF8(c->loaded_status));
    bson_t update = BSON_INITIALIZER, set, reply;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_UTF8(&set, "status", c->status);
    BSON_APPEND_DATE_TIME(&set, "updated_at", c->updated_at);
    append_window(&set, c);
    bson_append_document_end(&update, &set);
    ok = mongoc_collection_update_one(
        coll, filter, &update, NULL, &reply, &err);
    bson_iter_t it;
    if (ok && bson_iter_init_find(&it, &reply, "matchedCount"))
        changed = store_int64(&it) > 0;
    bson_destroy(&reply);
    bson_destroy(&update);
    bson_destroy(filter);
    store_put(s, cl, coll);
    if (!ok)
        return store_error(&err, "save conversation");
    if (!changed)
        return STORE_CONFLICT;
    snprintf(c->loaded_status, sizeof(c->loaded_status), "%s", c->status);
    return 0;
}

void
msg_new_id(struct message *m)
{
    if (ids_hex(m->id, 12) != 0)
        snprintf(m->id, sizeof(m->id), "%024lld", (long long)clock_now_ms());
}

static void
msg_bson(bson_t *doc, const struct message *m)
{
    BSON_APPEND_UTF8(doc, "_id", m->id);
    BSON_APPEND_UTF8(doc, "conversation_id", m->conversation_id);
    BSON_APPEND_UTF8(doc, "role", m->role);
    BSON_APPEND_UTF8(doc, "text", m->text);
    BSON_APPEND_DATE_TIME(doc, "created_at", m->at);
    if (m->request_id)
        BSON_APPEND_UTF8(doc, "request_id", m->request_id);
    if (m->intent) {
        BSON_APPEND_UTF8(doc, "intent", m->intent);
        BSON_APPEND_DOUBLE(doc, "confidence", m->confidence);
    }
    if (m->agent_type)
        BSON_APPEND_UTF8(doc, "agent_type", m->agent_type);
    BSON_APPEND_BOOL(doc, "escalated", m->escalated);
}

int
msg_insert(struct store_batch *b, const struct message *m)
{
    bson_t doc;

    bson_init(&doc);
    msg_bson(&doc, m);
    int rv = store_batch_insert(b, &doc);
    bson_destroy(&doc);
    return rv;
}

void
conv_json_string(cJSON *o, const char *name, const bson_t *doc, const char *key)
{
    bson_iter_t it;
    uint32_t len;

    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) {
        const char *v = bson_iter_utf8(&it, &len);
        if (len <= CONV_TEXT_MAX)
            cJSON_AddStringToObject(o, name, v);
    }
}

void
conv_json_time(cJSON *o, const char *name, const bson_t *doc, const char *key)
{
    bson_iter_t it;
    char when[32];

    if (bson_iter_init_find(&it, doc, key)) {
        clock_iso8601(when, sizeof(when), store_int64(&it));
        cJSON_AddStringToObject(o, name, when);
    }
}

int
msg_history(struct store *s, const char *conversation_id, int64_t before,
    int limit, cJSON **out)
{
    mongoc_client_t *cl;
    mongoc_collection_t *coll = store_get(s, "messages", &cl);
    bson_t filter = BSON_INITIALIZER, lt;
    const bson_t *doc;
    bson_error_t err;
    int rv = 0;

    BSON_APPEND_UTF8(&filter, "conversation_id", conversation_id);
    if (before > 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "created_at", &lt);
        BSON_APPEND_DATE_TIME(&lt, "$lt", before);
        bson_append_document_end(&filter, &lt);
    }
    /* Newest first from the store, reversed below to read oldest first. */
    bson_t *opts = BCON_NEW("sort", "{", "created_at", BCON_INT32(-1), "}",
        "limit", BCON_INT64(limit));
    mongoc_cursor_t *cur
        = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    cJSON *arr = cJSON_CreateArray();
    while (mongoc_cursor_next(cur, &doc)) {
        cJSON *o = cJSON_CreateObject();
        bson_iter_t it;

        conv_json_string(o, "id", doc, "_id");
        conv_json_string(o, "role", doc, "role");
        conv_json_string(o, "text", doc, "text");
        conv_json_string(o, "intent", doc, "intent");
        conv_json_string(o, "agent_type", doc, "agent_type");
        if (bson_iter_init_find(&it, doc, "escalated"))
            cJSON_AddBoolToObject(o, "escalated", store_int64(&it) != 0);
        conv_json_time(o, "timestamp", doc, "created_at");
        cJSON_InsertItemInArray(arr, 0, o);
    }
    if (mongoc_cursor_error(cur, &err)) {
        rv = store_error(&err, "message history");
        cJSON_Delete(arr);
    } else {
        *out = arr;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    store_put(s, cl, coll);
    return rv;
}

int
conv_init(struct store *s)
{
    bson_t *keys = BCON_NEW(
        "conversation_id", BCON_INT32(1), "created_at", BCON_INT32(1));
    int rv
        = store_ensure_index(s, "messages", "conversation_time", keys, false);
    bson_destroy(keys);
    return rv;
}
