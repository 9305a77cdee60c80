/* vec_gelu and vec_softmax against libm, on every tail length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "vecmath.h"

static void
test_gelu(void **state)
{
    static float x[4001];
    double worst = 0;

    (void)state;
    for (size_t n = 1; n <= 4001; n += n < 40 ? 1 : 997) {
        for (size_t i = 0; i < n; i++)
            x[i] = -12.0f + 24.0f * (float)i / (float)n;
        vec_gelu(x, n);
        for (size_t i = 0; i < n; i++) {
            double v = -12.0 + 24.0 * (double)(float)i / (double)n;
            v = (double)(float)v;
            double want = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
            double err = fabs(x[i] - want) / (fabs(want) > 1 ? fabs(want) : 1);
            worst = err > worst ? err : worst;
        }
    }
    if (worst > 1e-6)
        fail_msg("GELU error %g", worst);
    print_message("GELU worst error %.3g\n", worst);
    float edge[3] = {0.0f, -0.0f, 100.0f};
    vec_gelu(edge, 3);
    assert_true(edge[0] == 0.0f && edge[1] == 0.0f && edge[2] == 100.0f);
}

static void
test_softmax(void **state)
{
    static float x[300];
    double worst = 0;

    (void)state;
    for (size_t n = 1; n <= 300; n += n < 40 ? 1 : 37) {
        double max = -1e30, sum = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = (float)(((i * 7919) % 101) * 0.37 - 20.0);
            max = x[i] > max ? x[i] : max;
        }
        for (size_t i = 0; i < n; i++)
            sum += exp(x[i] - max);
        double want[300];
        for (size_t i = 0; i < n; i++)
            want[i] = exp(x[i] - max) / sum;
        vec_softmax(x, n);
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            double err = fabs(x[i] - want[i]) / want[i];
            worst = err > worst ? err : worst;
            total += x[i];
        }
        assert_true(fabs(total - 1.0) < 1e-5);
    }
    if (worst > 1e-5) /* float rounding of x - max alone is ~2e-6 */
        fail_msg("softmax relative error %g", worst);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_softmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
