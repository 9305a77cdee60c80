#include "encoder.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>
#include <openssl/evp.h>

#include "gemm.h"
#include "log.h"
#include "safetensors.h"
#include "vecmath.h"
#include "wordpiece.h"

#define LAYERS 6
#define HEADS 12
#define HEAD_DIM 32
#define FFN 1536
#define MAX_TOKENS 256    /* the model's max_seq_length */
#define GROUP_TOKENS 1024 /* tokens per forward pass of a batch, at most */
#define LN_EPS 1e-12f

struct layer {
    const float *wq, *bq, *wk, *bk, *wv, *bv;
    const float *wo, *bo, *ln1_g, *ln1_b;
    const float *wi, *bi, *wo2, *bo2, *ln2_g, *ln2_b;
    /* The dense layers' weights packed for gemm_dense; Q, K, V as one. */
    struct gemm_weights qkv, out, inter, out2;
    float bqkv[3 * ENCODER_DIM];
};

struct encoder {
    struct safetensors *st;
    struct wordpiece *wp;
    const float *word, *pos, *type, *emb_g, *emb_b;
    int32_t vocab;
    enum encoder_precision precision;
    int smoothed;
    struct layer layers[LAYERS];
};

/*
 * The smoothing file (ENCODER_SMOOTH_FILE), little-endian: magic, then
 * u32 version, layers, products, dim, ffn, mask; f32 alpha; u32 ntexts;
 * u64 model file size; the model file's sha256; then the f32 maxima.
 */
#define SMOOTH_MAGIC "MLM6SMQ1"
#define SMOOTH_VERSION 1u
#define SMOOTH_HEADER 80
#define SMOOTH_BYTES (SMOOTH_HEADER + 4 * ENCODER_SMOOTH_FLOATS)

struct smooth {
    float alpha;
    unsigned mask;
    float amax[ENCODER_SMOOTH_FLOATS];
};

/* Input channels of product p (encoder.h's order) and its offset in a layer. */
static const int smooth_k[ENCODER_SMOOTH_PRODUCTS]
    = {ENCODER_DIM, ENCODER_DIM, ENCODER_DIM, FFN};
static const int smooth_off[ENCODER_SMOOTH_PRODUCTS]
    = {0, ENCODER_DIM, 2 * ENCODER_DIM, 3 * ENCODER_DIM};
#define SMOOTH_LAYER (3 * ENCODER_DIM + FFN)

/* Get a tensor and check its shape (d1 = 0 for a vector). */
static int
tensor(const struct encoder *e, const char *name, int64_t d0, int64_t d1,
    const float **out)
{
    struct tensor t;
    int rv = safetensors_get(e->st, name, &t);

    if (rv != 0)
        return rv;
    if (t.shape[0] != d0
        || (d1 == 0 ? t.ndims != 1 : t.ndims != 2 || t.shape[1] != d1))
        return -EINVAL;
    *out = t.data;
    return 0;
}

/*
 * s[j] = amax[j]^alpha / max_r |w[r][j]|^(1 - alpha) over the rows of all
 * parts (SmoothQuant); 1 where either is 0.
 */
static void
smooth_factors(const float *amax, float alpha, const float *const *w,
    const int *n, int nparts, int k, float *s)
{
    for (int j = 0; j < k; j++)
        s[j] = 0;
    for (int p = 0; p < nparts; p++)
        for (int r = 0; r < n[p]; r++)
            for (int j = 0; j < k; j++) {
                const float a = fabsf(w[p][(size_t)r * (size_t)k + (size_t)j]);
                s[j] = a > s[j] ? a : s[j];
            }
    for (int j = 0; j < k; j++) {
        double f = 1;
        if (amax[j] > 0 && s[j] > 0)
            f = pow(amax[j], alpha) / pow(s[j], 1.0 - alpha);
        /* a factor gemm accepts whatever the statistics were */
        s[j] = (float)(f > 1e-6 && f < 1e6 ? f : 1.0);
    }
}

enum pack_kind { PACK_FLOAT32, PACK_INT8, PACK_BF16 };

