/*
 * store_bench - what one request-path store operation costs as a collection
 * grows: at 1,000, 10,000 and 100,000 documents, OPS timed calls (one client,
 * one at a time) of
 *
 *   insert_one                     one message document
 *   find one by _id                a string _id, limit 1
 *   find conversation, sort, limit 20
 *                                  filter on the indexed conversation_id,
 *                                  newest 20 by created_at
 *   update_one by _id              $set one field
 *   insert_many of 16              16 message documents in one call
 *
 * and prints a Markdown table of the median and p95 in milliseconds.
 *
 *   store_bench MONGO_URI [OPS]              (OPS: 10..100000, default 200)
 *   store_bench MONGO_URI --fill DB MESSAGES seed DB with MESSAGES messages
 *       in MESSAGES/10 conversations, for the chat benchmark (bench/chat.sh)
 *
 * The benchmark works in a database of its own (store_bench), dropped at
 * the end. docs/store.md has the figures measured here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "clock.h"
#include "store.h"

#define BENCH_DB "store_bench"
#define CONVERSATIONS 500 /* conversations the benchmark's messages share */
#define FILL_BATCH 1000
#define MANY 16 /* documents per insert_many */

static const long SIZES[] = {1000, 10000, 100000};

struct bench {
    mongoc_collection_t *coll;
    long next_id;  /* the next message number a timed insert uses */
    long inserted; /* documents the timed inserts added */
    long filled;   /* messages 0 .. filled-1 exist: the looked-up ones */
    long size;     /* documents in the collection when a row starts */
    long convs;    /* conversations the messages are spread over */
    int failures;  /* operations the store refused */
};

/* 24-character ids, like the gateway's. */
static void
message_id(char *out, size_t n, long i)
{
    snprintf(out, n, "m%023ld", i);
}

static void
conversation_id(char *out, size_t n, long i)
{
    snprintf(out, n, "c%023ld", i);
}

/* A message document shaped like the gateway's (services/gateway). */
static void
message_doc(bson_t *d, long i, long convs)
{
    char id[32], conv[32];

    message_id(id, sizeof(id), i);
    conversation_id(conv, sizeof(conv), i % convs);
    BSON_APPEND_UTF8(d, "_id", id);
    BSON_APPEND_UTF8(d, "conversation_id", conv);
    BSON_APPEND_UTF8(d, "role", i % 2 ? "assistant" : "user");
    BSON_APPEND_UTF8(d, "text",
        "Hello, I would like to know where my order is, it was due "
        "yesterday.");
    BSON_APPEND_DATE_TIME(d, "created_at", clock_now_ms() + i);
}

static int
insert_batch(mongoc_collection_t *c, bson_t *docs, int n)
{
    const bson_t *ptrs[FILL_BATCH];
    bson_error_t err;
    bool ok;

    for (int i = 0; i < n; i++)
        ptrs[i] = &docs[i];
    ok = mongoc_collection_insert_many(c, ptrs, (size_t)n, NULL, NULL, &err);
    for (int i = 0; i < n; i++)
        bson_destroy(&docs[i]);
    if (!ok)
        fprintf(stderr, "store_bench: insert_many: %s\n", err.message);
    return ok ? 0 : -1;
}

/* Insert messages first .. last-1, FILL_BATCH at a time. */
static int
fill_messages(mongoc_collection_t *c, long first, long last, long convs)
{
    static bson_t docs[FILL_BATCH];

    for (long i = first; i < last; i += FILL_BATCH) {
        int n = last - i < FILL_BATCH ? (int)(last - i) : FILL_BATCH;
        for (int k = 0; k < n; k++) {
            bson_init(&docs[k]);
            message_doc(&docs[k], i + k, convs);
        }
        if (insert_batch(c, docs, n) != 0)
            return -1;
    }
    return 0;
}

static int
fill_conversations(mongoc_collection_t *c, long convs)
{
    static bson_t docs[FILL_BATCH];

    for (long i = 0; i < convs; i += FILL_BATCH) {
        int n = convs - i < FILL_BATCH ? (int)(convs - i) : FILL_BATCH;
        for (int k = 0; k < n; k++) {
            char id[32];
            conversation_id(id, sizeof(id), i + k);
            bson_init(&docs[k]);
            BSON_APPEND_UTF8(&docs[k], "_id", id);
            BSON_APPEND_UTF8(&docs[k], "user_id", "bench");
            BSON_APPEND_UTF8(&docs[k], "status", "ai");
            BSON_APPEND_DATE_TIME(&docs[k], "created_at", clock_now_ms());
            BSON_APPEND_DATE_TIME(&docs[k], "updated_at", clock_now_ms());
        }
        if (insert_batch(c, docs, n) != 0)
            return -1;
    }
    return 0;
}

