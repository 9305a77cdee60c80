/*
 * encoder_bench - throughput and latency of the C sentence encoder.
 *
 *   encoder_bench [MODEL_DIR] [SECONDS_PER_ROW]     (make bench-encoder)
 *
 * Prints the load time and RSS after load; messages/s for batches of 1, 8
 * and 64 typical customer messages (~10 words) from one caller and from
 * two callers at once (the services' way), with the dense layers on
 * weights packed at load (common/gemm.c) and, as the baseline in the same
 * run, on OpenBLAS's sgemm; single-message latency (median, p99) on an
 * otherwise idle process, and of a text cut at 256 tokens; RSS at the end
 * (both encoders loaded).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

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

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/model/minilm";
    double secs = argc > 2 ? strtod(argv[2], NULL) : 3.0;
    static const size_t batches[] = {1, 8, 64};
    struct encoder *enc;
    double t0 = now();
    int rc;

    if (secs <= 0 || secs > 600)
        secs = 3.0;
    if ((rc = encoder_load(&enc, dir)) != 0) {
        fprintf(stderr, "encoder_bench: cannot load %s (%d)\n", dir, rc);
        return 1;
    }
    printf("load: %.0f ms, RSS after load %ld MiB; OpenBLAS %s, core %s\n",
        (now() - t0) * 1e3, rss_kib() / 1024, openblas_get_config(),
        openblas_get_corename());
    throughput(enc, 8, 1, 0.5); /* warm-up: pages, BLAS buffers */

    /* The baseline in the same run: the same encoder on cblas_sgemm. */
    struct encoder *base;
    gemm_use_kernel(0);
    rc = encoder_load(&base, dir);
    gemm_use_kernel(1);
    if (rc != 0) {
        fprintf(stderr, "encoder_bench: cannot load %s (%d)\n", dir, rc);
        return 1;
    }
    throughput(base, 8, 1, 0.5);

    printf("%-40s %8s %8s %8s\n", "messages/s (~10 words each)", "batch 1",
        "batch 8", "batch 64");
    const struct {
        const char *name;
        const struct encoder *enc;
        int callers;
    } modes[] = {
        {"packed weights, 1 caller", enc, 1},
        {"packed weights, 2 callers", enc, 2},
        {"OpenBLAS sgemm (baseline), 1 caller", base, 1},
        {"OpenBLAS sgemm (baseline), 2 callers", base, 2},
    };
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        printf("%-40s", modes[m].name);
        for (size_t b = 0; b < 3; b++) {
            double r
                = throughput(modes[m].enc, batches[b], modes[m].callers, secs);
            if (r < 0) {
                fprintf(stderr, "encoder_bench: embedding failed\n");
                return 1;
            }
            printf(" %8.0f", r);
            fflush(stdout);
        }
        printf("\n");
    }

    if (latency(enc, "packed weights") != 0
        || latency(base, "OpenBLAS sgemm (baseline)") != 0)
        return 1;
    printf("RSS at the end: %ld MiB\n", rss_kib() / 1024);
    encoder_free(enc);
    encoder_free(base);
    return 0;
}
