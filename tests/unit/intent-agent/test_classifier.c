/* Unit tests of classifier.c and intent_model.c: the committed model, the
 * model file checks, precomputed embeddings, threads. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "classifier.h"
#include "intent_model.h"

#define MODEL "models/intent/head.bin"
#define ENCODER_DIR "build/model/minilm"

static const struct {
    const char *text;
    int intent;
} cases[] = {
    {"hello", INTENT_GREETING},
    {"I want a refund", INTENT_REFUND},
    {"my card was charged twice", INTENT_BILLING},
    {"the app crashes on login", INTENT_TECHNICAL},
    /* bitext track_order maps to question (intent_mapping.csv) */
    {"where is my order?", INTENT_QUESTION},
    {"I want to file a complaint about your service", INTENT_COMPLAINT},
    {"what's the weather like tomorrow", INTENT_OTHER},
};
#define NCASES (sizeof cases / sizeof cases[0])

static void
check_result(const struct classify_result *r)
{
    double s = 0;
    assert_true(r->intent >= 0 && r->intent < INTENT_COUNT);
    for (int c = 0; c < INTENT_COUNT; c++) {
        assert_true(r->scores[c] >= 0 && r->scores[c] <= 1);
        assert_true(r->scores[c] <= r->confidence);
        s += r->scores[c];
    }
    assert_true(fabs(s - 1) < 1e-4);
    assert_true(r->confidence == r->scores[r->intent]);
}

static void
expect_cases(struct classifier *c, const float *emb, unsigned flags)
{
    const char *texts[NCASES];
    struct classify_result res[NCASES];

    for (size_t i = 0; i < NCASES; i++)
        texts[i] = cases[i].text;
    assert_int_equal(classifier_classify(c, texts, NCASES, emb, flags, res), 0);
    for (size_t i = 0; i < NCASES; i++) {
        check_result(&res[i]);
        if (res[i].intent != cases[i].intent)
            fail_msg("\"%s\": %s, want %s", cases[i].text,
                intent_name(res[i].intent), intent_name(cases[i].intent));
    }
}

static void
test_committed_model(void **state)
{
    struct classifier *c = NULL;
    (void)state;

    assert_int_equal(classifier_load(&c, MODEL, NULL), 0);
    assert_non_null(c);
    assert_int_equal(classifier_uses_encoder(c), 0);
    expect_cases(c, NULL, 0);

    /* one at a time gives what the batch gives; no embedding without one */
    for (size_t i = 0; i < NCASES; i++) {
        struct classify_result r;
        assert_int_equal(
            classifier_classify(c, &cases[i].text, 1, NULL, 0, &r), 0);
        assert_int_equal(r.intent, cases[i].intent);
        assert_int_equal(r.has_embedding, 0);
        assert_int_equal(r.used_hybrid, 0);
    }
    /* empty, odd and long texts are answered */
    const char *odd[] = {"", "   ", "\xff\xfe\xc3", "????"};
    struct classify_result r[4];
    assert_int_equal(classifier_classify(c, odd, 4, NULL, 0, r), 0);
    for (int i = 0; i < 4; i++)
        check_result(&r[i]);
    assert_int_equal(classifier_classify(c, odd, 0, NULL, 0, NULL), 0);
    /* bad arguments */
    const char *nul[] = {NULL};
    assert_int_equal(classifier_classify(c, nul, 1, NULL, 0, r), -EINVAL);
    assert_int_equal(classifier_classify(NULL, odd, 1, NULL, 0, r), -EINVAL);
    classifier_free(c);
    classifier_free(NULL);
}

/* ---- malformed files -------------------------------------------------- */

