/*
 * store_bench - what one request-path store operation costs at 1,000,
 * 10,000 and 100,000 documents: insert_one, find one by string _id, the
 * newest 20 of one conversation (filter + sort + limit), update_one by _id,
 * and insert_many of 16. Median and p95 over OPS operations per size.
 *
 *   store_bench MONGO_URI [OPS]
 *   store_bench MONGO_URI --fill DB MESSAGES   (seed a suite's database with
 *       MESSAGES messages in MESSAGES/10 conversations, for chat benchmarks)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "clock.h"
#include "store.h"

#define CONVERSATIONS 500

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
report(const char *what, long docs, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    printf("| %-34s | %7ld | %8.2f | %8.2f |\n", what, docs, ms[n / 2],
        ms[(n * 95) / 100]);
}

static void
message_doc(bson_t *d, long i)
{
    char id[32], conv[32];

    snprintf(id, sizeof(id), "m%023ld", i);
    snprintf(conv, sizeof(conv), "c_%022ld", i % CONVERSATIONS);
    BSON_APPEND_UTF8(d, "_id", id);
    BSON_APPEND_UTF8(d, "conversation_id", conv);
    BSON_APPEND_UTF8(d, "role", i % 2 ? "assistant" : "user");
    BSON_APPEND_UTF8(d, "text",
        "Hello, I would like to know where my order "
        "is, it was due yesterday.");
    BSON_APPEND_DATE_TIME(d, "created_at", clock_now_ms() + i);
}

/* Grow the collection to `docs` documents with batches of 1,000. */
static void
fill(mongoc_collection_t *c, long *have, long docs)
{
    bson_t batch[1000];
    const bson_t *ptrs[1000];
    bson_error_t err;

    while (*have < docs) {
        int n = docs - *have < 1000 ? (int)(docs - *have) : 1000;
        for (int i = 0; i < n; i++) {
            bson_init(&batch[i]);
            message_doc(&batch[i], *have + i);
            ptrs[i] = &batch[i];
        }
        if (!mongoc_collection_insert_many(
                c, ptrs, (size_t)n, NULL, NULL, &err)) {
            fprintf(stderr, "fill: %s\n", err.message);
            exit(1);
        }
        for (int i = 0; i < n; i++)
            bson_destroy(&batch[i]);
        *have += n;
    }
}

/* The driver warns about FerretDB's missing endSessions; not news here. */
static void
quiet(mongoc_log_level_t level, const char *domain, const char *msg, void *arg)
{
    (void)domain;
    (void)arg;
    if (level <= MONGOC_LOG_LEVEL_ERROR)
        fprintf(stderr, "%s\n", msg);
}

/* Messages and conversations shaped like the gateway's own. */
static int
fill_suite(const char *uri, const char *db, long messages)
{
    mongoc_client_t *cl = mongoc_client_new(uri);
    mongoc_collection_t *m = mongoc_client_get_collection(cl, db, "messages");
    mongoc_collection_t *cv =
        mongoc_client_get_collection(cl, db, "conversations");
    long have = 0, convs = messages / 10 > 0 ? messages / 10 : 1;
    bson_error_t err;
    int rv = 0;

    fill(m, &have, messages);
    for (long i = 0; i < convs && rv == 0; i += 1000) {
        bson_t batch[1000];
        const bson_t *ptrs[1000];
        int n = convs - i < 1000 ? (int)(convs - i) : 1000;
        for (int k = 0; k < n; k++) {
            char id[32];
            bson_init(&batch[k]);
            snprintf(id, sizeof(id), "c_%024ld", i + k);
            BSON_APPEND_UTF8(&batch[k], "_id", id);
            BSON_APPEND_UTF8(&batch[k], "user_id", "bench");
            BSON_APPEND_UTF8(&batch[k], "status", "ai");
            BSON_APPEND_DATE_TIME(&batch[k], "created_at", clock_now_ms());
            BSON_APPEND_DATE_TIME(&batch[k], "updated_at", clock_now_ms());
            ptrs[k] = &batch[k];
        }
        if (!mongoc_collection_insert_many(cv, ptrs, (size_t)n, NULL, NULL,
                                           &err)) {
            fprintf(stderr, "fill: %s\n", err.message);
            rv = 1;
        }
        for (int k = 0; k < n; k++)
            bson_destroy(&batch[k]);
    }
    mongoc_collection_destroy(m);
    mongoc_collection_destroy(cv);
    mongoc_client_destroy(cl);
    return rv;
}

