#include "classifier.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text_features.h"

struct classifier {
    struct intent_model m;
    const struct encoder *enc; /* NULL, or used with the hybrid head */
};

int
classifier_from_model(
    struct classifier **cp, struct intent_model *m, const struct encoder *enc)
{
    struct classifier *c;

    if (cp == NULL || m == NULL || features_check_params(&m->fp) < 0)
        return -EINVAL;
    if (!m->heads[HEAD_NGRAM].present && !m->heads[HEAD_HYBRID].present)
        return -EINVAL;
    if (m->heads[HEAD_HYBRID].present && m->emb_dim != ENCODER_DIM)
        return -EINVAL;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->m = *m;
    c->enc = m->heads[HEAD_HYBRID].present ? enc : NULL;
    memset(m, 0, sizeof *m);
    *cp = c;
    return 0;
}

int
classifier_load(
    struct classifier **cp, const char *model_path, const struct encoder *enc)
{
    struct intent_model m;
    int rc;

    if (cp == NULL || model_path == NULL)
        return -EINVAL;
    rc = intent_model_read(&m, model_path);
    if (rc < 0)
        return rc;
    if (!m.heads[HEAD_NGRAM].present
        && (enc == NULL || !m.heads[HEAD_HYBRID].present)) {
        intent_model_free(&m);
        return -EINVAL;
    }
    rc = classifier_from_model(cp, &m, enc);
    if (rc < 0)
        intent_model_free(&m);
    return rc;
}

void
classifier_free(struct classifier *c)
{
    if (c == NULL)
        return;
    intent_model_free(&c->m);
    free(c);
}

int
classifier_uses_encoder(const struct classifier *c)
{
    return c != NULL && c->enc != NULL;
}

float
classifier_skip_threshold(const struct classifier *c)
{
    return c != NULL ? c->m.skip_threshold : 2.0f;
}

/* Decision values of head h for features v (and embedding e if hybrid). */
static void
decide(const struct intent_model *m, const struct head *h,
    const struct feature_vec *v, const float *e, double dec[INTENT_COUNT])
{
    for (int c = 0; c < INTENT_COUNT; c++)
        dec[c] = h->bias[c];
    for (size_t i = 0; i < v->n; i++) {
        const float *w = h->w + (size_t)v->idx[i] * INTENT_COUNT;
        for (int c = 0; c < INTENT_COUNT; c++)
            dec[c] += (double)v->val[i] * w[c];
    }
    if (e != NULL && h->we != NULL) {
        for (uint32_t d = 0; d < m->emb_dim; d++) {
            const float *w = h->we + (size_t)d * INTENT_COUNT;
            double x = (double)h->emb_scale * e[d];
            for (int c = 0; c < INTENT_COUNT; c++)
                dec[c] += x * w[c];
        }
    }
}

static void
finish(const struct head *h, const double dec[INTENT_COUNT],
    struct classify_result *r)
{
    double z[INTENT_COUNT], mx = -INFINITY, sum = 0;
    int best = 0;

    for (int c = 0; c < INTENT_COUNT; c++) {
        z[c] = dec[c] / h->temperature;
        if (z[c] > mx) {
            mx = z[c];
            best = c;
        }
    }
    for (int c = 0; c < INTENT_COUNT; c++) {
        z[c] = exp(z[c] - mx);
        sum += z[c];
    }
    for (int c = 0; c < INTENT_COUNT; c++)
        r->scores[c] = (float)(z[c] / sum);
    r->intent = best;
    r->confidence = r->scores[best];
}

static int
run_head(const struct classifier *c, int kind, const char *text, const float *e,
    struct feature_vec *v, struct classify_result *r)
{
    const struct head *h = &c->m.heads[kind];
    double dec[INTENT_COUNT];
    int rc = features_extract(&c->m.fp, text, v);

    if (rc < 0)
        return rc;
    decide(&c->m, h, v, kind == HEAD_HYBRID ? e : NULL, dec);
    finish(h, dec, r);
    r->used_hybrid = kind == HEAD_HYBRID;
    return 0;
}

int
classifier_classify(const struct classifier *c, const char *const *texts,
    size_t n, const float *embeddings, unsigned flags,
    struct classify_result *out)
{
    struct feature_vec v = {0};
    const char **todo = NULL;
    size_t *slot = NULL;
    float *emb = NULL;
    size_t ntodo = 0;
    int rc = 0;

    if (c == NULL || (n > 0 && (texts == NULL || out == NULL)))
        return -EINVAL;
    if (n > SIZE_MAX / (ENCODER_DIM * sizeof(float)))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (texts[i] == NULL)
            return -EINVAL;

    int hybrid = c->m.heads[HEAD_HYBRID].present
        && (embeddings != NULL || c->enc != NULL);
    if (!hybrid && !c->m.heads[HEAD_NGRAM].present)
        return -EINVAL;

    if (!hybrid || embeddings != NULL) {
        for (size_t i = 0; i < n && rc == 0; i++) {
            const float *e = embeddings ? embeddings + i * ENCODER_DIM : NULL;
            memset(&out[i], 0, sizeof out[i]);
            rc = run_head(
                c, hybrid ? HEAD_HYBRID : HEAD_NGRAM, texts[i], e, &v, &out[i]);
            if (e != NULL) {
                memcpy(out[i].embedding, e, ENCODER_DIM * sizeof *e);
                out[i].has_embedding = 1;
            }
        }
        goto out;
    }

    /* the encoder runs: on every text, or on those the n-gram head is not
       sure of */
    todo = malloc((n ? n : 1) * sizeof *todo);
    slot = malloc((n ? n : 1) * sizeof *slot);
    if (todo == NULL || slot == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    int skip
        = (flags & CLASSIFY_SKIP_ENCODER) && c->m.heads[HEAD_NGRAM].present;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        if (skip) {
            rc = run_head(c, HEAD_NGRAM, texts[i], NULL, &v, &out[i]);
            if (rc < 0)
                goto out;
            if (out[i].confidence >= c->m.skip_threshold)
                continue;
        }
        todo[ntodo] = texts[i];
        slot[ntodo++] = i;
    }
    if (ntodo == 0)
        goto out;
    emb = malloc(ntodo * ENCODER_DIM * sizeof *emb);
    if (emb == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = encoder_embed(c->enc, todo, ntodo, emb);
    if (rc < 0)
        goto out;
    for (size_t j = 0; j < ntodo && rc == 0; j++) {
        struct classify_result *r = &out[slot[j]];
        const float *e = emb + j * ENCODER_DIM;
        rc = run_head(c, HEAD_HYBRID, texts[slot[j]], e, &v, r);
        memcpy(r->embedding, e, ENCODER_DIM * sizeof *e);
        r->has_embedding = 1;
    }
out:
    feature_vec_free(&v);
    free(todo);
    free(slot);
    free(emb);
    return rc;
}
