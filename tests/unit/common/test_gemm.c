/* gemm_dense on packed weights against a plain double-precision product. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

static float
value(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* nparts random part_n x k matrices (malloc'ed) into w, nparts * part_n
 * biases into b and xlen inputs into x, from seed. */
static void
random_inputs(float **w, int nparts, int part_n, int k, float *b, float *x,
    int xlen, uint32_t seed)
{
    for (int i = 0; i < nparts; i++) {
        w[i] = malloc(sizeof(float) * (size_t)part_n * (size_t)k);
        assert_non_null(w[i]);
        for (int j = 0; j < part_n * k; j++)
            w[i][j] = value(&seed);
    }
    for (int j = 0; j < nparts * part_n; j++)
        b[j] = value(&seed);
    for (int j = 0; j < xlen; j++)
        x[j] = value(&seed);
}

/* Every row count up to 2 blocks + a tail, parts stacked, strided x and y. */
static void
check(int nparts, int part_n, int k)
{
    const int n = nparts * part_n, ldx = k + 3, ldy = n + 5, maxm = 101;
    float *w[3], *x = malloc(sizeof(float) * (size_t)maxm * (size_t)ldx);
    float *y = malloc(sizeof(float) * (size_t)maxm * (size_t)ldy);
    float *b = malloc(sizeof(float) * (size_t)n);
    int dims[3] = {part_n, part_n, part_n};
    struct gemm_weights g;

    assert_true(nparts <= 3 && x != NULL && y != NULL && b != NULL);
    random_inputs(w, nparts, part_n, k, b, x, maxm * ldx, 7);
    assert_int_equal(
        gemm_pack(&g, (const float *const *)w, dims, nparts, k), 0);
    assert_int_equal(g.n, n);
    /* Second pass (when packed): larger calls go to cblas, as they do
     * beside OpenBLAS's AVX-512 kernels. */
    for (int pass = 0; pass < (g.panels != NULL ? 2 : 1); pass++)
        for (int m = 1; m <= maxm; m += m < 14 ? 1 : 29) {
            if (pass == 1)
                g.kernel_rows = 5;
            double worst = 0;
            for (int j = 0; j < maxm * ldy; j++)
                y[j] = 12345.0f; /* the gaps between rows stay untouched */
            gemm_dense(x, m, ldx, &g, b, y, ldy);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    const float *wr
                        = w[j / part_n] + (size_t)(j % part_n) * (size_t)k;
                    double want = b[j];
                    for (int kk = 0; kk < k; kk++)
                        want += (double)x[i * ldx + kk] * wr[kk];
                    double err = fabs(y[i * ldy + j] - want);
                    worst = err > worst ? err : worst;
                }
                for (int j = n; j < ldy; j++)
                    assert_true(y[i * ldy + j] == 12345.0f);
            }
            for (int j = m * ldy; j < maxm * ldy; j++)
                assert_true(y[j] == 12345.0f);
            /* k products of values below 1: float rounding, not a wrong sum */
            if (worst > 1e-5 * k)
                fail_msg("m %d n %d k %d: error %g", m, n, k, worst);
        }
    gemm_free(&g);
    gemm_free(&g); /* freeing twice is harmless */
    for (int i = 0; i < nparts; i++)
        free(w[i]);
    free(x);
    free(y);
    free(b);
}

static void
test_one_part(void **state)
{
    (void)state;
    check(1, 16, 1);
    check(1, 48, 37);
    check(1, 96, 384);
}

static void
test_stacked_parts(void **state)
{
    (void)state;
    check(3, 32, 64); /* Q, K and V at a smaller width */
    check(2, 16, 200);
}

/* The cblas path, stacked parts included, gives the same products. */
static void
test_without_kernel(void **state)
{
    (void)state;
    gemm_use_kernel(0);
    check(1, 48, 37);
    check(3, 32, 64);
    gemm_use_kernel(1);
}

/* y for m = 1..maxm rows of x, each call's rows at its own place in y. */
static void
products(const struct gemm_weights *g, const float *x, int ldx, int maxm,
    const float *b, float *y, int ldy)
{
    for (int m = 1, at = 0; m <= maxm; at += m, m++)
        gemm_dense(x, m, ldx, g, b, y + (size_t)at * (size_t)ldy, ldy);
}