static uint32_t
crc32_ieee(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void
fix_crc(unsigned char *b, size_t len)
{
    put_u32(b + len - 4, crc32_ieee(b, len - 4));
}

/* A small model (1024 buckets) with both heads and known weights. */
static void
small_model(struct intent_model *m)
{
    memset(m, 0, sizeof *m);
    features_default_params(&m->fp);
    m->fp.hash_bits = 10;
    m->emb_dim = ENCODER_DIM;
    m->skip_threshold = 0.9f;
    assert_int_equal(intent_model_alloc_head(m, HEAD_NGRAM), 0);
    assert_int_equal(intent_model_alloc_head(m, HEAD_HYBRID), 0);
    for (size_t i = 0; i < intent_model_buckets(m) * INTENT_COUNT; i++) {
        m->heads[0].w[i] = (float)((int)(i % 13) - 6) / 8.0f;
        m->heads[1].w[i] = (float)((int)(i % 7) - 3) / 16.0f;
    }
    for (size_t d = 0; d < ENCODER_DIM; d++)
        /* embedding dimension d votes for intent d % 7 */
        m->heads[1].we[d * INTENT_COUNT + d % INTENT_COUNT] = 4.0f;
    m->heads[1].emb_scale = 2.0f;
    m->heads[1].temperature = 0.5f;
    m->heads[0].bias[INTENT_OTHER] = 0.25f;
}

static int
parse_buf(const unsigned char *b, size_t len)
{
    struct intent_model m;
    int rc = intent_model_parse(&m, b, len);
    if (rc == 0)
        intent_model_free(&m);
    return rc;
}

static void
test_round_trip(void **state)
{
    struct intent_model m, back;
    void *buf;
    size_t len;
    (void)state;

    small_model(&m);
    assert_int_equal(intent_model_serialise(&m, QUANT_F32, &buf, &len), 0);
    assert_int_equal(intent_model_parse(&back, buf, len), 0);
    assert_int_equal(back.fp.hash_bits, 10);
    assert_true(back.skip_threshold == 0.9f);
    assert_true(back.heads[1].temperature == 0.5f);
    assert_memory_equal(
        back.heads[0].w, m.heads[0].w, 1024 * INTENT_COUNT * sizeof(float));
    assert_memory_equal(back.heads[1].we, m.heads[1].we,
        ENCODER_DIM * INTENT_COUNT * sizeof(float));
    intent_model_free(&back);
    free(buf);

    assert_int_equal(intent_model_serialise(&m, QUANT_I8, &buf, &len), 0);
    assert_int_equal(intent_model_parse(&back, buf, len), 0);
    for (size_t i = 0; i < 1024 * INTENT_COUNT; i++)
        assert_true(fabsf(back.heads[0].w[i] - m.heads[0].w[i]) < 0.01f);
    intent_model_free(&back);
    free(buf);

    /* non-finite weights are not written */
    m.heads[0].w[5] = NAN;
    assert_int_equal(intent_model_serialise(&m, QUANT_I8, &buf, &len), -EINVAL);
    intent_model_free(&m);
}

static void
test_malformed(void **state)
{
    struct intent_model m;
    unsigned char *b;
    void *buf;
    size_t len;
    (void)state;

    small_model(&m);
    assert_int_equal(intent_model_serialise(&m, QUANT_I8, &buf, &len), 0);
    intent_model_free(&m);
    b = buf;
    assert_int_equal(parse_buf(b, len), 0);

    /* empty, short, truncated, extended */
    assert_int_equal(parse_buf(b, 0), -EINVAL);
    assert_int_equal(parse_buf(NULL, len), -EINVAL);
    assert_int_equal(parse_buf(b, 11), -EINVAL);
    unsigned char *c = malloc(len + 8);
    assert_non_null(c);
    memcpy(c, b, len);
    fix_crc(c, len - 100);
    assert_int_equal(parse_buf(c, len - 100), -EINVAL);
    memset(c + len, 0, 8);
    memcpy(c + len + 4, c + len - 4, 4);
    fix_crc(c, len + 8);
    assert_int_equal(parse_buf(c, len + 8), -EINVAL);

    /* one flipped bit: the checksum catches it */
    memcpy(c, b, len);
    c[len / 2] ^= 0x10;
    assert_int_equal(parse_buf(c, len), -EINVAL);

    /* bad fields with a good checksum */
    static const struct {
        size_t off;
        uint32_t v;
    } bad[] = {
        {0, 0x41414141},  /* magic */
        {8, 2},           /* version */
        {12, 99},         /* features version */
        {16, 6},          /* classes */
        {20, 40},         /* hash bits */
        {20, 11},         /* hash bits: size no longer matches */
        {28, 5},          /* word n-grams */
        {36, 1},          /* char_max < char_min */
        {40, 0x7fc00000}, /* word weight NaN */
        {48, 100},        /* embedding dimension */
        {52, 0xbf800000}, /* skip threshold -1 */
        {56, 0},          /* no heads */
        {56, 7},          /* unknown head */
        {60, 1},          /* first head says hybrid */
        {64, 9},          /* quantisation */
        {72, 0},          /* temperature 0 */
        {72, 0x7f800000}, /* temperature inf */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(c, b, len);
        put_u32(c + bad[i].off, bad[i].v);
        fix_crc(c, len);
        if (parse_buf(c, len) != -EINVAL)
            fail_msg(
                "field at %zu = %u accepted", bad[i].off, (unsigned)bad[i].v);
    }

    /* files: missing, empty, garbage, not a regular file */
    struct classifier *cl = NULL;
    char path[] = "/tmp/test_classifier_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_true(classifier_load(&cl, "/nonexistent/head.bin", NULL) < 0);
    assert_int_equal(classifier_load(&cl, path, NULL), -EINVAL);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("INTHEAD1garbage", 1, 15, f), 15);
    fclose(f);
    assert_int_equal(classifier_load(&cl, path, NULL), -EINVAL);
    assert_int_equal(classifier_load(&cl, "/tmp", NULL), -EINVAL);
    assert_null(cl);
    /* and a good one through the file path */
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    assert_int_equal(classifier_load(&cl, path, NULL), 0);
    classifier_free(cl);
    unlink(path);
    free(c);
    free(buf);
}

