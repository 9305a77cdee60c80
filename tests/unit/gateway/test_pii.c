/* PII detectors and redaction (services/gateway/pii.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pii.h"

/* The redaction of s. */
static char *
red(const char *s, unsigned *kinds)
{
    int n;
    char *out = pii_redact(s, strlen(s), kinds, &n);
    assert_non_null(out);
    return out;
}

static void
expect(const char *in, const char *want, unsigned want_kinds)
{
    unsigned kinds;
    char *out = red(in, &kinds);
    assert_string_equal(out, want);
    assert_int_equal(kinds, want_kinds);
    free(out);
}

#define K(k) (1u << (k))

static void
test_checksums(void **state)
{
    (void)state;
    assert_true(pii_luhn_ok("4111111111111111", 16));
    assert_false(pii_luhn_ok("4111111111111112", 16));
    assert_true(pii_iban_ok("GB82WEST12345698765432", 22));
    assert_false(pii_iban_ok("GB83WEST12345698765432", 22));
    assert_true(pii_iban_ok("DE89370400440532013000", 22));
    assert_false(pii_iban_ok("DE89", 4));
}

static void
test_cards(void **state)
{
    (void)state;
    expect("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks",
        K(PII_CARD));
    expect("card 4111-1111-1111-1111.", "card [CARD].", K(PII_CARD));
    expect("5500005555555559", "[CARD]", K(PII_CARD));
    /* not Luhn-valid: an order number stays */
    expect(
        "order 4111111111111112 is late", "order 4111111111111112 is late", 0);
}

static void
test_emails_ips_ssn(void **state)
{
    (void)state;
    expect("write to Jane.Doe+x@mail.example.co.uk.", "write to [EMAIL].",
        K(PII_EMAIL));
    expect("not an email: a@b, @home", "not an email: a@b, @home", 0);
    expect("from 192.168.10.254 today", "from [IP] today", K(PII_IP));
    expect("version 1.2.3 and 999.1.1.1", "version 1.2.3 and 999.1.1.1", 0);
    expect("ip 2001:db8::8a2e:370:7334 ok", "ip [IP] ok", K(PII_IP));
    expect("at 10:30:00 sharp", "at 10:30:00 sharp", 0);
    expect("ssn 123-45-6789", "ssn [SSN]", K(PII_SSN));
}

static void
test_phones(void **state)
{
    (void)state;
    expect("call +1 (555) 123-4567 now", "call [PHONE] now", K(PII_PHONE));
    expect("my number is 020 7946 0958", "my number is [PHONE]", K(PII_PHONE));
    expect("ring 5551234567", "ring [PHONE]", K(PII_PHONE));
    /* order numbers, dates, prices and short numbers are not phones */
    expect("order 12345678 arrived", "order 12345678 arrived", 0);
    expect("on 2024-01-31 I paid", "on 2024-01-31 I paid", 0);
    expect("it cost 1234.56", "it cost 1234.56", 0);
    expect("room 101", "room 101", 0);
}

static void
test_iban(void **state)
{
    (void)state;
    expect("send to GB82 WEST 1234 5698 7654 32 please",
        "send to [IBAN] please", K(PII_IBAN));
    expect("iban DE89370400440532013000.", "iban [IBAN].", K(PII_IBAN));
    expect("GB83WEST12345698765432", "GB83WEST12345698765432", 0);
}

static void
test_secrets(void **state)
{
    (void)state;
    expect("key sk-proj-abc123def456ghi789jkl0 oops", "key [SECRET] oops",
        K(PII_SECRET));
    expect("AKIAIOSFODNN7EXAMPLE", "[SECRET]", K(PII_SECRET));
    expect("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [SECRET]",
        K(PII_SECRET));
    expect("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk_-12",
        "jwt [SECRET]", K(PII_SECRET));
    expect("-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE "
           "KEY----- done",
        "[SECRET] done", K(PII_SECRET));
    expect("my api key is q8Zk2LmN4pR7sT9vW1xY", "my api key is [SECRET]",
        K(PII_SECRET));
    expect("Authorization: Bearer abcdef0123456789abcdef",
        "Authorization: Bearer [SECRET]", K(PII_SECRET));
    /* words alone are not secrets */
    expect("where do I find my api key?", "where do I find my api key?", 0);
    expect("sk-ii is a brand", "sk-ii is a brand", 0);
}

static void
test_passwords(void **state)
{
    (void)state;
    expect("my password is hunter22.", "my password is [PASSWORD].",
        K(PII_PASSWORD));
    expect("Password: tr0ub4dor horse", "Password: [PASSWORD] horse",
        K(PII_PASSWORD));
    expect("my password is \"open sesame\"", "my password is \"[PASSWORD]\"",
        K(PII_PASSWORD));
    expect("my password is sunshine", "my password is [PASSWORD]",
        K(PII_PASSWORD));
    expect("my PIN is 4821", "my PIN is [PASSWORD]", K(PII_PASSWORD));
    /* describing a password is not giving it */
    expect("my password is not working", "my password is not working", 0);
    expect("my password is wrong", "my password is wrong", 0);
    expect("the password is too short", "the password is too short", 0);
    expect("I forgot my password", "I forgot my password", 0);
    expect("my pin is blocked", "my pin is blocked", 0);
}

static void
test_many_and_edges(void **state)
{
    (void)state;
    expect("", "", 0);
    expect("a@b.co 4111111111111111 123-45-6789", "[EMAIL] [CARD] [SSN]",
        K(PII_EMAIL) | K(PII_CARD) | K(PII_SSN));
    /* a long run of digits and separators never crashes or overruns */
    char buf[4096];
    for (size_t i = 0; i < sizeof buf - 1; i++)
        buf[i] = "1 -.(+)@a:"[i % 10];
    buf[sizeof buf - 1] = '\0';
    unsigned kinds;
    char *out = red(buf, &kinds);
    free(out);
    struct pii_span sp[4];
    assert_true(
        pii_find("a@b.co x@y.org 1.2.3.4 5.6.7.8 9.9.9.9", 37, sp, 4) <= 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_emails_ips_ssn),
        cmocka_unit_test(test_phones),
        cmocka_unit_test(test_iban),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_many_and_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