/*
 * The AVX-512 and AVX2 kernels give the same floats, bit for bit, for
 * every row count through both row blocks and tails, an odd panel count
 * (a tile of one panel) and stacked parts.
 */
static void
test_avx512_and_avx2_agree(void **state)
{
    static const int shapes[][3]
        = {{1, 16, 1}, {1, 48, 37}, {3, 32, 64}, {1, 80, 384}};
    (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx2")
        || !__builtin_cpu_supports("fma"))
        skip();
#else
    skip();
#endif
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const int np = shapes[s][0], pn = shapes[s][1], k = shapes[s][2];
        const int n = np * pn, ldx = k + 3, ldy = n + 5, maxm = 61;
        const size_t rows = (size_t)maxm * (maxm + 1) / 2;
        float *w[3], *x = malloc(sizeof(float) * (size_t)maxm * (size_t)ldx);
        float *b = malloc(sizeof(float) * (size_t)n);
        float *fast = calloc(rows * (size_t)ldy, sizeof(float));
        float *slow = calloc(rows * (size_t)ldy, sizeof(float));
        int dims[3] = {pn, pn, pn};
        struct gemm_weights g512, g2;

        assert_true(x != NULL && b != NULL && fast != NULL && slow != NULL);
        random_inputs(w, np, pn, k, b, x, maxm * ldx, 11);
        assert_int_equal(
            gemm_pack(&g512, (const float *const *)w, dims, np, k), 0);
        gemm_use_avx512(0);
        assert_int_equal(
            gemm_pack(&g2, (const float *const *)w, dims, np, k), 0);
        gemm_use_avx512(1);
        assert_true(g512.avx512 && !g2.avx512);
        assert_int_equal(g512.kernel_rows, INT_MAX);
        g2.kernel_rows = INT_MAX; /* the AVX2 kernel even beside OpenBLAS's
                                   * AVX-512 one */
        products(&g512, x, ldx, maxm, b, fast, ldy);
        products(&g2, x, ldx, maxm, b, slow, ldy);
        assert_memory_equal(fast, slow, sizeof(float) * rows * (size_t)ldy);
        gemm_free(&g512);
        gemm_free(&g2);
        for (int i = 0; i < np; i++)
            free(w[i]);
        free(x);
        free(b);
        free(fast);
        free(slow);
    }
}

/*
 * int8: each product against a double-precision one, within what the two
 * roundings allow. x[i][k] is off by at most sx[i]/2 (sx = range / 127)
 * and w[j][k] by sw[j]/2 (sw = max |w[j]| / 127), so
 * |err| <= sum_k (|x| sw/2 + |w| sx/2 + sx sw/4) + float rounding.
 * Smoothed (sm: k factors, else NULL), the same with x[i][k] / sm[k] and
 * w[j][k] sm[k] in place of x and w, plus their float rounding.
 */
