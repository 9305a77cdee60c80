/*
 * The C encoder against vectors from an independent implementation
 * (tools/encoder-reference.py): cosine >= 0.999 for every text, and a batch
 * gives the same vectors as one text at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <unistd.h>

#include "encoder.h"
#include "reference.h"
#include "safetensors.h"

static double
cosine(const float *a, const float *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < ENCODER_DIM; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static void
test_matches_reference_single_and_batched(void **state)
{
    struct encoder *e;
    cJSON *doc = load_reference();
    const char *texts[64];
    float want[64][ENCODER_DIM], one[ENCODER_DIM];
    static float batch[64 * ENCODER_DIM];
    int n = 0;

    (void)state;
    assert_non_null(doc);
    assert_int_equal(encoder_load(&e, model_dir()), 0);
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(doc, "rows"))
    {
        texts[n] = cJSON_GetObjectItem(row, "text")->valuestring;
        const cJSON *v = cJSON_GetObjectItem(row, "vector");
        assert_int_equal(cJSON_GetArraySize(v), ENCODER_DIM);
        for (int j = 0; j < ENCODER_DIM; j++)
            want[n][j] = (float)cJSON_GetArrayItem(v, j)->valuedouble;
        n++;
    }
    for (int i = 0; i < n; i++) {
        assert_int_equal(encoder_embed(e, &texts[i], 1, one), 0);
        double c = cosine(one, want[i]);
        if (c < 0.999)
            fail_msg("'%.40s': cosine %.6f", texts[i], c);
    }
    assert_int_equal(encoder_embed(e, texts, (size_t)n, batch), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(encoder_embed(e, &texts[i], 1, one), 0);
        assert_true(cosine(batch + i * ENCODER_DIM, one) > 0.99999);
    }
    encoder_free(e);
    cJSON_Delete(doc);
}

static void
test_similar_sentences_are_closer(void **state)
{
    struct encoder *e;
    const char *t[3] = {"my parcel never came", "where is my package?",
        "how do I reset my password"};
    float v[3 * ENCODER_DIM];

    (void)state;
    assert_int_equal(encoder_load(&e, model_dir()), 0);
    assert_int_equal(encoder_embed(e, t, 3, v), 0);
    assert_true(cosine(v, v + ENCODER_DIM) > cosine(v, v + 2 * ENCODER_DIM));
    encoder_free(e);
}

static void
test_bad_model_files_refused(void **state)
{
    struct encoder *e;
    struct safetensors *s;
    char dir[] = "/tmp/enc-bad-XXXXXX", path[300];

    (void)state;
    assert_true(encoder_load(&e, "/nonexistent") < 0);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    const char *bodies[] = {
        "",
        "\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
        "\xff\xff\xff\xff\x00\x00\x00\x00{}",
        "\x40\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\",\"shape\":"
        "[4],\"data_offsets\":[0,16]}}   ",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        FILE *f = fopen(path, "wb");
        fwrite(bodies[i], 1, strlen(bodies[i]) + (i == 1 ? 8 : 0), f);
        fclose(f);
        assert_true(safetensors_open(&s, path) < 0);
    }
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference_single_and_batched),
        cmocka_unit_test(test_similar_sentences_are_closer),
        cmocka_unit_test(test_bad_model_files_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
