/* gemm_dense on packed weights against a plain double-precision product. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "gemm.h"

static float
value(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
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
    uint32_t seed = 7;
    struct gemm_weights g;

    assert_true(nparts <= 3 && x != NULL && y != NULL && b != NULL);
    for (int i = 0; i < nparts; i++) {
        w[i] = malloc(sizeof(float) * (size_t)part_n * (size_t)k);
        assert_non_null(w[i]);
        for (int j = 0; j < part_n * k; j++)
            w[i][j] = value(&seed);
    }
    for (int j = 0; j < n; j++)
        b[j] = value(&seed);
    for (int j = 0; j < maxm * ldx; j++)
        x[j] = value(&seed);
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
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_part),
        cmocka_unit_test(test_stacked_parts),
        cmocka_unit_test(test_without_kernel),
        cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