static void
check_int8(
    int nparts, int part_n, int k, const float *sm, float *out, int *outm)
{
    const int n = nparts * part_n, ldx = k + 3, ldy = n + 5, maxm = 101;
    float *w[3], *x = malloc(sizeof(float) * (size_t)maxm * (size_t)ldx);
    float *y = malloc(sizeof(float) * (size_t)maxm * (size_t)ldy);
    float *b = malloc(sizeof(float) * (size_t)n);
    int dims[3] = {part_n, part_n, part_n};
    uint32_t seed = 11;
    struct gemm_weights g;
    double ratio = 0;       /* the largest error / bound */
    double sq = 0, var = 0; /* squared errors; their expectation */

    assert_true(nparts <= 3 && x != NULL && y != NULL && b != NULL);
    for (int i = 0; i < nparts; i++) {
        w[i] = malloc(sizeof(float) * (size_t)part_n * (size_t)k);
        assert_non_null(w[i]);
        for (int j = 0; j < part_n * k; j++)
            w[i][j] = value(&seed) * (float)(1 + j % 5); /* uneven rows */
    }
    for (int j = 0; j < n; j++)
        b[j] = value(&seed);
    for (int i = 0; i < maxm; i++)
        for (int j = 0; j < ldx; j++) {
            /* rows of one sign, of zeros, and of outliers too */
            float v = value(&seed);
            x[i * ldx + j] = i % 7 == 3 ? fabsf(v) + 0.5f
                : i % 7 == 5            ? 0.0f
                : i % 7 == 6            ? v * (j == 5 ? 40.0f : 1.0f)
                                        : v;
        }
    assert_int_equal(
        gemm_pack_int8_smooth(&g, (const float *const *)w, dims, nparts, k, sm),
        0);
    assert_non_null(g.qpanels);
    assert_true((g.qsmooth != NULL) == (sm != NULL));
    assert_int_equal(g.n, n);
    for (int m = 1; m <= maxm; m += m < 14 ? 1 : 29) {
        for (int j = 0; j < maxm * ldy; j++)
            y[j] = 12345.0f;
        gemm_dense(x, m, ldx, &g, b, y, ldy);
        for (int i = 0; i < m; i++) {
            const float *xi = x + i * ldx;
            float lo = 0, hi = 0;
#define XS(kk) ((double)xi[kk] / (sm != NULL ? sm[kk] : 1.0f))
#define WS(kk) ((double)wr[kk] * (sm != NULL ? sm[kk] : 1.0f))
            for (int kk = 0; kk < k; kk++) {
                lo = XS(kk) < lo ? (float)XS(kk) : lo;
                hi = XS(kk) > hi ? (float)XS(kk) : hi;
            }
            const double sx = (hi - lo) / 127.0;
            for (int j = 0; j < n; j++) {
                const float *wr
                    = w[j / part_n] + (size_t)(j % part_n) * (size_t)k;
                double want = b[j], amax = 0, bound = 0, v = 0, dot = 0;
                for (int kk = 0; kk < k; kk++)
                    amax = fabs(WS(kk)) > amax ? fabs(WS(kk)) : amax;
                const double sw = amax / 127.0;
                for (int kk = 0; kk < k; kk++) {
                    want += (double)xi[kk] * wr[kk];
                    dot += fabs((double)xi[kk] * wr[kk]);
                    bound += fabs(XS(kk)) * sw / 2 + fabs(WS(kk)) * sx / 2
                        + sx * sw / 4;
                    /* round to nearest: errors uniform over a step */
                    v += (XS(kk) * XS(kk) * sw * sw + WS(kk) * WS(kk) * sx * sx)
                        / 12;
                }
#undef XS
#undef WS
                bound = bound * 1.0001 + 1e-5 * (fabs(want) + 1) + 1e-6 * dot;
                double err = fabs(y[i * ldy + j] - want);
                if (err > bound)
                    fail_msg("int8 m %d row %d out %d k %d: error %g > %g", m,
                        i, j, k, err, bound);
                ratio = err / bound > ratio ? err / bound : ratio;
                if (i % 7 != 6) { /* one outlier dominates: few samples */
                    sq += err * err;
                    var += v;
                }
            }
            for (int j = n; j < ldy; j++)
                assert_true(y[i * ldy + j] == 12345.0f);
        }
        for (int j = m * ldy; j < maxm * ldy; j++)
            assert_true(y[j] == 12345.0f);
        if (out != NULL && m == maxm) {
            memcpy(out, y, sizeof(float) * (size_t)maxm * (size_t)ldy);
            *outm = maxm;
        }
    }
    /*
     * Quantised for real (float products would be ~1e-6 of the bound).
     * The bound adds every rounding up with one sign; they mostly cancel,
     * so the errors reach a few sqrt(k) / k of it. One input: both exact.
     */
    if (k > 1 && ratio < 0.5 / sqrt(k))
        fail_msg("k %d: largest error %g of the bound, not int8?", k, ratio);
    /*
     * Rounding to nearest, unbiased: the mean squared error is what
     * uniform errors of half a step either way give (a bias of a quarter
     * step would make it 1.3 times that).
     */
    if (k > 1 && (sqrt(sq / var) < 0.85 || sqrt(sq / var) > 1.15))
        fail_msg("k %d: rms error %g of the expected", k, sqrt(sq / var));
    gemm_free(&g);
    gemm_free(&g);
    for (int i = 0; i < nparts; i++)
        free(w[i]);
    free(x);
    free(y);
    free(b);
}

/* Smoothing factors for k inputs: input 5 (the outlier) divided by 6. */
static float *
factors(int k)
{
    float *s = malloc(sizeof(float) * (size_t)k);

    assert_non_null(s);
    for (int j = 0; j < k; j++)
        s[j] = j == 5 ? 6.0f : 0.5f + 0.25f * (float)(j % 4);
    return s;
}

