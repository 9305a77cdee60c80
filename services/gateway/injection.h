/*
 * injection.h - the prompt-injection / jailbreak detector: a logistic
 * regression over the hashed word and character n-grams of
 * common/text_features.h, trained by tools/train-guard
 * (models/guard/injection.bin, docs/security.md).
 *
 * p(attack) = 1 / (1 + exp(-(bias + sum_i x_i w[idx_i]))); a message whose
 * p reaches `threshold` (tuned on held-out data by the trainer) is blocked.
 *
 * File layout, integers u32 and floats IEEE-754 binary32, little-endian:
 *
 *   magic "GUARDIN1" (8 bytes), version (1), features_version,
 *   hash_bits, hash_seed, word_max, char_min, char_max,
 *   f32 word_weight, f32 char_weight, f32 bias, f32 threshold,
 *   f32 w[1 << hash_bits], crc32 (IEEE) of all bytes before it.
 *
 * Readers check every field and the exact size; files over
 * INJECTION_MODEL_MAX_BYTES are refused.
 */
#ifndef GATEWAY_INJECTION_H
#define GATEWAY_INJECTION_H

#include <stddef.h>

#include "text_features.h"

#define INJECTION_MODEL_VERSION 1
#define INJECTION_MODEL_MAX_BYTES (64u << 20)

struct injection_model {
    struct feature_params fp;
    float bias;
    float threshold; /* block at p >= threshold, in (0, 1] */
    float *w;        /* [1 << fp.hash_bits] */
};

/* Number of weights of m. */
size_t injection_model_buckets(const struct injection_model *m);

/* Allocate zeroed weights for m->fp. 0, -EINVAL or -ENOMEM. */
int injection_model_alloc(struct injection_model *m);

/* Free the weights of m and zero it; m itself is the caller's. */
void injection_model_free(struct injection_model *m);

/*
 * Parse a model file image (buf, len bytes) into *m, validating every
 * field. 0, -EINVAL (malformed) or -ENOMEM.
 */
int injection_model_parse(
    struct injection_model *m, const void *buf, size_t len);

/* Read and parse the file at path. 0, -errno, -EINVAL. */
int injection_model_load(struct injection_model *m, const char *path);

/* Write m to path (through a temporary file, renamed). 0 or -errno. */
int injection_model_save(const struct injection_model *m, const char *path);

/*
 * The probability that text (UTF-8, NUL-terminated; only the first
 * FEATURES_MAX_TEXT bytes count) is an injection attempt, in [0, 1];
 * -1 when features cannot be extracted (out of memory).
 */
double injection_score(const struct injection_model *m, const char *text);

#endif
