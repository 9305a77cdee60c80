#include "store_batch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct entry {
    const bson_t *doc;
    int result;
    bool done;
    pthread_cond_t cv; /* done, or this entry heads the queue and may write */
    struct entry *next;
};

struct store_batch {
    struct store *store;
    char *collection;
    pthread_mutex_t mu;
    struct entry *head, *tail;
    int writing, writers;
    size_t writes, docs;
};

int
store_batch_open(struct store_batch **bp, struct store *s,
    const char *collection, int writers)
{
    struct store_batch *b = calloc(1, sizeof(*b));

    if (b == NULL || (b->collection = strdup(collection)) == NULL) {
        free(b);
        return STORE_INVALID;
    }
    b->store = s;
    b->writers = writers > 0 ? writers : 1;
    pthread_mutex_init(&b->mu, NULL);
    *bp = b;
    return 0;
}

void
store_batch_close(struct store_batch *b)
{
    if (b == NULL)
        return;
    pthread_mutex_destroy(&b->mu);
    free(b->collection);
    free(b);
}

/*
 * An unordered insert_many that failed: the documents named in the reply's
 * writeErrors failed (duplicate key or otherwise), the others are stored.
 * Without writeErrors the write as a whole failed (store down).
 */
static void
sort_failures(struct entry **es, int n, const bson_t *reply,
    const bson_error_t *err, const char *what)
{
    bson_iter_t it, arr;
    bool per_doc = false;

    if (bson_iter_init_find(&it, reply, "writeErrors")
        && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
        while (bson_iter_next(&arr)) {
            bson_iter_t we, f;
            if (!BSON_ITER_HOLDS_DOCUMENT(&arr)
                || !bson_iter_recurse(&arr, &we))
                continue;
            int64_t index = -1, code = 0;
            if (bson_iter_find(&we, "index"))
                index = store_int64(&we);
            bson_iter_recurse(&arr, &f);
            if (bson_iter_find(&f, "code"))
                code = store_int64(&f);
            if (index < 0 || index >= n)
                continue;
            es[index]->result = code == 11000 ? STORE_DUP : STORE_DOWN;
            per_doc = true;
        }
    }
    if (per_doc)
        return;
    int rv = store_error(err, what);
    for (int i = 0; i < n; i++)
        es[i]->result = rv;
}

static void
write_batch(struct store_batch *b, struct entry **es, int n)
{
    const bson_t *docs[STORE_BATCH_MAX];
    mongoc_client_t *cl;
    mongoc_collection_t *coll = store_get(b->store, b->collection, &cl);
    bson_t opts = BSON_INITIALIZER, reply;
    bson_error_t err;

    for (int i = 0; i < n; i++) {
        docs[i] = es[i]->doc;
        es[i]->result = 0;
    }
    BSON_APPEND_BOOL(&opts, "ordered", false);
    if (!mongoc_collection_insert_many(
            coll, docs, (size_t)n, &opts, &reply, &err))
        sort_failures(es, n, &reply, &err, b->collection);
    bson_destroy(&reply);
    bson_destroy(&opts);
    store_put(b->store, cl, coll);
}

/*
 * Each waiter sleeps on its own condition variable and is woken only when
 * its document is written, or when it heads the queue and a writer's place
 * is free: with hundreds of requests waiting, a shared one would wake them
 * all at every write.
 */
int
store_batch_insert(struct store_batch *b, const bson_t *doc)
{
    struct entry e = {.doc = doc};
    struct entry *es[STORE_BATCH_MAX];

    pthread_cond_init(&e.cv, NULL);
    pthread_mutex_lock(&b->mu);
    if (b->tail != NULL)
        b->tail->next = &e;
    else
        b->head = &e;
    b->tail = &e;
    while (!e.done) {
        if (b->head != &e || b->writing >= b->writers) {
            pthread_cond_wait(&e.cv, &b->mu);
            continue;
        }
        /* At the head with a writer's place free: write what is queued. */
        int n = 0;
        while (b->head != NULL && n < STORE_BATCH_MAX) {
            es[n++] = b->head;
            b->head = b->head->next;
        }
        if (b->head == NULL)
            b->tail = NULL;
        else if (b->writing + 1 < b->writers)
            pthread_cond_signal(&b->head->cv); /* the next may write too */
        b->writing++;
        pthread_mutex_unlock(&b->mu);
        write_batch(b, es, n);
        pthread_mutex_lock(&b->mu);
        b->writing--;
        b->writes++;
        b->docs += (size_t)n;
        for (int i = 0; i < n; i++) {
            es[i]->done = true;
            if (es[i] != &e)
                pthread_cond_signal(&es[i]->cv);
        }
        if (b->head != NULL)
            pthread_cond_signal(&b->head->cv);
    }
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&e.cv);
    return e.result;
}

void
store_batch_stats(struct store_batch *b, size_t *writes, size_t *docs)
{
    pthread_mutex_lock(&b->mu);
    *writes = b->writes;
    *docs = b->docs;
    pthread_mutex_unlock(&b->mu);
}
