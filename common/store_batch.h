/*
 * store_batch.h - group commit of inserts into one collection.
 *
 * Many request threads each insert a document and wait for it to be stored.
 * On FerretDB an insert_many of 16 documents costs about what 2 single
 * inserts do (docs/performance.md), so concurrent inserts are gathered: the
 * first caller to find no batch being written becomes the writer, takes
 * every document queued (its own included) and writes them in one unordered
 * insert_many, then wakes their callers with each document's own result.
 * Documents that arrive meanwhile wait for that write to end and go in the
 * next one. Nobody waits on a timer: an idle store sees one insert per
 * call, as before, and under load the batches grow with the queue.
 *
 * A caller returns only once its document is stored (or known not to be),
 * so "stored before anything else happens" still holds.
 */
#ifndef COMMON_STORE_BATCH_H
#define COMMON_STORE_BATCH_H

#include <stddef.h>

#include <bson/bson.h>

#include "store.h"

/* Documents one write takes at most. */
#define STORE_BATCH_MAX 64

struct store_batch;

/*
 * Gather inserts into collection of s (borrowed; it must outlive the
 * batch). writers: how many batches may be written at once (>= 1).
 * Returns 0 or STORE_INVALID (out of memory).
 */
int store_batch_open(struct store_batch **bp, struct store *s,
    const char *collection, int writers);

/* Free it; no insert may be in progress. NULL is a no-op. */
void store_batch_close(struct store_batch *b);

/*
 * Insert doc (borrowed until return) and wait until it is written.
 * Returns 0, STORE_DUP (its key exists; the others in its batch are
 * stored) or STORE_DOWN.
 */
int store_batch_insert(struct store_batch *b, const bson_t *doc);

/* Writes made and documents written so far (for tests and benchmarks). */
void store_batch_stats(struct store_batch *b, size_t *writes, size_t *docs);

#endif