int
main(int argc, char **argv)
{
    long sizes[] = {1000, 10000, 100000}, have = 0, next = 10000000;
    if (argc == 5 && strcmp(argv[2], "--fill") == 0) {
        mongoc_log_set_handler(quiet, NULL);
        mongoc_init();
        int rv = fill_suite(argv[1], argv[3], strtol(argv[4], NULL, 10));
        mongoc_cleanup();
        return rv;
    }
    int ops = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 200;
    bson_error_t err;

    if (argc < 2 || ops < 10 || ops > 100000) {
        fprintf(stderr, "usage: %s MONGO_URI [OPS]\n", argv[0]);
        return 2;
    }
    mongoc_log_set_handler(quiet, NULL);
    mongoc_init();
    mongoc_client_t *cl = mongoc_client_new(argv[1]);
    mongoc_collection_t *c
        = mongoc_client_get_collection(cl, "store_bench", "messages");
    mongoc_collection_drop(c, NULL);
    bson_t *keys = BCON_NEW(
        "conversation_id", BCON_INT32(1), "created_at", BCON_INT32(1));
    struct store *st;
    if (store_open(&st, argv[1], "store_bench", "store_bench") != 0
        || store_ensure_index(st, "messages", "conversation_time", keys, false)
            != 0) {
        fprintf(stderr, "cannot create the index\n");
        return 1;
    }
    store_close(st);
    bson_destroy(keys);
    double *ms = calloc((size_t)ops, sizeof(double));

    printf(
        "| operation | documents | median ms | p95 ms |\n|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        fill(c, &have, sizes[s]);
        for (int i = 0; i < ops; i++) {
            bson_t d = BSON_INITIALIZER;
            message_doc(&d, next++);
            int64_t t0 = clock_mono_us();
            if (!mongoc_collection_insert_one(c, &d, NULL, NULL, &err))
                fprintf(stderr, "insert: %s\n", err.message);
            ms[i] = (double)(clock_mono_us() - t0) / 1000.0;
            bson_destroy(&d);
        }
        have += ops;
        report("insert_one", sizes[s], ms, ops);
        for (int i = 0; i < ops; i++) {
            char id[32];
            snprintf(id, sizeof(id), "m%023ld", (long)rand() % sizes[s]);
            bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
            bson_t *o = BCON_NEW("limit", BCON_INT64(1));
            int64_t t0 = clock_mono_us();
            mongoc_cursor_t *cur
                = mongoc_collection_find_with_opts(c, f, o, NULL);
            const bson_t *doc;
            while (mongoc_cursor_next(cur, &doc))
                ;
            ms[i] = (double)(clock_mono_us() - t0) / 1000.0;
            mongoc_cursor_destroy(cur);
            bson_destroy(f);
            bson_destroy(o);
        }
        report("find one by _id", sizes[s], ms, ops);
        for (int i = 0; i < ops; i++) {
            char conv[32];
            snprintf(
                conv, sizeof(conv), "c_%022ld", (long)rand() % CONVERSATIONS);
            bson_t *f = BCON_NEW("conversation_id", BCON_UTF8(conv));
            bson_t *o = BCON_NEW("sort", "{", "created_at", BCON_INT32(-1), "}",
                "limit", BCON_INT64(20));
            int64_t t0 = clock_mono_us();
            mongoc_cursor_t *cur
                = mongoc_collection_find_with_opts(c, f, o, NULL);
            const bson_t *doc;
            while (mongoc_cursor_next(cur, &doc))
                ;
            ms[i] = (double)(clock_mono_us() - t0) / 1000.0;
            mongoc_cursor_destroy(cur);
            bson_destroy(f);
            bson_destroy(o);
        }
        report("find conversation, sort, limit 20", sizes[s], ms, ops);
        for (int i = 0; i < ops; i++) {
            char id[32];
            snprintf(id, sizeof(id), "m%023ld", (long)rand() % sizes[s]);
            bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
            bson_t *u = BCON_NEW("$set", "{", "seen", BCON_BOOL(true), "}");
            int64_t t0 = clock_mono_us();
            mongoc_collection_update_one(c, f, u, NULL, NULL, &err);
            ms[i] = (double)(clock_mono_us() - t0) / 1000.0;
            bson_destroy(f);
            bson_destroy(u);
        }
        report("update_one by _id", sizes[s], ms, ops);
        int batches = ops / 10;
        for (int i = 0; i < batches; i++) {
            bson_t d[16];
            const bson_t *p[16];
            for (int k = 0; k < 16; k++) {
                bson_init(&d[k]);
                message_doc(&d[k], next++);
                p[k] = &d[k];
            }
            int64_t t0 = clock_mono_us();
            mongoc_collection_insert_many(c, p, 16, NULL, NULL, &err);
            ms[i] = (double)(clock_mono_us() - t0) / 1000.0;
            for (int k = 0; k < 16; k++)
                bson_destroy(&d[k]);
        }
        have += batches * 16;
        report("insert_many of 16", sizes[s], ms, batches);
    }
    mongoc_collection_drop(c, NULL);
    free(ms);
    mongoc_collection_destroy(c);
    mongoc_client_destroy(cl);
    mongoc_cleanup();
    return 0;
}
