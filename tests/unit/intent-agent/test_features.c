/* Unit tests of text_features.c: normalisation and hashed n-grams. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text_features.h"

static void
norm_is(const char *in, const char *want)
{
    char out[256];
    size_t n = features_normalise(in, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void
test_normalise(void **state)
{
    (void)state;
    norm_is("Hello, WORLD!!  I'm 123-456", "hello world ! im 0 0");
    norm_is("don\xe2\x80\x99t", "dont");
    norm_is("CAF\xc3\x89 ok", "caf\xc3\xa9 ok");
    norm_is("  where is   my order??? ", "where is my order ?");
    norm_is("order #A12B34", "order a0b0");
    norm_is("tab\tnew\nline\x01", "tab new line");
    norm_is("a\xc2\xa0"
            "b",
        "a b");
    norm_is("", "");
    norm_is("?!", "? !");
}

static void
test_normalise_caps(void **state)
{
    char out[8];
    char *big = malloc(3 * FEATURES_MAX_TEXT);
    char *nbuf = malloc(4 * FEATURES_MAX_TEXT);
    (void)state;

    assert_int_equal(features_normalise("abcdefghijkl", out, sizeof out), 7);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(features_normalise("abc", out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(features_normalise(NULL, out, sizeof out), 0);
    /* only FEATURES_MAX_TEXT bytes of input are read */
    assert_non_null(big);
    assert_non_null(nbuf);
    memset(big, 'a', 3 * FEATURES_MAX_TEXT - 1);
    big[3 * FEATURES_MAX_TEXT - 1] = '\0';
    assert_int_equal(features_normalise(big, nbuf, 4 * FEATURES_MAX_TEXT),
        FEATURES_MAX_TEXT);
    /* "a?b" grows: the output cap still holds */
    for (size_t i = 0; i + 1 < 3 * FEATURES_MAX_TEXT; i++)
        big[i] = i % 2 ? '?' : 'a';
    size_t n = features_normalise(big, nbuf, 4 * FEATURES_MAX_TEXT);
    assert_true(n < 4 * FEATURES_MAX_TEXT);
    free(big);
    free(nbuf);
}

static void
check_vec(const struct feature_params *p, const struct feature_vec *v)
{
    double s = 0;
    for (size_t i = 0; i < v->n; i++) {
        assert_true(v->idx[i] < (1u << p->hash_bits));
        if (i > 0)
            assert_true(v->idx[i] > v->idx[i - 1]);
        assert_true(isfinite(v->val[i]));
        s += (double)v->val[i] * v->val[i];
    }
    if (v->n > 0)
        assert_true(fabs(s - 1.0) < 1e-4);
}

static void
test_extract(void **state)
{
    struct feature_params p;
    struct feature_vec a = {0}, b = {0};
    (void)state;

    features_default_params(&p);
    assert_int_equal(features_check_params(&p), 0);
    assert_int_equal(features_extract(&p, "I want a refund", &a), 0);
    assert_true(a.n > 10);
    check_vec(&p, &a);
    /* case, spacing and punctuation do not change the features */
    assert_int_equal(features_extract(&p, "  i WANT a refund. ", &b), 0);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.idx, b.idx, a.n * sizeof *a.idx);
    assert_memory_equal(a.val, b.val, a.n * sizeof *a.val);
    /* a different text does */
    assert_int_equal(features_extract(&p, "I want a reward", &b), 0);
    assert_false(a.n == b.n && memcmp(a.idx, b.idx, a.n * sizeof *a.idx) == 0);
    /* nothing to hash */
    assert_int_equal(features_extract(&p, "", &b), 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(features_extract(&p, " ,;. ", &b), 0);
    assert_int_equal(b.n, 0);
    /* the vector is reused */
    assert_int_equal(features_extract(&p, "hello", &b), 0);
    assert_true(b.n > 0);
    check_vec(&p, &b);
    feature_vec_free(&a);
    feature_vec_free(&b);
    assert_null(a.idx);
    assert_int_equal(a.n, 0);
}

static void
test_extract_params(void **state)
{
    struct feature_params p;
    struct feature_vec v = {0};
    (void)state;

    features_default_params(&p);
    p.hash_bits = 10;
    assert_int_equal(features_extract(&p, "the app crashes on login", &v), 0);
    check_vec(&p, &v);
    p.char_min = 0; /* words only: unigrams + bigrams + </s> */
    assert_int_equal(features_extract(&p, "one two three", &v), 0);
    assert_true(v.n <= 7);
    check_vec(&p, &v);

    features_default_params(&p);
    p.hash_bits = 30;
    assert_int_equal(features_extract(&p, "x", &v), -EINVAL);
    features_default_params(&p);
    p.char_min = 4;
    p.char_max = 3;
    assert_int_equal(features_check_params(&p), -EINVAL);
    features_default_params(&p);
    p.word_weight = NAN;
    assert_int_equal(features_check_params(&p), -EINVAL);
    features_default_params(&p);
    p.word_max = 3;
    assert_int_equal(features_check_params(&p), -EINVAL);
    assert_int_equal(features_check_params(NULL), -EINVAL);
    features_default_params(&p);
    assert_int_equal(features_extract(&p, NULL, &v), -EINVAL);
    assert_int_equal(features_extract(&p, "x", NULL), -EINVAL);
    feature_vec_free(&v);
    feature_vec_free(NULL);
}

static void
test_extract_long(void **state)
{
    struct feature_params p;
    struct feature_vec v = {0};
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    (void)state;

    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = "abcdefghij klmnopqrs\xc3\xa9?"[i % 23];
    big[n] = '\0';
    features_default_params(&p);
    assert_int_equal(features_extract(&p, big, &v), 0);
    check_vec(&p, &v);
    /* one long word: char n-grams cut at FEATURES_MAX_WORD */
    memset(big, 'z', n);
    assert_int_equal(features_extract(&p, big, &v), 0);
    check_vec(&p, &v);
    assert_true(v.n < 64);
    feature_vec_free(&v);
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_normalise_caps),
        cmocka_unit_test(test_extract),
        cmocka_unit_test(test_extract_params),
        cmocka_unit_test(test_extract_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
