/* The chat's guardrails (guard.c), the injection model file (injection.c)
 * and the rate limiter (ratelimit.c), without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>

#include "guard.h"
#include "injection.h"
#include "ratelimit.h"

/* A tiny model whose only strong feature is the word "jailbreakme". */
static void
write_model(const char *path, float threshold)
{
    struct injection_model m = {0};
    struct feature_vec v = {0};

    features_default_params(&m.fp);
    m.fp.hash_bits = 12;
    assert_int_equal(injection_model_alloc(&m), 0);
    m.bias = -4.0f;
    m.threshold = threshold;
    assert_int_equal(features_extract(&m.fp, "jailbreakme", &v), 0);
    for (size_t i = 0; i < v.n; i++)
        m.w[v.idx[i]] = 20.0f;
    feature_vec_free(&v);
    assert_int_equal(injection_model_save(&m, path), 0);
    injection_model_free(&m);
}

static char model_path[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(model_path, sizeof model_path, "/tmp/test-guard-%ld.bin",
        (long)getpid());
    write_model(model_path, 0.5f);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(model_path);
    return 0;
}

static struct guard *
make(const char *deny)
{
    struct guard *g;
    char err[256];
    struct guard_opts o
        = {.max_chars = 20, .deny_list = deny, .model_path = model_path};
    assert_int_equal(guard_new(&g, &o, err, sizeof err), 0);
    return g;
}

static enum guard_reason
check(const struct guard *g, const char *s, char **text)
{
    struct guard_result r;
    assert_int_equal(guard_check(g, s, strlen(s), &r), 0);
    if (text)
        *text = r.text ? strdup(r.text) : NULL;
    guard_result_release(&r);
    return r.reason;
}

static void
test_clean(void **state)
{
    struct guard_text t;
    (void)state;
    /* controls, zero-width space, bidi override and BOM go; tab and newline
     * stay; ends trimmed */
    const char in[] = "  a\x01"
                      "b\r\n\tc\xe2\x80\x8b"
                      "d\xe2\x80\xae"
                      "e\xef\xbb\xbf\xc2\x85 ";
    assert_int_equal(guard_clean(in, strlen(in), &t), 0);
    assert_string_equal(t.text, "ab\n\tcde");
    assert_int_equal(t.chars, 7);
    guard_text_release(&t);
    assert_int_equal(guard_clean("\x01\x02 ", 3, &t), 0);
    assert_int_equal(t.len, 0);
    guard_text_release(&t);
}

static void
test_limits(void **state)
{
    struct guard *g = make("");
    char *text;
    (void)state;
    assert_int_equal(check(g, "hello", &text), GUARD_OK);
    assert_string_equal(text, "hello");
    free(text);
    assert_int_equal(check(g, "   \t\n ", NULL), GUARD_EMPTY);
    assert_int_equal(check(g, "\xff\xfe", NULL), GUARD_INVALID_UTF8);
    assert_int_equal(check(g, "\xc0\xaf", NULL), GUARD_INVALID_UTF8);
    /* 20 characters pass (multi-byte ones count once), 21 do not */
    assert_int_equal(check(g,
                         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                         "123456789012345",
                         NULL),
        GUARD_OK);
    assert_int_equal(check(g, "123456789012345678901", NULL), GUARD_TOO_LONG);
    guard_free(g);
}

static void
test_deny_list_and_model(void **state)
{
    struct guard *g = make(" Free Money ,wire transfer,,");
    char *text = NULL;
    (void)state;
    assert_int_equal(check(g, "FREE money now", NULL), GUARD_DENY_LIST);
    assert_int_equal(check(g, "wire-transfer?", NULL), GUARD_DENY_LIST);
    /* whole words only */
    assert_int_equal(check(g, "freemoney", NULL), GUARD_OK);
    assert_int_equal(check(g, "jailbreakme", NULL), GUARD_INJECTION);
    assert_int_equal(check(g, "4111111111111111", &text), GUARD_OK);
    assert_string_equal(text, "[CARD]");
    free(text);
    guard_free(g);

    /* an empty list blocks nothing; no model detects nothing */
    struct guard *h;
    char err[128];
    struct guard_opts o = {.max_chars = 100};
    assert_int_equal(guard_new(&h, &o, err, sizeof err), 0);
    assert_int_equal(check(h, "jailbreakme", NULL), GUARD_OK);
    guard_free(h);
}