static void
test_int8(void **state)
{
    (void)state;
    check_int8(1, 16, 1, NULL, NULL, NULL);
    check_int8(1, 48, 37, NULL, NULL, NULL); /* k not a multiple of 4 or 8 */
    check_int8(1, 96, 384, NULL, NULL, NULL);
    check_int8(3, 32, 64, NULL, NULL, NULL);
    check_int8(1, 16, 1536, NULL, NULL, NULL);
}

/* Smoothed: the same bounds on the smoothed operands. */
static void
test_int8_smoothed(void **state)
{
    static const int shapes[][3]
        = {{1, 16, 1}, {1, 48, 37}, {1, 96, 384}, {3, 32, 64}, {1, 16, 1536}};
    (void)state;
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        float *s = factors(shapes[i][2]);
        check_int8(shapes[i][0], shapes[i][1], shapes[i][2], s, NULL, NULL);
        free(s);
    }
}

/* Root mean square error of int8 products of rows with an outlier input. */
static double
outlier_rms(const float *sm)
{
    enum { M = 24, N = 32, K = 384 };
    float *w = malloc(sizeof(float) * N * K),
          *x = malloc(sizeof(float) * M * K);
    float y[M * N], b[N] = {0};
    uint32_t seed = 5;
    struct gemm_weights g;
    double sq = 0;

    assert_true(w != NULL && x != NULL);
    for (int j = 0; j < N * K; j++)
        w[j] = value(&seed);
    for (int j = 0; j < M * K; j++)
        x[j] = value(&seed) * (j % K == 5 ? 40.0f : 1.0f);
    const float *ws[] = {w};
    const int n = N;
    assert_int_equal(gemm_pack_int8_smooth(&g, ws, &n, 1, K, sm), 0);
    gemm_dense(x, M, K, &g, b, y, N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double want = 0;
            for (int kk = 0; kk < K; kk++)
                want += (double)x[i * K + kk] * w[j * K + kk];
            sq += (y[i * N + j] - want) * (y[i * N + j] - want);
        }
    gemm_free(&g);
    free(w);
    free(x);
    return sqrt(sq / (M * N));
}

/*
 * What smoothing is for: one input 40 times the others sets every row's
 * step; divided by 6 (and its weights multiplied by 6) it no longer does.
 */
static void
test_int8_smoothing_helps(void **state)
{
    float *s = factors(384);

    (void)state;
    for (int j = 0; j < 384; j++)
        s[j] = j == 5 ? 6.0f : 1.0f;
    const double plain = outlier_rms(NULL), smoothed = outlier_rms(s);
    if (!(smoothed < 0.5 * plain))
        fail_msg("rms error %g smoothed, %g not", smoothed, plain);
    free(s);
}

