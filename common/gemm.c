#include "gemm.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GEMM_X86 1
#endif
#if defined(GEMM_X86) && defined(__linux__)
#include <cpuid.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#define GEMM_AMX 1
#endif
#define INLINE __attribute__((always_inline)) inline

#define NR 16 /* outputs per panel: two 8-float vectors */
#define MR 6  /* rows per kernel call: 12 accumulators + 2 loads + 1 */
#define MC 48 /* rows per block: 48 x 1536 floats of x stay in L2 */
/*
 * With OpenBLAS's AVX-512 kernels: one message (~14 tokens) is faster
 * here, eight (~110) there (November's figures, docs/encoder.md).
 */
#define GEMM_AVX512_ROWS 32

static int kernel_off; /* gemm_use_kernel(0) */
static int avx512_off; /* gemm_use_avx512(0) */
static int amx_off;    /* gemm_use_amx(0) */

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

static int
have_avx512(void)
{
#ifdef GEMM_X86
    return have_kernel() && !avx512_off && __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

static int
have_vnni(void)
{
#ifdef GEMM_X86
    return have_avx512() && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

void
gemm_use_kernel(int on)
{
    kernel_off = !on;
}

void
gemm_use_avx512(int on)
{
    avx512_off = !on;
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

/* The parts and their shapes, checked; no packing yet. */
static int
describe(struct gemm_weights *g, const float *const *w, const int *n,
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
    return 0;
}

int
gemm_pack(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k)
{
    int rv = describe(g, w, n, nparts, k);

    if (rv != 0 || !have_kernel())
        return rv;
    const int total = g->n;
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
    g->avx512 = have_avx512();
    g->kernel_rows
        = !g->avx512 && blas_has_avx512() ? GEMM_AVX512_ROWS : INT_MAX;
    return 0;
}

void
gemm_free(struct gemm_weights *g)
{
    free(g->bpanels);
    free(g->brounded);
    free(g->panels);
    free(g->qpanels);
    free(g->qscale);
    free(g->qsum);
    free(g->qsmooth);
    memset(g, 0, sizeof(*g));
}

/* ---- int8 ---------------------------------------------------------------
 *
 * y[i][j] = b[j] + sx[i] sw[j] (sum_k qx[i][k] qw[j][k] - zx[i] qsum[j]),
 * with x[i][k] ~ sx[i] (qx[i][k] - zx[i]), qx in 0..127, and w[j][k] ~
 * sw[j] qw[j][k], qw in -127..127. Both kernels compute the same int32
 * sums and scale them with the same float operations (no contraction:
 * -std=c11), so they agree bit for bit.
 */
#define QMC 96 /* rows of x quantised at a time: 96 x 1536 bytes */
#define QMR 4  /* rows per int8 tile: 8 accumulators */

static size_t
qoffset(int c, int kk)
{
    /* byte of output c (< NR) and input kk within a panel */
    return (size_t)(kk / 4) * 64 + (size_t)(c / 8) * 32 + (size_t)(c % 8) * 4
        + (size_t)(kk % 4);
}

int
gemm_pack_int8(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k)
{
    return gemm_pack_int8_smooth(g, w, n, nparts, k, NULL);
}

int
gemm_pack_int8_smooth(struct gemm_weights *g, const float *const *w,
    const int *n, int nparts, int k, const float *s)
{
    int rv = describe(g, w, n, nparts, k);

    if (rv != 0)
        return rv;
    if (k > INT_MAX - 3)
        return -EINVAL;
    for (int kk = 0; s != NULL && kk < k; kk++)
        if (!(s[kk] > 0 && isfinite(s[kk]) && isfinite(1.0f / s[kk])))
            return -EINVAL;
    if (s != NULL) {
        if ((g->qsmooth = malloc(sizeof(float) * (size_t)k)) == NULL)
            return -ENOMEM;
        for (int kk = 0; kk < k; kk++)
            g->qsmooth[kk] = 1.0f / s[kk];
    }
    g->qavx2 = have_kernel();
    g->qvnni = have_vnni();
    g->kq = (k + 3) / 4 * 4;
    size_t bytes = (size_t)g->n * (size_t)g->kq;
    g->qpanels = aligned_alloc(64, (bytes + 63) / 64 * 64);
    g->qscale = malloc(sizeof(float) * (size_t)g->n);
    g->qsum = malloc(sizeof(int32_t) * (size_t)g->n);
    if (g->qpanels == NULL || g->qscale == NULL || g->qsum == NULL) {
        gemm_free(g);
        return -ENOMEM;
    }
    memset(g->qpanels, 0, bytes);
    for (int i = 0, j = 0; i < nparts; i++) {
        for (int r = 0; r < n[i]; r++, j++) {
            const float *row = w[i] + (size_t)r * (size_t)k;
            int8_t *panel = g->qpanels + (size_t)(j / NR) * NR * g->kq;
            float amax = 0;
            int32_t sum = 0;
            for (int kk = 0; kk < k; kk++) {
                const float v = s != NULL ? row[kk] * s[kk] : row[kk];
                amax = fabsf(v) > amax ? fabsf(v) : amax;
            }
            g->qscale[j] = amax > 0 ? amax / 127.0f : 1.0f;
            const float inv = 1.0f / g->qscale[j];
            for (int kk = 0; kk < k; kk++) {
                const float v = s != NULL ? row[kk] * s[kk] : row[kk];
                long q = lrintf(v * inv);
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                panel[qoffset(j % NR, kk)] = (int8_t)q;
                sum += (int32_t)q;
            }
            g->qsum[j] = sum;
        }
    }
    return 0;
}

/* A row's quantisation: [lo, hi] (lo <= 0 <= hi) in 127 steps, the zero
 * point rounded so that 0 is exact. Shared by both quantisers, so that they
 * give the same bytes. */
struct qrow {
    float scale, inv, zp, off;
};

static inline struct qrow
qrow_of(float lo, float hi)
{
    struct qrow r;
    r.scale = hi > lo ? (hi - lo) / 127.0f : 1.0f;
    r.inv = 1.0f / r.scale;
    r.zp = (float)(int32_t)(-lo * r.inv + 0.5f);
    r.off = r.zp + 0.5f;
    return r;
}

/* One value of a row to 0..127: x / scale + zero point, rounded half up
 * (as the AVX2 path does: add 0.5, clamp, truncate). */
static inline uint8_t
quant1(float x, float inv, float off)
{
    float v = x * inv;
    v = v + off;
    v = v > 0.0f ? v : 0.0f;
    v = v < 127.0f ? v : 127.0f;
    return (uint8_t)(int32_t)v;
}

/*
 * Row i of x (smoothed: each x[i][kk] times is[kk], unless is is NULL) to
 * 0..127: the range [min(x, 0), max(x, 0)] in 127 steps, so 0 is exact;
 * zero point zx[i]. Bytes k .. kq-1 are 0.
 */
static void
quantise_rows_c(const float *x, int m, int ldx, int k, int kq, const float *is,
    uint8_t *qx, float *sx, int32_t *zx)
{
    for (int i = 0; i < m; i++) {
        const float *row = x + (size_t)i * ldx;
        uint8_t *q = qx + (size_t)i * kq;
        float lo = 0, hi = 0;
        for (int kk = 0; kk < k; kk++) {
            const float v = is != NULL ? row[kk] * is[kk] : row[kk];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        const struct qrow r = qrow_of(lo, hi);
        const float scale = r.scale, inv = r.inv, zp = r.zp, off = r.off;
        for (int kk = 0; kk < k; kk++)
            q[kk] = quant1(is != NULL ? row[kk] * is[kk] : row[kk], inv, off);
        memset(q + k, 0, (size_t)(kq - k));
        sx[i] = scale;
        zx[i] = (int32_t)zp;
    }
}

/* The portable kernel: rows of qx against every panel. */
static void
dense_int8_c(const uint8_t *qx, int m, const float *sx, const int32_t *zx,
    const struct gemm_weights *g, const float *b, float *y, int ldy)
{
    const size_t panel_len = (size_t)g->kq * NR;

    for (int p = 0; p < g->n / NR; p++) {
        const int8_t *panel = g->qpanels + (size_t)p * panel_len;
        for (int i = 0; i < m; i++) {
            const uint8_t *xi = qx + (size_t)i * g->kq;
            for (int c = 0; c < NR; c++) {
                const int j = p * NR + c;
                int32_t acc = 0;
                for (int kk = 0; kk < g->kq; kk++)
                    acc += (int32_t)xi[kk] * panel[qoffset(c, kk)];
                const float s = sx[i] * g->qscale[j];
                const float v = (float)(acc - zx[i] * g->qsum[j]);
                y[(size_t)i * ldy + j] = v * s + b[j];
            }
        }
    }
}

#ifdef GEMM_X86
#define AVX2I __attribute__((target("avx2")))

AVX2I static void
quantise_rows_avx2(const float *x, int m, int ldx, int k, int kq,
    const float *is, uint8_t *qx, float *sx, int32_t *zx)
{
    for (int i = 0; i < m; i++) {
        const float *row = x + (size_t)i * ldx;
        uint8_t *q = qx + (size_t)i * kq;
        __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
        float lo = 0, hi = 0;
        int kk = 0;
        for (; kk + 8 <= k; kk += 8) {
            __m256 v = _mm256_loadu_ps(row + kk);
            if (is != NULL)
                v = _mm256_mul_ps(v, _mm256_loadu_ps(is + kk));
            vlo = _mm256_min_ps(vlo, v);
            vhi = _mm256_max_ps(vhi, v);
        }
        float l8[8], h8[8];
        _mm256_storeu_ps(l8, vlo);
        _mm256_storeu_ps(h8, vhi);
        for (int c = 0; c < 8; c++) {
            lo = l8[c] < lo ? l8[c] : lo;
            hi = h8[c] > hi ? h8[c] : hi;
        }
        for (int t = kk; t < k; t++) {
            const float v = is != NULL ? row[t] * is[t] : row[t];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        const struct qrow r = qrow_of(lo, hi);
        const float scale = r.scale, inv = r.inv, zp = r.zp, off = r.off;
        const __m256 vinv = _mm256_set1_ps(inv), voff = _mm256_set1_ps(off);
        const __m256 zero = _mm256_setzero_ps(), top = _mm256_set1_ps(127.0f);
        for (kk = 0; kk + 32 <= k; kk += 32) {
            __m256i d[4];
            for (int u = 0; u < 4; u++) {
                __m256 v = _mm256_loadu_ps(row + kk + 8 * u);
                if (is != NULL)
                    v = _mm256_mul_ps(v, _mm256_loadu_ps(is + kk + 8 * u));
                v = _mm256_add_ps(_mm256_mul_ps(v, vinv), voff);
                v = _mm256_min_ps(_mm256_max_ps(v, zero), top);
                d[u] = _mm256_cvttps_epi32(v);
            }
            /* packs interleave 128-bit lanes: put the dwords back in order */
            const __m256i w01 = _mm256_packs_epi32(d[0], d[1]);
            const __m256i w23 = _mm256_packs_epi32(d[2], d[3]);
            __m256i bytes = _mm256_packus_epi16(w01, w23);
            bytes = _mm256_permutevar8x32_epi32(
                bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(void *)(q + kk), bytes);
        }
        for (; kk < k; kk++)
            q[kk] = quant1(is != NULL ? row[kk] * is[kk] : row[kk], inv, off);
        memset(q + k, 0, (size_t)(kq - k));
        sx[i] = scale;
        zx[i] = (int32_t)zp;
    }
}

/* mr (<= QMR) quantised rows times one panel: a mr x 16 tile of y. */
AVX2I static INLINE void
qtile(int mr, const uint8_t *qx, int kq, const int8_t *panel, const float *sx,
    const int32_t *zx, const float *scale, const int32_t *qsum, const float *b,
    float *y, int ldy)
{
    __m256i acc[QMR][2];
    const __m256i ones = _mm256_set1_epi16(1);

#pragma GCC unroll 4
    for (int r = 0; r < mr; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int t = 0; t < kq / 4; t++) {
        const __m256i w0 = _mm256_load_si256(
            (const __m256i *)(const void *)(panel + 64 * t));
        const __m256i w1 = _mm256_load_si256(
            (const __m256i *)(const void *)(panel + 64 * t + 32));
#pragma GCC unroll 4
        for (int r = 0; r < mr; r++) {
            int32_t four;
            memcpy(&four, qx + (size_t)r * kq + 4 * t, sizeof(four));
            const __m256i a = _mm256_set1_epi32(four);
            acc[r][0] = _mm256_add_epi32(acc[r][0],
                _mm256_madd_epi16(_mm256_maddubs_epi16(a, w0), ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1],
                _mm256_madd_epi16(_mm256_maddubs_epi16(a, w1), ones));
        }
    }
    const __m256 s0 = _mm256_loadu_ps(scale), s1 = _mm256_loadu_ps(scale + 8);
    const __m256i q0 = _mm256_loadu_si256((const __m256i *)(const void *)qsum);
    const __m256i q1
        = _mm256_loadu_si256((const __m256i *)(const void *)(qsum + 8));
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++) {
        const __m256 rs = _mm256_set1_ps(sx[r]);
        const __m256i z = _mm256_set1_epi32(zx[r]);
        const __m256 v0 = _mm256_cvtepi32_ps(
            _mm256_sub_epi32(acc[r][0], _mm256_mullo_epi32(z, q0)));
        const __m256 v1 = _mm256_cvtepi32_ps(
            _mm256_sub_epi32(acc[r][1], _mm256_mullo_epi32(z, q1)));
        _mm256_storeu_ps(y + (size_t)r * ldy,
            _mm256_add_ps(_mm256_mul_ps(v0, _mm256_mul_ps(rs, s0)), b0));
        _mm256_storeu_ps(y + (size_t)r * ldy + 8,
            _mm256_add_ps(_mm256_mul_ps(v1, _mm256_mul_ps(rs, s1)), b1));
    }
}

AVX2I static void
dense_int8_avx2(const uint8_t *qx, int m, const float *sx, const int32_t *zx,
    const struct gemm_weights *g, const float *b, float *y, int ldy)
{
    const size_t panel_len = (size_t)g->kq * NR;

    for (int p = 0; p < g->n / NR; p++) {
        const int8_t *panel = g->qpanels + (size_t)p * panel_len;
        const float *sc = g->qscale + p * NR, *bp = b + p * NR;
        const int32_t *qs = g->qsum + p * NR;
        for (int i = 0; i < m; i += QMR) {
            const uint8_t *xi = qx + (size_t)i * g->kq;
            float *yi = y + (size_t)i * ldy + p * NR;
#define QTILE(r)                                                               \
    case r:                                                                    \
        qtile(r, xi, g->kq, panel, sx + i, zx + i, sc, qs, bp, yi, ldy);       \
        break
            switch (m - i < QMR ? m - i : QMR) {
                QTILE(4);
                QTILE(3);
                QTILE(2);
            default:
                qtile(1, xi, g->kq, panel, sx + i, zx + i, sc, qs, bp, yi, ldy);
                break;
#undef QTILE
            }
        }
    }
}

/*
 * AVX-512 VNNI: a panel step's 64 bytes are the 16 outputs' four weights in
 * output order, one 32-bit lane each, which is what vpdpbusd multiplies
 * with four bytes of x and adds to a lane. The int32 sums are exact, like
 * the AVX2 kernel's (whose 7-bit x keeps vpmaddubsw from saturating), and
 * the scaling is the same float operations: the same floats.
 */
#define VNNI __attribute__((target("avx512f,avx512vnni")))
#define QMR512 12

/* A switch on a row count of 1..12, each case CASE(its count), so that
 * every row count gets its own unrolled loop (both AVX-512 kernels). */
#define ROWS12(mr, CASE)                                                       \
    switch (mr) {                                                              \
        CASE(12);                                                              \
        CASE(11);                                                              \
        CASE(10);                                                              \
        CASE(9);                                                               \
        CASE(8);                                                               \
        CASE(7);                                                               \
        CASE(6);                                                               \
        CASE(5);                                                               \
        CASE(4);                                                               \
        CASE(3);                                                               \
        CASE(2);                                                               \
    default:                                                                   \
        CASE(1);                                                               \
    }

/* mr (<= QMR512) quantised rows times np (1 or 2) panels, p0 and the next;
 * sc, qs, b: the first panel's outputs' scales, sums and biases. */
VNNI static INLINE void
qtile512(int mr, int np, const uint8_t *qx, int kq, const int8_t *p0,
    size_t panel_len, const float *sx, const int32_t *zx, const float *sc,
    const int32_t *qs, const float *b, float *y, int ldy)
{
    __m512i acc[QMR512][2];
    const int8_t *p1 = p0 + panel_len;

#pragma GCC unroll 12
    for (int r = 0; r < mr; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int t = 0; t < kq / 4; t++) {
        const __m512i w0
            = _mm512_load_si512((const void *)(p0 + (size_t)64 * t));
        const __m512i w1 = np > 1
            ? _mm512_load_si512((const void *)(p1 + (size_t)64 * t))
            : w0;
#pragma GCC unroll 12
        for (int r = 0; r < mr; r++) {
            int32_t four;
            memcpy(&four, qx + (size_t)r * kq + 4 * t, sizeof(four));
            const __m512i a = _mm512_set1_epi32(four);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], a, w0);
            if (np > 1)
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], a, w1);
        }
    }
    for (int c = 0; c < np; c++) {
        const __m512 s = _mm512_loadu_ps(sc + 16 * c);
        const __m512i q = _mm512_loadu_si512((const void *)(qs + 16 * c));
        const __m512 bc = _mm512_loadu_ps(b + 16 * c);
#pragma GCC unroll 12
        for (int r = 0; r < mr; r++) {
            const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(
                acc[r][c], _mm512_mullo_epi32(_mm512_set1_epi32(zx[r]), q)));
            _mm512_storeu_ps(y + (size_t)r * ldy + 16 * c,
                _mm512_add_ps(
                    _mm512_mul_ps(v, _mm512_mul_ps(_mm512_set1_ps(sx[r]), s)),
                    bc));
        }
    }
}

