/* Passwords and tokens of the gateway, without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jwt.h>

#include "auth.h"
#include "users.h"

static const char secret[] = "0123456789abcdef0123456789abcdef-test";

static struct auth *
make(int ttl)
{
    struct auth *a;
    struct auth_opts o = {
        .secret = secret,
        .secret_len = strlen(secret),
        .ttl_s = ttl,
        .m_kib = 8192, /* smaller than production, for speed */
        .t_cost = 1,
        .workers = 2,
    };
    assert_int_equal(auth_new(&a, &o), 0);
    return a;
}

static void
test_short_secret_refused(void **state)
{
    struct auth *a;
    struct auth_opts o = {.secret = "short",
        .secret_len = 5,
        .ttl_s = 60,
        .m_kib = 8192,
        .t_cost = 1,
        .workers = 1};
    (void)state;
    assert_int_equal(auth_new(&a, &o), AUTH_ERROR);
}

static void
test_hash_and_verify(void **state)
{
    struct auth *a = make(60);
    char h1[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];

    (void)state;
    assert_int_equal(auth_hash(a, "correct-horse-1", h1), 0);
    assert_int_equal(auth_hash(a, "correct-horse-1", h2), 0);
    assert_non_null(strstr(h1, "$argon2id$"));
    assert_string_not_equal(h1, h2); /* salted */
    assert_int_equal(auth_verify(a, h1, "correct-horse-1"), 0);
    assert_int_equal(auth_verify(a, h1, "correct-horse-2"), AUTH_MISMATCH);
    assert_int_equal(auth_verify(a, NULL, "correct-horse-1"), AUTH_MISMATCH);
    auth_free(a);
}

static void
test_issue_and_check(void **state)
{
    struct auth *a = make(3600);
    struct principal p = {.user_id = "65f0c0ffee",
        .username = "alice",
        .role = ROLE_AGENT,
        .token_version = 3};
    struct principal q;
    char tok[1024];
    int64_t exp;

    (void)state;
    assert_int_equal(auth_issue(a, &p, tok, sizeof(tok), &exp), 0);
    assert_true(exp > time(NULL) + 3500);
    for (int i = 0; i < 2; i++) { /* the second comes from the cache */
        memset(&q, 0, sizeof(q));
        assert_int_equal(auth_check(a, tok, &q), 0);
        assert_string_equal(q.user_id, "65f0c0ffee");
        assert_string_equal(q.username, "alice");
        assert_int_equal(q.role, ROLE_AGENT);
        assert_int_equal(q.token_version, 3);
    }
    /* One flipped character of the signature. */
    size_t n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(auth_check(a, tok, &q), AUTH_MISMATCH);
    assert_int_equal(auth_check(a, "", &q), AUTH_MISMATCH);
    assert_int_equal(auth_check(a, "a.b.c", &q), AUTH_MISMATCH);
    auth_free(a);
}

/* Sign claims with libjwt directly, with any algorithm and key. */
static void
sign(char *out, size_t n, jwt_alg_t alg, const char *key, long exp,
    const char *role)
{
    jwt_t *j;
    jwt_new(&j);
    jwt_add_grant(j, "sub", "x1");
    jwt_add_grant(j, "username", "mallory");
    if (role)
        jwt_add_grant(j, "role", role);
    if (exp)
        jwt_add_grant_int(j, "exp", exp);
    jwt_set_alg(j, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0);
    char *t = jwt_encode_str(j);
    snprintf(out, n, "%s", t ? t : "");
    free(t);
    jwt_free(j);
}

static void
test_bad_tokens(void **state)
{
    struct auth *a = make(60);
    struct principal q;
    char tok[1024];
    long future = (long)time(NULL) + 600;

    (void)state;
    sign(tok, sizeof(tok), JWT_ALG_NONE, NULL, future, "admin");
    assert_int_equal(auth_check(a, tok, &q), AUTH_MISMATCH);
    sign(tok, sizeof(tok), JWT_ALG_HS512, secret, future, "admin");
    assert_int_equal(auth_check(a, tok, &q), AUTH_MISMATCH);
    sign(tok, sizeof(tok), JWT_ALG_HS256, "another-secret-of-32-bytes-or-more!",
        future, "admin");
    assert_int_equal(auth_check(a, tok, &q), AUTH_MISMATCH);
    sign(tok, sizeof(tok), JWT_ALG_HS256, secret, 0, "admin"); /* no exp */
    assert_int_equal(auth_check(a, tok, &q), AUTH_MISMATCH);
    sign(tok, sizeof(tok), JWT_ALG_HS256, secret, future, "root");
    assert_int_equal(auth_check(a, tok, &q), AUTH_MISMATCH);
    sign(tok, sizeof(tok), JWT_ALG_HS256, secret, (long)time(NULL) - 5, "user");
    assert_int_equal(auth_check(a, tok, &q), AUTH_EXPIRED);
    sign(tok, sizeof(tok), JWT_ALG_HS256, secret, future, "user");
    assert_int_equal(auth_check(a, tok, &q), 0);
    auth_free(a);
}

static void
test_usernames_and_passwords(void **state)
{
    char out[USERNAME_MAX + 1];
    const char *why;

    (void)state;
    assert_int_equal(users_check_name("Alice.B-2_c", out, &why), 0);
    assert_string_equal(out, "alice.b-2_c");
    assert_int_equal(users_check_name("ab", out, &why), -1);
    assert_int_equal(users_check_name("_alice", out, &why), -1);
    assert_int_equal(users_check_name("al ice", out, &why), -1);
    assert_int_equal(users_check_name("al$ice", out, &why), -1);
    assert_int_equal(users_check_name("ålice", out, &why), -1);
    assert_int_equal(
        users_check_name("a23456789012345678901234567890123", out, &why), -1);
    assert_int_equal(users_check_password("12345678", &why), 0);
    assert_int_equal(users_check_password("1234567", &why), -1);
    assert_int_equal(users_check_password("1234\n5678", &why), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_secret_refused),
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_issue_and_check),
        cmocka_unit_test(test_bad_tokens),
        cmocka_unit_test(test_usernames_and_passwords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
