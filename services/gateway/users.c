#include "users.h"

#include <string.h>
#include <time.h>

#include "clock.h"

#define COLL "users"

int
users_init(struct store *s)
{
    bson_t *keys = BCON_NEW("username", BCON_INT32(1));
    int rv = store_ensure_index(s, COLL, "username_unique", keys, true);
    bson_destroy(keys);
    return rv;
}

int
users_check_name(const char *name, char *out, const char **why)
{
    size_t n = strlen(name);

    if (n < USERNAME_MIN || n > USERNAME_MAX) {
        *why = "username must be 3 to 32 characters";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(i > 0 && (c == '.' || c == '_' || c == '-'))) {
            *why = "username may hold letters, digits, '.', '_' and '-', "
                   "and starts with a letter or digit";
            return -1;
        }
        out[i] = c;
    }
    out[n] = '\0';
    return 0;
}

int
users_check_password(const char *password, const char **why)
{
    size_t n = strlen(password);

    if (n < PASSWORD_MIN || n > PASSWORD_MAX) {
        *why = "password must be 8 to 128 bytes";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)password[i] < 0x20 || password[i] == 0x7f) {
            *why = "password must not contain control characters";
            return -1;
        }
    }
    return 0;
}

static int
from_bson(const bson_t *doc, struct user *u)
{
    bson_iter_t it;
    char role[16];

    memset(u, 0, sizeof(*u));
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
        return STORE_INVALID;
    bson_oid_to_string(bson_iter_oid(&it), u->id);
    if (!store_string(doc, "username", u->username, sizeof(u->username))
        || !store_string(doc, "password_hash", u->hash, sizeof(u->hash))
        || !store_string(doc, "role", role, sizeof(role)))
        return STORE_INVALID;
    u->role = auth_role_parse(role);
    if (bson_iter_init_find(&it, doc, "created_at"))
        u->created_at = store_int64(&it);
    if (bson_iter_init_find(&it, doc, "disabled"))
        u->disabled = store_int64(&it) != 0;
    if (bson_iter_init_find(&it, doc, "token_version"))
        u->token_version = (long)store_int64(&it);
    return u->role == ROLE_NONE ? STORE_INVALID : 0;
}

int
users_create(struct store *s, const char *username, const char *hash,
    enum role role, struct user *out)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, COLL, &c);
    bson_error_t err;
    bson_oid_t oid;
    bson_t doc = BSON_INITIALIZER;
    int rv = 0;

    bson_oid_init(&oid, NULL);
    memset(out, 0, sizeof(*out));
    out->created_at = clock_now_ms();
    BSON_APPEND_OID(&doc, "_id", &oid);
    BSON_APPEND_UTF8(&doc, "username", username);
    BSON_APPEND_UTF8(&doc, "password_hash", hash);
    BSON_APPEND_UTF8(&doc, "role", auth_role_name(role));
    BSON_APPEND_DATE_TIME(&doc, "created_at", out->created_at);
    BSON_APPEND_BOOL(&doc, "disabled", false);
    BSON_APPEND_INT64(&doc, "token_version", 0);
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err))
        rv = store_error(&err, "insert user");
    bson_destroy(&doc);
    store_put(s, c, coll);
    if (rv == 0) {
        bson_oid_to_string(&oid, out->id);
        snprintf(out->username, sizeof(out->username), "%s", username);
        snprintf(out->hash, sizeof(out->hash), "%s", hash);
        out->role = role;
    }
    return rv;
}

static int
find_one(struct store *s, const bson_t *filter, struct user *out)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, COLL, &c);
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cur
        = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t err;
    int rv = STORE_NOTFOUND;

    if (mongoc_cursor_next(cur, &doc))
        rv = from_bson(doc, out);
    else if (mongoc_cursor_error(cur, &err))
        rv = store_error(&err, "find user");
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    store_put(s, c, coll);
    return rv;
}

int
users_find_name(struct store *s, const char *username, struct user *out)
{
    bson_t *f = BCON_NEW("username", BCON_UTF8(username));
    int rv = find_one(s, f, out);
    bson_destroy(f);
    return rv;
}

int
users_find_id(struct store *s, const char *id, struct user *out)
{
    bson_oid_t oid;

    if (!bson_oid_is_valid(id, strlen(id)))
        return STORE_NOTFOUND;
    bson_oid_init_from_string(&oid, id);
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    int rv = find_one(s, f, out);
    bson_destroy(f);
    return rv;
}

