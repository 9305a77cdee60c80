/*
 * fit.h - train one head of the intent model with liblinear.
 *
 * Each row is its hashed n-gram features (index = bucket + 1), for the
 * hybrid head followed by emb_scale times its embedding (indices
 * buckets + 1 ..), and a bias feature of 1. Classes are weighted by
 * (rows / (classes * rows of the class)) ^ cw_power. Classes missing from
 * the rows get zero weights and a bias of -20.
 */
#ifndef TRAIN_FIT_H
#define TRAIN_FIT_H

#include <stddef.h>

#include "text_features.h"
#include "intent_model.h"

struct fit_opts {
    int solver;      /* liblinear solver_type */
    double C;        /* cost */
    double eps;      /* stopping tolerance */
    double cw_power; /* 0: no class weights, 1: balanced */
    float emb_scale; /* hybrid head: scale of the embedding */
};

struct fit_data {
    const struct feature_vec *feats; /* per row */
    const int *labels;               /* per row, enum intent */
    const float *emb;                /* per row ENCODER_DIM, or NULL */
};

/*
 * Train head kind of m (m->fp and m->emb_dim set) on rows[0..n) of fd,
 * replacing any weights it had. Returns 0 or a negative errno.
 */
int fit_head(const struct fit_data *fd, const size_t *rows, size_t n, int kind,
    const struct fit_opts *o, struct intent_model *m);

/*
 * The temperature T > 0 that minimises the mean negative log-likelihood of
 * softmax(logp / T) for the true labels (logp: n rows of INTENT_COUNT log
 * probabilities, as the classifier gives at T = 1).
 */
double fit_temperature(const double *logp, const int *truth, size_t n);

#endif
