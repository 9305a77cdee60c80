#include "knowledge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "intent.h"
#include "log.h"

#define COLL "knowledge"

void
kb_entry_release(struct kb_entry *e)
{
    free(e->id);
    free(e->title);
    free(e->answer);
    free(e->policy);
    for (int i = 0; i < e->nquestions; i++)
        free(e->questions[i]);
    for (int i = 0; i < e->ntags; i++)
        free(e->tags[i]);
    memset(e, 0, sizeof(*e));
}

void
kb_release(struct kb *kb)
{
    for (size_t i = 0; i < kb->n; i++)
        kb_entry_release(&kb->entries[i]);
    free(kb->entries);
    kb->entries = NULL;
    kb->n = 0;
}

static char *
checked_dup(const char *s, size_t max)
{
    return s != NULL && strlen(s) <= max ? strdup(s) : NULL;
}

static int
json_list(const cJSON *arr, char **out, int *n, size_t max_len)
{
    const cJSON *it;

    *n = 0;
    if (arr == NULL)
        return 0;
    if (!cJSON_IsArray(arr))
        return -1;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || *n == KB_MAX_LIST)
            return -1;
        if ((out[*n] = checked_dup(it->valuestring, max_len)) == NULL)
            return -1;
        (*n)++;
    }
    return 0;
}

static int
entry_from_json(const cJSON *o, struct kb_entry *e)
{
    const cJSON *f, *it;

    memset(e, 0, sizeof(*e));
    if (!cJSON_IsObject(o))
        return -1;
#define STR(name, dst, max, required)                                          \
    f = cJSON_GetObjectItemCaseSensitive(o, name);                             \
    if (cJSON_IsString(f))                                                     \
        dst = checked_dup(f->valuestring, max);                                \
    if ((required) && dst == NULL)                                             \
        return -1;
    STR("id", e->id, 128, true);
    STR("title", e->title, 512, true);
    STR("answer", e->answer, KB_MAX_TEXT, true);
    STR("policy", e->policy, 1024, false);
#undef STR
    if (json_list(cJSON_GetObjectItem(o, "questions"), e->questions,
            &e->nquestions, KB_MAX_TEXT)
            != 0
        || json_list(cJSON_GetObjectItem(o, "tags"), e->tags, &e->ntags, 128)
            != 0)
        return -1;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "intents"))
    {
        int k = cJSON_IsString(it) ? intent_parse(it->valuestring) : -1;
        if (k < 0)
            return -1;
        e->intents |= 1u << k;
    }
    e->needs_human = cJSON_IsTrue(cJSON_GetObjectItem(o, "needs_human"));
    e->curated = cJSON_IsTrue(cJSON_GetObjectItem(o, "curated"));
    return 0;
}

int
kb_load_file(struct kb *kb, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    cJSON *doc = NULL;
    int rv = -1;

    memset(kb, 0, sizeof(*kb));
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || (size_t)size > KB_FILE_MAX || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: unreadable or larger than %u bytes", path,
            KB_FILE_MAX);
        goto out;
    }
    if ((buf = malloc((size_t)size + 1)) == NULL
        || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "%s: cannot read", path);
        goto out;
    }
    buf[size] = '\0';
    const cJSON *entries;
    if ((doc = cJSON_Parse(buf)) == NULL
        || !cJSON_IsArray(entries = cJSON_GetObjectItem(doc, "entries"))) {
        snprintf(err, errlen, "%s: not a knowledge file", path);
        goto out;
    }
    int n = cJSON_GetArraySize(entries);
    if (n > KB_MAX_ENTRIES
        || (kb->entries = calloc((size_t)n + 1, sizeof(*kb->entries)))
            == NULL) {
        snprintf(err, errlen, "%s: too many entries", path);
        goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, entries)
    {
        if (entry_from_json(it, &kb->entries[kb->n]) != 0) {
            snprintf(err, errlen, "%s: entry %zu is malformed", path, kb->n);
            kb_entry_release(&kb->entries[kb->n]);
            kb_release(kb);
            goto out;
        }
        kb->n++;
    }
    rv = 0;