/* $set fields and $inc token_version on the user id; the new document. */
static int
update_bump(struct store *s, const char *id, bson_t *set, struct user *after)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll;
    bson_oid_t oid;
    bson_t reply, update = BSON_INITIALIZER, inc;
    bson_error_t err;
    int rv = STORE_NOTFOUND;

    if (!bson_oid_is_valid(id, strlen(id)))
        return STORE_NOTFOUND;
    bson_oid_init_from_string(&oid, id);
    bson_t *q = BCON_NEW("_id", BCON_OID(&oid));
    BSON_APPEND_DOCUMENT(&update, "$set", set);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &inc);
    BSON_APPEND_INT64(&inc, "token_version", 1);
    bson_append_document_end(&update, &inc);
    coll = store_get(s, COLL, &c);
    mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
    mongoc_find_and_modify_opts_set_update(fam, &update);
    mongoc_find_and_modify_opts_set_flags(
        fam, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
    if (!mongoc_collection_find_and_modify_with_opts(
            coll, q, fam, &reply, &err)) {
        rv = store_error(&err, "update user");
    } else {
        bson_iter_t it;
        if (bson_iter_init_find(&it, &reply, "value")
            && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            const uint8_t *data;
            uint32_t len;
            bson_t v;
            bson_iter_document(&it, &len, &data);
            if (bson_init_static(&v, data, len)) {
                rv = from_bson(&v, after);
            }
        }
    }
    bson_destroy(&reply);
    mongoc_find_and_modify_opts_destroy(fam);
    store_put(s, c, coll);
    bson_destroy(q);
    bson_destroy(&update);
    return rv;
}

int
users_set_password(
    struct store *s, const char *id, const char *hash, long *tv_out)
{
    struct user u;
    bson_t *set = BCON_NEW("password_hash", BCON_UTF8(hash));
    int rv = update_bump(s, id, set, &u);
    bson_destroy(set);
    if (rv == 0 && tv_out != NULL)
        *tv_out = u.token_version;
    return rv;
}

int
users_set_disabled(struct store *s, const char *id, bool disabled)
{
    struct user u;
    bson_t *set = BCON_NEW("disabled", BCON_BOOL(disabled));
    int rv = update_bump(s, id, set, &u);
    bson_destroy(set);
    return rv;
}

int
users_admin_exists(struct store *s, bool *yes)
{
    struct user u;
    bson_t *f = BCON_NEW("role", BCON_UTF8("admin"));
    int rv = find_one(s, f, &u);
    bson_destroy(f);
    if (rv == STORE_NOTFOUND || rv == 0) {
        *yes = rv == 0;
        return 0;
    }
    return rv;
}

cJSON *
users_json(const struct user *u)
{
    cJSON *o = cJSON_CreateObject();
    char when[32];

    clock_iso8601(when, sizeof(when), u->created_at);
    cJSON_AddStringToObject(o, "id", u->id);
    cJSON_AddStringToObject(o, "username", u->username);
    cJSON_AddStringToObject(o, "role", auth_role_name(u->role));
    cJSON_AddStringToObject(o, "created_at", when);
    cJSON_AddBoolToObject(o, "disabled", u->disabled);
    return o;
}

int
users_list(struct store *s, enum role only, int limit, int skip, cJSON **out,
    int64_t *total)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, COLL, &c);
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "created_at", BCON_INT32(1), "}",
        "limit", BCON_INT64(limit), "skip", BCON_INT64(skip));
    bson_error_t err;
    const bson_t *doc;
    int rv = 0;

    if (only != ROLE_NONE)
        BSON_APPEND_UTF8(&filter, "role", auth_role_name(only));
    int64_t n = mongoc_collection_count_documents(
        coll, &filter, NULL, NULL, NULL, &err);
    if (n < 0) {
        rv = store_error(&err, "count users");
        goto out;
    }
    cJSON *arr = cJSON_CreateArray();
    mongoc_cursor_t *cur
        = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    while (mongoc_cursor_next(cur, &doc)) {
        struct user u;
        if (from_bson(doc, &u) == 0)
            cJSON_AddItemToArray(arr, users_json(&u));
    }
    if (mongoc_cursor_error(cur, &err)) {
        rv = store_error(&err, "list users");
        cJSON_Delete(arr);
    } else {
        *out = arr;
        *total = n;
    }
    mongoc_cursor_destroy(cur);
out:
    bson_destroy(opts);
    bson_destroy(&filter);
    store_put(s, c, coll);
    return rv;
}
