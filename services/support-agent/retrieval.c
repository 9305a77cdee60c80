#include "retrieval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BM25_K1 1.2f
#define BM25_B 0.75f
#define MAX_TERMS 1024 /* distinct terms kept per text */
#define QUERY_MAX 4096 /* bytes of a query looked at */

const struct retrieval_weights retrieval_default_weights = {
    .bm25 = 0.35f,
    .bm25_k = 4.0f,
    .cosine = 1.0f,
    .intent = 0.05f,
    .curated = 0.08f,
};

struct term {
    uint64_t hash;
    float tf;
};

struct doc {
    struct term *terms; /* sorted by hash */
    int nterms;
    float len;
    float *vecs; /* nvecs * ENCODER_DIM: title and questions */
    int nvecs;
};

struct df {
    uint64_t hash;
    int df;
};

struct retrieval {
    struct kb kb;
    struct doc *docs;
    struct df *dfs; /* sorted by hash */
    size_t ndfs;
    float avg_len;
};

static const char *const stop_words[] = {
    "a",
    "an",
    "the",
    "i",
    "me",
    "my",
    "we",
    "our",
    "you",
    "your",
    "it",
    "its",
    "is",
    "am",
    "are",
    "was",
    "were",
    "be",
    "been",
    "do",
    "does",
    "did",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "with",
    "and",
    "or",
    "but",
    "so",
    "this",
    "that",
    "can",
    "could",
    "would",
    "should",
    "will",
    "have",
    "has",
    "had",
    "please",
    "hi",
    "hey",
    "there",
    "what",
    "how",
    "when",
    "why",
    "who",
    "which",
    "from",
    "by",
    "as",
    "if",
    "just",
    "about",
    "get",
    "im",
    "ive",
    "id",
    "us",
    "they",
    "them",
    "he",
    "she",
    "him",
    "her",
    "any",
    "some",
    "want",
    "need",
    "like",
    "know",
    "help",
    "thanks",
    "thank",
    NULL,
};

static bool
is_stop(const char *w)
{
    for (int i = 0; stop_words[i] != NULL; i++)
        if (strcmp(w, stop_words[i]) == 0)
            return true;
    return false;
}

/* Light stemming: plural and verb endings, then a final e. */
static void
stem(char *w)
{
    size_t n = strlen(w);

    if (n > 4 && strcmp(w + n - 3, "ies") == 0) {
        w[n - 3] = 'y';
        w[n - 2] = '\0';
        n -= 2;
    } else if (n > 5 && strcmp(w + n - 3, "ing") == 0) {
        w[n -= 3] = '\0';
    } else if (n > 4 && strcmp(w + n - 2, "ed") == 0) {
        w[n -= 2] = '\0';
    } else if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's') {
        w[--n] = '\0';
    }
    if (n > 3 && w[n - 1] == 'e')
        w[--n] = '\0';
}

static uint64_t
hash_word(const char *w)
{
    uint64_t h = 1469598103934665603ull;
    for (; *w; w++)
        h = (h ^ (unsigned char)*w) * 1099511628211ull;
    return h;
}

static int
cmp_term(const void *a, const void *b)
{
    uint64_t x = ((const struct term *)a)->hash;
    uint64_t y = ((const struct term *)b)->hash;
    return x < y ? -1 : x > y;
}

/*
 * Add the words of text, each counted weight times, to terms (n in use, at
 * most MAX_TERMS distinct). Returns the number of words added.
 */
static float
add_words(const char *text, float weight, struct term *terms, int *n)
{
    char w[48];
    size_t k = 0;
    float words = 0;

    for (const char *p = text;; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) && k < sizeof(w) - 1) {
            w[k++] = (char)tolower(c);
            continue;
        }
        if (isalnum(c))
            continue; /* over-long word: the rest of it is ignored */
        if (k > 0) {
            w[k] = '\0';
            k = 0;
            if (!is_stop(w)) {
                stem(w);
                uint64_t h = hash_word(w);
                int i;
                for (i = 0; i < *n && terms[i].hash != h; i++)
                    ;
                if (i == *n && *n < MAX_TERMS)
                    terms[(*n)++] = (struct term) {h, 0};
                if (i < *n)
                    terms[i].tf += weight;
                words += weight;
            }
        }
        if (c == '\0')
            break;
    }
    return words;
}

static int
cmp_df(const void *a, const void *b)
{
    uint64_t x = ((const struct df *)a)->hash;
    uint64_t y = ((const struct df *)b)->hash;
    return x < y ? -1 : x > y;
}

static int
index_doc(const struct kb_entry *e, struct doc *d, struct term *scratch)
{
    int n = 0;

    /* Title and questions say what the entry answers: they count double. */
    d->len = add_words(e->title, 2, scratch, &n);
    for (int i = 0; i < e->nquestions; i++)
        d->len += add_words(e->questions[i], 2, scratch, &n);
    for (int i = 0; i < e->ntags; i++)
        d->len += add_words(e->tags[i], 2, scratch, &n);
    d->len += add_words(e->answer, 1, scratch, &n);
    qsort(scratch, (size_t)n, sizeof(*scratch), cmp_term);
    if ((d->terms = malloc(((size_t)n + 1) * sizeof(*d->terms))) == NULL)
        return -ENOMEM;
    memcpy(d->terms, scratch, (size_t)n * sizeof(*d->terms));
    d->nterms = n;
    return 0;
}

