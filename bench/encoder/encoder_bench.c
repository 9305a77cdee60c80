/*
 * encoder_bench - throughput and latency of the C sentence encoder.
 *
 *   encoder_bench [MODEL_DIR] [SECONDS_PER_ROW] [TEXTS.jsonl [N]]
 *                                                   (make bench-encoder)
 *
 * Prints the load time and RSS after load; messages/s for batches of 1, 8
 * and 64 typical customer messages (~10 words) from one caller and from
 * two callers at once (the services' way), with the dense layers on
 * weights packed at load (common/gemm.c) in float32, in int8 (all four
 * products, and the FFN's two only) and, as the baseline, on OpenBLAS's
 * sgemm, all in the same run, cell by cell in turn so that a noisy
 * neighbour hits them alike; int8 / float32 ratios; single-message latency
 * (median, p99) on an otherwise idle process, and of a text cut at 256
 * tokens; RSS at the end (all encoders loaded). With a JSONL file of
 * {"text": ...} lines: cosine of the int8 vectors to the float32 ones over
 * N (default 400) of its texts, evenly spread through the file.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <cjson/cJSON.h>

#include "encoder.h"
#include "gemm.h"

static const char *const messages[] = {
    "Hi, where is my order? It has been two weeks now.",
    "I want a refund for the broken headphones I received.",
    "My card was charged twice for the same order, please help.",
    "How do I reset my password? The link does not work.",
    "Can I change the delivery address of order 10442?",
    "The app crashes every time I try to log in.",
    "Do you ship to Canada and how long does it take?",
    "I received the wrong size, can I exchange the shoes?",
    "Is there a discount code for first-time customers?",
    "My parcel says delivered but nothing arrived at my door.",
    "Please cancel my subscription before the next billing date.",
    "The product page says in stock but checkout says unavailable.",
    "Can I talk to a human agent about a billing problem?",
    "How long does a refund take to reach my bank account?",
    "I forgot which email I used to create my account.",
    "The jacket I ordered arrived with a torn sleeve, what now?",
    "Why was my payment declined when my card works elsewhere?",
    "Can I pick up my order from the store instead?",
    "Your website keeps logging me out after a few minutes.",
    "What is your return policy for items bought on sale?",
    "I'd like to update the phone number on my account.",
    "The tracking number you sent me does not seem valid.",
    "Can I add another item to an order I already placed?",
    "My coupon code was not applied at checkout, please fix it.",
};
#define NMSG (sizeof(messages) / sizeof(messages[0]))

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long
rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

struct run {
    const struct encoder *enc;
    size_t batch;
    double seconds;
    long done; /* messages */
    int rc;
};

static void *
run_batches(void *arg)
{
    struct run *r = arg;
    const char *texts[64];
    float *out = malloc(r->batch * ENCODER_DIM * sizeof(float));
    double t0 = now();
    size_t k = 0;

    r->done = 0;
    r->rc = out == NULL ? -1 : 0;
    while (r->rc == 0 && now() - t0 < r->seconds) {
        for (size_t i = 0; i < r->batch; i++)
            texts[i] = messages[k++ % NMSG];
        r->rc = encoder_embed(r->enc, texts, r->batch, out);
        r->done += (long)r->batch;
    }
    r->seconds = now() - t0;
    free(out);
    return NULL;
}