/*
 * Pack one product: float32, bfloat16, int8, or int8 smoothed with product
 * p's statistics of sm (NULL: none).
 */
static int
pack(struct gemm_weights *g, enum pack_kind kind, const struct smooth *sm,
    int p, const float *amax, const float *const *w, const int *n, int nparts,
    int k)
{
    float s[FFN];

    if (kind == PACK_BF16)
        return gemm_pack_bf16(g, w, n, nparts, k);
    if (kind == PACK_FLOAT32)
        return gemm_pack(g, w, n, nparts, k);
    if (sm == NULL || !(sm->mask & (1u << p)))
        return gemm_pack_int8(g, w, n, nparts, k);
    smooth_factors(amax + smooth_off[p], sm->alpha, w, n, nparts, k, s);
    return gemm_pack_int8_smooth(g, w, n, nparts, k, s);
}

static int
load_layer(struct encoder *e, int i, const struct smooth *sm)
{
    const enum encoder_precision pr = e->precision;
    const enum pack_kind attn = pr == ENCODER_BF16 ? PACK_BF16
        : pr == ENCODER_INT8                       ? PACK_INT8
                                                   : PACK_FLOAT32;
    const enum pack_kind kffn = pr == ENCODER_BF16 ? PACK_BF16
        : pr == ENCODER_FLOAT32                    ? PACK_FLOAT32
                                                   : PACK_INT8;
    const float *amax = sm != NULL ? sm->amax + (size_t)i * SMOOTH_LAYER : NULL;
    struct layer *l = &e->layers[i];
    char name[128];
    int rv = 0;

#define T(suffix, d0, d1, dst)                                                 \
    do {                                                                       \
        snprintf(name, sizeof(name), "encoder.layer.%d.%s", i, suffix);        \
        if (rv == 0)                                                           \
            rv = tensor(e, name, d0, d1, dst);                                 \
    } while (0)

    T("attention.self.query.weight", ENCODER_DIM, ENCODER_DIM, &l->wq);
    T("attention.self.query.bias", ENCODER_DIM, 0, &l->bq);
    T("attention.self.key.weight", ENCODER_DIM, ENCODER_DIM, &l->wk);
    T("attention.self.key.bias", ENCODER_DIM, 0, &l->bk);
    T("attention.self.value.weight", ENCODER_DIM, ENCODER_DIM, &l->wv);
    T("attention.self.value.bias", ENCODER_DIM, 0, &l->bv);
    T("attention.output.dense.weight", ENCODER_DIM, ENCODER_DIM, &l->wo);
    T("attention.output.dense.bias", ENCODER_DIM, 0, &l->bo);
    T("attention.output.LayerNorm.weight", ENCODER_DIM, 0, &l->ln1_g);
    T("attention.output.LayerNorm.bias", ENCODER_DIM, 0, &l->ln1_b);
    T("intermediate.dense.weight", FFN, ENCODER_DIM, &l->wi);
    T("intermediate.dense.bias", FFN, 0, &l->bi);
    T("output.dense.weight", ENCODER_DIM, FFN, &l->wo2);
    T("output.dense.bias", ENCODER_DIM, 0, &l->bo2);
    T("output.LayerNorm.weight", ENCODER_DIM, 0, &l->ln2_g);
    T("output.LayerNorm.bias", ENCODER_DIM, 0, &l->ln2_b);
#undef T
    if (rv != 0)
        return rv;

    const float *qkv[] = {l->wq, l->wk, l->wv};
    const int dims[] = {ENCODER_DIM, ENCODER_DIM, ENCODER_DIM};
    const int ffn = FFN;
    memcpy(l->bqkv, l->bq, sizeof(float) * ENCODER_DIM);
    memcpy(l->bqkv + ENCODER_DIM, l->bk, sizeof(float) * ENCODER_DIM);
    memcpy(l->bqkv + 2 * ENCODER_DIM, l->bv, sizeof(float) * ENCODER_DIM);
    if ((rv = pack(&l->qkv, attn, sm, 0, amax, qkv, dims, 3, ENCODER_DIM)) != 0
        || (rv = pack(&l->out, attn, sm, 1, amax, &l->wo, dims, 1, ENCODER_DIM))
            != 0
        || (rv = pack(
                &l->inter, kffn, sm, 2, amax, &l->wi, &ffn, 1, ENCODER_DIM))
            != 0
        || (rv = pack(&l->out2, kffn, sm, 3, amax, &l->wo2, dims, 1, FFN)) != 0)
        return rv;
    return 0;
}

