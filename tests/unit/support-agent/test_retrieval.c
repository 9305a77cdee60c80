/* Retrieval and the built-in reply over a small knowledge base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compose.h"
#include "intent.h"
#include "retrieval.h"

struct spec {
    const char *id, *title, *answer;
    const char *questions[3];
    unsigned intents;
    bool needs_human, curated;
};

#define I(x) (1u << INTENT_##x)

static const struct spec specs[] = {
    {"order-status", "Where is my order", "Track your order under My Orders.",
        {"How do I track my order?", "What is my order status?"}, I(QUESTION),
        false, false},
    {"shipping-lost", "My parcel has not arrived",
        "If your parcel is more than 10 working days late we will investigate.",
        {"My package never arrived", "Delivery is late"},
        I(QUESTION) | I(COMPLAINT), false, false},
    {"refund-policy", "How refunds work",
        "Refunds reach your original payment method 5-10 working days after "
        "the return arrives.",
        {"When do I get my money back?", "How long does a refund take?"},
        I(REFUND), false, false},
    {"duplicate-charge", "I was charged twice",
        "Our billing team will check the duplicate charge with your bank.",
        {"My card was charged twice", "Double payment"}, I(BILLING), true,
        false},
    {"password-reset", "Reset your password",
        "Use 'Forgot password' on the sign-in page.",
        {"I forgot my password", "How do I change my password?"}, I(TECHNICAL),
        false, false},
    {"greeting", "Hello", "Hello! How can I help you today?",
        {"Hi", "Good morning"}, I(GREETING), false, false},
    {"password-curated", "Password reset link not arriving",
        "Check your spam folder; the link is valid for one hour.",
        {"password reset email never came"}, I(TECHNICAL), false, true},
};

static struct retrieval *
build(const struct encoder *enc)
{
    size_t n = sizeof(specs) / sizeof(specs[0]);
    struct kb kb = {calloc(n, sizeof(struct kb_entry)), n};
    struct retrieval *r;

    for (size_t i = 0; i < n; i++) {
        struct kb_entry *e = &kb.entries[i];
        e->id = strdup(specs[i].id);
        e->title = strdup(specs[i].title);
        e->answer = strdup(specs[i].answer);
        for (int q = 0; q < 3 && specs[i].questions[q]; q++)
            e->questions[e->nquestions++] = strdup(specs[i].questions[q]);
        e->intents = specs[i].intents;
        e->needs_human = specs[i].needs_human;
        e->curated = specs[i].curated;
    }
    assert_int_equal(retrieval_build(&r, &kb, enc), 0);
    assert_int_equal(kb.n, 0); /* taken */
    assert_int_equal(retrieval_size(r), n);
    return r;
}

static const char *
top(const struct retrieval *r, const struct encoder *enc, const char *text,
    int intent)
{
    struct hit h[3];
    float emb[ENCODER_DIM];
    const char *t[1] = {text};

    if (enc != NULL)
        assert_int_equal(encoder_embed(enc, t, 1, emb), 0);
    int n = retrieval_search(r, text, enc ? emb : NULL, intent, NULL, h, 3);
    return n > 0 ? h[0].entry->id : "";
}

static void
test_bm25(void **state)
{
    struct retrieval *r = build(NULL);

    (void)state;
    assert_string_equal(top(r, NULL, "where is my order?", -1), "order-status");
    assert_string_equal(
        top(r, NULL, "my card was charged twice!", -1), "duplicate-charge");
    assert_string_equal(
        top(r, NULL, "refunds: how long?", -1), "refund-policy");
    /* Curated entries rank first among equals. */
    assert_string_equal(
        top(r, NULL, "password reset email", -1), "password-curated");
    struct hit h[3];
    assert_int_equal(retrieval_search(r, "zzzz qqqq", NULL, -1, NULL, h, 3), 0);
    retrieval_free(r);
}

static void
test_hybrid_finds_paraphrases(void **state)
{
    const char *dir = getenv("MODEL_DIR");
    struct encoder *enc;

    (void)state;
    if (encoder_load(&enc, dir ? dir : "build/model/minilm") != 0) {
        skip();
        return;
    }
    struct retrieval *r = build(enc);
    /* No word in common with the shipping entry. */
    assert_string_equal(
        top(r, enc, "my parcel never came", INTENT_QUESTION), "shipping-lost");
    assert_string_equal(
        top(r, enc, "I was billed 2x for one purchase", INTENT_BILLING),
        "duplicate-charge");
    assert_string_equal(top(r, enc, "hey there", INTENT_GREETING), "greeting");
    retrieval_free(r);
    encoder_free(enc);
}

static void
test_compose_policy(void **state)
{
    struct retrieval *r = build(NULL);
    struct hit h[3];
    struct draft d;
    int n;

    (void)state;
    n = retrieval_search(
        r, "where is my order", NULL, INTENT_QUESTION, NULL, h, 3);
    compose_reply("where is my order", INTENT_QUESTION, 0.9f, h, n, &d);
    assert_false(d.needs_human);
    assert_string_equal(d.reply, "Track your order under My Orders.");
    assert_string_equal(d.ids[0], "order-status");

    /* A complaint goes to a human, with the draft kept. */
    n = retrieval_search(r, "my parcel never arrived, this is a disgrace", NULL,
        INTENT_COMPLAINT, NULL, h, 3);
    compose_reply("...", INTENT_COMPLAINT, 0.9f, h, n, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "policy_complaint");
    assert_non_null(d.reply);

    /* An entry marked for humans. */
    n = retrieval_search(r, "charged twice", NULL, INTENT_BILLING, NULL, h, 3);
    compose_reply("charged twice", INTENT_BILLING, 0.9f, h, n, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "policy");

    /* A refund above what an AI may promise. */
    n = retrieval_search(
        r, "refund of 250 EUR please", NULL, INTENT_REFUND, NULL, h, 3);
    compose_reply("refund of 250 EUR please", INTENT_REFUND, 0.9f, h, n, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "policy_refund");
    compose_reply("how long does a refund take", INTENT_REFUND, 0.9f, h, n, &d);
    assert_false(d.needs_human);

    /* Nothing matches. */
    compose_reply("zzzz", INTENT_OTHER, 0.9f, h, 0, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "no_match");

    /* Unsure about the intent. */
    n = retrieval_search(r, "where is my order", NULL, -1, NULL, h, 3);
    compose_reply("where is my order", INTENT_QUESTION, 0.1f, h, n, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "low_confidence");
    retrieval_free(r);
}

static void
test_amounts(void **state)
{
    (void)state;
    assert_true(compose_amount("refund 250 EUR") == 250);
    assert_true(compose_amount("I paid \xe2\x82\xac"
                               "120.50 twice")
        == 120.5);
    assert_true(compose_amount("$99 and $130") == 130);
    assert_true(compose_amount("order 12345 arrived") == 0);
    assert_true(compose_amount("") == 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bm25),
        cmocka_unit_test(test_hybrid_finds_paraphrases),
        cmocka_unit_test(test_compose_policy),
        cmocka_unit_test(test_amounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