VNNI static void
qtiles512(int mr, int np, const uint8_t *qx, int kq, const int8_t *p0,
    size_t panel_len, const float *sx, const int32_t *zx, const float *sc,
    const int32_t *qs, const float *b, float *y, int ldy)
{
#define QTILE512(r)                                                            \
    case r:                                                                    \
        if (np > 1)                                                            \
            qtile512(r, 2, qx, kq, p0, panel_len, sx, zx, sc, qs, b, y, ldy);  \
        else                                                                   \
            qtile512(r, 1, qx, kq, p0, panel_len, sx, zx, sc, qs, b, y, ldy);  \
        break
    ROWS12(mr, QTILE512)
#undef QTILE512
}

VNNI static void
dense_int8_vnni(const uint8_t *qx, int m, const float *sx, const int32_t *zx,
    const struct gemm_weights *g, const float *b, float *y, int ldy)
{
    const size_t panel_len = (size_t)g->kq * NR;
    const int panels = g->n / NR;

    for (int p = 0; p < panels; p += 2) {
        const int np = panels - p > 1 ? 2 : 1;
        for (int i = 0; i < m; i += QMR512)
            qtiles512(m - i < QMR512 ? m - i : QMR512, np,
                qx + (size_t)i * g->kq, g->kq,
                g->qpanels + (size_t)p * panel_len, panel_len, sx + i, zx + i,
                g->qscale + p * NR, g->qsum + p * NR, b + p * NR,
                y + (size_t)i * ldy + p * NR, ldy);
    }
}
#endif

