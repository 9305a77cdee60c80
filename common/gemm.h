/*
 * gemm.h - dense layers y = x W^T + b whose weights are packed once.
 *
 * A general sgemm repacks the weight matrix on every call: with the few
 * dozen token rows of a customer message that packing was half of the
 * encoder's time (perf, OpenBLAS 0.3.21). Weights here are laid out once,
 * at load, in panels of 16 outputs by k, the order an AVX2 + FMA kernel
 * reads them (two 8-float vectors a row) and an AVX-512 one too (one
 * 16-float vector); a call only streams them. Both kernels give the same
 * floats. Without AVX2 + FMA (checked once, at pack time) calls go to
 * cblas_sgemm on the original matrices. Without AVX-512F but beside
 * OpenBLAS's AVX-512 kernels, which outrun the AVX2 one once the packing is
 * amortised, only small calls (up to 32 rows) use it. Weights may also be
 * packed as int8 (AVX2 / AVX-512 VNNI kernels) or bfloat16 (AMX tiles).
 */
#ifndef COMMON_GEMM_H
#define COMMON_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define GEMM_MAX_PARTS 4

struct gemm_weights {
    float *panels;   /* n/16 panels of k x 16 floats; NULL: cblas only */
    int kernel_rows; /* calls of at most this many rows use the panels */
    int avx512;      /* the AVX-512 kernel, else the AVX2 one (same floats) */
    const float *part[GEMM_MAX_PARTS]; /* the originals, for cblas */
    int part_n[GEMM_MAX_PARTS];
    int nparts;
    int n, k; /* outputs (all parts), inputs */
    /*
     * int8 (gemm_pack_int8): n/16 panels of kq/4 steps of 64 bytes, step t
     * holding inputs 4t .. 4t+3 of outputs 0-7, then of outputs 8-15 (4
     * bytes an output), the order vpmaddubsw reads them; kq is k rounded up
     * to 4 (zeros past k). Output j's weights are qscale[j] x int8, qsum[j]
     * their sum. NULL qpanels: not int8.
     */
    int8_t *qpanels;
    float *qscale;
    int32_t *qsum;
    int kq;
    /*
     * Smoothing (gemm_pack_int8_smooth): k factors 1/s[kk]; x's column kk
     * is multiplied by it as a row is quantised (w's was by s[kk] before
     * the weights were). NULL: none.
     */
    float *qsmooth;
    int qavx2; /* the AVX2 kernel, else the portable one (same integers) */
    int qvnni; /* with qavx2: the AVX-512 VNNI kernel (same integers) */
    /*
     * bf16 (gemm_pack_bf16), on AMX: n/16 panels of kb/2 steps of 32
     * bfloat16, step t holding inputs 2t and 2t+1 of outputs 0 .. 15 side by
     * side, the order tdpbf16ps reads a tile of B; kb is k rounded up to 32
     * (zeros past k). NULL bpanels: not AMX.
     */
    uint16_t *bpanels;
    int kb;
    /*
     * bf16 without AMX: the weights rounded to bfloat16 (owned; what panels
     * and cblas read), and x's rows rounded as each call starts.
     */
    float *brounded;
    int bround;
};

/*
 * Pack nparts (at most GEMM_MAX_PARTS) row-major matrices w[i] (n[i] x k,
 * each n[i] a multiple of 16) as one matrix of their stacked rows: a row of
 * y then holds the outputs of part 0, then part 1, ... (one call computes
 * Q, K and V). The w[i] must outlive g (cblas reads them).
 * Returns 0 or -ENOMEM / -EINVAL.
 */
int gemm_pack(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k);

/*
 * The same, int8: each output's weights quantised symmetrically to
 * -127..127 (scale max |w| / 127), once. gemm_dense then quantises each row
 * of x on the fly to 0..127 with its own scale and zero point (7 bits, so
 * vpmaddubsw's pairwise int16 sums cannot saturate), sums in int32 and
 * scales back to float. The w[i] must outlive g (the fallback when a call
 * cannot get its scratch memory is cblas_sgemm on them).
 */
int gemm_pack_int8(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k);

/*
 * The same with per-input-channel smoothing (SmoothQuant): column kk of
 * every w[i] is multiplied by s[kk] before it is quantised, and input kk of
 * each row of x divided by it (multiplied by 1 / s[kk]) as the row is
 * quantised, so the product is unchanged in exact arithmetic while an input
 * channel with outliers no longer sets the whole row's step. s: k finite
 * factors > 0 (copied); NULL is gemm_pack_int8. -EINVAL for a bad factor.
 */
int gemm_pack_int8_smooth(struct gemm_weights *g, const float *const *w,
    const int *n, int nparts, int k, const float *s);

/*
 * The same in bfloat16: every weight rounded once to bfloat16 (to nearest,
 * ties to even) and each row of x as it is used, products summed in
 * float32. On CPUs with AMX-BF16 the tile unit computes it (tdpbf16ps);
 * elsewhere the float32 kernels on the rounded values, which differ from it
 * only in the order and rounding of the sums (~1e-5 relative). The w[i]
 * need not outlive g. Returns 0 or -ENOMEM / -EINVAL.
 */
int gemm_pack_bf16(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k);

/*
 * Whether this CPU and kernel let gemm_pack_bf16 use AMX (asks the kernel
 * for the tile state once, on the first call), and whether gemm_use_amx()
 * and gemm_use_avx512() (its conversions are AVX-512) allow it.
 */
int gemm_has_amx(void);

/*
 * Whether weights packed from now on may use AMX (on, the default). For
 * benchmarks and tests; call it before loading.
 */
void gemm_use_amx(int on);

/* x rounded to the nearest bfloat16 (ties to even), as a float. */
float gemm_bf16_round(float x);

/*
 * Whether weights packed from now on use the kernel (on: the default where
 * the CPU has AVX2 + FMA) or cblas_sgemm. For benchmarks and tests, which
 * compare the two in one process; call it before loading, not during.
 * For int8 packings, off selects the portable (scalar) int8 kernel.
 */
void gemm_use_kernel(int on);

/*
 * Whether weights packed from now on use the AVX-512 kernels where the CPU
 * has AVX-512F (float32) and AVX-512 VNNI (int8) (on, the default) or the
 * AVX2 ones; both give the same floats. For benchmarks and tests; call it
 * before loading.
 */
void gemm_use_avx512(int on);

/* Free the packing; g may be zeroed or already freed. */
void gemm_free(struct gemm_weights *g);

/*
 * y[i][j] = b[j] + sum_k x[i][k] w[j][k] for i < m, j < g->n; rows of x
 * ldx floats apart, of y ldy apart. b has g->n floats.
 */
void gemm_dense(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy);

#endif
