#include "audit.h"

#include "clock.h"
#include "conversations.h"

void
audit_record(struct store *s, const char *who, const char *action,
    const char *target, const char *before, const char *after)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, "audit_log", &c);
    bson_t doc = BSON_INITIALIZER;
    bson_error_t err;

    BSON_APPEND_UTF8(&doc, "who", who);
    BSON_APPEND_UTF8(&doc, "action", action);
    BSON_APPEND_UTF8(&doc, "target", target);
    BSON_APPEND_UTF8(&doc, "before", before);
    BSON_APPEND_UTF8(&doc, "after", after);
    BSON_APPEND_DATE_TIME(&doc, "at", clock_now_ms());
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err))
        store_error(&err, "audit log");
    bson_destroy(&doc);
    store_put(s, c, coll);
}

int
audit_list(struct store *s, const char *target, int limit, cJSON **out)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, "audit_log", &c);
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW(
        "sort", "{", "at", BCON_INT32(-1), "}", "limit", BCON_INT64(limit));
    const bson_t *doc;
    bson_error_t err;
    int rv = 0;

    if (target != NULL && target[0] != '\0')
        BSON_APPEND_UTF8(&filter, "target", target);
    mongoc_cursor_t *cur
        = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    cJSON *arr = cJSON_CreateArray();
    while (mongoc_cursor_next(cur, &doc)) {
        cJSON *o = cJSON_CreateObject();
        conv_json_string(o, "who", doc, "who");
        conv_json_string(o, "action", doc, "action");
        conv_json_string(o, "target", doc, "target");
        conv_json_string(o, "before", doc, "before");
        conv_json_string(o, "after", doc, "after");
        conv_json_time(o, "at", doc, "at");
        cJSON_AddItemToArray(arr, o);
    }
    if (mongoc_cursor_error(cur, &err)) {
        rv = store_error(&err, "read audit log");
        cJSON_Delete(arr);
    } else {
        *out = arr;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    store_put(s, c, coll);
    return rv;
}