/* int8 packing: quantise x a block of rows at a time, then the kernel. */
static int
dense_int8(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy)
{
    const int rows = m < QMC ? m : QMC;
    uint8_t *qx = malloc((size_t)rows * (size_t)g->kq);
    float *sx = malloc(sizeof(float) * (size_t)rows);
    int32_t *zx = malloc(sizeof(int32_t) * (size_t)rows);

    if (qx == NULL || sx == NULL || zx == NULL) {
        free(qx);
        free(sx);
        free(zx);
        return -ENOMEM;
    }
    for (int i0 = 0; i0 < m; i0 += QMC) {
        const int mc = m - i0 < QMC ? m - i0 : QMC;
        const float *xi = x + (size_t)i0 * ldx;
        float *yi = y + (size_t)i0 * ldy;
#ifdef GEMM_X86
        if (g->qavx2) {
            quantise_rows_avx2(
                xi, mc, ldx, g->k, g->kq, g->qsmooth, qx, sx, zx);
            if (g->qvnni)
                dense_int8_vnni(qx, mc, sx, zx, g, b, yi, ldy);
            else
                dense_int8_avx2(qx, mc, sx, zx, g, b, yi, ldy);
            continue;
        }
#endif
        quantise_rows_c(xi, mc, ldx, g->k, g->kq, g->qsmooth, qx, sx, zx);
        dense_int8_c(qx, mc, sx, zx, g, b, yi, ldy);
    }
    free(qx);
    free(sx);
    free(zx);
    return 0;
}

