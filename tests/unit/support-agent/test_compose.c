/*
 * The built-in reply: which answer is used, when a human must answer
 * instead and why, greetings, money amounts; and end to end over the
 * project's knowledge base (data/knowledge/kb.json, or KB_FILE) with the
 * sentence encoder from MODEL_DIR (default build/model/minilm; that test
 * is skipped, saying so, without it).
 */
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

#define I(x) (1u << INTENT_##x)

/* Entries of a pretend knowledge base, hits made by hand. */
static struct kb_entry order = {.id = (char *)"order-status",
    .title = (char *)"Where is my order",
    .answer = (char *)"Track your order under My Orders.",
    .intents = I(QUESTION)};
static struct kb_entry hello = {.id = (char *)"greeting-hello",
    .title = (char *)"Hello",
    .answer = (char *)"Hello and welcome!",
    .intents = I(GREETING)};
static struct kb_entry refund = {.id = (char *)"refund-request",
    .title = (char *)"I want a refund",
    .answer = (char *)"Start a return under My Orders.",
    .intents = I(REFUND)};
static struct kb_entry late = {.id = (char *)"shipping-late",
    .title = (char *)"My delivery is late",
    .answer = (char *)"Sorry it is late; most parcels arrive within 2 days.",
    .intents = I(QUESTION) | I(COMPLAINT)};
static struct kb_entry twice = {.id = (char *)"payment-duplicate-charge",
    .title = (char *)"Charged twice",
    .answer = (char *)"Our billing team will check it.",
    .intents = I(BILLING) | I(COMPLAINT),
    .needs_human = true,
    .policy = (char *)"billing: the billing team must check bank records"};
static struct kb_entry person = {.id = (char *)"greeting-human",
    .title = (char *)"Talk to a person",
    .answer = (char *)"Of course, a colleague will join.",
    .intents = I(OTHER) | I(COMPLAINT),
    .needs_human = true,
    .policy = (char *)"human_requested: the customer asked for a person"};
static struct kb_entry large = {.id = (char *)"refund-large",
    .title = (char *)"Refund above 100 EUR",
    .answer = (char *)"A colleague checks refunds above 100 EUR.",
    .intents = I(REFUND),
    .needs_human = true,
    .policy = (char *)"refund: above 100 EUR"};

/* A hit found with an embedding (cosine decides the match). */
static struct hit
hc(struct kb_entry *e, float cosine)
{
    return (struct hit) {e, cosine, 0, cosine};
}

/* A hit found by keywords only (BM25 decides). */
static struct hit
hb(struct kb_entry *e, float bm25)
{
    return (struct hit) {e, bm25 / 10, bm25, RETRIEVAL_NO_COSINE};
}

static void
test_answers_from_the_best_entry(void **state)
{
    struct hit h[3] = {hc(&order, 0.8f), hc(&late, 0.5f), hc(&refund, 0.3f)};
    struct draft d;

    (void)state;
    compose_reply("where is my order?", INTENT_QUESTION, 0.9f, h, 3, &d);
    assert_false(d.needs_human);
    assert_int_equal(d.why, COMPOSE_ANSWERED);
    assert_string_equal(d.reason, "");
    assert_null(d.holding);
    assert_true(d.matched);
    assert_string_equal(d.reply, order.answer);
    assert_int_equal(d.nids, 3);
    assert_string_equal(d.ids[0], "order-status");
    assert_string_equal(d.ids[1], "shipping-late");
    assert_string_equal(d.ids[2], "refund-request");

    /* Keyword retrieval: BM25 decides the match. */
    struct hit k[1] = {hb(&order, COMPOSE_BM25_MIN + 1)};
    compose_reply("where is my order?", INTENT_QUESTION, 0.9f, k, 1, &d);
    assert_false(d.needs_human);
    assert_string_equal(d.reply, order.answer);
}

