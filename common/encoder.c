#include "encoder.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gemm.h"
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
    struct layer layers[LAYERS];
};

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

static int
load_layer(struct encoder *e, int i)
{
    int (*attn_pack)(
        struct gemm_weights *, const float *const *, const int *, int, int)
        = e->precision == ENCODER_INT8 ? gemm_pack_int8 : gemm_pack;
    int (*ffn_pack)(
        struct gemm_weights *, const float *const *, const int *, int, int)
        = e->precision == ENCODER_FLOAT32 ? gemm_pack : gemm_pack_int8;
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
    if ((rv = attn_pack(&l->qkv, qkv, dims, 3, ENCODER_DIM)) != 0
        || (rv = attn_pack(&l->out, &l->wo, dims, 1, ENCODER_DIM)) != 0
        || (rv = ffn_pack(&l->inter, &l->wi, &ffn, 1, ENCODER_DIM)) != 0
        || (rv = ffn_pack(&l->out2, &l->wo2, dims, 1, FFN)) != 0)
        return rv;
    return 0;
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
    char path[4096];
    struct encoder *e;
    int rv;

    if ((size_t)precision >= ENCODER_PRECISIONS)
        return -EINVAL;
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
    for (int i = 0; i < LAYERS; i++)
        if ((rv = load_layer(e, i)) != 0)
            goto fail;
    /* The layers now read their packed copies: the file's pages can go. */
    safetensors_drop_pages(e->st);
    *ep = e;
    return 0;
fail:
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

/* Forward pass of n texts whose tokens are in s->ids; vectors into out. */
static void
forward(const struct encoder *e, struct scratch *s, size_t n, float *out)
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
        /* Q, K and V side by side in each row of qkv. */
        gemm_dense(x, m, ENCODER_DIM, &l->qkv, l->bqkv, qkv, 3 * ENCODER_DIM);
        for (size_t i = 0, off = 0; i < n; off += s->lens[i], i++)
            attend(qkv + off * 3 * ENCODER_DIM, (int)s->lens[i],
                ctx + off * ENCODER_DIM, s->scores);
        gemm_dense(ctx, m, ENCODER_DIM, &l->out, l->bo, tmp, ENCODER_DIM);
        add_norm(x, tmp, m, l->ln1_g, l->ln1_b);
        gemm_dense(x, m, ENCODER_DIM, &l->inter, l->bi, inter, FFN);
        vec_gelu(inter, total * FFN);
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

int
encoder_embed(
    const struct encoder *e, const char *const *texts, size_t n, float *out)
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
            forward(e, s, ntexts, out + first * ENCODER_DIM);
            memmove(s->ids, s->ids + total, len * sizeof(int32_t));
            first = i;
            ntexts = total = 0;
        }
        s->lens[ntexts++] = len;
        total += len;
    }
    if (reserve(s, total) != 0)
        goto out;
    forward(e, s, ntexts, out + first * ENCODER_DIM);
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
