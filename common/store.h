/*
 * store.h - the shared MongoDB, through a mongo-c-driver client pool.
 *
 * Works against MongoDB 7 and against FerretDB (the local store): numbers
 * are read with store_int64() whatever their BSON type, and every failure
 * is sorted into "duplicate key" or "store unavailable" at this edge.
 */
#ifndef COMMON_STORE_H
#define COMMON_STORE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

enum store_err {
    STORE_OK = 0,
    STORE_DUP = -1,  /* unique index violated (E11000) */
    STORE_DOWN = -2, /* unreachable, or it answered with a server error */
    STORE_NOTFOUND = -3,
    STORE_INVALID = -4,  /* the stored document is not what we expect */
    STORE_CONFLICT = -5, /* a conditional write found the document changed */
};

struct store;

/*
 * Make the pool for uri / database db. Nothing is contacted yet. Returns 0
 * with *sp set, or STORE_INVALID for a URI that does not parse.
 * mongoc_init() must have been called (once, in main).
 */
int store_open(
    struct store **sp, const char *uri, const char *db, const char *appname);

/* Free the pool; NULL is a no-op. */
void store_close(struct store *s);

/*
 * Wait until the store answers a ping, logging while it does not. Gives up
 * after max_s seconds (0: never) or when *stop becomes non-zero.
 * Returns 0 once reachable, STORE_DOWN otherwise.
 */
int store_wait(struct store *s, int max_s, volatile sig_atomic_t *stop);

/* One ping: true when the store answers. */
bool store_ping(struct store *s);

/*
 * Borrow a client and the named collection of the database; give both back
 * with store_put(). Never fails (the pool blocks when exhausted).
 */
mongoc_collection_t *store_get(
    struct store *s, const char *collection, mongoc_client_t **client);
void store_put(
    struct store *s, mongoc_client_t *client, mongoc_collection_t *coll);

/* Sort a driver error into STORE_DUP or STORE_DOWN, and log it. */
int store_error(const bson_error_t *err, const char *what);

/*
 * Create an index on `collection` named name with the given keys
 * (e.g. BCON_NEW("username", BCON_INT32(1))); idempotent. Returns 0 or a
 * store_err.
 */
int store_ensure_index(struct store *s, const char *collection,
    const char *name, const bson_t *keys, bool unique);

/*
 * A TTL index: documents go once the date in field is past (MongoDB's
 * monitor runs every 60 s). Returns 0 or a store_err.
 */
int store_ensure_ttl_index(struct store *s, const char *collection,
    const char *name, const char *field);

/* The number at iter as int64 whatever its numeric type; 0 otherwise. */
int64_t store_int64(const bson_iter_t *it);

/* Copy the UTF-8 string at key in doc into out (size n); false if absent. */
bool store_string(const bson_t *doc, const char *key, char *out, size_t n);

#endif
