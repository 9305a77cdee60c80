/*
 * Group-committed inserts against a real store. Needs STORE_TEST_URI (the
 * integration tests run it with their private store: test_store_batch.py);
 * without it every test is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <pthread.h>

#include "store.h"
#include "store_batch.h"

#define THREADS 32
#define PER_THREAD 40

static struct store *store;
static struct store_batch *batch;
static char coll[64];

struct worker {
    int id;
    int failures;
};

static void *
insert_many(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w%d-%d", w->id, i);
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "n", BCON_INT32(i));
        w->failures += store_batch_insert(batch, doc) != 0;
        bson_destroy(doc);
    }
    return NULL;
}

static int64_t
count_docs(void)
{
    mongoc_client_t *cl;
    mongoc_collection_t *c = store_get(store, coll, &cl);
    bson_t filter = BSON_INITIALIZER;
    bson_error_t err;
    int64_t n
        = mongoc_collection_count_documents(c, &filter, NULL, NULL, NULL, &err);
    bson_destroy(&filter);
    store_put(store, cl, c);
    return n;
}

/* Many callers at once: every document stored once, in fewer writes. */
static void
test_concurrent_inserts_all_stored(void **state)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    size_t writes, docs;

    (void)state;
    if (store == NULL)
        skip();
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker) {.id = i};
        pthread_create(&t[i], NULL, insert_many, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(count_docs(), THREADS * PER_THREAD);
    store_batch_stats(batch, &writes, &docs);
    assert_int_equal(docs, THREADS * PER_THREAD);
    printf("store_batch: %zu documents in %zu writes\n", docs, writes);
    assert_true(writes < docs);
}

/* A duplicate key fails alone; a fresh document is stored. */
static void
test_duplicate_fails_alone(void **state)
{
    (void)state;
    if (store == NULL)
        skip();
    bson_t *dup = BCON_NEW("_id", BCON_UTF8("w0-0"));
    bson_t *fresh = BCON_NEW("_id", BCON_UTF8("fresh"));
    assert_int_equal(store_batch_insert(batch, dup), STORE_DUP);
    assert_int_equal(store_batch_insert(batch, fresh), 0);
    bson_destroy(dup);
    bson_destroy(fresh);
    assert_int_equal(count_docs(), THREADS * PER_THREAD + 1);
}

/* Nobody listening: every caller hears "down", nobody hangs. */
static void
test_store_down(void **state)
{
    struct store *dead;
    struct store_batch *b;

    (void)state;
    assert_int_equal(
        store_open(&dead, "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300",
            "test", "test"),
        0);
    assert_int_equal(store_batch_open(&b, dead, "x", 1), 0);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8("a"));
    assert_int_equal(store_batch_insert(b, doc), STORE_DOWN);
    bson_destroy(doc);
    store_batch_close(b);
    store_close(dead);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_inserts_all_stored),
        cmocka_unit_test(test_duplicate_fails_alone),
        cmocka_unit_test(test_store_down),
    };
    const char *uri = getenv("STORE_TEST_URI");

    mongoc_init();
    snprintf(coll, sizeof(coll), "batch_test_%ld", (long)getpid());
    if (uri != NULL && *uri != '\0') {
        if (store_open(&store, uri, "store_batch_test", "test") != 0
            || store_batch_open(&batch, store, coll, 2) != 0)
            return 1;
    }
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    store_batch_close(batch);
    store_close(store);
    mongoc_cleanup();
    return rv;
}