static void
test_embeddings(void **state)
{
    struct intent_model m;
    struct classifier *c = NULL;
    float *emb = calloc(3 * ENCODER_DIM, sizeof *emb);
    const char *texts[] = {"a", "b", "c"};
    struct classify_result r[3];
    (void)state;

    assert_non_null(emb);
    small_model(&m);
    assert_int_equal(classifier_from_model(&c, &m, NULL), 0);
    assert_null(m.heads[0].w); /* the classifier owns the weights now */
    /* text i's embedding points at intent 2 * i + 1 */
    for (int i = 0; i < 3; i++)
        emb[i * ENCODER_DIM + 2 * i + 1] = 1.0f;
    assert_int_equal(classifier_classify(c, texts, 3, emb, 0, r), 0);
    for (int i = 0; i < 3; i++) {
        check_result(&r[i]);
        assert_int_equal(r[i].intent, 2 * i + 1);
        assert_int_equal(r[i].used_hybrid, 1);
        assert_int_equal(r[i].has_embedding, 1);
        assert_memory_equal(
            r[i].embedding, emb + i * ENCODER_DIM, ENCODER_DIM * sizeof *emb);
    }
    /* without embeddings and encoder, the n-gram head answers */
    assert_int_equal(classifier_classify(c, texts, 3, NULL, 0, r), 0);
    assert_int_equal(r[0].used_hybrid, 0);
    assert_int_equal(r[0].has_embedding, 0);
    assert_true(classifier_skip_threshold(c) == 0.9f);
    classifier_free(c);

    /* a model with only the hybrid head needs an encoder */
    small_model(&m);
    free(m.heads[0].w);
    m.heads[0].w = NULL;
    m.heads[0].present = 0;
    void *buf;
    size_t len;
    assert_int_equal(intent_model_serialise(&m, QUANT_I8, &buf, &len), 0);
    intent_model_free(&m);
    char path[] = "/tmp/test_classifier_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    assert_int_equal(classifier_load(&c, path, NULL), -EINVAL);
    unlink(path);
    free(buf);
    free(emb);
}

struct worker {
    struct classifier *c;
    int ok;
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    w->ok = 1;
    for (int k = 0; k < 200; k++) {
        size_t i = (size_t)k % NCASES;
        struct classify_result r;
        if (classifier_classify(w->c, &cases[i].text, 1, NULL, 0, &r) != 0
            || r.intent != cases[i].intent)
            w->ok = 0;
    }
    return NULL;
}

static void
test_threads(void **state)
{
    struct classifier *c = NULL;
    pthread_t t[4];
    struct worker w[4];
    (void)state;

    assert_int_equal(classifier_load(&c, MODEL, NULL), 0);
    for (int i = 0; i < 4; i++) {
        w[i].c = c;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].ok);
    }
    classifier_free(c);
}

static void
test_with_encoder(void **state)
{
    struct encoder *e = NULL;
    struct classifier *c = NULL;
    (void)state;

    if (access(ENCODER_DIR "/model.safetensors", R_OK) != 0
        || encoder_load(&e, ENCODER_DIR) != 0)
        skip();
    assert_int_equal(classifier_load(&c, MODEL, e), 0);
    if (!classifier_uses_encoder(c)) {
        classifier_free(c);
        encoder_free(e);
        skip();
    }
    expect_cases(c, NULL, 0);
    expect_cases(c, NULL, CLASSIFY_SKIP_ENCODER);

    struct classify_result r;
    assert_int_equal(classifier_classify(c, &cases[0].text, 1, NULL, 0, &r), 0);
    assert_int_equal(r.used_hybrid, 1);
    assert_int_equal(r.has_embedding, 1);
    double n2 = 0;
    for (int d = 0; d < ENCODER_DIM; d++)
        n2 += (double)r.embedding[d] * r.embedding[d];
    assert_true(fabs(n2 - 1) < 1e-3);
    classifier_free(c);
    encoder_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_model),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_with_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