static void
test_bad_models(void **state)
{
    struct guard *g;
    struct injection_model m;
    char err[256];
    (void)state;
    struct guard_opts o = {.max_chars = 10, .model_path = "/nonexistent"};
    assert_int_equal(guard_new(&g, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "GUARD_MODEL"));

    /* every byte of a valid file matters: truncation, a flipped bit */
    FILE *f = fopen(model_path, "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(injection_model_parse(&m, buf, n), 0);
    injection_model_free(&m);
    assert_int_equal(injection_model_parse(&m, buf, n - 1), -EINVAL);
    assert_int_equal(injection_model_parse(&m, buf, 10), -EINVAL);
    assert_int_equal(injection_model_parse(&m, NULL, 0), -EINVAL);
    buf[100] ^= 1;
    assert_int_equal(injection_model_parse(&m, buf, n), -EINVAL);
}

static void
test_annotate(void **state)
{
    struct guard_result r = {0};
    (void)state;
    r.redacted = (1u << PII_CARD) | (1u << PII_EMAIL);
    cJSON *o = cJSON_CreateObject();
    guard_annotate(&r, o);
    const cJSON *a = cJSON_GetObjectItem(o, "redacted");
    assert_int_equal(cJSON_GetArraySize(a), 2);
    const char *notice = cJSON_GetObjectItem(o, "notice")->valuestring;
    assert_non_null(strstr(notice, "an email address and a card number"));
    cJSON_Delete(o);
    o = cJSON_CreateObject();
    r.redacted = 0;
    guard_annotate(&r, o);
    assert_null(cJSON_GetObjectItem(o, "notice"));
    cJSON_Delete(o);
    assert_string_equal(guard_reason_name(GUARD_INJECTION), "prompt_injection");
}

static void
test_rates(void **state)
{
    struct ratelimit *rl;
    (void)state;
    assert_int_equal(ratelimit_new(&rl, 64), 0);
    /* 3 a minute: three pass, the fourth waits ~20 s */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_take(rl, "a", 3, 1000), 0);
    int w = ratelimit_take(rl, "a", 3, 1000);
    assert_true(w >= 19 && w <= 21);
    /* another key is not affected; 0 a minute is no limit */
    assert_int_equal(ratelimit_take(rl, "b", 3, 1000), 0);
    assert_int_equal(ratelimit_take(rl, "c", 0, 1000), 0);
    /* 20 s later one token is back */
    assert_int_equal(ratelimit_take(rl, "a", 3, 21001), 0);
    assert_true(ratelimit_take(rl, "a", 3, 21001) > 0);
    /* many keys: the table stays bounded and keeps working */
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ratelimit_take(rl, key, 1, 5000 + i);
    }
    assert_int_equal(ratelimit_take(rl, "fresh", 1, 20000), 0);
    ratelimit_free(rl);
}

static void
test_login_throttle(void **state)
{
    struct ratelimit *rl;
    (void)state;
    assert_int_equal(ratelimit_new(&rl, 64), 0);
    /* 3 failures allowed, then 10 s, 20 s, 40 s ... */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_fail(rl, "u|ip", 3, 10, 0), 0);
    assert_int_equal(ratelimit_locked(rl, "u|ip", 0), 0);
    assert_int_equal(ratelimit_fail(rl, "u|ip", 3, 10, 0), 10);
    assert_int_equal(ratelimit_locked(rl, "u|ip", 5000), 5);
    assert_int_equal(ratelimit_locked(rl, "u|ip2", 5000), 0);
    assert_int_equal(ratelimit_fail(rl, "u|ip", 3, 10, 10000), 20);
    /* capped, never forever */
    int w = 0;
    for (int i = 0; i < 50; i++)
        w = ratelimit_fail(rl, "u|ip", 3, 10, 20000);
    assert_int_equal(w, RATELIMIT_LOCK_MAX_S);
    assert_int_equal(
        ratelimit_locked(rl, "u|ip", 20000 + RATELIMIT_LOCK_MAX_S * 1000), 0);
    /* forgotten after a quiet hour, or a success */
    assert_int_equal(ratelimit_fail(rl, "u|ip", 3, 10,
                         20000 + (RATELIMIT_FAIL_TTL_S + 1) * 1000LL),
        0);
    ratelimit_clear(rl, "u|ip");
    assert_int_equal(ratelimit_fail(rl, "u|ip", 3, 10, 0), 0);
    ratelimit_free(rl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_deny_list_and_model),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_annotate),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_login_throttle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