/* Size and sha256 of the file at path. */
static int
file_digest(const char *path, uint64_t *size, unsigned char sha[32])
{
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    unsigned len = 0;
    int rv = -EIO;
    size_t got;

    *size = 0;
    if (f == NULL || ctx == NULL || buf == NULL) {
        rv = f == NULL ? -errno : -ENOMEM;
        goto out;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    while ((got = fread(buf, 1, 1 << 20, f)) > 0) {
        if (EVP_DigestUpdate(ctx, buf, got) != 1)
            goto out;
        *size += got;
    }
    if (!ferror(f) && EVP_DigestFinal_ex(ctx, sha, &len) == 1 && len == 32)
        rv = 0;
out:
    if (f != NULL)
        fclose(f);
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rv;
}

static void
put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
        | (uint32_t)p[3] << 24;
}

static float
getf(const unsigned char *p)
{
    uint32_t u = get32(p);
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static void
putf(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    put32(p, u);
}

int
encoder_smooth_write(const char *path, const char *dir, const float *amax,
    float alpha, unsigned mask, uint32_t ntexts)
{
    char model[4096];
    unsigned char *buf;
    uint64_t size;
    int rv;

    if (!(alpha >= 0 && alpha <= 1) || mask >= 1u << ENCODER_SMOOTH_PRODUCTS)
        return -EINVAL;
    for (size_t i = 0; i < ENCODER_SMOOTH_FLOATS; i++)
        if (!(amax[i] >= 0 && isfinite(amax[i])))
            return -EINVAL;
    if ((size_t)snprintf(model, sizeof(model), "%s/model.safetensors", dir)
        >= sizeof(model))
        return -ENAMETOOLONG;
    if ((buf = calloc(1, SMOOTH_BYTES)) == NULL)
        return -ENOMEM;
    memcpy(buf, SMOOTH_MAGIC, 8);
    put32(buf + 8, SMOOTH_VERSION);
    put32(buf + 12, LAYERS);
    put32(buf + 16, ENCODER_SMOOTH_PRODUCTS);
    put32(buf + 20, ENCODER_DIM);
    put32(buf + 24, FFN);
    put32(buf + 28, mask);
    putf(buf + 32, alpha);
    put32(buf + 36, ntexts);
    if ((rv = file_digest(model, &size, buf + 48)) != 0)
        goto out;
    put32(buf + 40, (uint32_t)size);
    put32(buf + 44, (uint32_t)(size >> 32));
    for (size_t i = 0; i < ENCODER_SMOOTH_FLOATS; i++)
        putf(buf + SMOOTH_HEADER + 4 * i, amax[i]);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        rv = -errno;
        goto out;
    }
    if (fwrite(buf, 1, SMOOTH_BYTES, f) != SMOOTH_BYTES)
        rv = -EIO;
    if (fclose(f) != 0 && rv == 0)
        rv = -EIO;
out:
    free(buf);
    return rv;
}

/*
 * Read the smoothing file at path for the model file of dir into sm.
 * Returns 0, -ENOENT (absent), or -EINVAL (malformed, or made for another
 * model file: logged).
 */
