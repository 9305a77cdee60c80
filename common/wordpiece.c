#include "wordpiece.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define VOCAB_MAX 200000
#define TOKEN_BYTES_MAX 200
#define WORD_CHARS_MAX 100 /* longer words become [UNK], as in BERT */

struct wordpiece {
    char **tokens; /* by id */
    int32_t ntokens;
    int32_t *slots; /* open addressing: id + 1, 0 = empty */
    size_t nslots;
    int32_t unk, cls, sep;
};

static int32_t
lookup(const struct wordpiece *w, const char *s, size_t n)
{
    size_t i = hash_fnv32(s, n) & (w->nslots - 1);

    while (w->slots[i] != 0) {
        const char *t = w->tokens[w->slots[i] - 1];
        if (strncmp(t, s, n) == 0 && t[n] == '\0')
            return w->slots[i] - 1;
        i = (i + 1) & (w->nslots - 1);
    }
    return -1;
}

int32_t
wordpiece_id(const struct wordpiece *w, const char *token)
{
    return lookup(w, token, strlen(token));
}

int
wordpiece_load(struct wordpiece **wp, const char *vocab_path)
{
    FILE *f = fopen(vocab_path, "r");
    struct wordpiece *w;
    char line[TOKEN_BYTES_MAX + 2];
    size_t cap = 32768;

    if (f == NULL)
        return -errno;
    if ((w = calloc(1, sizeof(*w))) == NULL
        || (w->tokens = malloc(cap * sizeof(char *))) == NULL) {
        free(w);
        fclose(f);
        return -ENOMEM;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strcspn(line, "\r\n");
        if (line[n] == '\0' && !feof(f))
            goto bad; /* a token longer than any BERT vocabulary has */
        line[n] = '\0';
        if (w->ntokens == VOCAB_MAX)
            goto bad;
        if ((size_t)w->ntokens == cap) {
            char **t = realloc(w->tokens, 2 * cap * sizeof(char *));
            if (t == NULL)
                goto bad;
            w->tokens = t;
            cap *= 2;
        }
        if ((w->tokens[w->ntokens] = strdup(line)) == NULL)
            goto bad;
        w->ntokens++;
    }
    fclose(f);
    f = NULL;
    for (w->nslots = 1; w->nslots < 2 * (size_t)w->ntokens;)
        w->nslots <<= 1;
    if ((w->slots = calloc(w->nslots, sizeof(int32_t))) == NULL)
        goto bad;
    for (int32_t id = 0; id < w->ntokens; id++) {
        const char *t = w->tokens[id];
        size_t i = hash_fnv32(t, strlen(t)) & (w->nslots - 1);
        while (w->slots[i] != 0)
            i = (i + 1) & (w->nslots - 1);
        w->slots[i] = id + 1;
    }
    w->unk = wordpiece_id(w, "[UNK]");
    w->cls = wordpiece_id(w, "[CLS]");
    w->sep = wordpiece_id(w, "[SEP]");
    if (w->unk < 0 || w->cls < 0 || w->sep < 0)
        goto bad;
    *wp = w;
    return 0;
bad:
    if (f != NULL)
        fclose(f);
    wordpiece_free(w);
    return -EINVAL;
}

void
wordpiece_free(struct wordpiece *w)
{
    if (w == NULL)
        return;
    for (int32_t i = 0; i < w->ntokens; i++)
        free(w->tokens[i]);
    free(w->tokens);
    free(w->slots);
    free(w);
}

/* ---- characters --------------------------------------------------------- */

/*
 * What the model's tokenizer does with a code point: drop it (control and
 * format characters, non-spacing marks), split on it (white space), or
 * make it a token of its own (CJK ideographs, punctuation). Letters and
 * everything else stay in the word.
 */
enum cp_kind { CP_LETTER, CP_DROP, CP_SPACE, CP_CJK, CP_PUNCT };

struct cp_class {
    uint32_t lo, hi;
    enum cp_kind kind;
};

/* A code point's normal form: NFD, marks dropped, lower-cased. */
struct cp_map {
    uint32_t cp;
    uint32_t to[3]; /* 0-terminated when shorter */
};

#include "wordpiece_tables.inc"

#define NCLASSES (sizeof(cp_classes) / sizeof(cp_classes[0]))
#define NMAPS (sizeof(cp_maps) / sizeof(cp_maps[0]))

static enum cp_kind
kind_of(uint32_t c)
{
    size_t lo = 0, hi = NCLASSES;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < cp_classes[mid].lo)
            hi = mid;
        else if (c > cp_classes[mid].hi)
            lo = mid + 1;
        else
            return cp_classes[mid].kind;
    }
    return CP_LETTER;
}

