/*
 * retrieval.h - finding the knowledge entries that answer a message.
 *
 * Two signals, scored together: BM25 over each entry's title, questions,
 * tags and answer (words, lightly stemmed), and the cosine between the
 * message's sentence embedding (computed once, by the intent agent) and the
 * embeddings of the entry's title and questions (computed once, when the
 * index is built). Entries for the classified intent and curated entries
 * (approved by humans) are lifted a little. The index is read-only once
 * built: searches may run on any number of threads.
 */
#ifndef SUPPORT_RETRIEVAL_H
#define SUPPORT_RETRIEVAL_H

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

struct hit {
    const struct kb_entry *entry; /* owned by the index */
    float score, bm25, cosine;
};

/*
 * Build an index over kb, taking its entries (kb is empty afterwards).
 * enc may be NULL (BM25 only); otherwise every entry's title and questions
 * are embedded now. Returns 0 with *rp set, or a negative errno.
 */
int retrieval_build(
    struct retrieval **rp, struct kb *kb, const struct encoder *enc);

/* Free an index; NULL is a no-op. */
void retrieval_free(struct retrieval *r);

/* Entries in the index. */
size_t retrieval_size(const struct retrieval *r);

/*
 * The k best entries for text (with its embedding, or NULL: BM25 only) and
 * the classified intent (-1: unknown), best first, into out. Returns how
 * many were written (entries scoring 0 are left out).
 */
int retrieval_search(const struct retrieval *r, const char *text,
    const float *embedding, int intent, const struct retrieval_weights *w,
    struct hit *out, int k);

#endif
