/*
 * gemm.h - dense layers y = x W^T + b whose weights are packed once.
 *
 * A general sgemm repacks the weight matrix on every call: with the few
 * dozen token rows of a customer message that packing was half of the
 * encoder's time (perf, OpenBLAS 0.3.21). Weights here are laid out once,
 * at load, in panels of 16 outputs by k, the order an AVX2 + FMA kernel
 * reads them; a call only streams them. Without AVX2 + FMA (checked once,
 * at pack time) calls go to cblas_sgemm on the original matrix.
 */
#ifndef COMMON_GEMM_H
#define COMMON_GEMM_H

#include <stddef.h>

struct gemm_weights {
    float *data;    /* owned: the panels, or the stacked rows (fallback) */
    const float *w; /* fallback: the n x k matrix cblas reads */
    int n, k;       /* outputs, inputs */
    int packed;     /* data holds n/16 panels of k x 16 floats */
};

/*
 * Pack nparts row-major matrices w[i] (n[i] x k, each n[i] a multiple of
 * 16) as one matrix of their stacked rows: y's row then holds the outputs
 * of part 0, then part 1, ... (one call computes Q, K and V). With one
 * part the original stays readable through g->w for the fallback; with
 * several, the fallback needs the packing, so it is always done.
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int gemm_pack(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k);

/* Free the packing; g may be zeroed or already freed. */
void gemm_free(struct gemm_weights *g);

/*
 * y[i][j] = b[j] + sum_k x[i][k] w[j][k] for i < m, j < g->n; rows of x
 * ldx floats apart, of y ldy apart. b has g->n floats.
 */
void gemm_dense(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy);

#endif
