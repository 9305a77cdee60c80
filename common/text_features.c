#include "text_features.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { GROUP_WORD = 0, GROUP_CHAR = 1 };
enum { KIND_UNIGRAM = 1, KIND_BIGRAM = 2, KIND_CHAR = 3 };

/* Normalised text can be up to twice as long as the input ("a?b" → "a ? b"). */
#define NORM_CAP (2 * FEATURES_MAX_TEXT + 2)

void
features_default_params(struct feature_params *p)
{
    p->hash_bits = 18;
    p->hash_seed = 0x1e7e47u;
    p->word_max = 2;
    p->char_min = 3;
    p->char_max = 5;
    p->word_weight = 1.0f;
    p->char_weight = 1.0f;
}

int
features_check_params(const struct feature_params *p)
{
    if (p == NULL)
        return -EINVAL;
    if (p->hash_bits < FEATURES_MIN_BITS || p->hash_bits > FEATURES_MAX_BITS)
        return -EINVAL;
    if (p->word_max < 1 || p->word_max > 2)
        return -EINVAL;
    if (p->char_min != 0
        && (p->char_min < 1 || p->char_max < p->char_min || p->char_max > 8))
        return -EINVAL;
    if (!isfinite(p->word_weight) || !isfinite(p->char_weight)
        || p->word_weight < 0 || p->char_weight < 0 || p->word_weight > 1e6f
        || p->char_weight > 1e6f)
        return -EINVAL;
    return 0;
}

/* ---- normalisation --------------------------------------------------------
 */

struct norm {
    char *out;
    size_t cap; /* usable bytes, excluding the NUL */
    size_t n;
    int in_word;   /* last byte written belongs to a word */
    int in_digits; /* ...and was a folded digit run */
};

static void
put(struct norm *s, char c)
{
    if (s->n < s->cap)
        s->out[s->n++] = c;
}

static void
separate(struct norm *s)
{
    s->in_word = 0;
    s->in_digits = 0;
}

static void
word_byte(struct norm *s, char c)
{
    if (!s->in_word && s->n > 0)
        put(s, ' ');
    put(s, c);
    s->in_word = 1;
    s->in_digits = 0;
}

static void
word_digit(struct norm *s)
{
    if (s->in_digits)
        return;
    word_byte(s, '0');
    s->in_digits = 1;
}

static void
mark(struct norm *s, char c)
{
    /* '?' and '!' are words of their own; runs of one collapse. */
    if (s->n > 0 && s->out[s->n - 1] == c && !s->in_word)
        return;
    if (s->n > 0)
        put(s, ' ');
    put(s, c);
    separate(s);
}

size_t
features_normalise(const char *text, char *out, size_t cap)
{
    struct norm s = {out, cap > 0 ? cap - 1 : 0, 0, 0, 0};
    const unsigned char *t = (const unsigned char *)text;
    size_t len = text != NULL ? strnlen(text, FEATURES_MAX_TEXT) : 0;

    if (cap == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = t[i];
        if (c >= 'A' && c <= 'Z') {
            word_byte(&s, (char)(c + 32));
        } else if ((c >= 'a' && c <= 'z')) {
            word_byte(&s, (char)c);
        } else if (c >= '0' && c <= '9') {
            word_digit(&s);
        } else if (c == '\'' || c == '`') {
            /* dropped: "don't" and "dont" are the same word */
        } else if (c == '?' || c == '!') {
            mark(&s, (char)c);
        } else if (c < 0x80) {
            separate(&s);
        } else if (c == 0xe2 && i + 2 < len && t[i + 1] == 0x80) {
            /* U+2000..U+203F: curly single quotes dropped, rest separate */
            if (t[i + 2] != 0x98 && t[i + 2] != 0x99)
                separate(&s);
            i += 2;
        } else if (c == 0xc2 && i + 1 < len && t[i + 1] <= 0xbf) {
            /* U+0080..U+00BF: no-break space, inverted marks, symbols */
            separate(&s);
            i += 1;
        } else if (c == 0xc3 && i + 1 < len && t[i + 1] >= 0x80
            && t[i + 1] <= 0x9e && t[i + 1] != 0x97) {
            /* Latin-1 capitals À..Þ (not ×) to lower case */
            word_byte(&s, (char)c);
            word_byte(&s, (char)(t[i + 1] + 0x20));
            i += 1;
        } else {
            word_byte(&s, (char)c);
        }
    }
    out[s.n] = '\0';
    return s.n;
}

/* ---- hashing --------------------------------------------------------------
 */

static uint64_t
fnv_start(uint32_t seed, int kind)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    h ^= (uint64_t)kind;
    h *= 0x100000001b3ull;
    return h;
}

