/*
 * encoder-calibrate - the activation statistics of the int8 encoder's
 * smoothing (docs/encoder.md, "int8"): runs the float32 encoder over a
 * calibration set and writes, per layer, dense product and input channel,
 * the largest |x| seen, with the migration strength and the products to
 * smooth, to the file the encoder reads (models/encoder/int8-smooth.bin).
 *
 *   encoder-calibrate --data FILE.jsonl --sources A,B,... --encoder DIR
 *                     --out FILE [--exclude FILE.jsonl ...] [--texts N]
 *                     [--alpha X (0.7)] [--mask N (5)]
 *
 * Calibration texts are the "text" of --data rows whose "source" is one of
 * --sources, N of them (default 4000) evenly spread, less any text that
 * also occurs in a row of another source or in an --exclude file (the
 * held-out and evaluation sets must not be calibrated on).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "encoder.h"

#define MAX_LINE (64 * 1024) /* longer lines are skipped */
#define MAX_EXCLUDE 8
#define MAX_ROWS 1000000
#define BATCH 64

struct texts {
    char **v;
    size_t n, cap;
};

static int
push(struct texts *t, const char *s)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        char **v = realloc(t->v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    if ((t->v[t->n] = strdup(s)) == NULL)
        return -ENOMEM;
    t->n++;
    return 0;
}

static void
texts_free(struct texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static int
cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether source is one of the comma-separated names in list. */
static int
listed(const char *list, const char *source)
{
    size_t len = strlen(source);

    for (const char *p = list; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, source, n) == 0)
            return 1;
        p += n + (end != NULL);
    }
    return 0;
}

/*
 * Rows of a JSON-lines file: texts of listed sources to in (when sources
 * is not NULL), every other text to out.
 */
static int
read_jsonl(
    const char *path, const char *sources, struct texts *in, struct texts *out)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, rows = 0;
    ssize_t len;
    int rv = 0;

    if (f == NULL) {
        rv = -errno;
        fprintf(stderr, "encoder-calibrate: %s: %s\n", path, strerror(-rv));
        return rv;
    }
    while (rv == 0 && (len = getline(&line, &cap, f)) > 0) {
        if (len > MAX_LINE || ++rows > MAX_ROWS)
            continue;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
        if (cJSON_IsString(text)) {
            int mine = sources != NULL && cJSON_IsString(src)
                && listed(sources, src->valuestring);
            rv = push(mine ? in : out, text->valuestring);
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    return rv;
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: encoder-calibrate --data FILE.jsonl --sources A,B,... "
        "--encoder DIR --out FILE\n"
        "         [--exclude FILE.jsonl ...] [--texts N] [--alpha X] "
        "[--mask N]\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"sources", required_argument, NULL, 's'},
        {"encoder", required_argument, NULL, 'e'},
        {"out", required_argument, NULL, 'o'},
        {"exclude", required_argument, NULL, 'x'},
        {"texts", required_argument, NULL, 'n'},
        {"alpha", required_argument, NULL, 'a'},
        {"mask", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *sources = NULL, *dir = NULL, *outp = NULL;
    const char *exclude[MAX_EXCLUDE];
    int nexclude = 0, c;
    long want = 4000, mask = 5; /* Q/K/V and FFN-in (docs/encoder.md) */
    double alpha = 0.7;
    char *end;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 's':
            sources = optarg;
            break;
        case 'e':
            dir = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'x':
            if (nexclude == MAX_EXCLUDE) {
                fprintf(stderr, "encoder-calibrate: at most %d --exclude\n",
                    MAX_EXCLUDE);
                return 2;
            }
            exclude[nexclude++] = optarg;
            break;
        case 'n':
            want = strtol(optarg, &end, 10);
            if (*end != '\0' || want < 1 || want > MAX_ROWS) {
                usage();
                return 2;
            }
            break;
        case 'a':
            alpha = strtod(optarg, &end);
            if (*end != '\0' || !(alpha >= 0 && alpha <= 1)) {
                usage();
                return 2;
            }
            break;
        case 'm':
            mask = strtol(optarg, &end, 0);
            if (*end != '\0' || mask < 0 || mask > 15) {
                usage();
                return 2;
            }
            break;
        default:
            usage();
            return 2;
        }
    }
    if (data == NULL || sources == NULL || dir == NULL || outp == NULL) {
        usage();
        return 2;
    }

    struct texts cand = {0}, other = {0}, chosen = {0};
    int rv = read_jsonl(data, sources, &cand, &other);
    for (int i = 0; rv == 0 && i < nexclude; i++)
        rv = read_jsonl(exclude[i], NULL, NULL, &other);
    if (rv != 0)
        return 1;
    qsort(other.v, other.n, sizeof(*other.v), cmp);
    /* candidates not seen elsewhere, then evenly spread */
    size_t keep = 0;
    for (size_t i = 0; i < cand.n; i++) {
        if (bsearch(&cand.v[i], other.v, other.n, sizeof(*other.v), cmp)
            != NULL) {
            free(cand.v[i]);
            continue;
        }
        cand.v[keep++] = cand.v[i];
    }
    fprintf(stderr,
        "encoder-calibrate: %zu texts of %s, %zu after dropping those also "
        "in other sources or excluded files\n",
        cand.n, sources, keep);
    cand.n = keep;
    size_t n = (size_t)want < keep ? (size_t)want : keep;
    for (size_t i = 0; i < n; i++)
        if (push(&chosen, cand.v[i * keep / n]) != 0)
            return 1;
    if (n == 0) {
        fprintf(stderr, "encoder-calibrate: no calibration texts\n");
        return 1;
    }

    struct encoder *enc;
    float *amax = calloc(ENCODER_SMOOTH_FLOATS, sizeof(float));
    if (amax == NULL
        || (rv = encoder_load_with(&enc, dir, ENCODER_FLOAT32)) != 0) {
        fprintf(
            stderr, "encoder-calibrate: cannot load the encoder in %s\n", dir);
        return 1;
    }
    for (size_t i = 0; i < n && rv == 0; i += BATCH)
        rv = encoder_calibrate(enc, (const char *const *)chosen.v + i,
            n - i < BATCH ? n - i : BATCH, amax);
    if (rv == 0)
        rv = encoder_smooth_write(
            outp, dir, amax, (float)alpha, (unsigned)mask, (uint32_t)n);
    if (rv != 0) {
        fprintf(stderr, "encoder-calibrate: %s\n", strerror(-rv));
        return 1;
    }
    /* the largest channel of each product, relative to its median */
    for (int l = 0; l < 6; l++) {
        static const char *const names[]
            = {"qkv", "attn-out", "ffn-in", "ffn-out"};
        const int k[] = {ENCODER_DIM, ENCODER_DIM, ENCODER_DIM, 1536};
        const float *a = amax + (size_t)l * (3 * ENCODER_DIM + 1536);
        printf("layer %d:", l);
        for (int p = 0; p < 4; a += k[p], p++) {
            float top = 0, sum = 0;
            for (int j = 0; j < k[p]; j++) {
                top = a[j] > top ? a[j] : top;
                sum += a[j];
            }
            printf("  %s max %.1f (mean %.2f)", names[p], top, sum / k[p]);
        }
        printf("\n");
    }
    printf("wrote %s: %zu texts, alpha %.2f, mask %ld\n", outp, n, alpha, mask);
    encoder_free(enc);
    free(amax);
    texts_free(&cand);
    texts_free(&other);
    texts_free(&chosen);
    return 0;
}
