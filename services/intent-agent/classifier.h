/*
 * classifier.h - the built-in intent classifier of the intent agent.
 *
 * A linear head over hashed word and character n-grams (text_features.h) plus,
 * when an encoder is given, the 384-d all-MiniLM-L6-v2 sentence embedding
 * (the "hybrid" head). The weights come from models/intent/head.bin
 * (intent_model.h), trained by `make model` (tools/train-intent).
 *
 * After classifier_load() the classifier is read-only: any number of threads
 * may call classifier_classify() on it at once (the encoder must allow the
 * same, which common/encoder.h promises).
 */
#ifndef INTENT_CLASSIFIER_H
#define INTENT_CLASSIFIER_H

#include <stddef.h>

#include "encoder.h"
#include "intent.h"
#include "intent_model.h"

struct classifier;

/*
 * Flag of classifier_classify: when the n-gram head alone is at least the
 * model's skip threshold sure of a text, answer from it and do not run the
 * encoder for that text (its result then has has_embedding = 0).
 */
#define CLASSIFY_SKIP_ENCODER 1u

struct classify_result {
    int intent;                 /* enum intent */
    float confidence;           /* probability of intent, 0..1 */
    float scores[INTENT_COUNT]; /* probability of each intent, sum 1 */
    int used_hybrid;   /* 1: the hybrid head answered, 0: the n-gram head */
    int has_embedding; /* embedding below is filled */
    float embedding[ENCODER_DIM];
};

/*
 * Load the model file at model_path. enc (may be NULL) is borrowed and must
 * outlive the classifier. With enc NULL the n-gram head answers, unless
 * embeddings are passed to classifier_classify(). Returns 0 and a new
 * classifier in *cp, or a negative errno: -EINVAL for a malformed model or
 * one that cannot serve this configuration (no n-gram head and no encoder;
 * an encoder but no hybrid head is allowed and ignores the encoder).
 */
int classifier_load(
    struct classifier **cp, const char *model_path, const struct encoder *enc);

/*
 * As classifier_load() from a model already in memory; on success the
 * classifier owns m's weights and *m is zeroed, on failure *m is untouched.
 */
int classifier_from_model(
    struct classifier **cp, struct intent_model *m, const struct encoder *enc);

/* Free a classifier; NULL is a no-op. */
void classifier_free(struct classifier *c);

/* 1 when the classifier answers with the hybrid head (encoder given and a
 * hybrid head in the model), else 0. */
int classifier_uses_encoder(const struct classifier *c);

/*
 * Classify n texts (UTF-8, NUL-terminated) into out[n]. embeddings, when not
 * NULL, holds n * ENCODER_DIM floats already computed for the texts (then
 * the encoder is not run and the hybrid head is used if the model has one).
 * flags: 0 or CLASSIFY_SKIP_ENCODER. Returns 0, -EINVAL, -ENOMEM, or the
 * encoder's error.
 */
int classifier_classify(const struct classifier *c, const char *const *texts,
    size_t n, const float *embeddings, unsigned flags,
    struct classify_result *out);

/* The model's n-gram confidence threshold for CLASSIFY_SKIP_ENCODER. */
float classifier_skip_threshold(const struct classifier *c);

#endif
