#include "audit.h"

#include "clock.h"

void
audit_record(struct store *s, const char *who, const char *action,
    const char *target, const char *after)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, "audit_log", &c);
    bson_t doc = BSON_INITIALIZER;
    bson_error_t err;

    BSON_APPEND_UTF8(&doc, "who", who);
    BSON_APPEND_UTF8(&doc, "action", action);
    BSON_APPEND_UTF8(&doc, "target", target);
    BSON_APPEND_UTF8(&doc, "after", after);
    BSON_APPEND_DATE_TIME(&doc, "at", clock_now_ms());
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err))
        store_error(&err, "audit log");
    bson_destroy(&doc);
    store_put(s, c, coll);
}