static int
smooth_read(const char *path, const char *dir, struct smooth *sm)
{
    char model[4096];
    unsigned char *buf = NULL, sha[32];
    uint64_t size;
    struct stat st;
    int rv = -EINVAL;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return errno == ENOENT ? -ENOENT : -errno;
    memset(&st, 0, sizeof(st));
    if (fstat(fileno(f), &st) != 0 || st.st_size != SMOOTH_BYTES) {
        log_error("encoder: %s: not a smoothing file (%lld bytes, want %d)",
            path, (long long)st.st_size, SMOOTH_BYTES);
        goto out;
    }
    if ((buf = malloc(SMOOTH_BYTES)) == NULL) {
        rv = -ENOMEM;
        goto out;
    }
    if (fread(buf, 1, SMOOTH_BYTES, f) != SMOOTH_BYTES) {
        rv = -EIO;
        goto out;
    }
    if (memcmp(buf, SMOOTH_MAGIC, 8) != 0 || get32(buf + 8) != SMOOTH_VERSION
        || get32(buf + 12) != LAYERS
        || get32(buf + 16) != ENCODER_SMOOTH_PRODUCTS
        || get32(buf + 20) != ENCODER_DIM || get32(buf + 24) != FFN) {
        log_error("encoder: %s: not a version %u smoothing file for a "
                  "%d-layer %d/%d model",
            path, SMOOTH_VERSION, LAYERS, ENCODER_DIM, FFN);
        goto out;
    }
    sm->mask = get32(buf + 28);
    sm->alpha = getf(buf + 32);
    if (sm->mask >= 1u << ENCODER_SMOOTH_PRODUCTS
        || !(sm->alpha >= 0 && sm->alpha <= 1)) {
        log_error("encoder: %s: bad mask %u or alpha", path, sm->mask);
        goto out;
    }
    for (size_t i = 0; i < ENCODER_SMOOTH_FLOATS; i++) {
        sm->amax[i] = getf(buf + SMOOTH_HEADER + 4 * i);
        if (!(sm->amax[i] >= 0 && isfinite(sm->amax[i]))) {
            log_error("encoder: %s: statistic %zu is not a finite value >= 0",
                path, i);
            goto out;
        }
    }
    if ((size_t)snprintf(model, sizeof(model), "%s/model.safetensors", dir)
        >= sizeof(model)) {
        rv = -ENAMETOOLONG;
        goto out;
    }
    if ((rv = file_digest(model, &size, sha)) != 0)
        goto out;
    if (size != ((uint64_t)get32(buf + 44) << 32 | get32(buf + 40))
        || memcmp(sha, buf + 48, 32) != 0) {
        log_error("encoder: %s was calibrated for another model file than %s "
                  "(size or sha256 differ): rebuild it (make "
                  "encoder-calibration) or remove it",
            path, model);
        rv = -EINVAL;
        goto out;
    }
    rv = 0;
out:
    free(buf);
    fclose(f);
    return rv;
}

enum encoder_precision
encoder_get_precision(const struct encoder *e)
{
    return e->precision;
}

int
encoder_load(struct encoder **ep, const char *dir)
{
    enum encoder_precision p;

    if (encoder_precision_parse(getenv("ENCODER_PRECISION"), &p) != 0)
        return -EINVAL;
    return encoder_load_with(ep, dir, p);
}

int
encoder_load_with(
    struct encoder **ep, const char *dir, enum encoder_precision precision)
{
    return encoder_load_smooth(ep, dir, precision, NULL);
}

int
encoder_is_smoothed(const struct encoder *e)
{
    return e->smoothed;
}

int
encoder_load_smooth(struct encoder **ep, const char *dir,
    enum encoder_precision precision, const char *smooth_path)
{
    char path[4096];
    struct encoder *e;
    struct smooth *sm = NULL;
    int rv;

