#include "store.h"

#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct store {
    mongoc_client_pool_t *pool;
    char *db;
};

int
store_open(
    struct store **sp, const char *uri, const char *db, const char *appname)
{
    bson_error_t err;
    mongoc_uri_t *u = mongoc_uri_new_with_error(uri, &err);
    struct store *s;

    if (u == NULL) {
        log_error("store: bad MONGO_URI: %s", err.message);
        return STORE_INVALID;
    }
    /* Fail fast when the store is away: callers answer 503, not hang. */
    if (!mongoc_uri_has_option(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(
            u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
    if (!mongoc_uri_has_option(u, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
    if (!mongoc_uri_has_option(u, MONGOC_URI_SOCKETTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_SOCKETTIMEOUTMS, 10000);
    if (!mongoc_uri_has_option(u, MONGOC_URI_MAXPOOLSIZE))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_MAXPOOLSIZE, 64);
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        mongoc_uri_destroy(u);
        return STORE_INVALID;
    }
    s->pool = mongoc_client_pool_new(u);
    mongoc_uri_destroy(u);
    if (s->pool == NULL) {
        free(s);
        return STORE_INVALID;
    }
    mongoc_client_pool_set_error_api(s->pool, MONGOC_ERROR_API_VERSION_2);
    if (appname != NULL)
        mongoc_client_pool_set_appname(s->pool, appname);
    s->db = strdup(db);
    *sp = s;
    return 0;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    mongoc_client_pool_destroy(s->pool);
    free(s->db);
    free(s);
}

bool
store_ping(struct store *s)
{
    mongoc_client_t *c = mongoc_client_pool_pop(s->pool);
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t err;
    bool ok = mongoc_client_command_simple(c, s->db, cmd, NULL, NULL, &err);

    bson_destroy(cmd);
    mongoc_client_pool_push(s->pool, c);
    return ok;
}

int
store_wait(struct store *s, int max_s, volatile sig_atomic_t *stop)
{
    int64_t start = clock_mono_ms();
    int64_t last_log = 0;

    for (;;) {
        if (store_ping(s))
            return 0;
        int64_t now = clock_mono_ms();
        if (max_s > 0 && now - start >= (int64_t)max_s * 1000)
            break;
        if (stop != NULL && *stop)
            break;
        if (now - last_log >= 5000) {
            log_warn("store: not reachable yet, retrying (waited %lds)",
                (long)((now - start) / 1000));
            last_log = now;
        }
        usleep(250 * 1000);
    }
    log_error("store: gave up waiting");
    return STORE_DOWN;
}

mongoc_collection_t *
store_get(struct store *s, const char *collection, mongoc_client_t **client)
{
    *client = mongoc_client_pool_pop(s->pool);
    return mongoc_client_get_collection(*client, s->db, collection);
}

void
store_put(struct store *s, mongoc_client_t *client, mongoc_collection_t *coll)
{
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(s->pool, client);
}

int
store_error(const bson_error_t *err, const char *what)
{
    if (err->code == 11000 || err->code == 11001
        || strstr(err->message, "E11000") != NULL)
        return STORE_DUP;
    log_error("store: %s failed: %s (domain %u code %u)", what, err->message,
        err->domain, err->code);
    return STORE_DOWN;
}

/* MongoDB's NotImplemented error, which FerretDB answers for what it lacks. */
#define STORE_CODE_NOT_IMPLEMENTED 238

static int
create_index(struct store *s, const char *collection, const char *name,
    const bson_t *keys, bool unique, int expire_after_s)
{
    mongoc_client_t *c = mongoc_client_pool_pop(s->pool);
    mongoc_database_t *db = mongoc_client_get_database(c, s->db);
    bson_t cmd, indexes, idx;
    bson_error_t err;
    int rv = 0;

    bson_init(&cmd);
    BSON_APPEND_UTF8(&cmd, "createIndexes", collection);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &idx);
    BSON_APPEND_DOCUMENT(&idx, "key", keys);
    BSON_APPEND_UTF8(&idx, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&idx, "unique", true);
    if (expire_after_s >= 0)
        BSON_APPEND_INT32(&idx, "expireAfterSeconds", expire_after_s);
    bson_append_document_end(&indexes, &idx);
    bson_append_array_end(&cmd, &indexes);
    if (mongoc_database_write_command_with_opts(db, &cmd, NULL, NULL, &err)) {
        rv = 0;
    } else if (err.code == STORE_CODE_NOT_IMPLEMENTED) {
        /* FerretDB v1 has no TTL indexes: the caller decides what to do. */
        log_info("store: index %s on %s not supported here: %s", name,
            collection, err.message);
        rv = STORE_INVALID;
    } else {
        rv = store_error(&err, "createIndexes");
    }
    bson_destroy(&cmd);
    mongoc_database_destroy(db);
    mongoc_client_pool_push(s->pool, c);
    return rv;
}

int
store_ensure_index(struct store *s, const char *collection, const char *name,
    const bson_t *keys, bool unique)
{
    return create_index(s, collection, name, keys, unique, -1);
}

int
store_ensure_ttl_index(struct store *s, const char *collection,
    const char *name, const char *field)
{
    bson_t *keys = BCON_NEW(field, BCON_INT32(1));
    int rv = create_index(s, collection, name, keys, false, 0);
    bson_destroy(keys);
    return rv;
}

int64_t
store_int64(const bson_iter_t *it)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_BOOL:
        return bson_iter_as_int64(it);
    case BSON_TYPE_DATE_TIME:
        return bson_iter_date_time(it);
    default:
        return 0;
    }
}

bool
store_string(const bson_t *doc, const char *key, char *out, size_t n)
{
    bson_iter_t it;
    uint32_t len;

    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
        return false;
    const char *v = bson_iter_utf8(&it, &len);
    if (len >= n)
        len = (uint32_t)(n - 1);
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
}