#ifdef GEMM_X86
#define AVX2 __attribute__((target("avx2,fma")))

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

/*
 * The same products with 16-float vectors: a panel row is one vector, so
 * a tile takes two panels (32 outputs) by up to MR512 rows, 24
 * accumulators of 32 registers. Each output still starts from its bias and
 * adds x[kk] w[kk] with one fused multiply-add per kk, in kk order, as
 * tile() does: the two kernels give the same floats, bit for bit.
 */
#define AVX512 __attribute__((target("avx512f")))
#define MR512 12

/* mr (<= MR512) rows of x times np (1 or 2) panels, p0 and the next. */
AVX512 static INLINE void
tile512(int mr, int np, const float *x, int ldx, const float *p0,
    size_t panel_len, int k, const float *b, float *y, int ldy)
{
    __m512 acc[MR512][2];
    const float *p1 = p0 + panel_len;

#pragma GCC unroll 12
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < np; c++)
            acc[r][c] = _mm512_loadu_ps(b + 16 * c);
    for (int kk = 0; kk < k; kk++) {
        const __m512 w0 = _mm512_load_ps(p0 + (size_t)kk * NR);
        const __m512 w1 = np > 1 ? _mm512_load_ps(p1 + (size_t)kk * NR) : w0;
#pragma GCC unroll 12
        for (int r = 0; r < mr; r++) {
            const __m512 a = _mm512_set1_ps(x[(size_t)r * ldx + kk]);
            acc[r][0] = _mm512_fmadd_ps(a, w0, acc[r][0]);
            if (np > 1)
                acc[r][1] = _mm512_fmadd_ps(a, w1, acc[r][1]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < np; c++)
            _mm512_storeu_ps(y + (size_t)r * ldy + 16 * c, acc[r][c]);
}

/* Constant row and panel counts: each case is its own unrolled loop. */
AVX512 static void
tiles512(int mr, int np, const float *x, int ldx, const float *p0,
    size_t panel_len, int k, const float *b, float *y, int ldy)
{
#define TILE512(r)                                                             \
    case r:                                                                    \
        if (np > 1)                                                            \
            tile512(r, 2, x, ldx, p0, panel_len, k, b, y, ldy);                \
        else                                                                   \
            tile512(r, 1, x, ldx, p0, panel_len, k, b, y, ldy);                \
        break
    ROWS12(mr, TILE512)
#undef TILE512
}

AVX512 static void
dense_avx512(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy)
{
    const size_t panel_len = (size_t)g->k * NR;
    const int panels = g->n / NR;

    for (int i0 = 0; i0 < m; i0 += MC) {
        const int mc = m - i0 < MC ? m - i0 : MC;
        for (int p = 0; p < panels; p += 2) {
            const int np = panels - p > 1 ? 2 : 1;
            for (int i = i0; i < i0 + mc; i += MR512)
                tiles512(i0 + mc - i < MR512 ? i0 + mc - i : MR512, np,
                    x + (size_t)i * ldx, ldx, g->panels + (size_t)p * panel_len,
                    panel_len, g->k, b + p * NR, y + (size_t)i * ldy + p * NR,
                    ldy);
        }
    }
}
#endif

/* ---- bf16 ---------------------------------------------------------------
 *
 * y[i][j] = b[j] + sum_k bf16(x[i][k]) bf16(w[j][k]), summed in float32.
 * A product of two bfloat16 (8-bit significands) is exact in float32, so
 * the float32 kernels on the rounded values compute it too, each sum
 * rounded in kk order; AMX sums in its own order, which moves the last bits
 * (test_gemm bounds the difference).
 */
#define KB 32 /* inputs per AMX tile row: 64 bytes of bfloat16 */

static uint16_t
bf16_bits(float x)
{
    uint32_t u;

    memcpy(&u, &x, sizeof(u));
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static float
bf16_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;

    memcpy(&f, &u, sizeof(f));
    return f;
}

float
gemm_bf16_round(float x)
{
    return bf16_float(bf16_bits(x));
}

/* m rows of k floats of x (ldx apart) rounded to bfloat16 into dst, k apart. */
static void
bf16_round_rows(float *dst, const float *x, int m, int ldx, int k)
{
    for (int i = 0; i < m; i++)
        for (int kk = 0; kk < k; kk++)
            dst[(size_t)i * k + kk] = gemm_bf16_round(x[(size_t)i * ldx + kk]);
}

/* element of output c (< NR) and input kk within a bf16 panel */
static size_t
boffset(int c, int kk)
{
    return (size_t)(kk / 2) * 2 * NR + (size_t)c * 2 + (size_t)(kk % 2);
}

void
gemm_use_amx(int on)
{
    amx_off = !on;
}

#ifdef GEMM_AMX
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_granted;

/*
 * CPUID leaf 7: AMX-TILE and AMX-BF16 (EDX bits 24, 22), AVX512_BF16
 * (sub-leaf 1, EAX bit 5) for the conversions. Then Linux hands out the
 * tiles' 8 KiB of state only to a process that asks.
 */
static void
amx_request(void)
{
    unsigned a, b, c, d, a1 = 0, b1, c1, d1;

    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)
        || (a >= 1 && !__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)))
        return;
    amx_granted = (d & (1u << 24)) && (d & (1u << 22)) && (a1 & (1u << 5))
        && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)
            == 0;
}
#endif