out:
    cJSON_Delete(doc);
    free(buf);
    fclose(f);
    return rv;
}

static void
append_list(bson_t *doc, const char *key, char *const *v, int n)
{
    bson_t arr;
    char k[16];

    BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "%d", i);
        BSON_APPEND_UTF8(&arr, k, v[i]);
    }
    bson_append_array_end(doc, &arr);
}

void
kb_entry_to_bson(const struct kb_entry *e, bson_t *doc)
{
    bson_t arr;
    char k[16];
    int n = 0;

    BSON_APPEND_UTF8(doc, "_id", e->id);
    BSON_APPEND_UTF8(doc, "title", e->title);
    BSON_APPEND_UTF8(doc, "answer", e->answer);
    BSON_APPEND_UTF8(doc, "policy", e->policy ? e->policy : "");
    append_list(doc, "questions", e->questions, e->nquestions);
    append_list(doc, "tags", e->tags, e->ntags);
    BSON_APPEND_ARRAY_BEGIN(doc, "intents", &arr);
    for (int i = 0; i < INTENT_COUNT; i++) {
        if (e->intents & (1u << i)) {
            snprintf(k, sizeof(k), "%d", n++);
            BSON_APPEND_UTF8(&arr, k, intent_name(i));
        }
    }
    bson_append_array_end(doc, &arr);
    BSON_APPEND_BOOL(doc, "needs_human", e->needs_human);
    BSON_APPEND_BOOL(doc, "curated", e->curated);
    BSON_APPEND_DATE_TIME(
        doc, "updated_at", e->updated_at ? e->updated_at : clock_now_ms());
}

static int
bson_list(bson_iter_t *it, char **out, int *n, size_t max_len)
{
    bson_iter_t a;

    *n = 0;
    if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &a))
        return -1;
    while (bson_iter_next(&a) && *n < KB_MAX_LIST) {
        if (!BSON_ITER_HOLDS_UTF8(&a))
            continue;
        if ((out[*n] = checked_dup(bson_iter_utf8(&a, NULL), max_len)) == NULL)
            return -1;
        (*n)++;
    }
    return 0;
}

static void
replace(char **field, char *value)
{
    free(*field);
    *field = value;
}

static void
free_list(char **v, int *n)
{
    for (int i = 0; i < *n; i++)
        free(v[i]);
    *n = 0;
}

int
kb_entry_from_bson(const bson_t *doc, struct kb_entry *e)
{
    bson_iter_t it;

    memset(e, 0, sizeof(*e));
    if (!bson_iter_init(&it, doc))
        return -1;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const char *s
            = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
        /* A repeated key replaces the earlier value (never leaks it). */
        if (strcmp(k, "_id") == 0)
            replace(&e->id, checked_dup(s, 128));
        else if (strcmp(k, "title") == 0)
            replace(&e->title, checked_dup(s, 512));
        else if (strcmp(k, "answer") == 0)
            replace(&e->answer, checked_dup(s, KB_MAX_TEXT));
        else if (strcmp(k, "policy") == 0)
            replace(&e->policy, checked_dup(s, 1024));
        else if (strcmp(k, "questions") == 0) {
            free_list(e->questions, &e->nquestions);
            bson_list(&it, e->questions, &e->nquestions, KB_MAX_TEXT);
        } else if (strcmp(k, "tags") == 0) {
            free_list(e->tags, &e->ntags);
            bson_list(&it, e->tags, &e->ntags, 128);
        } else if (strcmp(k, "needs_human") == 0)
            e->needs_human = store_int64(&it) != 0;
        else if (strcmp(k, "curated") == 0)
            e->curated = store_int64(&it) != 0;
        else if (strcmp(k, "updated_at") == 0)
            e->updated_at = store_int64(&it);
        else if (strcmp(k, "intents") == 0 && BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_t a;
            bson_iter_recurse(&it, &a);
            while (bson_iter_next(&a)) {
                int i = BSON_ITER_HOLDS_UTF8(&a)
                    ? intent_parse(bson_iter_utf8(&a, NULL))
                    : -1;
                if (i >= 0)
                    e->intents |= 1u << i;
            }
        }
    }
    if (e->id == NULL || e->title == NULL || e->answer == NULL) {
        kb_entry_release(e);
        return -1;
    }
    return 0;
}