/* Messages/s of `callers` threads each embedding batches of `batch`. */
static double
throughput(const struct encoder *enc, size_t batch, int callers, double secs)
{
    pthread_t th[2];
    struct run runs[2];
    double rate = 0;

    for (int i = 0; i < callers; i++) {
        runs[i] = (struct run) {enc, batch, secs, 0, 0};
        if (pthread_create(&th[i], NULL, run_batches, &runs[i]) != 0)
            return -1;
    }
    for (int i = 0; i < callers; i++) {
        pthread_join(th[i], NULL);
        if (runs[i].rc != 0)
            return -1;
        rate += (double)runs[i].done / runs[i].seconds;
    }
    return rate;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One message at a time on an idle process, and a text cut at 256 tokens. */
static int
latency(const struct encoder *enc, const char *name)
{
    static char longtext[8192];
    double lat[400];
    float v[ENCODER_DIM];
    size_t nlat = sizeof(lat) / sizeof(lat[0]), used = 0;

    for (size_t i = 0; i < nlat; i++) {
        const char *t = messages[i % NMSG];
        double s = now();
        if (encoder_embed(enc, &t, 1, v) != 0)
            return -1;
        lat[i] = (now() - s) * 1e3;
    }
    qsort(lat, nlat, sizeof(lat[0]), cmp_double);
    printf("%s: single message median %.2f ms, p99 %.2f ms", name,
        lat[nlat / 2], lat[nlat * 99 / 100]);
    for (size_t i = 0; used + 200 < sizeof(longtext); i++)
        used += (size_t)snprintf(longtext + used, sizeof(longtext) - used,
            "%s ", messages[i % NMSG]);
    const char *lt = longtext;
    for (size_t i = 0; i < 40; i++) {
        double s = now();
        if (encoder_embed(enc, &lt, 1, v) != 0)
            return -1;
        lat[i] = (now() - s) * 1e3;
    }
    qsort(lat, 40, sizeof(lat[0]), cmp_double);
    printf("; 256-token text median %.2f ms\n", lat[20]);
    return 0;
}

/* Up to max texts of a JSONL file, evenly spread through it. */
static char **
read_texts(const char *path, size_t max, size_t *n)
{
    static char line[65536];
    size_t lines = 0, got = 0;
    FILE *f = fopen(path, "r");
    char **texts = calloc(max, sizeof(char *));

    *n = 0;
    if (f == NULL || texts == NULL) {
        if (f != NULL)
            fclose(f);
        free(texts);
        return NULL;
    }
    while (fgets(line, sizeof(line), f) != NULL)
        lines++;
    rewind(f);
    const size_t step = lines > max ? lines / max : 1;
    for (size_t i = 0; got < max && fgets(line, sizeof(line), f) != NULL; i++) {
        if (i % step != 0 || strchr(line, '\n') == NULL)
            continue; /* between samples, or longer than the buffer */
        cJSON *doc = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "text");
        if (cJSON_IsString(t) && (texts[got] = strdup(t->valuestring)) != NULL)
            got++;
        cJSON_Delete(doc);
    }
    fclose(f);
    *n = got;
    return texts;
}

