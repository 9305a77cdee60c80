#include "gemm.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GEMM_X86 1
#endif

#define NR 16 /* outputs per panel: two 8-float vectors */
#define MR 6  /* rows per kernel call: 12 accumulators + 2 loads + 1 */
#define MC 48 /* rows per block: 48 x 1536 floats of x stay in L2 */
/*
 * With OpenBLAS's AVX-512 kernels: one message (~14 tokens) is faster
 * here, eight (~110) there (November's figures, docs/encoder.md).
 */
#define GEMM_AVX512_ROWS 32

static int kernel_off; /* gemm_use_kernel(0) */

static int
have_kernel(void)
{
#ifdef GEMM_X86
    return !kernel_off && __builtin_cpu_supports("avx2")
        && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

void
gemm_use_kernel(int on)
{
    kernel_off = !on;
}

/* OpenBLAS is running its AVX-512 sgemm kernels (docs/encoder.md). */
static int
blas_has_avx512(void)
{
    static const char *const names[]
        = {"skylakex", "cooperlake", "sapphirerapids"};
    const char *core = openblas_get_corename();

    for (size_t i = 0; core != NULL && i < sizeof(names) / sizeof(names[0]);
         i++)
        if (strcasecmp(core, names[i]) == 0)
            return 1;
    return 0;
}

int
gemm_pack(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k)
{
    int total = 0;

    memset(g, 0, sizeof(*g));
    if (nparts < 1 || nparts > GEMM_MAX_PARTS || k < 1)
        return -EINVAL;
    for (int i = 0; i < nparts; i++) {
        if (n[i] < NR || n[i] % NR != 0)
            return -EINVAL;
        g->part[i] = w[i];
        g->part_n[i] = n[i];
        total += n[i];
    }
    g->nparts = nparts;
    g->n = total;
    g->k = k;
    if (!have_kernel())
        return 0;
    size_t bytes = (size_t)total * (size_t)k * sizeof(float);
    if ((g->panels = aligned_alloc(64, bytes)) == NULL)
        return -ENOMEM;
    /* Panel p, row kk: outputs 16p .. 16p+15 of input kk, side by side. */
    float *dst = g->panels;
    for (int i = 0; i < nparts; i++)
        for (int p = 0; p < n[i]; p += NR)
            for (int kk = 0; kk < k; kk++)
                for (int c = 0; c < NR; c++)
                    *dst++ = w[i][(size_t)(p + c) * (size_t)k + (size_t)kk];
    g->kernel_rows = blas_has_avx512() ? GEMM_AVX512_ROWS : INT_MAX;
    return 0;
}

void
gemm_free(struct gemm_weights *g)
{
    free(g->panels);
    memset(g, 0, sizeof(*g));
}

#ifdef GEMM_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE __attribute__((always_inline)) inline

/* mr (<= MR) rows of x times one panel: a mr x 16 tile of y. */
AVX2 static INLINE void
tile(int mr, const float *x, int ldx, const float *panel, int k, const float *b,
    float *y, int ldy)
{
    __m256 acc[MR][2];
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);

#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        acc[r][0] = b0;
        acc[r][1] = b1;
    }
    for (int kk = 0; kk < k; kk++) {
        const __m256 w0 = _mm256_load_ps(panel + (size_t)kk * NR);
        const __m256 w1 = _mm256_load_ps(panel + (size_t)kk * NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            const __m256 a = _mm256_broadcast_ss(x + (size_t)r * ldx + kk);
            acc[r][0] = _mm256_fmadd_ps(a, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, w1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        _mm256_storeu_ps(y + (size_t)r * ldy, acc[r][0]);
        _mm256_storeu_ps(y + (size_t)r * ldy + 8, acc[r][1]);
    }
}

AVX2 static void
dense_avx2(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy)
{
    const size_t panel_len = (size_t)g->k * NR;

    for (int i0 = 0; i0 < m; i0 += MC) {
        const int mc = m - i0 < MC ? m - i0 : MC;
        for (int p = 0; p < g->n / NR; p++) {
            const float *panel = g->panels + (size_t)p * panel_len;
            for (int i = i0; i < i0 + mc; i += MR) {
                const float *xi = x + (size_t)i * ldx;
                float *yi = y + (size_t)i * ldy + p * NR;
                const float *bi = b + p * NR;
                /* Constant row counts: each case is its own unrolled loop. */
#define TILE(r)                                                                \
    case r:                                                                    \
        tile(r, xi, ldx, panel, g->k, bi, yi, ldy);                            \
        break
                switch (i0 + mc - i < MR ? i0 + mc - i : MR) {
                    TILE(6);
                    TILE(5);
                    TILE(4);
                    TILE(3);
                    TILE(2);
                default:
                    tile(1, xi, ldx, panel, g->k, bi, yi, ldy);
                    break;
#undef TILE
                }
            }
        }
    }
}
#endif

void
gemm_dense(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy)
{
    if (m <= 0)
        return;
#ifdef GEMM_X86
    if (g->panels != NULL && m <= g->kernel_rows) {
        dense_avx2(x, m, ldx, g, b, y, ldy);
        return;
    }
#endif
    for (int i = 0; i < m; i++)
        memcpy(y + (size_t)i * ldy, b, (size_t)g->n * sizeof(float));
    for (int p = 0, off = 0; p < g->nparts; off += g->part_n[p], p++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, g->part_n[p],
            g->k, 1.0f, x, ldx, g->part[p], g->k, 1.0f, y + off, ldy);
}