int
gemm_has_amx(void)
{
#ifdef GEMM_AMX
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    if (amx_off || !have_avx512())
        return 0;
    pthread_once(&once, amx_request);
    return amx_granted;
#else
    return 0;
#endif
}

int
gemm_pack_bf16(struct gemm_weights *g, const float *const *w, const int *n,
    int nparts, int k)
{
    int rv = describe(g, w, n, nparts, k);

    if (rv != 0)
        return rv;
    if (k > INT_MAX - KB)
        return -EINVAL;
    if (gemm_has_amx()) {
        g->kb = (k + KB - 1) / KB * KB;
        size_t bytes = (size_t)g->n * (size_t)g->kb * sizeof(uint16_t);
        if ((g->bpanels = aligned_alloc(64, bytes)) == NULL)
            return -ENOMEM;
        memset(g->bpanels, 0, bytes);
        /* Panel p, step t: (w[16p][2t], w[16p][2t+1], w[16p+1][2t], ...). */
        for (int i = 0, j = 0; i < nparts; i++)
            for (int r = 0; r < n[i]; r++, j++) {
                const float *row = w[i] + (size_t)r * (size_t)k;
                uint16_t *panel
                    = g->bpanels + (size_t)(j / NR) * NR * (size_t)g->kb;
                for (int kk = 0; kk < k; kk++)
                    panel[boffset(j % NR, kk)] = bf16_bits(row[kk]);
            }
        for (int i = 0; i < nparts; i++)
            g->part[i] = NULL; /* the originals are not kept */
        return 0;
    }
    /* The rounded weights, stacked, packed as float32. */
    size_t len = (size_t)g->n * (size_t)k;
    const float *parts[GEMM_MAX_PARTS];
    float *r = malloc(len * sizeof(float));
    if (r == NULL)
        return -ENOMEM;
    for (int i = 0, off = 0; i < nparts; off += n[i], i++) {
        bf16_round_rows(r + (size_t)off * (size_t)k, w[i], n[i], k, k);
        parts[i] = r + (size_t)off * (size_t)k;
    }
    if ((rv = gemm_pack(g, parts, n, nparts, k)) != 0) {
        free(r);
        return rv;
    }
    g->brounded = r;
    g->bround = 1;
    return 0;
}