static void
test_no_match_hands_over(void **state)
{
    struct draft d;
    struct hit weak[1] = {hc(&order, COMPOSE_COSINE_MIN - 0.1f)};

    (void)state;
    /* Nothing at all: a holding reply. */
    compose_reply("zzzz", INTENT_OTHER, 0.9f, NULL, 0, &d);
    assert_true(d.needs_human);
    assert_int_equal(d.why, COMPOSE_NO_MATCH);
    assert_string_equal(d.reason, "no_match");
    assert_non_null(d.holding);
    assert_string_equal(d.reply, d.holding);
    assert_int_equal(d.nids, 0);
    compose_reply("zzzz", INTENT_OTHER, 0.9f, weak, -3, &d);
    assert_string_equal(d.reason, "no_match");

    /* Too weak: the closest entry is kept as a draft for the human. */
    compose_reply("something else", INTENT_QUESTION, 0.9f, weak, 1, &d);
    assert_true(d.needs_human);
    assert_false(d.matched);
    assert_string_equal(d.reason, "no_match");
    assert_string_equal(d.reply, order.answer);
    assert_non_null(d.holding);
    assert_string_equal(d.ids[0], "order-status");

    /* With an embedding, shared words alone do not make a match. */
    struct hit words[1] = {{&order, 0.5f, 50.0f, 0.2f}};
    compose_reply("order order order", INTENT_QUESTION, 0.9f, words, 1, &d);
    assert_string_equal(d.reason, "no_match");
    struct hit kw[1] = {hb(&order, COMPOSE_BM25_MIN - 0.5f)};
    compose_reply("order", INTENT_QUESTION, 0.9f, kw, 1, &d);
    assert_string_equal(d.reason, "no_match");

    /* Looser limits answer it. */
    struct compose_limits lim = compose_default_limits;
    lim.cosine_min = 0.1f;
    compose_reply_with(&lim, "order", INTENT_QUESTION, 0.9f, weak, 1, &d);
    assert_false(d.needs_human);
}

static void
test_policies(void **state)
{
    struct draft d;

    (void)state;
    /* A complaint goes to a human, with the draft kept. */
    struct hit c[1] = {hc(&late, 0.7f)};
    compose_reply("my parcel is late again, this is a disgrace",
        INTENT_COMPLAINT, 0.9f, c, 1, &d);
    assert_true(d.needs_human);
    assert_int_equal(d.why, COMPOSE_POLICY_COMPLAINT);
    assert_string_equal(d.reason, "policy_complaint");
    assert_string_equal(d.reply, late.answer);
    assert_non_null(d.holding);
    assert_string_not_equal(d.holding, d.reply);
    assert_string_equal(d.ids[0], "shipping-late");
    /* The same entry for a question is answered. */
    compose_reply("is my parcel late?", INTENT_QUESTION, 0.9f, c, 1, &d);
    assert_false(d.needs_human);

    /* The entry's policy names the reason. */
    struct hit b[1] = {hc(&twice, 0.8f)};
    compose_reply("charged twice", INTENT_BILLING, 0.9f, b, 1, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "policy_billing");
    assert_string_equal(d.reply, twice.answer);
    struct hit p[1] = {hc(&person, 0.8f)};
    compose_reply("a real person please", INTENT_OTHER, 0.9f, p, 1, &d);
    assert_string_equal(d.reason, "policy_human_requested");
    struct hit l[1] = {hc(&large, 0.8f)};
    compose_reply("refund outside the window", INTENT_REFUND, 0.9f, l, 1, &d);
    assert_string_equal(d.reason, "policy_refund");
    /* Policy before the complaint rule. */
    compose_reply("you charged me twice!!", INTENT_COMPLAINT, 0.9f, b, 1, &d);
    assert_string_equal(d.reason, "policy_billing");

    /* A refund above the limit, whatever the entry says. */
    struct hit r[1] = {hc(&refund, 0.8f)};
    compose_reply("I want a refund of 250 EUR", INTENT_REFUND, 0.9f, r, 1, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "policy_refund");
    assert_string_equal(d.reply, refund.answer);
    compose_reply("I want a refund of 40 EUR", INTENT_REFUND, 0.9f, r, 1, &d);
    assert_false(d.needs_human);
    compose_reply("I want a refund", INTENT_REFUND, 0.9f, r, 1, &d);
    assert_false(d.needs_human);
    /* ... also when the message was classified otherwise but the entry is
     * about refunds. */
    compose_reply(
        "money back for my €1,200 sofa?", INTENT_QUESTION, 0.9f, r, 1, &d);
    assert_string_equal(d.reason, "policy_refund");
    struct compose_limits lim = compose_default_limits;
    lim.refund_limit = 2000;
    compose_reply_with(&lim, "money back for my €1,200 sofa?", INTENT_QUESTION,
        0.9f, r, 1, &d);
    assert_false(d.needs_human);

    /* Unsure about the intent. */
    struct hit o[1] = {hc(&order, 0.8f)};
    compose_reply("where is my order", INTENT_QUESTION, 0.1f, o, 1, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "low_confidence");
    assert_string_equal(d.reply, order.answer);
    compose_reply("where is my order", -1, COMPOSE_CONFIDENCE_MIN, o, 1, &d);
    assert_false(d.needs_human);
}