/* Normalise c into out (1 to 3 code points); returns how many. */
static size_t
normalize(uint32_t c, uint32_t out[3])
{
    size_t lo = 0, hi = NMAPS;

    if (c >= 0xac00 && c <= 0xd7a3) { /* Hangul syllable: NFD by formula */
        uint32_t s = c - 0xac00;
        out[0] = 0x1100 + s / 588;
        out[1] = 0x1161 + (s % 588) / 28;
        out[2] = 0x11a7 + s % 28;
        return s % 28 ? 3 : 2;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < cp_maps[mid].cp) {
            hi = mid;
        } else if (c > cp_maps[mid].cp) {
            lo = mid + 1;
        } else {
            size_t n = 0;
            while (n < 3 && cp_maps[mid].to[n] != 0) {
                out[n] = cp_maps[mid].to[n];
                n++;
            }
            return n;
        }
    }
    out[0] = c;
    return 1;
}

/*
 * Decode one code point. Anything that is not well-formed UTF-8 (bad or
 * missing continuation bytes, overlong forms, surrogates, > U+10FFFF)
 * gives U+FFFD, which is dropped, and advances one byte.
 */
static uint32_t
next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0], min;
    int k;

    *p = s + 1;
    if (c < 0x80)
        return c;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 1;
        c &= 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 2;
        c &= 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 3;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0xfffd;
    }
    for (int i = 1; i <= k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0xfffd;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0xfffd;
    *p = s + k + 1;
    return c;
}

static size_t
put_cp(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* ---- tokenizing --------------------------------------------------------- */

struct out {
    int32_t *ids;
    size_t n, max;
};

static bool
emit(struct out *o, int32_t id)
{
    if (o->n + 1 >= o->max) /* keep one slot for [SEP] */
        return false;
    o->ids[o->n++] = id;
    return true;
}

/* The normalised word being gathered; longer than the cap it is [UNK]. */
struct word {
    char buf[WORD_CHARS_MAX * 4];
    size_t len, chars;
};

static void
word_add(struct word *wd, uint32_t c)
{
    if (wd->chars < WORD_CHARS_MAX)
        wd->len += put_cp(wd->buf + wd->len, c);
    wd->chars++;
}

/*
 * WordPiece the gathered word (greedy longest match first, "##" on the
 * pieces after the first; a word with an unknown piece is one [UNK]) and
 * start a new one. False once the ids are full.
 */
static bool
word_flush(const struct wordpiece *w, struct word *wd, struct out *o)
{
    char buf[TOKEN_BYTES_MAX + 3];
    int32_t pieces[WORD_CHARS_MAX];
    size_t np = 0, start = 0, len = wd->len, chars = wd->chars;
    const char *word = wd->buf;

    wd->len = wd->chars = 0;
    if (chars == 0)
        return true;
    if (chars > WORD_CHARS_MAX)
        return emit(o, w->unk);
    while (start < len) {
        size_t end = len;
        int32_t id = -1;
        while (end > start) {
            size_t pre = start > 0 ? 2 : 0, n = end - start;
            if (pre + n <= TOKEN_BYTES_MAX) {
                memcpy(buf, "##", pre);
                memcpy(buf + pre, word + start, n);
                if ((id = lookup(w, buf, pre + n)) >= 0)
                    break;
            }
            /* Step back one code point. */
            do
                end--;
            while (end > start && ((unsigned char)word[end] & 0xc0) == 0x80);
        }
        if (id < 0)
            return emit(o, w->unk);
        pieces[np++] = id;
        start = end;
    }
    for (size_t i = 0; i < np; i++)
        if (!emit(o, pieces[i]))
            return false;
    return true;
}

size_t
wordpiece_encode(
    const struct wordpiece *w, const char *text, int32_t *ids, size_t max)
{
    struct out o = {ids, 0, max};
    const unsigned char *p = (const unsigned char *)text;
    struct word wd = {.len = 0, .chars = 0};
    bool ok = true;

    if (max < 2)
        return 0;
    ids[o.n++] = w->cls;
    while (*p && ok && p - (const unsigned char *)text < WORDPIECE_TEXT_MAX) {
        uint32_t c = next_cp(&p), m[3];
        enum cp_kind kind = kind_of(c);
        size_t nm;

        if (kind == CP_DROP)
            continue;
        if (kind == CP_SPACE) {
            ok = word_flush(w, &wd, &o);
            continue;
        }
        nm = normalize(c, m);
        for (size_t i = 0; i < nm && ok; i++) {
            if (kind == CP_CJK || kind_of(m[i]) == CP_PUNCT) {
                /* A token of its own. */
                ok = word_flush(w, &wd, &o);
                word_add(&wd, m[i]);
                ok = ok && word_flush(w, &wd, &o);
            } else {
                word_add(&wd, m[i]);
            }
        }
    }
    if (ok)
        word_flush(w, &wd, &o);
    ids[o.n++] = w->sep;
    return o.n;
}