static double
cosine(const float *a, const float *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < ENCODER_DIM; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* Cosine of each int8 encoder's vectors to float32's over a file's texts. */
static int
agreement(const struct encoder *ref, const struct encoder *const *q,
    const char *const *names, int nq, const char *path, size_t max)
{
    size_t n;
    char **texts = read_texts(path, max, &n);
    float *a = texts ? malloc(n * ENCODER_DIM * sizeof(float)) : NULL;
    float *b = texts ? malloc(n * ENCODER_DIM * sizeof(float)) : NULL;
    int rc = -1;

    if (texts == NULL || a == NULL || b == NULL || n == 0) {
        fprintf(stderr, "encoder_bench: no texts from %s\n", path);
        goto out;
    }
    if (encoder_embed(ref, (const char *const *)texts, n, a) != 0)
        goto out;
    for (int e = 0; e < nq; e++) {
        double sum = 0, low = 1;
        size_t below = 0;
        if (encoder_embed(q[e], (const char *const *)texts, n, b) != 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            double c = cosine(a + i * ENCODER_DIM, b + i * ENCODER_DIM);
            sum += c;
            low = c < low ? c : low;
            below += c < 0.99;
        }
        printf("cosine %s vs float32 over %zu texts of %s: mean %.6f, "
               "lowest %.6f, %zu below 0.99\n",
            names[e], n, path, sum / (double)n, low, below);
    }
    rc = 0;
out:
    for (size_t i = 0; texts != NULL && i < n; i++)
        free(texts[i]);
    free(texts);
    free(a);
    free(b);
    return rc;
}

static int
/* kernel: 0 OpenBLAS's sgemm, 1 the AVX2 kernel, 2 the best the CPU runs */
load(struct encoder **e, const char *dir, enum encoder_precision p, int kernel)
{
    int rc;

    gemm_use_kernel(kernel > 0);
    gemm_use_avx512(kernel > 1);
    rc = encoder_load_with(e, dir, p);
    gemm_use_kernel(1);
    gemm_use_avx512(1);
    if (rc != 0) {
        fprintf(stderr, "encoder_bench: cannot load %s (%d)\n", dir, rc);
        return -1;
    }
    throughput(*e, 8, 1, 0.5); /* warm-up: pages, BLAS buffers */
    return 0;
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/model/minilm";
    double secs = argc > 2 ? strtod(argv[2], NULL) : 3.0;
    const char *texts = argc > 3 ? argv[3] : NULL;
    long ntexts = argc > 4 ? strtol(argv[4], NULL, 10) : 400;
    static const size_t batches[] = {1, 8, 64};
    enum { F32, F32AVX2, I8, I8FFN, BF16, BASE, NENC };
    static const char *const names[NENC]
        = {"packed float32", "packed float32, AVX2 kernel", "int8 (all 4)",
            "int8 (FFN only)", "bf16", "OpenBLAS sgemm (baseline)"};
    /* ratio rows: a / b */
    static const struct {
        const char *name;
        int a, b;
    } ratios[] = {{"bf16 / float32", BF16, F32}, {"int8 / float32", I8, F32},
        {"int8-ffn / float32", I8FFN, F32}, {"float32 / baseline", F32, BASE},
        {"float32 / AVX2 kernel", F32, F32AVX2}};
    struct encoder *enc[NENC];
    double rate[NENC][2][3];
    double t0 = now();

    if (secs <= 0 || secs > 600)
        secs = 3.0;
    if (ntexts < 1 || ntexts > 100000)
        ntexts = 400;
    if (load(&enc[F32], dir, ENCODER_FLOAT32, 2) != 0)
        return 1;
    printf("load: %.0f ms, RSS after load %ld MiB; OpenBLAS %s, core %s; "
           "bf16 on %s\n",
        (now() - t0) * 1e3, rss_kib() / 1024, openblas_get_config(),
        openblas_get_corename(),
        gemm_has_amx() ? "AMX" : "the float32 kernels");
    if (load(&enc[F32AVX2], dir, ENCODER_FLOAT32, 1) != 0
        || load(&enc[I8], dir, ENCODER_INT8, 2) != 0
        || load(&enc[I8FFN], dir, ENCODER_INT8_FFN, 2) != 0
        || load(&enc[BF16], dir, ENCODER_BF16, 2) != 0
        || load(&enc[BASE], dir, ENCODER_FLOAT32, 0) != 0)
        return 1;
    if (texts != NULL
        && agreement(enc[F32],
               (const struct encoder *const[]) {enc[I8], enc[I8FFN], enc[BF16]},
               (const char *const[]) {"int8", "int8-ffn", "bf16"}, 3, texts,
               (size_t)ntexts)
            != 0)
        return 1;

    for (size_t b = 0; b < 3; b++)
        for (int c = 0; c < 2; c++)
            for (int e = 0; e < NENC; e++)
                if ((rate[e][c][b]
                        = throughput(enc[e], batches[b], c + 1, secs))
                    < 0) {
                    fprintf(stderr, "encoder_bench: embedding failed\n");
                    return 1;
                }
    printf("%-44s %8s %8s %8s\n", "messages/s (~10 words each)", "batch 1",
        "batch 8", "batch 64");
    for (int e = 0; e < NENC; e++)
        for (int c = 0; c < 2; c++)
            printf("%-34s %d caller%s %8.0f %8.0f %8.0f\n", names[e], c + 1,
                c ? "s" : " ", rate[e][c][0], rate[e][c][1], rate[e][c][2]);
    for (size_t r = 0; r < sizeof(ratios) / sizeof(ratios[0]); r++)
        for (int c = 0; c < 2; c++)
            printf("%-34s %d caller%s %8.2f %8.2f %8.2f\n", ratios[r].name,
                c + 1, c ? "s" : " ",
                rate[ratios[r].a][c][0] / rate[ratios[r].b][c][0],
                rate[ratios[r].a][c][1] / rate[ratios[r].b][c][1],
                rate[ratios[r].a][c][2] / rate[ratios[r].b][c][2]);

    for (int e = 0; e < NENC; e++)
        if (latency(enc[e], names[e]) != 0)
            return 1;
    printf("RSS at the end: %ld MiB\n", rss_kib() / 1024);
    for (int e = 0; e < NENC; e++)
        encoder_free(enc[e]);
    return 0;
}