/* Rows of x rounded to bfloat16, k floats apart; NULL without memory. */
static float *
bf16_rows(const float *x, int m, int ldx, int k)
{
    float *r = malloc((size_t)m * (size_t)k * sizeof(float));

    if (r != NULL)
        bf16_round_rows(r, x, m, ldx, k);
    return r;
}

#ifdef GEMM_AMX
/* The AMX packing's products one by one: when x's tiles get no memory. */
static void
dense_bf16_c(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < g->n; j++) {
            const uint16_t *panel
                = g->bpanels + (size_t)(j / NR) * NR * (size_t)g->kb;
            float s = b[j];
            for (int kk = 0; kk < g->k; kk++)
                s += gemm_bf16_round(x[(size_t)i * ldx + kk])
                    * bf16_float(panel[boffset(j % NR, kk)]);
            y[(size_t)i * ldy + j] = s;
        }
}

#define AMX __attribute__((target("avx512f,avx512bf16,amx-tile,amx-bf16")))

/* ldtilecfg's 64 bytes: palette 1, bytes a row and rows of tmm0 .. tmm7. */
struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

/*
 * rt (1 or 2) tiles of 16 rows of a (bf16, lda bytes apart) times np (1 or
 * 2) panels, p0 and the next: tmm0..3 hold y (tmm0 + 2 rt_index + panel),
 * starting from the bias, tmm4..5 a, tmm6..7 the panels. Tiles of rows
 * past m go to the scratch c instead of y.
 */