static int
embed_doc(const struct kb_entry *e, struct doc *d, const struct encoder *enc)
{
    const char *texts[1 + KB_MAX_LIST];
    int n = 0;

    texts[n++] = e->title;
    for (int i = 0; i < e->nquestions; i++)
        texts[n++] = e->questions[i];
    if ((d->vecs = malloc((size_t)n * ENCODER_DIM * sizeof(float))) == NULL)
        return -ENOMEM;
    d->nvecs = n;
    return encoder_embed(enc, texts, (size_t)n, d->vecs);
}

int
retrieval_build(struct retrieval **rp, struct kb *kb, const struct encoder *enc)
{
    struct retrieval *r = calloc(1, sizeof(*r));
    struct term *scratch = malloc(MAX_TERMS * sizeof(*scratch));
    int rv = -ENOMEM;

    if (r == NULL || scratch == NULL)
        goto fail;
    r->kb = *kb;
    memset(kb, 0, sizeof(*kb));
    if ((r->docs = calloc(r->kb.n + 1, sizeof(*r->docs))) == NULL)
        goto fail;
    size_t total = 0;
    float len = 0;
    for (size_t i = 0; i < r->kb.n; i++) {
        if ((rv = index_doc(&r->kb.entries[i], &r->docs[i], scratch)) != 0)
            goto fail;
        if (enc != NULL
            && (rv = embed_doc(&r->kb.entries[i], &r->docs[i], enc)) != 0)
            goto fail;
        total += (size_t)r->docs[i].nterms;
        len += r->docs[i].len;
    }
    r->avg_len = r->kb.n ? len / (float)r->kb.n : 1;
    /* Document frequencies: every (doc, term) pair, sorted, counted. */
    rv = -ENOMEM;
    if ((r->dfs = malloc((total + 1) * sizeof(*r->dfs))) == NULL)
        goto fail;
    size_t k = 0;
    for (size_t i = 0; i < r->kb.n; i++)
        for (int j = 0; j < r->docs[i].nterms; j++)
            r->dfs[k++] = (struct df) {r->docs[i].terms[j].hash, 1};
    qsort(r->dfs, k, sizeof(*r->dfs), cmp_df);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m > 0 && r->dfs[m - 1].hash == r->dfs[i].hash)
            r->dfs[m - 1].df++;
        else
            r->dfs[m++] = r->dfs[i];
    }
    r->ndfs = m;
    free(scratch);
    *rp = r;
    return 0;
fail:
    free(scratch);
    retrieval_free(r);
    return rv;
}

void
retrieval_free(struct retrieval *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; r->docs && i < r->kb.n; i++) {
        free(r->docs[i].terms);
        free(r->docs[i].vecs);
    }
    free(r->docs);
    free(r->dfs);
    kb_release(&r->kb);
    free(r);
}

size_t
retrieval_size(const struct retrieval *r)
{
    return r->kb.n;
}

static int
df_of(const struct retrieval *r, uint64_t h)
{
    struct df key = {h, 0};
    const struct df *d
        = bsearch(&key, r->dfs, r->ndfs, sizeof(*r->dfs), cmp_df);
    return d ? d->df : 0;
}

static float
tf_of(const struct doc *d, uint64_t h)
{
    struct term key = {h, 0};
    const struct term *t = bsearch(
        &key, d->terms, (size_t)d->nterms, sizeof(*d->terms), cmp_term);
    return t ? t->tf : 0;
}

static float
best_cosine(const struct doc *d, const float *q)
{
    float best = 0;
    for (int i = 0; i < d->nvecs; i++) {
        const float *v = d->vecs + (size_t)i * ENCODER_DIM;
        float dot = 0;
        for (int j = 0; j < ENCODER_DIM; j++)
            dot += v[j] * q[j];
        if (dot > best)
            best = dot;
    }
    return best;
}

int
retrieval_search(const struct retrieval *r, const char *text,
    const float *embedding, int intent, const struct retrieval_weights *w,
    struct hit *out, int k)
{
    struct term *q = malloc(MAX_TERMS * sizeof(*q));
    char buf[QUERY_MAX + 1];
    int nq = 0, nout = 0;

    if (q == NULL || k <= 0)
        goto out;
    if (w == NULL)
        w = &retrieval_default_weights;
    snprintf(buf, sizeof(buf), "%s", text);
    add_words(buf, 1, q, &nq);
    float n = (float)r->kb.n;
    for (size_t i = 0; i < r->kb.n; i++) {
        const struct doc *d = &r->docs[i];
        const struct kb_entry *e = &r->kb.entries[i];
        float bm25 = 0;
        for (int j = 0; j < nq; j++) {
            float tf = tf_of(d, q[j].hash);
            if (tf == 0)
                continue;
            float df = (float)df_of(r, q[j].hash);
            float idf = logf(1 + (n - df + 0.5f) / (df + 0.5f));
            bm25 += idf * tf * (BM25_K1 + 1)
                / (tf + BM25_K1 * (1 - BM25_B + BM25_B * d->len / r->avg_len));
        }
        float cos = embedding && d->nvecs ? best_cosine(d, embedding) : 0;
        float score = w->bm25 * bm25 / (bm25 + w->bm25_k) + w->cosine * cos;
        if (score <= 0)
            continue;
        if (intent >= 0 && (e->intents & (1u << intent)))
            score += w->intent;
        if (e->curated)
            score += w->curated;
        /* Insert into the sorted top k. */
        int pos = nout < k ? nout : k;
        while (pos > 0 && out[pos - 1].score < score) {
            if (pos < k)
                out[pos] = out[pos - 1];
            pos--;
        }
        if (pos < k) {
            out[pos] = (struct hit) {e, score, bm25, cos};
            if (nout < k)
                nout++;
        }
    }
out:
    free(q);
    return nout;
}
