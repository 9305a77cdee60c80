/*
 * embcache.h - sentence embeddings of the training texts, cached on disk.
 *
 * Embedding 40k texts takes minutes; the cache (under build/, never
 * committed) keeps them keyed by a 64-bit hash of the text. The cache also
 * holds the embedding of a fixed probe sentence: when the encoder now gives
 * a different one (model or code changed), the cache is thrown away.
 *
 * File: "EMBCACH1", u32 dim, f32 probe[dim], u64 count, count records of
 * (u64 key, f32 vec[dim]), host byte order (a build artefact).
 */
#ifndef TRAIN_EMBCACHE_H
#define TRAIN_EMBCACHE_H

#include <stddef.h>

#include "encoder.h"

/*
 * Fill out (n * ENCODER_DIM floats) with the embeddings of texts, taking
 * what cache_path (may be NULL) has and computing the rest with enc in
 * batches; the cache is rewritten when anything was computed. Progress goes
 * to stderr. Returns 0 or a negative errno.
 */
int embcache_embed(const struct encoder *enc, const char *cache_path,
    const char *const *texts, size_t n, float *out);

#endif