AMX static INLINE void
amx_block(int rt, int np, const uint16_t *a, size_t lda, const uint16_t *p0,
    size_t panel_len, int chunks, const float *b, float *y, size_t ldy,
    int full0, int full1, float *c)
{
    const uint16_t *p1 = p0 + panel_len;

    _tile_loadd(0, b, 0);
    if (np > 1)
        _tile_loadd(1, b + NR, 0);
    if (rt > 1) {
        _tile_loadd(2, b, 0);
        if (np > 1)
            _tile_loadd(3, b + NR, 0);
    }
    for (int ch = 0; ch < chunks; ch++) {
        _tile_loadd(6, p0 + (size_t)ch * KB * NR, 2 * NR * 2);
        if (np > 1)
            _tile_loadd(7, p1 + (size_t)ch * KB * NR, 2 * NR * 2);
        _tile_loadd(4, a + (size_t)ch * KB, lda);
        _tile_dpbf16ps(0, 4, 6);
        if (np > 1)
            _tile_dpbf16ps(1, 4, 7);
        if (rt > 1) {
            _tile_loadd(
                5, (const char *)a + 16 * lda + (size_t)ch * KB * 2, lda);
            _tile_dpbf16ps(2, 5, 6);
            if (np > 1)
                _tile_dpbf16ps(3, 5, 7);
        }
    }
    const size_t ys = ldy * sizeof(float), cs = 2 * NR * sizeof(float);
    if (full0) {
        _tile_stored(0, y, ys);
        if (np > 1)
            _tile_stored(1, y + NR, ys);
    } else {
        _tile_stored(0, c, cs);
        if (np > 1)
            _tile_stored(1, c + NR, cs);
    }
    if (rt > 1) {
        if (full1) {
            _tile_stored(2, y + 16 * ldy, ys);
            if (np > 1)
                _tile_stored(3, y + 16 * ldy + NR, ys);
        } else {
            _tile_stored(2, c, cs);
            if (np > 1)
                _tile_stored(3, c + NR, cs);
        }
    }
}

