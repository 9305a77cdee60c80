#include "retrieval.h"

#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define BM25_K1 1.2f
#define BM25_B 0.75f
#define MAX_TERMS 1024 /* distinct terms kept per text */
#define WORD_MAX 48    /* bytes of a word kept; the rest is ignored */
#define EMBED_BATCH 64 /* texts per encoder call at build time */

const struct retrieval_weights retrieval_default_weights = {
    .bm25 = 0.55f,
    .bm25_k = 8.0f,
    .cosine = 1.0f,
    .intent = 0.05f,
    .curated = 0.08f,
};

struct term {
    uint64_t hash;
    float tf;
};

/* One indexed word: the entries holding it are postings[off .. off+n). */
struct termrec {
    uint64_t hash;
    uint32_t off, n;
};

struct posting {
    uint32_t doc;
    float tf;
};

struct doc {
    float len;      /* weighted words */
    size_t vec_off; /* first row in vecs */
    int nvecs;      /* title and questions; 0 without an encoder */
};

struct retrieval {
    atomic_int refs;
    struct kb kb;
    struct doc *docs;
    struct termrec *terms; /* sorted by hash */
    size_t nterms;
    struct posting *postings;
    float avg_len;
    float *vecs; /* nvecs rows of ENCODER_DIM: each entry's texts in turn */
    size_t nvecs;
    size_t embedded; /* entries with vectors */
    size_t encoded;  /* of those, encoded by this build */
};

/*
 * Words too common to tell entries apart. Greeting words ("hi",
 * "thanks") are kept: they are what a greeting entry is found by when
 * there is no embedding.
 */