/* --fill: messages and their conversations in the suite's database. */
static int
fill_suite(mongoc_client_t *cl, const char *db, long messages)
{
    mongoc_collection_t *m = mongoc_client_get_collection(cl, db, "messages");
    mongoc_collection_t *cv
        = mongoc_client_get_collection(cl, db, "conversations");
    long convs = messages / 10 > 0 ? messages / 10 : 1;
    int rv = fill_messages(m, 0, messages, convs);

    if (rv == 0)
        rv = fill_conversations(cv, convs);
    mongoc_collection_destroy(m);
    mongoc_collection_destroy(cv);
    return rv;
}

/* ---- the timed operations: one call each, false when it failed -------- */

static bool
op_insert_one(struct bench *b)
{
    bson_t d = BSON_INITIALIZER;
    bson_error_t err;
    bool ok;

    message_doc(&d, b->next_id++, b->convs);
    b->inserted++;
    ok = mongoc_collection_insert_one(b->coll, &d, NULL, NULL, &err);
    bson_destroy(&d);
    return ok;
}

/* Read every document of a find; false on a cursor error. */
static bool
drain(mongoc_collection_t *c, const bson_t *filter, const bson_t *opts)
{
    mongoc_cursor_t *cur
        = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t err;
    bool ok;

    while (mongoc_cursor_next(cur, &doc))
        ;
    ok = !mongoc_cursor_error(cur, &err);
    mongoc_cursor_destroy(cur);
    return ok;
}

/* A random message that was there before the timed inserts. */
static void
random_message(const struct bench *b, char *id, size_t n)
{
    message_id(
        id, n, (long)((unsigned long)random() % (unsigned long)b->filled));
}

static bool
op_find_id(struct bench *b)
{
    char id[32];
    random_message(b, id, sizeof(id));
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *o = BCON_NEW("limit", BCON_INT64(1));
    bool ok = drain(b->coll, f, o);

    bson_destroy(f);
    bson_destroy(o);
    return ok;
}

static bool
op_find_conversation(struct bench *b)
{
    char conv[32];
    conversation_id(conv, sizeof(conv),
        (long)((unsigned long)random() % (unsigned long)b->convs));
    bson_t *f = BCON_NEW("conversation_id", BCON_UTF8(conv));
    bson_t *o = BCON_NEW("sort", "{", "created_at", BCON_INT32(-1), "}",
        "limit", BCON_INT64(20));
    bool ok = drain(b->coll, f, o);

    bson_destroy(f);
    bson_destroy(o);
    return ok;
}

static bool
op_update_one(struct bench *b)
{
    char id[32];
    bson_error_t err;
    random_message(b, id, sizeof(id));
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *u = BCON_NEW("$set", "{", "seen", BCON_BOOL(true), "}");
    bool ok = mongoc_collection_update_one(b->coll, f, u, NULL, NULL, &err);

    bson_destroy(f);
    bson_destroy(u);
    return ok;
}

static bool
op_insert_many(struct bench *b)
{
    bson_t d[MANY];
    const bson_t *p[MANY];
    bson_error_t err;
    bool ok;

    for (int k = 0; k < MANY; k++) {
        bson_init(&d[k]);
        message_doc(&d[k], b->next_id++, b->convs);
        p[k] = &d[k];
    }
    b->inserted += MANY;
    ok = mongoc_collection_insert_many(b->coll, p, MANY, NULL, NULL, &err);
    for (int k = 0; k < MANY; k++)
        bson_destroy(&d[k]);
    return ok;
}

static const struct op {
    const char *name;
    bool (*run)(struct bench *b);
} OPS[] = {
    /* look-ups first, so they see exactly the row's number of documents */
    {"find one by _id", op_find_id},
    {"find conversation, sort, limit 20", op_find_conversation},
    {"update_one by _id", op_update_one},
    {"insert_one", op_insert_one},
    {"insert_many of 16", op_insert_many},
};