    if ((size_t)precision >= ENCODER_PRECISIONS)
        return -EINVAL;
    /* The same vectors to ~1e-5 (docs/encoder.md), 2-3x as fast on AMX. */
    if (precision == ENCODER_AUTO)
        precision = gemm_has_amx() ? ENCODER_BF16 : ENCODER_FLOAT32;
    /*
     * One BLAS thread per caller: the services run several callers at once
     * (one per core), and OpenBLAS's own threads on top of them only fight
     * for the same cores (measured: 164 vs 72 messages/s one at a time,
     * 500 vs 320 in batches of 64, with the other core busy).
     */
    openblas_set_num_threads(1);
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return -ENOMEM;
    e->precision = precision;
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    if ((rv = safetensors_open(&e->st, path)) != 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/vocab.txt", dir);
    if ((rv = wordpiece_load(&e->wp, path)) != 0)
        goto fail;
    struct tensor t;
    if ((rv = safetensors_get(e->st, "embeddings.word_embeddings.weight", &t))
        != 0)
        goto fail;
    if (t.ndims != 2 || t.shape[1] != ENCODER_DIM) {
        rv = -EINVAL;
        goto fail;
    }
    e->word = t.data;
    e->vocab = (int32_t)t.shape[0];
    if ((rv = tensor(e, "embeddings.position_embeddings.weight", 512,
             ENCODER_DIM, &e->pos))
            != 0
        || (rv = tensor(e, "embeddings.token_type_embeddings.weight", 2,
                ENCODER_DIM, &e->type))
            != 0
        || (rv = tensor(
                e, "embeddings.LayerNorm.weight", ENCODER_DIM, 0, &e->emb_g))
            != 0
        || (rv = tensor(
                e, "embeddings.LayerNorm.bias", ENCODER_DIM, 0, &e->emb_b))
            != 0)
        goto fail;
    if ((precision == ENCODER_INT8 || precision == ENCODER_INT8_FFN)
        && (smooth_path == NULL || *smooth_path != '\0')) {
        if ((sm = malloc(sizeof(*sm))) == NULL) {
            rv = -ENOMEM;
            goto fail;
        }
        if (smooth_path == NULL)
            snprintf(path, sizeof(path), "%s/%s", dir, ENCODER_SMOOTH_FILE);
        else
            snprintf(path, sizeof(path), "%s", smooth_path);
        rv = smooth_read(path, dir, sm);
        if (rv == -ENOENT && smooth_path == NULL) {
            log_warn("encoder: no %s: int8 without smoothing (less accurate, "
                     "docs/encoder.md)",
                path);
            free(sm);
            sm = NULL;
        } else if (rv != 0) {
            if (rv != -EINVAL)
                log_error("encoder: %s: %s", path, strerror(-rv));
            goto fail;
        }
        e->smoothed = sm != NULL;
    }
    for (int i = 0; i < LAYERS; i++)
        if ((rv = load_layer(e, i, sm)) != 0)
            goto fail;
    free(sm);
    /* The layers now read their packed copies: the file's pages can go. */
    safetensors_drop_pages(e->st);
    *ep = e;
    return 0;
fail:
    free(sm);
    encoder_free(e);
    return rv;
}

void
encoder_free(struct encoder *e)
{
    if (e == NULL)
        return;
    for (int i = 0; i < LAYERS; i++) {
        gemm_free(&e->layers[i].qkv);
        gemm_free(&e->layers[i].out);
        gemm_free(&e->layers[i].inter);
        gemm_free(&e->layers[i].out2);
    }
    wordpiece_free(e->wp);
    safetensors_close(e->st);
    free(e);
}

/* x = LayerNorm(x + r) row by row (r may be NULL). */
static void
add_norm(float *x, const float *r, int n, const float *g, const float *b)
{
    for (int i = 0; i < n; i++) {
        float *row = x + (size_t)i * ENCODER_DIM;
        double mean = 0, var = 0;
        if (r != NULL)
            for (int j = 0; j < ENCODER_DIM; j++)
                row[j] += r[(size_t)i * ENCODER_DIM + j];
        for (int j = 0; j < ENCODER_DIM; j++)
            mean += row[j];
        mean /= ENCODER_DIM;
        for (int j = 0; j < ENCODER_DIM; j++)
            var += (row[j] - mean) * (row[j] - mean);
        var /= ENCODER_DIM;
        float inv = 1.0f / sqrtf((float)var + LN_EPS);
        for (int j = 0; j < ENCODER_DIM; j++)
            row[j] = ((row[j] - (float)mean) * inv) * g[j] + b[j];
    }
}

/* Self-attention of one text's len tokens, all heads, into ctx rows. */
static void
attend(const float *qkv, int len, float *ctx, float *scores)
{
    const int ld = 3 * ENCODER_DIM;
    const float scale = 1.0f / sqrtf((float)HEAD_DIM);

    for (int h = 0; h < HEADS; h++) {
        const float *q = qkv + h * HEAD_DIM;
        const float *k = qkv + ENCODER_DIM + h * HEAD_DIM;
        const float *v = qkv + 2 * ENCODER_DIM + h * HEAD_DIM;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, HEAD_DIM,
            scale, q, ld, k, ld, 0.0f, scores, len);
        for (int i = 0; i < len; i++)
            vec_softmax(scores + (size_t)i * len, (size_t)len);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, HEAD_DIM,
            len, 1.0f, scores, len, v, ld, 0.0f, ctx + h * HEAD_DIM,
            ENCODER_DIM);
    }
}