static const char *const stop_words[] = {
    "a",
    "about",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "for",
    "from",
    "get",
    "had",
    "has",
    "have",
    "he",
    "help",
    "her",
    "him",
    "how",
    "i",
    "id",
    "if",
    "im",
    "in",
    "is",
    "it",
    "its",
    "ive",
    "just",
    "know",
    "like",
    "me",
    "my",
    "need",
    "of",
    "on",
    "or",
    "our",
    "please",
    "she",
    "should",
    "so",
    "some",
    "that",
    "the",
    "them",
    "there",
    "they",
    "this",
    "to",
    "us",
    "want",
    "was",
    "we",
    "were",
    "what",
    "when",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
};

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
is_stop(const char *w)
{
    return bsearch(&w, stop_words, sizeof(stop_words) / sizeof(stop_words[0]),
               sizeof(stop_words[0]), cmp_str)
        != NULL;
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

/* Letters, digits and any byte of a multi-byte UTF-8 character. */
static bool
is_word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

/*
 * Add the words of text (at most max bytes of it), each counted weight
 * times, to terms (n in use, at most MAX_TERMS distinct). Returns the
 * weighted number of words.
 */
static float
add_words(
    const char *text, size_t max, float weight, struct term *terms, int *n)
{
    char w[WORD_MAX];
    size_t k = 0;
    float words = 0;

    for (size_t i = 0;; i++) {
        unsigned char c = i < max ? (unsigned char)text[i] : '\0';
        if (is_word_byte(c)) {
            if (k < sizeof(w) - 1)
                w[k++] = (char)tolower(c);
            continue; /* an over-long word's tail is ignored */
        }
        if (k > 0) {
            w[k] = '\0';
            k = 0;
            if (!is_stop(w)) {
                stem(w);
                uint64_t h = hash_fnv64(w, strlen(w));
                int j;
                for (j = 0; j < *n && terms[j].hash != h; j++)
                    ;
                if (j == *n && *n < MAX_TERMS)
                    terms[(*n)++] = (struct term) {h, 0};
                if (j < *n)
                    terms[j].tf += weight;
                words += weight;
            }
        }
        if (c == '\0')
            break;
    }
    return words;
}

/* An indexed word of one entry, while the index is built. */
struct triple {
    uint64_t hash;
    uint32_t doc;
    float tf;
};

static int
cmp_triple(const void *a, const void *b)
{
    const struct triple *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int
cmp_termrec(const void *a, const void *b)
{
    uint64_t x = ((const struct termrec *)a)->hash;
    uint64_t y = ((const struct termrec *)b)->hash;
    return x < y ? -1 : x > y;
}

/* The words of one entry: title, questions and tags count double. */
static int
entry_words(const struct kb_entry *e, struct term *scratch, float *len)
{
    int n = 0;

    *len = add_words(e->title, KB_MAX_TEXT, 2, scratch, &n);
    for (int i = 0; i < e->nquestions; i++)
        *len += add_words(e->questions[i], KB_MAX_TEXT, 2, scratch, &n);
    for (int i = 0; i < e->ntags; i++)
        *len += add_words(e->tags[i], KB_MAX_TEXT, 2, scratch, &n);
    *len += add_words(e->answer, KB_MAX_TEXT, 1, scratch, &n);
    return n;
}

/* The inverted index: for each word, the entries holding it. */
static int
index_words(struct retrieval *r)
{
    struct term *scratch = malloc(MAX_TERMS * sizeof(*scratch));
    struct triple *all = NULL;
    size_t n = 0, cap = 0;
    float len = 0;
    int rv = -ENOMEM;

    if (scratch == NULL)
        return -ENOMEM;
    for (size_t d = 0; d < r->kb.n; d++) {
        int nt = entry_words(&r->kb.entries[d], scratch, &r->docs[d].len);
        len += r->docs[d].len;
        if (n + (size_t)nt > cap) {
            size_t ncap = 2 * cap + (size_t)nt + 256;
            struct triple *m = realloc(all, ncap * sizeof(*all));
            if (m == NULL)
                goto out;
            all = m;
            cap = ncap;
        }
        for (int i = 0; i < nt; i++)
            all[n++]
                = (struct triple) {scratch[i].hash, (uint32_t)d, scratch[i].tf};
    }
    r->avg_len = r->kb.n && len > 0 ? len / (float)r->kb.n : 1;
    if (n > 0)
        qsort(all, n, sizeof(*all), cmp_triple);
    r->postings = malloc((n + 1) * sizeof(*r->postings));
    r->terms = malloc((n + 1) * sizeof(*r->terms));
    if (r->postings == NULL || r->terms == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (r->nterms == 0 || r->terms[r->nterms - 1].hash != all[i].hash)
            r->terms[r->nterms++]
                = (struct termrec) {all[i].hash, (uint32_t)i, 0};
        r->terms[r->nterms - 1].n++;
        r->postings[i] = (struct posting) {all[i].doc, all[i].tf};
    }
    rv = 0;
out:
    free(all);
    free(scratch);
    return rv;
}

static int
cmp_entry_id(const void *a, const void *b)
{
    const struct kb_entry *x = *(const struct kb_entry *const *)a;
    const struct kb_entry *y = *(const struct kb_entry *const *)b;
    return strcmp(x->id, y->id);
}

/* Same id, title and questions: the same texts to embed. */
static bool
same_texts(const struct kb_entry *a, const struct kb_entry *b)
{
    if (strcmp(a->title, b->title) != 0 || a->nquestions != b->nquestions)
        return false;
    for (int i = 0; i < a->nquestions; i++)
        if (strcmp(a->questions[i], b->questions[i]) != 0)
            return false;
    return true;
}

/* prev's rows for entry e, or NULL when it has none for the same texts. */
static const float *
reusable(const struct retrieval *prev, const struct kb_entry **by_id,
    const struct kb_entry *e)
{
    if (prev == NULL || by_id == NULL)
        return NULL;
    const struct kb_entry **f
        = bsearch(&e, by_id, prev->kb.n, sizeof(*by_id), cmp_entry_id);
    if (f == NULL || !same_texts(*f, e))
        return NULL;
    const struct doc *d = &prev->docs[*f - prev->kb.entries];
    return d->nvecs > 0 ? prev->vecs + d->vec_off * ENCODER_DIM : NULL;
}

/* Embed the queued texts and copy each one's row into place. */
static int
flush_batch(struct retrieval *r, const struct encoder *enc, const char **texts,
    const size_t *dst, size_t ntexts, float *tmp)
{
    int rv = ntexts > 0 ? encoder_embed(enc, texts, ntexts, tmp) : 0;

    for (size_t j = 0; rv == 0 && j < ntexts; j++)
        memcpy(r->vecs + dst[j] * ENCODER_DIM, tmp + j * ENCODER_DIM,
            ENCODER_DIM * sizeof(float));
    return rv;
}

/*
 * Every entry's title and questions as rows of r->vecs: copied from prev
 * when unchanged, else embedded (in batches of EMBED_BATCH texts).
 */
static int
embed_entries(struct retrieval *r, const struct encoder *enc,
    const struct retrieval *prev)
{
    const struct kb_entry **by_id = NULL;
    const char *texts[EMBED_BATCH];
    size_t dst[EMBED_BATCH]; /* row of each queued text */
    size_t ntexts = 0;
    float *tmp = NULL;
    int rv = -ENOMEM;

    for (size_t d = 0; d < r->kb.n; d++) {
        r->docs[d].vec_off = r->nvecs;
        r->docs[d].nvecs = 1 + r->kb.entries[d].nquestions;
        r->nvecs += (size_t)r->docs[d].nvecs;
    }
    r->vecs = malloc((r->nvecs + 1) * ENCODER_DIM * sizeof(float));
    tmp = malloc(EMBED_BATCH * ENCODER_DIM * sizeof(float));
    if (r->vecs == NULL || tmp == NULL)
        goto out;
    if (prev != NULL && prev->embedded > 0 && prev->kb.n > 0) {
        if ((by_id = malloc(prev->kb.n * sizeof(*by_id))) == NULL)
            goto out;
        for (size_t i = 0; i < prev->kb.n; i++)
            by_id[i] = &prev->kb.entries[i];
        qsort(by_id, prev->kb.n, sizeof(*by_id), cmp_entry_id);
    }
    for (size_t d = 0; d < r->kb.n; d++) {
        const struct kb_entry *e = &r->kb.entries[d];
        struct doc *doc = &r->docs[d];
        const float *old = reusable(prev, by_id, e);
        if (old != NULL) {
            memcpy(r->vecs + doc->vec_off * ENCODER_DIM, old,
                (size_t)doc->nvecs * ENCODER_DIM * sizeof(float));
            continue;
        }
        r->encoded++;
        for (int i = 0; i < doc->nvecs; i++) {
            if (ntexts == EMBED_BATCH) {
                if ((rv = flush_batch(r, enc, texts, dst, ntexts, tmp)) != 0)
                    goto out;
                ntexts = 0;
            }
            texts[ntexts] = i == 0 ? e->title : e->questions[i - 1];
            dst[ntexts++] = doc->vec_off + (size_t)i;
        }
    }
    if ((rv = flush_batch(r, enc, texts, dst, ntexts, tmp)) != 0)
        goto out;
    r->embedded = r->kb.n;
    rv = 0;
out:
    free(by_id);
    free(tmp);
    return rv;
}

int
retrieval_rebuild(struct retrieval **rp, struct kb *kb,
    const struct encoder *enc, const struct retrieval *prev)
{
    struct retrieval *r = calloc(1, sizeof(*r));
    int rv = -ENOMEM;

    if (r == NULL) {
        kb_release(kb);
        return -ENOMEM;
    }
    atomic_init(&r->refs, 1);
    r->kb = *kb;
    memset(kb, 0, sizeof(*kb));
    if (r->kb.n > UINT32_MAX / 2)
        goto fail;
    if ((r->docs = calloc(r->kb.n + 1, sizeof(*r->docs))) == NULL)
        goto fail;
    if ((rv = index_words(r)) != 0)
        goto fail;
    if (enc != NULL && (rv = embed_entries(r, enc, prev)) != 0)
        goto fail;
    *rp = r;
    return 0;
fail:
    retrieval_free(r);
    return rv < 0 ? rv : -ENOMEM;
}

int
retrieval_build(struct retrieval **rp, struct kb *kb, const struct encoder *enc)
{
    return retrieval_rebuild(rp, kb, enc, NULL);
}

struct retrieval *
retrieval_ref(struct retrieval *r)
{
    if (r != NULL)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void
retrieval_free(struct retrieval *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    free(r->docs);
    free(r->terms);
    free(r->postings);
    free(r->vecs);
    kb_release(&r->kb);
    free(r);
}

size_t
retrieval_size(const struct retrieval *r)
{
    return r->kb.n;
}

size_t
retrieval_embedded(const struct retrieval *r)
{
    return r->embedded;
}

size_t
retrieval_encoded(const struct retrieval *r)
{
    return r->encoded;
}

const struct kb_entry *
retrieval_entry(const struct retrieval *r, size_t i)
{
    return i < r->kb.n ? &r->kb.entries[i] : NULL;
}

static const struct termrec *
find_term(const struct retrieval *r, uint64_t h)
{
    struct termrec key = {h, 0, 0};
    return bsearch(&key, r->terms, r->nterms, sizeof(*r->terms), cmp_termrec);
}

/* BM25 of every entry for the words of text, into bm25[0 .. n). */
static int
score_bm25(const struct retrieval *r, const char *text, float *bm25)
{
    struct term *q = malloc(MAX_TERMS * sizeof(*q));
    int nq = 0;
    float n = (float)r->kb.n;

    if (q == NULL)
        return -ENOMEM;
    add_words(text, RETRIEVAL_QUERY_MAX, 1, q, &nq);
    for (int j = 0; j < nq; j++) {
        const struct termrec *t = find_term(r, q[j].hash);
        if (t == NULL)
            continue;
        float df = (float)t->n;
        float idf = logf(1 + (n - df + 0.5f) / (df + 0.5f));
        for (uint32_t p = t->off; p < t->off + t->n; p++) {
            const struct posting *ps = &r->postings[p];
            float dl = r->docs[ps->doc].len;
            bm25[ps->doc] += idf * ps->tf * (BM25_K1 + 1)
                / (ps->tf + BM25_K1 * (1 - BM25_B + BM25_B * dl / r->avg_len));
        }
    }
    free(q);
    return 0;
}

/* The best cosine of each entry's rows with q, into cos[0 .. n). */
static int
score_cosine(const struct retrieval *r, const float *q, float *cos)
{
    float *dots = malloc((r->nvecs + 1) * sizeof(float));

    if (dots == NULL)
        return -ENOMEM;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)r->nvecs, ENCODER_DIM, 1.0f,
        r->vecs, ENCODER_DIM, q, 1, 0.0f, dots, 1);
    for (size_t d = 0; d < r->kb.n; d++) {
        const struct doc *doc = &r->docs[d];
        float best = 0;
        for (int i = 0; i < doc->nvecs; i++)
            if (dots[doc->vec_off + (size_t)i] > best)
                best = dots[doc->vec_off + (size_t)i];
        cos[d] = best;
    }
    free(dots);
    return 0;
}

/* Ranked before b: a matching curated entry first, then by score. */
static bool
ahead(bool tier_a, float score_a, bool tier_b, float score_b)
{
    if (tier_a != tier_b)
        return tier_a;
    return score_a > score_b;
}

int
retrieval_search(const struct retrieval *r, const char *text,
    const float *embedding, int intent, const struct retrieval_weights *w,
    struct hit *out, int k)
{
    bool tier[RETRIEVAL_MAX_K];
    float *bm25, *cos;
    int nout = 0, rv;

    if (k <= 0 || r == NULL || r->kb.n == 0)
        return 0;
    if (k > RETRIEVAL_MAX_K)
        k = RETRIEVAL_MAX_K;
    if (w == NULL)
        w = &retrieval_default_weights;
    if (text == NULL)
        text = "";
    bool use_emb = embedding != NULL && r->embedded > 0;
    if ((bm25 = calloc(2 * r->kb.n, sizeof(float))) == NULL)
        return -ENOMEM;
    cos = bm25 + r->kb.n;
    if ((rv = score_bm25(r, text, bm25)) != 0
        || (use_emb && (rv = score_cosine(r, embedding, cos)) != 0)) {
        free(bm25);
        return rv;
    }
    for (size_t i = 0; i < r->kb.n; i++) {
        const struct kb_entry *e = &r->kb.entries[i];
        float score
            = w->bm25 * bm25[i] / (bm25[i] + w->bm25_k) + w->cosine * cos[i];
        if (bm25[i] <= 0 && cos[i] <= 0)
            continue;
        if (intent >= 0 && intent < 32 && (e->intents & (1u << intent)))
            score += w->intent;
        bool top = false;
        if (e->curated) {
            score += w->curated;
            top = use_emb ? cos[i] >= RETRIEVAL_CURATED_COSINE
                          : bm25[i] >= RETRIEVAL_CURATED_BM25;
        }
        /* Insert into the ranked top k. */
        int pos = nout;
        while (pos > 0 && ahead(top, score, tier[pos - 1], out[pos - 1].score))
            pos--;
        if (pos >= k)
            continue;
        int last = nout < k ? nout : k - 1;
        for (int j = last; j > pos; j--) {
            out[j] = out[j - 1];
            tier[j] = tier[j - 1];
        }
        out[pos] = (struct hit) {
            e, score, bm25[i], use_emb ? cos[i] : RETRIEVAL_NO_COSINE};
        tier[pos] = top;
        if (nout < k)
            nout++;
    }
    free(bm25);
    return nout;
}

void
retrieval_slot_init(struct retrieval_slot *s)
{
    pthread_mutex_init(&s->mu, NULL);
    s->cur = NULL;
}

void
retrieval_slot_destroy(struct retrieval_slot *s)
{
    retrieval_free(s->cur);
    s->cur = NULL;
    pthread_mutex_destroy(&s->mu);
}

void
retrieval_slot_set(struct retrieval_slot *s, struct retrieval *r)
{
    pthread_mutex_lock(&s->mu);
    struct retrieval *old = s->cur;
    s->cur = r;
    pthread_mutex_unlock(&s->mu);
    retrieval_free(old); /* freed now, or by its last reader */
}

struct retrieval *
retrieval_slot_get(struct retrieval_slot *s)
{
    pthread_mutex_lock(&s->mu);
    struct retrieval *r = retrieval_ref(s->cur);
    pthread_mutex_unlock(&s->mu);
    return r;
}