static uint64_t
fnv_add(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint32_t
bucket(const struct feature_params *p, uint64_t h)
{
    /* splitmix64 finaliser: FNV alone leaves the low bits poorly mixed */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (uint32_t)(h & ((1ull << p->hash_bits) - 1));
}

/* ---- extraction -----------------------------------------------------------
 */

struct keys {
    uint32_t *k;
    size_t n, cap;
};

static int
push(struct keys *ks, uint32_t b, int group)
{
    if (ks->n == ks->cap) {
        size_t ncap = ks->cap ? 2 * ks->cap : 256;
        uint32_t *nk = realloc(ks->k, ncap * sizeof *nk);
        if (nk == NULL)
            return -ENOMEM;
        ks->k = nk;
        ks->cap = ncap;
    }
    ks->k[ks->n++] = (b << 1) | (uint32_t)group;
    return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int
ensure(struct feature_vec *v, size_t n)
{
    if (n <= v->cap)
        return 0;
    uint32_t *ni = realloc(v->idx, n * sizeof *ni);
    if (ni == NULL)
        return -ENOMEM;
    v->idx = ni;
    float *nv = realloc(v->val, n * sizeof *nv);
    if (nv == NULL)
        return -ENOMEM;
    v->val = nv;
    v->cap = n;
    return 0;
}

static int
char_grams(
    const struct feature_params *p, const char *w, size_t len, struct keys *ks)
{
    char pad[FEATURES_MAX_WORD + 2];
    size_t plen;

    if (len > FEATURES_MAX_WORD)
        len = FEATURES_MAX_WORD;
    pad[0] = '<';
    memcpy(pad + 1, w, len);
    pad[len + 1] = '>';
    plen = len + 2;
    for (size_t n = p->char_min; n <= p->char_max; n++) {
        for (size_t i = 0; i + n <= plen; i++) {
            uint64_t h
                = fnv_add(fnv_start(p->hash_seed, KIND_CHAR), pad + i, n);
            if (push(ks, bucket(p, h), GROUP_CHAR) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

static int
collect(const struct feature_params *p, const char *norm, size_t nlen,
    struct keys *ks)
{
    static const char bos[] = "<s>", eos[] = "</s>";
    const char *prev = bos;
    size_t prev_len = sizeof bos - 1;
    size_t i = 0;

    while (i < nlen) {
        size_t j = i;
        while (j < nlen && norm[j] != ' ')
            j++;
        const char *w = norm + i;
        size_t len = j - i;
        uint64_t h = fnv_add(fnv_start(p->hash_seed, KIND_UNIGRAM), w, len);
        if (push(ks, bucket(p, h), GROUP_WORD) < 0)
            return -ENOMEM;
        if (p->word_max >= 2) {
            h = fnv_start(p->hash_seed, KIND_BIGRAM);
            h = fnv_add(fnv_add(fnv_add(h, prev, prev_len), " ", 1), w, len);
            if (push(ks, bucket(p, h), GROUP_WORD) < 0)
                return -ENOMEM;
        }
        if (p->char_min > 0 && char_grams(p, w, len, ks) < 0)
            return -ENOMEM;
        prev = w;
        prev_len = len;
        i = j + 1;
    }
    if (p->word_max >= 2 && nlen > 0) {
        uint64_t h = fnv_start(p->hash_seed, KIND_BIGRAM);
        h = fnv_add(
            fnv_add(fnv_add(h, prev, prev_len), " ", 1), eos, sizeof eos - 1);
        if (push(ks, bucket(p, h), GROUP_WORD) < 0)
            return -ENOMEM;
    }
    return 0;
}

int
features_extract(
    const struct feature_params *p, const char *text, struct feature_vec *v)
{
    char *norm;
    struct keys ks = {NULL, 0, 0};
    int rc;

    if (v == NULL || text == NULL || features_check_params(p) < 0)
        return -EINVAL;
    v->n = 0;
    norm = malloc(NORM_CAP);
    if (norm == NULL)
        return -ENOMEM;
    size_t nlen = features_normalise(text, norm, NORM_CAP);
    rc = collect(p, norm, nlen, &ks);
    free(norm);
    if (rc < 0)
        goto out;
    if (ks.n == 0)
        goto out;
    qsort(ks.k, ks.n, sizeof *ks.k, cmp_u32);
    rc = ensure(v, ks.n);
    if (rc < 0)
        goto out;

    /* one entry per (bucket, group): weight * (1 + ln tf); merge groups */
    double norm2 = 0;
    for (size_t i = 0; i < ks.n;) {
        size_t j = i;
        while (j < ks.n && ks.k[j] == ks.k[i])
            j++;
        uint32_t b = ks.k[i] >> 1;
        float gw
            = (ks.k[i] & 1) == GROUP_CHAR ? p->char_weight : p->word_weight;
        float x = gw * (1.0f + logf((float)(j - i)));
        if (v->n > 0 && v->idx[v->n - 1] == b) {
            v->val[v->n - 1] += x;
        } else {
            v->idx[v->n] = b;
            v->val[v->n] = x;
            v->n++;
        }
        i = j;
    }
    for (size_t i = 0; i < v->n; i++)
        norm2 += (double)v->val[i] * v->val[i];
    if (norm2 > 0) {
        float inv = (float)(1.0 / sqrt(norm2));
        for (size_t i = 0; i < v->n; i++)
            v->val[i] *= inv;
    }
out:
    free(ks.k);
    return rc;
}

void
feature_vec_free(struct feature_vec *v)
{
    if (v == NULL)
        return;
    free(v->idx);
    free(v->val);
    memset(v, 0, sizeof *v);
}