static void
test_greetings(void **state)
{
    struct draft d;

    (void)state;
    struct hit g[2] = {hc(&hello, 0.9f), hc(&order, 0.2f)};
    compose_reply("hello!", INTENT_GREETING, 0.9f, g, 2, &d);
    assert_false(d.needs_human);
    assert_string_equal(d.reply, hello.answer);
    assert_string_equal(d.ids[0], "greeting-hello");

    /* No greeting entry found: still a greeting, never a hand-over. */
    compose_reply("yo", INTENT_GREETING, 0.9f, NULL, 0, &d);
    assert_false(d.needs_human);
    assert_non_null(d.reply);
    assert_true(strlen(d.reply) > 0);
    assert_int_equal(d.nids, 0);
    /* A weak greeting entry is still the one to use. */
    struct hit w[2] = {hc(&order, 0.3f), hc(&hello, 0.25f)};
    compose_reply("yo", INTENT_GREETING, 0.9f, w, 2, &d);
    assert_false(d.needs_human);
    assert_string_equal(d.reply, hello.answer);
    assert_string_equal(d.ids[0], "greeting-hello");

    /* A greeting with a real question: the question is answered. */
    struct hit q[2] = {hc(&order, 0.7f), hc(&hello, 0.4f)};
    compose_reply("hi, where is my order?", INTENT_GREETING, 0.9f, q, 2, &d);
    assert_false(d.needs_human);
    assert_string_equal(d.reply, order.answer);
    /* ... and a greeting asking for a person gets one. */
    struct hit p[2] = {hc(&person, 0.7f), hc(&hello, 0.5f)};
    compose_reply("hi, a human please", INTENT_GREETING, 0.9f, p, 2, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "policy_human_requested");

    /* A question that matched a greeting entry best is answered from the
     * next entry that matches. */
    struct hit m[2] = {hc(&hello, 0.6f), hc(&order, 0.55f)};
    compose_reply("hello where's my order", INTENT_QUESTION, 0.9f, m, 2, &d);
    assert_string_equal(d.reply, order.answer);
    assert_string_equal(d.ids[0], "order-status");
    assert_string_equal(d.ids[1], "greeting-hello");

    /* Not even sure it is a greeting, and nothing matched: a human. */
    compose_reply("asdf", INTENT_GREETING, 0.1f, NULL, 0, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "no_match");
}

