/*
 * text_features.h - text normalisation and hashed n-gram features of the
 * intent classifier and of the gateway's injection detector.
 *
 * The same code runs in the trainers (tools/train-intent, tools/train-guard)
 * and in the services, so the two cannot diverge. A text is normalised (ASCII
 * lower-case, digit runs folded to "0", apostrophes dropped, curly quotes
 * mapped, everything that is not a letter, digit, '?' or '!' a separator; bytes
 * >= 0x80 kept as letters), cut into words, and turned into
 *
 *   - word unigrams and bigrams (with <s> and </s> at the ends),
 *   - character n-grams of each word padded as "<word>", lengths
 *     char_min..char_max,
 *
 * each hashed (64-bit, seeded) into 2^hash_bits buckets. Bucket counts get
 * sublinear tf (1 + ln tf), times the group weight (word or char), and the
 * vector is L2-normalised. The result is sorted by bucket, one entry per
 * bucket.
 */
#ifndef COMMON_TEXT_FEATURES_H
#define COMMON_TEXT_FEATURES_H

#include <stddef.h>
#include <stdint.h>

/* Bump when the normalisation or hashing changes: models record it. */
#define FEATURES_VERSION 1

/* Bytes of a text that are looked at; the rest is ignored. */
#define FEATURES_MAX_TEXT 4096
/* Longest word (bytes) whose character n-grams are taken in full. */
#define FEATURES_MAX_WORD 32

#define FEATURES_MIN_BITS 10
#define FEATURES_MAX_BITS 24

struct feature_params {
    uint32_t hash_bits; /* buckets = 1 << hash_bits */
    uint32_t hash_seed; /* mixed into every hash */
    uint32_t word_max;  /* word n-grams 1..word_max (1 or 2) */
    uint32_t char_min;  /* char n-grams char_min..char_max, 0 = none */
    uint32_t char_max;
    float word_weight; /* scale of the word group before the L2 norm */
    float char_weight; /* scale of the char group before the L2 norm */
};

/* A sparse vector: idx ascending and unique, val the weights. */
struct feature_vec {
    uint32_t *idx;
    float *val;
    size_t n;
    size_t cap;
};

/* The parameters the committed model was trained with. */
void features_default_params(struct feature_params *p);

/*
 * Check that p is usable (bits in range, n-gram lengths sane, weights
 * finite and non-negative). Returns 0 or -EINVAL.
 */
int features_check_params(const struct feature_params *p);

/*
 * Normalise text into out (cap bytes, NUL-terminated, cap >= 1): at most
 * FEATURES_MAX_TEXT bytes of text are read. Words are separated by single
 * spaces. Returns the length written.
 */
size_t features_normalise(const char *text, char *out, size_t cap);

/*
 * Extract the features of text (UTF-8, NUL-terminated) into v, replacing
 * its contents and growing it as needed. Returns 0, -EINVAL for bad
 * arguments, -ENOMEM.
 */
int features_extract(
    const struct feature_params *p, const char *text, struct feature_vec *v);

/* Free the arrays of v and zero it; v itself is the caller's. */
void feature_vec_free(struct feature_vec *v);

#endif