/* The AVX2 kernel and the portable one give the same floats, bit for bit. */
static void
test_int8_kernels_agree(void **state)
{
    static const int shapes[][3]
        = {{1, 16, 1}, {1, 48, 37}, {1, 32, 101}, {3, 32, 64}, {1, 16, 1536}};
    (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
    {
        /* the kernel each switch picks, where the CPU has it */
        const float w16[16] = {1};
        const float *ws[1] = {w16};
        const int n16[1] = {16};
        const int vnni = __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512vnni")
            && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        struct gemm_weights g;
        assert_int_equal(gemm_pack_int8(&g, ws, n16, 1, 1), 0);
        assert_int_equal(g.qvnni, vnni);
        gemm_free(&g);
        gemm_use_avx512(0);
        assert_int_equal(gemm_pack_int8(&g, ws, n16, 1, 1), 0);
        gemm_use_avx512(1);
        assert_int_equal(g.qvnni, 0);
        gemm_free(&g);
    }
#endif
    for (size_t s = 0; s < 2 * sizeof(shapes) / sizeof(shapes[0]); s++) {
        const size_t sh = s % (sizeof(shapes) / sizeof(shapes[0]));
        const int np = shapes[sh][0], pn = shapes[sh][1], k = shapes[sh][2];
        const size_t len = (size_t)101 * (size_t)(np * pn + 5);
        float *fast = malloc(sizeof(float) * len);
        float *avx2 = malloc(sizeof(float) * len);
        float *slow = malloc(sizeof(float) * len);
        float *sm = sh != s ? factors(k) : NULL; /* second round smoothed */
        int m1 = 0, m2 = 0, m3 = 0;
        assert_true(fast != NULL && avx2 != NULL && slow != NULL);
        check_int8(np, pn, k, sm, fast, &m1); /* AVX-512 VNNI where there */
        gemm_use_avx512(0);
        check_int8(np, pn, k, sm, avx2, &m2);
        gemm_use_avx512(1);
        gemm_use_kernel(0);
        check_int8(np, pn, k, sm, slow, &m3);
        gemm_use_kernel(1);
        assert_int_equal(m1, 101);
        assert_int_equal(m2, 101);
        assert_int_equal(m3, 101);
        assert_memory_equal(fast, slow, sizeof(float) * len);
        assert_memory_equal(avx2, slow, sizeof(float) * len);
        free(fast);
        free(avx2);
        free(slow);
        free(sm);
    }
}

static void
test_bad_shapes(void **state)
{
    float w[16 * 4] = {0};
    const float *ws[] = {w, w};
    struct gemm_weights g;
    int n = 15, ok[2] = {16, 16}, zero = 0;

    (void)state;
    assert_int_equal(gemm_pack(&g, ws, &n, 1, 4), -EINVAL);
    assert_int_equal(gemm_pack(&g, ws, &zero, 1, 4), -EINVAL);
    assert_int_equal(gemm_pack(&g, ws, ok, 2, 0), -EINVAL);
    assert_int_equal(gemm_pack(&g, ws, ok, 0, 4), -EINVAL);
    assert_int_equal(gemm_pack(&g, ws, ok, 2, 4), 0);
    gemm_dense(NULL, 0, 4, &g, NULL, NULL, 32); /* no rows: nothing read */
    gemm_free(&g);
    assert_int_equal(gemm_pack_int8(&g, ws, &n, 1, 4), -EINVAL);
    assert_int_equal(gemm_pack_int8(&g, ws, ok, 2, 0), -EINVAL);
    assert_int_equal(gemm_pack_int8(&g, ws, ok, 2, 4), 0);
    gemm_dense(NULL, 0, 4, &g, NULL, NULL, 32);
    gemm_free(&g);
    /* smoothing factors: finite, > 0, with a finite inverse */
    const float bad[][4] = {{1, 0, 1, 1}, {1, 1, -2, 1}, {1, 1, 1, NAN},
        {INFINITY, 1, 1, 1}, {1e-39f, 1, 1, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(
            gemm_pack_int8_smooth(&g, ws, ok, 2, 4, bad[i]), -EINVAL);
        assert_null(g.qpanels);
        assert_null(g.qsmooth);
    }
    const float good[4] = {0.5f, 2, 1e-3f, 1e3f};
    assert_int_equal(gemm_pack_int8_smooth(&g, ws, ok, 2, 4, good), 0);
    assert_non_null(g.qsmooth);
    gemm_free(&g);
}

/* Round to nearest bfloat16, ties to even; NaN and infinities kept. */
static void
test_bf16_round(void **state)
{
    (void)state;
    assert_true(gemm_bf16_round(1.0f) == 1.0f);
    /* halfway between 1 and 1 + 2^-7: to the even one, 1 */
    assert_true(gemm_bf16_round(1.0f + 0x1p-8f) == 1.0f);
    /* halfway between 1 + 2^-7 and 1 + 2^-6: to the even one, above */
    assert_true(gemm_bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
    assert_true(gemm_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
    assert_true(gemm_bf16_round(-3.0f) == -3.0f);
    assert_true(isnan(gemm_bf16_round(NAN)));
    assert_true(isinf(gemm_bf16_round(INFINITY)));
    assert_true(isinf(gemm_bf16_round(3.4e38f))); /* past bfloat16's range */
}

/*
 * bf16 packings, every row count up to 61 (partial tiles of 16 and 32 rows),
 * odd panel counts and k not a multiple of 32, strided x and y: against the
 * exact product of the rounded values, within the float32 sums' rounding;
 * without AMX they are the float32 kernels on the rounded values, to the
 * bit; AMX, where this CPU has it, within the same bound.
 */
static void
test_bf16(void **state)
{
    static const int shapes[][3]
        = {{1, 16, 1}, {1, 48, 37}, {3, 32, 64}, {1, 80, 384}, {1, 16, 1536}};
    (void)state;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const int np = shapes[s][0], pn = shapes[s][1], k = shapes[s][2];
        const int n = np * pn, ldx = k + 3, ldy = n + 5, maxm = 61;
        const size_t rows = (size_t)maxm * (maxm + 1) / 2;
        float *w[3], *wr[3], *x = malloc(sizeof(float) * (size_t)maxm * ldx);
        float *xr = malloc(sizeof(float) * (size_t)maxm * (size_t)ldx);
        float *b = malloc(sizeof(float) * (size_t)n);
        float *emu = calloc(rows * (size_t)ldy, sizeof(float));
        float *f32 = calloc(rows * (size_t)ldy, sizeof(float));
        float *amx = calloc(rows * (size_t)ldy, sizeof(float));
        int dims[3] = {pn, pn, pn};
        struct gemm_weights ga, ge, gf;

        assert_true(x != NULL && xr != NULL && b != NULL && emu != NULL
            && f32 != NULL && amx != NULL);
        random_inputs(w, np, pn, k, b, x, maxm * ldx, 13);
        for (int i = 0; i < np; i++) {
            assert_non_null(wr[i] = malloc(sizeof(float) * (size_t)pn * k));
            for (int j = 0; j < pn * k; j++)
                wr[i][j] = gemm_bf16_round(w[i][j]);
        }
        for (int j = 0; j < maxm * ldx; j++)
            xr[j] = gemm_bf16_round(x[j]);
        gemm_use_amx(0);
        assert_int_equal(
            gemm_pack_bf16(&ge, (const float *const *)w, dims, np, k), 0);
        gemm_use_amx(1);
        assert_true(ge.bround && ge.bpanels == NULL);
        assert_int_equal(
            gemm_pack(&gf, (const float *const *)wr, dims, np, k), 0);
        ge.kernel_rows = gf.kernel_rows = INT_MAX;
        products(&ge, x, ldx, maxm, b, emu, ldy);
        products(&gf, xr, ldx, maxm, b, f32, ldy);
        assert_memory_equal(emu, f32, sizeof(float) * rows * (size_t)ldy);

        const int with_amx = gemm_has_amx();
        assert_int_equal(
            gemm_pack_bf16(&ga, (const float *const *)w, dims, np, k), 0);
        assert_int_equal(ga.bpanels != NULL, with_amx);
        products(&ga, x, ldx, maxm, b, amx, ldy);
        /* each call's m rows, after the calls for 1 .. m-1 rows */
        double worst = 0;
        for (int m = 1, r0 = 0; m <= maxm; r0 += m, m++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < ldy; j++) {
                    const float got = amx[(size_t)(r0 + i) * ldy + j];
                    if (j >= n) { /* the gaps between rows stay untouched */
                        assert_true(got == 0.0f);
                        continue;
                    }
                    const float *wj = wr[j / pn] + (size_t)(j % pn) * (size_t)k;
                    double want = b[j], mag = fabs(b[j]);
                    for (int kk = 0; kk < k; kk++) {
                        want += (double)xr[i * ldx + kk] * wj[kk];
                        mag += fabs((double)xr[i * ldx + kk] * wj[kk]);
                    }
                    const double err = fabs(got - want) / (mag + 1e-30);
                    worst = err > worst ? err : worst;
                }
        print_message("bf16 %s, %d x %d: largest error %.2g of sum |terms|\n",
            with_amx ? "AMX" : "float32 kernels", n, k, worst);
        assert_true(worst < 1e-6 * (1 + k / 64));
        gemm_free(&ga);
        gemm_free(&ge);
        gemm_free(&gf);
        for (int i = 0; i < np; i++) {
            free(w[i]);
            free(wr[i]);
        }
        free(x);
        free(xr);
        free(b);
        free(emu);
        free(f32);
        free(amx);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_part),
        cmocka_unit_test(test_stacked_parts),
        cmocka_unit_test(test_without_kernel),
        cmocka_unit_test(test_avx512_and_avx2_agree),
        cmocka_unit_test(test_int8),
        cmocka_unit_test(test_int8_smoothed),
        cmocka_unit_test(test_int8_smoothing_helps),
        cmocka_unit_test(test_int8_kernels_agree),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_bf16_round),
        cmocka_unit_test(test_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