static void
test_reason_names(void **state)
{
    (void)state;
    assert_string_equal(compose_reason_name(COMPOSE_ANSWERED), "");
    assert_string_equal(compose_reason_name(COMPOSE_NO_MATCH), "no_match");
    assert_string_equal(
        compose_reason_name(COMPOSE_LOW_CONFIDENCE), "low_confidence");
    assert_string_equal(compose_reason_name(COMPOSE_REASON_COUNT), "policy");
    assert_int_equal(
        compose_policy_reason("refund: above 100 EUR"), COMPOSE_POLICY_REFUND);
    assert_int_equal(
        compose_policy_reason("complaint"), COMPOSE_POLICY_COMPLAINT);
    assert_int_equal(
        compose_policy_reason("Security : hacked"), COMPOSE_POLICY_SECURITY);
    assert_int_equal(
        compose_policy_reason("account: identity"), COMPOSE_POLICY_ACCOUNT);
    assert_int_equal(compose_policy_reason("human_requested: asked"),
        COMPOSE_HUMAN_REQUESTED);
    assert_int_equal(compose_policy_reason("needs a person"), COMPOSE_POLICY);
    assert_int_equal(compose_policy_reason("refunds: x"), COMPOSE_POLICY);
    assert_int_equal(compose_policy_reason(""), COMPOSE_POLICY);
    assert_int_equal(compose_policy_reason(NULL), COMPOSE_POLICY);
}

