/*
 * retrieval-eval - hit@1 and hit@3 of the support agent's retrieval on a
 * labelled set of paraphrased questions, BM25 alone beside the hybrid.
 *
 *   retrieval-eval KB.json EVAL.jsonl MODEL_DIR [--tune]
 *
 * EVAL lines: {"text": ..., "expected": ["entry-id", ...], "intent": ...}.
 * A hit is the first expected id among the top k. --tune grid-searches the
 * hybrid's weights and prints the best (reported, never applied).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "encoder.h"
#include "intent.h"
#include "knowledge.h"
#include "compose.h"
#include "retrieval.h"

#define MAX_ROWS 2000

struct row {
    char *text;
    char *expected[4];
    int nexpected;
    int intent;
    float emb[ENCODER_DIM];
};

static int
load_rows(const char *path, struct row *rows, int *n)
{
    FILE *f = fopen(path, "r");
    char line[8192];

    if (f == NULL)
        return -1;
    *n = 0;
    while (*n < MAX_ROWS && fgets(line, sizeof(line), f) != NULL) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItem(o, "text"), *e;
        if (!cJSON_IsString(t)) {
            cJSON_Delete(o);
            continue;
        }
        struct row *r = &rows[(*n)++];
        memset(r, 0, sizeof(*r));
        r->text = strdup(t->valuestring);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "expected"))
        {
            if (cJSON_IsString(e) && r->nexpected < 4)
                r->expected[r->nexpected++] = strdup(e->valuestring);
        }
        const cJSON *in = cJSON_GetObjectItem(o, "intent");
        r->intent = cJSON_IsString(in) ? intent_parse(in->valuestring) : -1;
        cJSON_Delete(o);
    }
    fclose(f);
    return 0;
}

/* Fraction of rows whose first expected id is in the top k. */
static void
score(const struct retrieval *idx, struct row *rows, int n, bool use_emb,
    const struct retrieval_weights *w, double *h1, double *h3)
{
    int a = 0, b = 0;

    for (int i = 0; i < n; i++) {
        struct hit hits[3];
        int k = retrieval_search(idx, rows[i].text,
            use_emb ? rows[i].emb : NULL, rows[i].intent, w, hits, 3);
        for (int j = 0; j < k; j++) {
            if (strcmp(hits[j].entry->id, rows[i].expected[0]) == 0) {
                a += j == 0;
                b++;
                break;
            }
        }
    }
    *h1 = (double)a / n;
    *h3 = (double)b / n;
}

int
main(int argc, char **argv)
{
    static struct row rows[MAX_ROWS];
    struct kb kb;
    struct encoder *enc;
    struct retrieval *idx;
    char err[512];
    int n;

    if (argc < 4) {
        fprintf(stderr, "usage: %s KB.json EVAL.jsonl MODEL_DIR [--tune]\n",
            argv[0]);
        return 2;
    }
    if (kb_load_file(&kb, argv[1], err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (load_rows(argv[2], rows, &n) != 0 || n == 0) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    if (encoder_load(&enc, argv[3]) != 0) {
        fprintf(stderr, "cannot load the encoder from %s\n", argv[3]);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const char *t[1] = {rows[i].text};
        encoder_embed(enc, t, 1, rows[i].emb);
    }
    size_t entries = kb.n;
    if (retrieval_build(&idx, &kb, enc) != 0)
        return 1;

    double h1, h3;
    printf("%d questions, %zu entries\n", n, entries);
    printf("%-28s %7s %7s\n", "retrieval", "hit@1", "hit@3");
    score(idx, rows, n, false, NULL, &h1, &h3);
    printf("%-28s %7.3f %7.3f\n", "BM25 alone", h1, h3);
    struct retrieval_weights cos_only = retrieval_default_weights;
    cos_only.bm25 = 0;
    score(idx, rows, n, true, &cos_only, &h1, &h3);
    printf("%-28s %7.3f %7.3f\n", "embedding alone", h1, h3);
    score(idx, rows, n, true, NULL, &h1, &h3);
    printf("%-28s %7.3f %7.3f\n", "hybrid (shipped weights)", h1, h3);

    /* How often the built-in reply answers (best entry above the match
     * threshold) and how often that answer is the expected entry. */
    int answered = 0, right = 0;
    for (int i = 0; i < n; i++) {
        struct hit hits[3];
        int k = retrieval_search(
            idx, rows[i].text, rows[i].emb, rows[i].intent, NULL, hits, 3);
        if (k > 0
            && (hits[0].cosine >= COMPOSE_COSINE_MIN
                || hits[0].bm25 >= COMPOSE_BM25_MIN)) {
            answered++;
            right += strcmp(hits[0].entry->id, rows[i].expected[0]) == 0;
        }
    }
    printf("answered without a human (match threshold): %.3f, of which "
           "right entry: %.3f\n",
        (double)answered / n, answered ? (double)right / answered : 0.0);

    if (argc > 4 && strcmp(argv[4], "--tune") == 0) {
        struct retrieval_weights best = retrieval_default_weights, w = best;
        double best1 = 0, best3 = 0;
        for (w.bm25 = 0; w.bm25 <= 1.01f; w.bm25 += 0.05f)
            for (w.bm25_k = 1; w.bm25_k <= 8; w.bm25_k *= 2)
                for (w.intent = 0; w.intent <= 0.101f; w.intent += 0.025f) {
                    score(idx, rows, n, true, &w, &h1, &h3);
                    if (h1 + h3 / 2 > best1 + best3 / 2) {
                        best = w;
                        best1 = h1;
                        best3 = h3;
                    }
                }
        printf("tuned: bm25=%.2f bm25_k=%.0f intent=%.3f -> hit@1 %.3f "
               "hit@3 %.3f\n",
            (double)best.bm25, (double)best.bm25_k, (double)best.intent, best1,
            best3);
    }
    retrieval_free(idx);
    encoder_free(enc);
    return 0;
}
