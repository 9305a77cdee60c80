/*
 * retrieval.h - finding the knowledge entries that answer a message.
 *
 * Two signals, scored together: BM25 over each entry's title, questions,
 * tags and answer (words, lightly stemmed), and the cosine between the
 * message's sentence embedding (computed once, by the intent agent) and the
 * embeddings of the entry's title and questions (computed once, when the
 * index is built). Entries for the classified intent and curated entries
 * (approved by humans) are lifted a little, and a curated entry that
 * matches the message well ranks above every entry that is not curated.
 *
 * The index is read-only once built: searches may run on any number of
 * threads. It is reference-counted, so a new index (new curated answers)
 * can replace it while searches on the old one finish: see
 * struct retrieval_slot.
 */
#ifndef SUPPORT_RETRIEVAL_H
#define SUPPORT_RETRIEVAL_H

#include <pthread.h>

#include "encoder.h"
#include "knowledge.h"

struct retrieval;

struct retrieval_weights {
    float bm25;    /* weight of the saturated BM25 score, bm25/(bm25+k) */
    float bm25_k;  /* its half-saturation point */
    float cosine;  /* weight of the best cosine over the entry's texts */
    float intent;  /* added when the entry is for the classified intent */
    float curated; /* added for human-approved entries */
};

/* The weights tuned on tests/data/retrieval_eval.jsonl (docs/knowledge.md). */
extern const struct retrieval_weights retrieval_default_weights;

/*
 * A curated entry "matches" when its best cosine reaches this (with an
 * embedding), or its BM25 score reaches RETRIEVAL_CURATED_BM25 (without
 * one); a matching curated entry ranks above all others.
 */
#define RETRIEVAL_CURATED_COSINE 0.70f
#define RETRIEVAL_CURATED_BM25 6.0f

/* Bytes of a query that are looked at; the rest is ignored. */
#define RETRIEVAL_QUERY_MAX 4096
/* Most hits one search returns (a larger k counts as this). */
#define RETRIEVAL_MAX_K 64

/* The cosine of a hit found without an embedding (keywords only). */
#define RETRIEVAL_NO_COSINE (-1.0f)

struct hit {
    const struct kb_entry *entry; /* owned by the index */
    float score;                  /* the hybrid score */
    float bm25;                   /* raw BM25 (0 when no word is shared) */
    float cosine; /* best cosine, 0..1 (negatives count as 0), or
                     RETRIEVAL_NO_COSINE when searched without an
                     embedding */
};

/*
 * Build an index over kb, taking its entries (kb is empty afterwards, also
 * on failure). enc may be NULL (BM25 only); otherwise every entry's title
 * and questions are embedded now. Returns 0 with *rp set (one reference),
 * or a negative errno.
 */
int retrieval_build(
    struct retrieval **rp, struct kb *kb, const struct encoder *enc);

/*
 * Like retrieval_build, but an entry whose id, title and questions are
 * unchanged in prev (may be NULL) keeps prev's embeddings instead of
 * being embedded again: adding a curated answer costs one entry's
 * encoding, not the whole base's. prev is only read.
 */
int retrieval_rebuild(struct retrieval **rp, struct kb *kb,
    const struct encoder *enc, const struct retrieval *prev);

/* Take another reference to r (r stays valid until each is dropped). */
struct retrieval *retrieval_ref(struct retrieval *r);

/* Drop a reference; the last one frees the index. NULL is a no-op. */
void retrieval_free(struct retrieval *r);

/* Entries in the index. */
size_t retrieval_size(const struct retrieval *r);

/* Entries embedded (0 when built without an encoder). */
size_t retrieval_embedded(const struct retrieval *r);

/* Of those, the entries encoded by this build (the rest came from prev). */
size_t retrieval_encoded(const struct retrieval *r);

/* Entry i (< retrieval_size), owned by the index. */
const struct kb_entry *retrieval_entry(const struct retrieval *r, size_t i);

/*
 * The k best entries for text (with its embedding, ENCODER_DIM floats of
 * unit length, or NULL: BM25 only) and the classified intent (-1:
 * unknown), best first, into out; w NULL means the default weights. Best
 * first means: curated entries that match (see RETRIEVAL_CURATED_COSINE),
 * then the rest by score. Entries sharing no word and no positive cosine
 * with the text are left out. Returns how many were written (0..k, k at
 * most RETRIEVAL_MAX_K), or a negative errno (out of memory).
 */
int retrieval_search(const struct retrieval *r, const char *text,
    const float *embedding, int intent, const struct retrieval_weights *w,
    struct hit *out, int k);

/*
 * The current index, shared between searching threads and the thread
 * that rebuilds it: readers take a reference (never blocked by a build),
 * the builder swaps a new index in; the old one is freed when its last
 * reader drops it.
 */
struct retrieval_slot {
    pthread_mutex_t mu;
    struct retrieval *cur; /* guarded by mu; may be NULL */
};

/* Initialise an empty slot. */
void retrieval_slot_init(struct retrieval_slot *s);

/* Drop the slot's index and destroy the slot. */
void retrieval_slot_destroy(struct retrieval_slot *s);

/*
 * Put r in the slot, taking over the caller's reference to it, and drop
 * the slot's reference to the index it held before.
 */
void retrieval_slot_set(struct retrieval_slot *s, struct retrieval *r);

/*
 * A new reference to the current index (drop it with retrieval_free), or
 * NULL when the slot is empty.
 */
struct retrieval *retrieval_slot_get(struct retrieval_slot *s);

#endif