/* Scratch for one group of texts: at most GROUP_TOKENS + MAX_TOKENS rows. */
struct scratch {
    int32_t ids[GROUP_TOKENS + MAX_TOKENS];
    size_t lens[GROUP_TOKENS + MAX_TOKENS]; /* per text; >= 2 tokens each */
    float *x, *qkv, *ctx, *tmp, *inter;     /* rows tokens each */
    size_t rows;
    float *scores; /* MAX_TOKENS^2 */
};

/* amax[j] = max(amax[j], |x[i][j]|) over m rows of k. */
static void
raise_amax(float *amax, const float *x, int m, int k)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < k; j++) {
            const float a = fabsf(x[(size_t)i * (size_t)k + (size_t)j]);
            amax[j] = a > amax[j] ? a : amax[j];
        }
}

/*
 * Forward pass of n texts whose tokens are in s->ids; vectors into out.
 * amax: NULL, or calibration statistics to raise (encoder_calibrate).
 */
static void
forward(const struct encoder *e, struct scratch *s, size_t n, float *out,
    float *amax)
{
    size_t total = 0;
    float *x = s->x, *qkv = s->qkv, *ctx = s->ctx, *tmp = s->tmp,
          *inter = s->inter;

    /* All texts' tokens in one matrix: the dense layers run as big GEMMs. */
    for (size_t i = 0; i < n; i++) {
        for (size_t p = 0; p < s->lens[i]; p++, total++) {
            int32_t id = s->ids[total];
            float *row = x + total * ENCODER_DIM;
            const float *w, *ps = e->pos + p * ENCODER_DIM;
            w = e->word
                + (size_t)(id >= 0 && id < e->vocab ? id : 0) * ENCODER_DIM;
            for (int j = 0; j < ENCODER_DIM; j++)
                row[j] = w[j] + ps[j] + e->type[j];
        }
    }
    const int m = (int)total;
    add_norm(x, NULL, m, e->emb_g, e->emb_b);

    for (int li = 0; li < LAYERS; li++) {
        const struct layer *l = &e->layers[li];
        float *am = amax != NULL ? amax + (size_t)li * SMOOTH_LAYER : NULL;
        if (am != NULL)
            raise_amax(am + smooth_off[0], x, m, smooth_k[0]);
        /* Q, K and V side by side in each row of qkv. */
        gemm_dense(x, m, ENCODER_DIM, &l->qkv, l->bqkv, qkv, 3 * ENCODER_DIM);
        for (size_t i = 0, off = 0; i < n; off += s->lens[i], i++)
            attend(qkv + off * 3 * ENCODER_DIM, (int)s->lens[i],
                ctx + off * ENCODER_DIM, s->scores);
        if (am != NULL)
            raise_amax(am + smooth_off[1], ctx, m, smooth_k[1]);
        gemm_dense(ctx, m, ENCODER_DIM, &l->out, l->bo, tmp, ENCODER_DIM);
        add_norm(x, tmp, m, l->ln1_g, l->ln1_b);
        if (am != NULL)
            raise_amax(am + smooth_off[2], x, m, smooth_k[2]);
        gemm_dense(x, m, ENCODER_DIM, &l->inter, l->bi, inter, FFN);
        vec_gelu(inter, total * FFN);
        if (am != NULL)
            raise_amax(am + smooth_off[3], inter, m, smooth_k[3]);
        gemm_dense(inter, m, FFN, &l->out2, l->bo2, tmp, ENCODER_DIM);
        add_norm(x, tmp, m, l->ln2_g, l->ln2_b);
    }

    /* Mean over each text's tokens, then unit length. */
    for (size_t i = 0, off = 0; i < n; off += s->lens[i], i++) {
        float *o = out + i * ENCODER_DIM;
        double norm = 0;
        for (int j = 0; j < ENCODER_DIM; j++) {
            double sum = 0;
            for (size_t t = 0; t < s->lens[i]; t++)
                sum += x[(off + t) * ENCODER_DIM + j];
            o[j] = (float)(sum / (double)s->lens[i]);
            norm += (double)o[j] * o[j];
        }
        float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
        for (int j = 0; j < ENCODER_DIM; j++)
            o[j] *= inv;
    }
}