/* Constant tile counts: each case is its own unrolled block. */
AMX static void
amx_blocks(int rt, int np, const uint16_t *a, size_t lda, const uint16_t *p0,
    size_t panel_len, int chunks, const float *b, float *y, size_t ldy,
    int full0, int full1, float *c)
{
    if (rt > 1 && np > 1)
        amx_block(
            2, 2, a, lda, p0, panel_len, chunks, b, y, ldy, full0, full1, c);
    else if (rt > 1)
        amx_block(
            2, 1, a, lda, p0, panel_len, chunks, b, y, ldy, full0, full1, c);
    else if (np > 1)
        amx_block(
            1, 2, a, lda, p0, panel_len, chunks, b, y, ldy, full0, full1, c);
    else
        amx_block(
            1, 1, a, lda, p0, panel_len, chunks, b, y, ldy, full0, full1, c);
}

/* x's rows as bfloat16, kb apart, then 16-row tiles (zero rows past m). */
AMX static int
dense_bf16_amx(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy)
{
    const int kb = g->kb, mp = (m + 15) / 16 * 16, k = g->k;
    const size_t lda = (size_t)kb * sizeof(uint16_t);
    uint16_t *a = aligned_alloc(64, (size_t)mp * lda);
    float c[16 * 2 * NR] __attribute__((aligned(64)));
    struct tile_config cfg;

    if (a == NULL)
        return -ENOMEM;
    for (int i = 0; i < mp; i++) {
        uint16_t *row = a + (size_t)i * kb;
        for (int kk = 0; kk < kb; kk += KB) {
            __m512 lo = _mm512_setzero_ps(), hi = lo;
            if (i < m) {
                const float *xr = x + (size_t)i * ldx + kk;
                const int left = k - kk;
                const __mmask16 m0 = left >= 16 ? 0xffff
                    : left > 0                  ? (__mmask16)((1u << left) - 1)
                                                : 0;
                const __mmask16 m1 = left >= 32 ? 0xffff
                    : left > 16 ? (__mmask16)((1u << (left - 16)) - 1)
                                : 0;
                lo = _mm512_maskz_loadu_ps(m0, xr);
                hi = _mm512_maskz_loadu_ps(m1, xr + 16);
            }
            _mm512_store_si512(
                (void *)(row + kk), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    const size_t panel_len = (size_t)kb * NR;
    const int panels = g->n / NR, chunks = kb / KB;
    for (int i = 0; i < mp; i += 32) {
        const int rt = mp - i >= 32 ? 2 : 1;
        for (int p = 0; p < panels; p += 2) {
            const int np = panels - p > 1 ? 2 : 1;
            float *yi = y + (size_t)i * ldy + p * NR;
            /* a tile whose rows are not all in y: the rows that are */
            const int last = i + 16 * rt > m;
            amx_blocks(rt, np, a + (size_t)i * kb, lda,
                g->bpanels + (size_t)p * panel_len, panel_len, chunks,
                b + p * NR, yi, (size_t)ldy, rt > 1 || !last, !last, c);
            if (last)
                for (int r = i + 16 * (rt - 1); r < m; r++)
                    memcpy(y + (size_t)r * ldy + p * NR,
                        c + (size_t)(r - i - 16 * (rt - 1)) * 2 * NR,
                        (size_t)np * NR * sizeof(float));
        }
    }
    _tile_release();
    free(a);
    return 0;
}
#endif

void
gemm_dense(const float *x, int m, int ldx, const struct gemm_weights *g,
    const float *b, float *y, int ldy)
{
    float *rounded = NULL;

    if (m <= 0)
        return;
#ifdef GEMM_AMX
    if (g->bpanels != NULL) {
        if (dense_bf16_amx(x, m, ldx, g, b, y, ldy) == 0)
            return;
        dense_bf16_c(x, m, ldx, g, b, y, ldy);
        return;
    }
#endif
    /* bf16 without AMX; without memory, x as it is */
    if (g->bround && (rounded = bf16_rows(x, m, ldx, g->k)) != NULL) {
        x = rounded;
        ldx = g->k;
    }
    /* int8; without memory for its scratch, float on the originals */
    if (g->qpanels != NULL && dense_int8(x, m, ldx, g, b, y, ldy) == 0)
        return;
#ifdef GEMM_X86
    if (g->panels != NULL && m <= g->kernel_rows) {
        if (g->avx512)
            dense_avx512(x, m, ldx, g, b, y, ldy);
        else
            dense_avx2(x, m, ldx, g, b, y, ldy);
        free(rounded);
        return;
    }
#endif
    for (int i = 0; i < m; i++)
        memcpy(y + (size_t)i * ldy, b, (size_t)g->n * sizeof(float));
    for (int p = 0, off = 0; p < g->nparts; off += g->part_n[p], p++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, g->part_n[p],
            g->k, 1.0f, x, ldx, g->part[p], g->k, 1.0f, y + off, ldy);
    free(rounded);
}