int
kb_load_store(struct kb *kb, struct store *s)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, COLL, &c);
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("limit", BCON_INT64(KB_MAX_ENTRIES));
    mongoc_cursor_t *cur
        = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    const bson_t *doc;
    bson_error_t err;
    size_t cap = 128;
    int rv = 0;

    memset(kb, 0, sizeof(*kb));
    kb->entries = calloc(cap, sizeof(*kb->entries));
    while (kb->entries != NULL && mongoc_cursor_next(cur, &doc)) {
        if (kb->n == cap) {
            struct kb_entry *m
                = realloc(kb->entries, 2 * cap * sizeof(*kb->entries));
            if (m == NULL)
                break;
            kb->entries = m;
            cap *= 2;
        }
        if (kb_entry_from_bson(doc, &kb->entries[kb->n]) == 0)
            kb->n++;
    }
    if (mongoc_cursor_error(cur, &err)) {
        rv = store_error(&err, "read knowledge");
        kb_release(kb);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    store_put(s, c, coll);
    return rv;
}

int
kb_count(struct store *s, int64_t *stamp)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, COLL, &c);
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts
        = BCON_NEW("sort", "{", "updated_at", BCON_INT32(-1), "}", "limit",
            BCON_INT64(1), "projection", "{", "updated_at", BCON_INT32(1), "}");
    bson_error_t err;
    const bson_t *doc;
    int64_t latest = 0;
    int rv = 0;

    int64_t n = mongoc_collection_count_documents(
        coll, &filter, NULL, NULL, NULL, &err);
    if (n < 0) {
        rv = store_error(&err, "count knowledge");
    } else {
        mongoc_cursor_t *cur
            = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
        bson_iter_t it;
        if (mongoc_cursor_next(cur, &doc)
            && bson_iter_init_find(&it, doc, "updated_at"))
            latest = store_int64(&it);
        if (mongoc_cursor_error(cur, &err))
            rv = store_error(&err, "newest knowledge");
        mongoc_cursor_destroy(cur);
    }
    if (rv == 0)
        *stamp = n == 0 ? 0 : n * 1000003 + latest;
    bson_destroy(opts);
    bson_destroy(&filter);
    store_put(s, c, coll);
    return rv;
}

int
kb_seed(struct store *s, const struct kb *kb)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, COLL, &c);
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    bson_error_t err;
    int rv = 0;

    for (size_t i = 0; i < kb->n && rv == 0; i++) {
        /* A curated answer with the same id is a human's: leave it. */
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(kb->entries[i].id),
            "curated", "{", "$ne", BCON_BOOL(true), "}");
        bson_t doc = BSON_INITIALIZER;
        kb_entry_to_bson(&kb->entries[i], &doc);
        if (!mongoc_collection_replace_one(
                coll, filter, &doc, opts, NULL, &err)) {
            rv = store_error(&err, "seed knowledge");
            if (rv == STORE_DUP) /* the curated one exists */
                rv = 0;
        }
        bson_destroy(&doc);
        bson_destroy(filter);
    }
    bson_destroy(opts);
    store_put(s, c, coll);
    return rv;
}

int
kb_put(struct store *s, const struct kb_entry *e)
{
    mongoc_client_t *c;
    mongoc_collection_t *coll = store_get(s, COLL, &c);
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(e->id));
    bson_t doc = BSON_INITIALIZER;
    bson_error_t err;
    int rv = 0;

    kb_entry_to_bson(e, &doc);
    if (!mongoc_collection_replace_one(coll, filter, &doc, opts, NULL, &err))
        rv = store_error(&err, "put knowledge");
    bson_destroy(&doc);
    bson_destroy(filter);
    bson_destroy(opts);
    store_put(s, c, coll);
    return rv;
}
