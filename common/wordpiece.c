#include "wordpiece.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static uint32_t
hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int32_t
lookup(const struct wordpiece *w, const char *s, size_t n)
{
    size_t i = hash(s, n) & (w->nslots - 1);

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
        size_t i = hash(t, strlen(t)) & (w->nslots - 1);
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

/* Decode one code point; invalid bytes give 0xFFFD and advance one byte. */
static uint32_t
next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int k;

    if (c < 0x80) {
        *p = s + 1;
        return c;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        k = 1;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 2;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 3;
        c &= 0x07;
    } else {
        *p = s + 1;
        return 0xfffd;
    }
    for (int i = 1; i <= k; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *p = s + 1;
            return 0xfffd;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
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

static bool
is_space(uint32_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xa0
        || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x202f
        || c == 0x205f || c == 0x3000;
}

/* Control and format characters BERT drops (tab, newline, CR are spaces). */
static bool
is_control(uint32_t c)
{
    return c == 0 || c == 0xfffd || (c < 0x20) || (c >= 0x7f && c <= 0x9f)
        || c == 0xad || (c >= 0x200b && c <= 0x200f)
        || (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x2064)
        || c == 0xfeff;
}

static bool
is_punct(uint32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96)
        || (c >= 123 && c <= 126))
        return true;
    return c == 0xa1 || c == 0xa7 || c == 0xab || c == 0xb6 || c == 0xb7
        || c == 0xbb || c == 0xbf || c == 0x37e || c == 0x387
        || (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x2043)
        || (c >= 0x2045 && c <= 0x2051) || (c >= 0x2053 && c <= 0x205e)
        || (c >= 0x3001 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011)
        || (c >= 0x3014 && c <= 0x301f) || (c >= 0xff01 && c <= 0xff03)
        || (c >= 0xff05 && c <= 0xff0a) || (c >= 0xff0c && c <= 0xff0f)
        || c == 0xff1a || c == 0xff1b || c == 0xff1f || c == 0xff20;
}

static bool
is_cjk(uint32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf)
        || (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f)
        || (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf)
        || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

/* Base letters of the accented lower-case letters U+00E0..U+017F. */
static const char latin_base[] =
    /* e0 */ "aaaaaaæceeeeiiii"
             /* f0 */ "ðnooooo÷øuuuuyþy"
             /* 100 */ "aaaaaaccccccccdd"
             /* 110 */ "đđeeeeeeeeeegggg"
             /* 120 */ "gggghhħħiiiiiiii"
             /* 130 */ "iıĳĳjjkkĸllllllŀ"
             /* 140 */ "ŀłłnnnnnnŉŋŋoooo"
             /* 150 */ "ooœœrrrrrrssssss"
             /* 160 */ "ssttttŧŧuuuuuuuu"
             /* 170 */ "uuuuwwyyyzzzzzzſ";

/* Lower-case c (Latin, Greek, Cyrillic), as Python's str.lower() does. */
static uint32_t
lower(uint32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c < 0xc0)
        return c;
    if (c <= 0xde && c != 0xd7)
        return c + 32;
    if (c >= 0x100 && c <= 0x137 && c != 0x130)
        return c | 1;
    if (c == 0x130)
        return 'i';
    if (c >= 0x139 && c <= 0x148)
        return (c & 1) ? c + 1 : c;
    if (c >= 0x14a && c <= 0x177)
        return c | 1;
    if (c == 0x178)
        return 0xff;
    if (c >= 0x179 && c <= 0x17e)
        return (c & 1) ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
        return c + 32;
    if (c >= 0x410 && c <= 0x42f)
        return c + 32;
    if (c >= 0x400 && c <= 0x40f)
        return c + 80;
    return c;
}

/*
 * Accents off, as NFD + dropping combining marks does. Returns the base
 * letter, the same c when it has none, or 0 for a combining mark.
 */
static uint32_t
strip_accent(uint32_t c)
{
    if (c >= 0x300 && c <= 0x36f)
        return 0;
    if (c < 0xe0 || c > 0x17f)
        return c;
    /* Only letters that NFD decomposes map to ASCII in the table. */
    const unsigned char *q = (const unsigned char *)latin_base;
    uint32_t cp = 0;
    for (uint32_t i = 0; i <= c - 0xe0; i++)
        cp = next_cp(&q);
    return cp < 0x80 ? cp : c;
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

/* WordPiece one normalised word (UTF-8, nchars code points). */
static bool
wordpiece_word(const struct wordpiece *w, const char *word, size_t len,
    size_t nchars, struct out *o)
{
    char buf[TOKEN_BYTES_MAX + 3];
    int32_t pieces[WORD_CHARS_MAX];
    size_t np = 0, start = 0;

    if (nchars > WORD_CHARS_MAX)
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
    char word[WORD_CHARS_MAX * 4 + 8];
    size_t wlen = 0, wchars = 0;
    bool full = false, long_word = false;

    if (max < 2)
        return 0;
    ids[o.n++] = w->cls;
    while (*p && !full) {
        uint32_t c = next_cp(&p);
        bool split = false, alone = false;

        if (is_space(c)) {
            split = true;
        } else if (is_control(c)) {
            continue;
        } else {
            c = strip_accent(lower(c));
            if (c == 0)
                continue;
            if (is_punct(c) || is_cjk(c))
                split = alone = true;
        }
        if (split && wlen + wchars > 0) {
            if (long_word)
                full = !emit(&o, w->unk);
            else
                full = !wordpiece_word(w, word, wlen, wchars, &o);
            wlen = wchars = 0;
            long_word = false;
        }
        if (full)
            break;
        if (alone) {
            char one[4];
            size_t n = put_cp(one, c);
            int32_t id = lookup(w, one, n);
            full = !emit(&o, id >= 0 ? id : w->unk);
        } else if (!split) {
            if (wchars >= WORD_CHARS_MAX) {
                long_word = true;
                wchars++;
            } else {
                wlen += put_cp(word + wlen, c);
                wchars++;
            }
        }
    }
    if (!full && wchars > 0) {
        if (long_word)
            emit(&o, w->unk);
        else
            wordpiece_word(w, word, wlen, wchars, &o);
    }
    ids[o.n++] = w->sep;
    return o.n;
}
