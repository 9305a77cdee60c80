#include "vecmath.h"

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VEC_X86 1
#endif

static void
gelu_scalar(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

static void
softmax_scalar(float *x, size_t n)
{
    float max = x[0], sum = 0;

    for (size_t i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    for (size_t i = 0; i < n; i++)
        sum += x[i] = expf(x[i] - max);
    for (size_t i = 0; i < n; i++)
        x[i] /= sum;
}

#ifdef VEC_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* exp(y) for y <= 0 (Cephes expf: range reduction by ln 2, degree 6). */
AVX2 static __m256
exp_neg(__m256 y)
{
    const __m256 c1 = _mm256_set1_ps(0.693359375f);
    const __m256 c2 = _mm256_set1_ps(-2.12194440e-4f);
    __m256 n, r, p;

    y = _mm256_max_ps(y, _mm256_set1_ps(-87.0f));
    n = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.44269504f)),
        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_fnmadd_ps(n, c1, y);
    r = _mm256_fnmadd_ps(n, c2, r);
    p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    /* times 2^n, n in [-126, 0] */
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/*
 * GELU with erf from Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7):
 * erf(u) = 1 - t (a1 + t (a2 + ... a5 t)) exp(-u^2), t = 1 / (1 + p u).
 */
AVX2 static void
gelu_avx2(float *x, size_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 u = _mm256_mul_ps(
            _mm256_andnot_ps(sign, v), _mm256_set1_ps(0.70710678f));
        __m256 t = _mm256_div_ps(
            one, _mm256_fmadd_ps(u, _mm256_set1_ps(0.3275911f), one));
        __m256 p = _mm256_set1_ps(1.061405429f);
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
        p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
        p = _mm256_mul_ps(p, t);
        __m256 erf = _mm256_fnmadd_ps(
            p, exp_neg(_mm256_xor_ps(_mm256_mul_ps(u, u), sign)), one);
        /* erf(-u) = -erf(u): take v's sign */
        erf = _mm256_or_ps(erf, _mm256_and_ps(v, sign));
        _mm256_storeu_ps(x + i,
            _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v),
                _mm256_add_ps(one, erf)));
    }
    gelu_scalar(x + i, n - i);
}

AVX2 static void
softmax_avx2(float *x, size_t n)
{
    __m256 vmax = _mm256_set1_ps(x[0]), vsum = _mm256_setzero_ps();
    float max, sum, buf[8];
    size_t i;

    for (i = 0; i + 8 <= n; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    _mm256_storeu_ps(buf, vmax);
    max = buf[0];
    for (int k = 1; k < 8; k++)
        max = buf[k] > max ? buf[k] : max;
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    vmax = _mm256_set1_ps(max);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    _mm256_storeu_ps(buf, vsum);
    sum = 0;
    for (int k = 0; k < 8; k++)
        sum += buf[k];
    for (; i < n; i++)
        sum += x[i] = expf(x[i] - max);
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++)
        x[i] *= 1.0f / sum;
}

static int
have_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

void
vec_gelu(float *x, size_t n)
{
#ifdef VEC_X86
    if (have_avx2()) {
        gelu_avx2(x, n);
        return;
    }
#endif
    gelu_scalar(x, n);
}

void
vec_softmax(float *x, size_t n)
{
#ifdef VEC_X86
    if (have_avx2()) {
        softmax_avx2(x, n);
        return;
    }
#endif
    softmax_scalar(x, n);
}