/* ---- timing and the table ---------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
static double
percentile(const double *v, int n, int pct)
{
    int rank = (n * pct + 99) / 100;
    return v[rank > 0 ? rank - 1 : 0];
}

static void
time_op(struct bench *b, const struct op *op, double *ms, int ops)
{
    for (int i = 0; i < ops; i++) {
        int64_t t0 = clock_mono_us();
        if (!op->run(b))
            b->failures++;
        ms[i] = (double)(clock_mono_us() - t0) / 1000.0;
    }
    qsort(ms, (size_t)ops, sizeof(ms[0]), cmp_double);
    printf("| %s | %ld | %.2f | %.2f |\n", op->name, b->size,
        percentile(ms, ops, 50), percentile(ms, ops, 95));
    fflush(stdout);
}

static void
print_server(mongoc_client_t *cl, int ops)
{
    bson_t *cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    bson_t reply;
    bson_error_t err;
    bson_iter_t it;
    const char *version = "?";

    if (mongoc_client_command_simple(cl, "admin", cmd, NULL, &reply, &err)
        && bson_iter_init_find(&it, &reply, "version")
        && BSON_ITER_HOLDS_UTF8(&it))
        version = bson_iter_utf8(&it, NULL);
    printf("server reports MongoDB %s; %d operations per row, one client, "
           "times in ms\n\n",
        version, ops);
    bson_destroy(&reply);
    bson_destroy(cmd);
}

/* The collection with the gateway's conversation_id + created_at index. */
static int
prepare(const char *uri, mongoc_collection_t *c)
{
    struct store *st;
    bson_t *keys = BCON_NEW(
        "conversation_id", BCON_INT32(1), "created_at", BCON_INT32(1));
    int rv = -1;

    mongoc_collection_drop(c, NULL); /* fails when absent: fine */
    if (store_open(&st, uri, BENCH_DB, "store_bench") == 0) {
        rv = store_ensure_index(
            st, "messages", "conversation_time", keys, false);
        store_close(st);
    }
    bson_destroy(keys);
    return rv;
}

static int
run(mongoc_client_t *cl, const char *uri, int ops)
{
    struct bench b = {.next_id = 100000000, .convs = CONVERSATIONS};
    double *ms = calloc((size_t)ops, sizeof(double));
    int rv = 0;

    b.coll = mongoc_client_get_collection(cl, BENCH_DB, "messages");
    if (ms == NULL || prepare(uri, b.coll) != 0) {
        fprintf(stderr, "store_bench: cannot prepare %s.messages\n", BENCH_DB);
        rv = 1;
        goto out;
    }
    print_server(cl, ops);
    printf("| operation | documents | median ms | p95 ms |\n"
           "|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof(SIZES) / sizeof(SIZES[0]); s++) {
        /* Grow to the row's size; the timed inserts count too. */
        long target = SIZES[s] - b.inserted;
        if (target > b.filled) {
            if (fill_messages(b.coll, b.filled, target, b.convs) != 0) {
                rv = 1;
                goto out;
            }
            b.filled = target;
        }
        b.size = b.filled + b.inserted;
        for (size_t k = 0; k < sizeof(OPS) / sizeof(OPS[0]); k++)
            time_op(&b, &OPS[k], ms, ops);
    }
    if (b.failures > 0) {
        fprintf(stderr, "store_bench: %d operations failed\n", b.failures);
        rv = 1;
    }
out:
    mongoc_collection_drop(b.coll, NULL);
    mongoc_collection_destroy(b.coll);
    free(ms);
    return rv;
}

/* FerretDB has no endSessions, and the driver says so at every exit. */
static void
quiet(mongoc_log_level_t level, const char *domain, const char *msg, void *arg)
{
    (void)domain;
    (void)arg;
    if (level <= MONGOC_LOG_LEVEL_ERROR)
        fprintf(stderr, "%s\n", msg);
}

static bool
parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int
main(int argc, char **argv)
{
    long n = 200;
    bool fill = argc == 5 && strcmp(argv[2], "--fill") == 0;
    int rv;

    if (fill ? !parse_long(argv[4], 1, 100000000, &n)
             : (argc < 2 || argc > 3
                 || (argc == 3 && !parse_long(argv[2], 10, 100000, &n)))) {
        fprintf(stderr,
            "usage: %s MONGO_URI [OPS]\n"
            "       %s MONGO_URI --fill DB MESSAGES\n",
            argv[0], argv[0]);
        return 2;
    }
    mongoc_log_set_handler(quiet, NULL);
    mongoc_init();
    mongoc_client_t *cl = mongoc_client_new(argv[1]);
    if (cl == NULL) {
        fprintf(stderr, "store_bench: bad URI %s\n", argv[1]);
        rv = 2;
    } else if (fill) {
        rv = fill_suite(cl, argv[3], n) == 0 ? 0 : 1;
    } else {
        srandom(1);
        rv = run(cl, argv[1], (int)n);
    }
    mongoc_client_destroy(cl);
    mongoc_cleanup();
    return rv;
}