/* Room for rows tokens in the scratch matrices (kept across groups). */
static int
reserve(struct scratch *s, size_t rows)
{
    float **bufs[] = {&s->x, &s->qkv, &s->ctx, &s->tmp, &s->inter};
    const size_t width[]
        = {ENCODER_DIM, 3 * ENCODER_DIM, ENCODER_DIM, ENCODER_DIM, FFN};

    if (rows <= s->rows)
        return 0;
    for (size_t k = 0; k < sizeof(bufs) / sizeof(bufs[0]); k++) {
        free(*bufs[k]);
        if ((*bufs[k] = malloc(rows * width[k] * sizeof(float))) == NULL) {
            s->rows = 0;
            return -ENOMEM;
        }
    }
    s->rows = rows;
    return 0;
}

static int embed(const struct encoder *e, const char *const *texts, size_t n,
    float *out, float *amax);

int
encoder_embed(
    const struct encoder *e, const char *const *texts, size_t n, float *out)
{
    return embed(e, texts, n, out, NULL);
}

int
encoder_calibrate(
    const struct encoder *e, const char *const *texts, size_t n, float *amax)
{
    float *out;
    int rv;

    if (e->precision != ENCODER_FLOAT32)
        return -EINVAL;
    if ((out = malloc((n > 0 ? n : 1) * ENCODER_DIM * sizeof(float))) == NULL)
        return -ENOMEM;
    rv = embed(e, texts, n, out, amax);
    free(out);
    return rv;
}

static int
embed(const struct encoder *e, const char *const *texts, size_t n, float *out,
    float *amax)
{
    struct scratch *s;
    size_t first = 0, ntexts = 0, total = 0;
    int rv = -ENOMEM;

    if (n == 0)
        return 0;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return -ENOMEM;
    if ((s->scores = malloc(MAX_TOKENS * MAX_TOKENS * sizeof(float))) == NULL)
        goto out;
    /*
     * Texts go through in groups of up to GROUP_TOKENS tokens: big enough
     * for OpenBLAS to run near its peak, small enough to bound the scratch
     * (15 KiB a token, 19 MiB at most) whatever n is.
     */
    for (size_t i = 0; i < n; i++) {
        size_t len = wordpiece_encode(
            e->wp, texts[i] ? texts[i] : "", s->ids + total, MAX_TOKENS);
        if (ntexts > 0 && total + len > GROUP_TOKENS) {
            if (reserve(s, total) != 0)
                goto out;
            forward(e, s, ntexts, out + first * ENCODER_DIM, amax);
            memmove(s->ids, s->ids + total, len * sizeof(int32_t));
            first = i;
            ntexts = total = 0;
        }
        s->lens[ntexts++] = len;
        total += len;
    }
    if (reserve(s, total) != 0)
        goto out;
    forward(e, s, ntexts, out + first * ENCODER_DIM, amax);
    rv = 0;
out:
    free(s->x);
    free(s->qkv);
    free(s->ctx);
    free(s->tmp);
    free(s->inter);
    free(s->scores);
    free(s);
    return rv;
}