static void
test_asks_for_person(void **state)
{
    static const char *yes[] = {
        "This is unacceptable, I want to speak to a manager about my order",
        "can I talk to a real human please",
        "Connect me with an agent",
        "I need to speak with someone",
        "HUMAN AGENT!!",
        "is there a live agent?",
        "let me chat to a person",
        "put me through to your supervisor",
    };
    static const char *no[] = {
        "where is my order?",
        "the delivery agent left my parcel outside",
        "my agent account is locked",
        "I want a refund",
        "speak louder, the video has no sound",
        "the person who delivered it was rude",
        "",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!compose_asks_for_person(yes[i]))
            fail_msg("missed: %s", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (compose_asks_for_person(no[i]))
            fail_msg("false alarm: %s", no[i]);
    assert_false(compose_asks_for_person(NULL));

    /* Whatever matched, the draft goes to a person with that reason. */
    struct hit h[2] = {hc(&order, 0.9f), hc(&person, 0.2f)};
    struct draft d;
    compose_reply("I want to speak to a manager about my order",
        INTENT_QUESTION, 0.9f, h, 2, &d);
    assert_true(d.needs_human);
    assert_string_equal(d.reason, "policy_human_requested");
    assert_string_equal(d.reply, person.answer);
}

static void
test_amounts(void **state)
{
    (void)state;
    assert_true(compose_amount("refund 250 EUR") == 250);
    assert_true(compose_amount("EUR250 please") == 250);
    assert_true(compose_amount("it was 250€") == 250);
    assert_true(compose_amount("I paid \xe2\x82\xac"
                               "120.50 twice")
        == 120.5);
    assert_true(compose_amount("$99 and $130") == 130);
    assert_true(compose_amount("£80") == 80);
    assert_true(compose_amount("80 pounds") == 80);
    assert_true(compose_amount("€1,200 sofa") == 1200);
    assert_true(compose_amount("1.200,50 EUR") == 1200.5);
    assert_true(compose_amount("1,200.50 dollars") == 1200.5);
    assert_true(compose_amount("12,5 euros") == 12.5);
    assert_true(compose_amount("order 12345 arrived") == 0);
    assert_true(compose_amount("order #12345, 3 items, 2 weeks") == 0);
    assert_true(compose_amount("chauffeur 500") == 0);
    assert_true(compose_amount("0x1A EUR") == 0);
    assert_true(compose_amount("A320 eur") == 0);
    assert_true(compose_amount("") == 0);
    assert_true(compose_amount(NULL) == 0);
    /* Only the first RETRIEVAL_QUERY_MAX bytes are looked at. */
    char *big = malloc(RETRIEVAL_QUERY_MAX + 64);
    assert_non_null(big);
    memset(big, ' ', RETRIEVAL_QUERY_MAX + 63);
    memcpy(big + RETRIEVAL_QUERY_MAX + 10, "900 EUR", 7);
    big[RETRIEVAL_QUERY_MAX + 63] = '\0';
    assert_true(compose_amount(big) == 0);
    memcpy(big + 10, "300 EUR", 7);
    assert_true(compose_amount(big) == 300);
    free(big);
}

/* ---- end to end over the knowledge base ------------------------------ */

struct e2e {
    const char *text;
    int intent;
    const char *want_id;     /* ids[0], or NULL for any */
    const char *want_reason; /* "" for answered */
};

static void
test_end_to_end(void **state)
{
    static const struct e2e cases[] = {
        {"where is my order?", INTENT_QUESTION, "order-status", ""},
        {"my parcel never came", INTENT_QUESTION, "shipping-lost-parcel", ""},
        {"hello", INTENT_GREETING, "greeting-hello", ""},
        {"thank you so much!", INTENT_GREETING, "greeting-thanks", ""},
        {"how long until I get my money back?", INTENT_REFUND, "refund-timing",
            ""},
        {"the app keeps closing by itself", INTENT_TECHNICAL, "tech-app-crash",
            ""},
        {"This is unacceptable, I want to file a complaint about your "
         "service",
            INTENT_COMPLAINT, NULL, "policy_complaint"},
        {"I want a refund of 300 euros for my order", INTENT_REFUND, NULL,
            "policy_refund"},
        {"my card was charged twice", INTENT_BILLING,
            "payment-duplicate-charge", "policy_billing"},
        {"I'd like to talk to a real person", INTENT_OTHER, "greeting-human",
            "policy_human_requested"},
        {"someone else got into my account and placed orders", INTENT_TECHNICAL,
            "account-hacked", "policy_security"},
        {"what will the weather be in Lisbon tomorrow?", INTENT_QUESTION, NULL,
            "no_match"},
        {"can you write me a poem about autumn", INTENT_OTHER, NULL,
            "no_match"},
    };
    const char *dir = getenv("MODEL_DIR");
    const char *kbf = getenv("KB_FILE");
    struct encoder *enc;
    struct retrieval *r;
    struct kb kb;
    char err[256];

    (void)state;
    if (dir == NULL)
        dir = "build/model/minilm";
    if (encoder_load(&enc, dir) != 0) {
        print_message("skipped: no sentence encoder in %s (make "
                      "build/model/minilm/model.safetensors)\n",
            dir);
        skip();
        return;
    }
    if (kb_load_file(
            &kb, kbf ? kbf : "data/knowledge/kb.json", err, sizeof(err))
        != 0)
        fail_msg("%s", err);
    assert_int_equal(retrieval_build(&r, &kb, enc), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct e2e *c = &cases[i];
        const char *t[1] = {c->text};
        float emb[ENCODER_DIM];
        struct hit h[3];
        struct draft d;
        assert_int_equal(encoder_embed(enc, t, 1, emb), 0);
        int n = retrieval_search(r, c->text, emb, c->intent, NULL, h, 3);
        compose_reply(c->text, c->intent, 0.9f, h, n, &d);
        if (strcmp(d.reason, c->want_reason) != 0
            || (c->want_id != NULL
                && (d.nids == 0 || strcmp(d.ids[0], c->want_id) != 0)))
            fail_msg("\"%s\": got %s (reason \"%s\"), want %s (reason "
                     "\"%s\")",
                c->text, d.nids ? d.ids[0] : "-", d.reason,
                c->want_id ? c->want_id : "any", c->want_reason);
        assert_int_equal(d.needs_human, c->want_reason[0] != '\0');
        assert_non_null(d.reply);
    }
    retrieval_free(r);
    encoder_free(enc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_from_the_best_entry),
        cmocka_unit_test(test_no_match_hands_over),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_greetings),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_asks_for_person),
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
