/*
 * vecmath.h - the element-wise steps of the encoder's forward pass, over
 * AVX2 + FMA when the CPU has them (checked at each call, a read of
 * libgcc's CPU model), else plain libm. The vector paths agree with the
 * exact values to within 1e-6 (GELU; relative above 1) and 1e-5 relative
 * (softmax), below what the float32 matrix products already round away.
 */
#ifndef COMMON_VECMATH_H
#define COMMON_VECMATH_H

#include <stddef.h>

/* x[i] = GELU(x[i]) = x/2 * (1 + erf(x / sqrt 2)), the exact (erf) form. */
void vec_gelu(float *x, size_t n);

/* x = softmax(x): exp(x[i] - max) / sum, over n >= 1 finite values. */
void vec_softmax(float *x, size_t n);

#endif
