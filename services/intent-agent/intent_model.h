/*
 * intent_model.h - the weights of the intent classifier and their file
 * format (models/intent/head.bin).
 *
 * A model holds the feature parameters and up to two linear heads over the
 * seven intents (common/intent.h order):
 *
 *   - the n-gram head: hashed n-gram features only (used without encoder,
 *     and to decide whether the encoder can be skipped);
 *   - the hybrid head: the same features plus the 384-d sentence embedding
 *     scaled by emb_scale.
 *
 * decision[c] = bias[c] + sum_i x_i w[idx_i][c] (+ sum_d s e_d we[d][c]),
 * probability = softmax(decision / temperature).
 *
 * File layout, all integers u32 and floats IEEE-754 binary32, little-endian:
 *
 *   magic "INTHEAD1" (8 bytes), version (1), features_version,
 *   n_classes (7), hash_bits, hash_seed, word_max, char_min, char_max,
 *   f32 word_weight, f32 char_weight, emb_dim (0 or 384),
 *   f32 skip_threshold, head_mask (bit 0 n-gram, bit 1 hybrid),
 *   then per head present, n-gram first:
 *     kind (0 n-gram, 1 hybrid), quant (0 f32, 1 int8),
 *     f32 emb_scale, f32 temperature, f32 bias[7], f32 qscale[7],
 *     w[buckets][7] (f32, or int8 times qscale[c]),
 *     we[emb_dim][7] f32 (hybrid head only),
 *   crc32 (IEEE) of all bytes before it.
 *
 * Readers check every field and the exact size; files over
 * INTENT_MODEL_MAX_BYTES are refused.
 */
#ifndef INTENT_MODEL_H
#define INTENT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "text_features.h"
#include "intent.h"

#define INTENT_MODEL_VERSION 1
#define INTENT_MODEL_MAX_BYTES (64u << 20)

enum head_kind { HEAD_NGRAM = 0, HEAD_HYBRID = 1, HEAD_KINDS };
enum head_quant { QUANT_F32 = 0, QUANT_I8 = 1 };

struct head {
    int present;
    float emb_scale;   /* hybrid: multiplies the embedding */
    float temperature; /* > 0 */
    float bias[INTENT_COUNT];
    float *w;  /* [buckets][INTENT_COUNT] */
    float *we; /* [emb_dim][INTENT_COUNT], hybrid head only */
};

struct intent_model {
    struct feature_params fp;
    uint32_t emb_dim;     /* 0, or ENCODER_DIM when the hybrid head exists */
    float skip_threshold; /* n-gram confidence at which the encoder may be
                             skipped; > 1 = never */
    struct head heads[HEAD_KINDS];
};

/* Number of hash buckets of m. */
size_t intent_model_buckets(const struct intent_model *m);

/*
 * Allocate zeroed weights for head kind of m (m->fp and m->emb_dim set).
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int intent_model_alloc_head(struct intent_model *m, int kind);

/* Free the weights of m and zero it; m itself is the caller's. */
void intent_model_free(struct intent_model *m);

/*
 * Parse a model file image (buf, len bytes) into *m. Every field is
 * validated. Returns 0, -EINVAL (malformed), -ENOMEM.
 */
int intent_model_parse(struct intent_model *m, const void *buf, size_t len);

/* Read and parse the model file at path. Returns 0 or a negative errno. */
int intent_model_read(struct intent_model *m, const char *path);

/*
 * Serialise m with the given quantisation into a new buffer (*bufp, *lenp;
 * free() it). Returns 0, -EINVAL, -ENOMEM.
 */
int intent_model_serialise(
    const struct intent_model *m, int quant, void **bufp, size_t *lenp);

/* Serialise m and write it to path (via a temporary file and rename). */
int intent_model_write(
    const struct intent_model *m, int quant, const char *path);

#endif
