/*
 * Retrieval: BM25 and the hybrid over the project's knowledge base
 * (data/knowledge/kb.json, or KB_FILE), curated entries, rebuilding with
 * reused embeddings, and swapping the index under concurrent searches.
 * The tests that need the sentence encoder read it from MODEL_DIR
 * (default build/model/minilm) and are skipped, saying so, without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "compose.h"
#include "intent.h"
#include "retrieval.h"

#define I(x) (1u << INTENT_##x)

static const char *
kb_path(void)
{
    const char *p = getenv("KB_FILE");
    return p != NULL ? p : "data/knowledge/kb.json";
}

/* The encoder, or NULL (the caller skips) with a message saying why. */
static struct encoder *
load_encoder(void)
{
    const char *dir = getenv("MODEL_DIR");
    struct encoder *enc;

    if (dir == NULL)
        dir = "build/model/minilm";
    if (encoder_load(&enc, dir) != 0) {
        print_message("skipped: no sentence encoder in %s (make "
                      "build/model/minilm/model.safetensors)\n",
            dir);
        return NULL;
    }
    return enc;
}

static struct retrieval *
build_real(const struct encoder *enc)
{
    struct kb kb;
    struct retrieval *r;
    char err[256];

    if (kb_load_file(&kb, kb_path(), err, sizeof(err)) != 0)
        fail_msg("%s", err);
    size_t n = kb.n;
    assert_true(n >= 50);
    assert_int_equal(retrieval_build(&r, &kb, enc), 0);
    assert_int_equal(kb.n, 0); /* taken */
    assert_int_equal(retrieval_size(r), n);
    assert_int_equal(retrieval_embedded(r), enc ? n : 0);
    return r;
}

static void
embed(const struct encoder *enc, const char *text, float *out)
{
    const char *t[1] = {text};
    assert_int_equal(encoder_embed(enc, t, 1, out), 0);
}

/* The id of the best entry for text ("" when none). */
static const char *
top(const struct retrieval *r, const struct encoder *enc, const char *text,
    int intent)
{
    struct hit h[3];
    float emb[ENCODER_DIM];

    if (enc != NULL)
        embed(enc, text, emb);
    int n = retrieval_search(r, text, enc ? emb : NULL, intent, NULL, h, 3);
    assert_true(n >= 0 && n <= 3);
    return n > 0 ? h[0].entry->id : "";
}

static void
test_bm25_on_the_knowledge_base(void **state)
{
    struct retrieval *r = build_real(NULL);
    struct hit h[5];

    (void)state;
    assert_string_equal(top(r, NULL, "where is my order?", -1), "order-status");
    assert_string_equal(
        top(r, NULL, "Where is my order?", INTENT_QUESTION), "order-status");
    assert_string_equal(
        top(r, NULL, "my card was charged twice!", INTENT_BILLING),
        "payment-duplicate-charge");
    assert_string_equal(top(r, NULL, "how do I reset my password", -1),
        "account-password-reset");
    assert_string_equal(
        top(r, NULL, "which payment methods do you accept", INTENT_QUESTION),
        "payment-methods");
    /* Greeting words are not stop words: keyword search finds them. */
    assert_string_equal(top(r, NULL, "hi", INTENT_GREETING), "greeting-hello");
    assert_string_equal(
        top(r, NULL, "thanks!", INTENT_GREETING), "greeting-thanks");
    /* Nothing shared: nothing returned. */
    assert_int_equal(retrieval_search(r, "zzzz qqqq", NULL, -1, NULL, h, 5), 0);
    assert_int_equal(retrieval_search(r, "", NULL, -1, NULL, h, 5), 0);
    assert_int_equal(retrieval_search(r, NULL, NULL, -1, NULL, h, 5), 0);
    /* Ranked, k respected, no embedding: no cosine. */
    int n = retrieval_search(r, "refund for my order", NULL, -1, NULL, h, 5);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) {
        assert_true(h[i].cosine == RETRIEVAL_NO_COSINE);
        assert_true(h[i].bm25 > 0);
        if (i > 0)
            assert_true(h[i - 1].score >= h[i].score);
    }
    assert_int_equal(
        retrieval_search(r, "refund for my order", NULL, -1, NULL, h, 0), 0);
    retrieval_free(r);
}

static void
test_hybrid_finds_paraphrases(void **state)
{
    struct encoder *enc = load_encoder();

    (void)state;
    if (enc == NULL) {
        skip();
        return;
    }
    struct retrieval *r = build_real(enc);
    /* No word in common with the damaged-item entry: keywords find
     * nothing, the hybrid finds it. */
    assert_string_equal(top(r, NULL, "the lamp came smashed", -1), "");
    assert_string_equal(top(r, enc, "the lamp came smashed", INTENT_COMPLAINT),
        "shipping-damaged");
    assert_string_equal(top(r, enc, "my parcel never came", INTENT_QUESTION),
        "shipping-lost-parcel");
    assert_string_equal(
        top(r, enc, "where is my order?", INTENT_QUESTION), "order-status");
    assert_string_equal(
        top(r, enc, "I was billed two times for a single purchase",
            INTENT_BILLING),
        "payment-duplicate-charge");
    assert_string_equal(
        top(r, enc, "the app keeps closing by itself", INTENT_TECHNICAL),
        "tech-app-crash");
    assert_string_equal(
        top(r, enc, "can I send back shoes that don't fit?", INTENT_REFUND),
        "returns-how");
    assert_string_equal(
        top(r, enc, "hey there", INTENT_GREETING), "greeting-hello");
    assert_string_equal(
        top(r, enc, "I'd like to speak to a real person", INTENT_OTHER),
        "greeting-human");

    /* Something the shop knows nothing about stays under the match
     * threshold, even though it shares a word ("stock"). */
    struct hit h[3];
    float emb[ENCODER_DIM];
    const char *q = "what will the weather be in Lisbon tomorrow?";
    embed(enc, q, emb);
    int n = retrieval_search(r, q, emb, INTENT_QUESTION, NULL, h, 3);
    assert_true(n > 0);
    assert_true(h[0].cosine >= 0);
    assert_true(h[0].cosine < COMPOSE_COSINE_MIN);
    retrieval_free(r);
    encoder_free(enc);
}

/* ---- small hand-made bases ------------------------------------------- */

struct spec {
    const char *id, *title, *answer;
    const char *questions[3];
    unsigned intents;
    bool needs_human, curated;
};

static void
fill(struct kb *kb, const struct spec *specs, size_t n)
{
    kb->entries = calloc(n, sizeof(struct kb_entry));
    kb->n = n;
    assert_non_null(kb->entries);
    for (size_t i = 0; i < n; i++) {
        struct kb_entry *e = &kb->entries[i];
        e->id = strdup(specs[i].id);
        e->title = strdup(specs[i].title);
        e->answer = strdup(specs[i].answer);
        for (int q = 0; q < 3 && specs[i].questions[q]; q++)
            e->questions[e->nquestions++] = strdup(specs[i].questions[q]);
        e->intents = specs[i].intents;
        e->needs_human = specs[i].needs_human;
        e->curated = specs[i].curated;
    }
}

static struct retrieval *
build_specs(const struct spec *specs, size_t n, const struct encoder *enc)
{
    struct kb kb;
    struct retrieval *r;

    fill(&kb, specs, n);
    assert_int_equal(retrieval_build(&r, &kb, enc), 0);
    return r;
}

/*
 * specs plus nfill entries about unrelated things, so that word weights
 * (idf) are those of a base of realistic size.
 */
static struct retrieval *
build_padded(
    const struct spec *specs, size_t n, size_t nfill, const struct encoder *enc)
{
    struct kb kb;
    struct retrieval *r;
    char buf[64];

    fill(&kb, specs, n);
    struct kb_entry *m = realloc(kb.entries, (n + nfill) * sizeof(*m));
    assert_non_null(m);
    kb.entries = m;
    memset(m + n, 0, nfill * sizeof(*m));
    for (size_t i = 0; i < nfill; i++) {
        struct kb_entry *e = &m[n + i];
        snprintf(buf, sizeof(buf), "filler-%zu", i);
        e->id = strdup(buf);
        snprintf(buf, sizeof(buf), "Topic%zu things", i);
        e->title = strdup(buf);
        snprintf(buf, sizeof(buf), "About topic%zu.", i);
        e->answer = strdup(buf);
        e->intents = I(OTHER);
    }
    kb.n = n + nfill;
    assert_int_equal(retrieval_build(&r, &kb, enc), 0);
    return r;
}

static void
test_intent_lifts_its_entries(void **state)
{
    static const struct spec specs[] = {
        {"a-billing", "Card payment", "Billing answer.",
            {"card payment problem"}, I(BILLING), false, false},
        {"a-technical", "Card payment", "Technical answer.",
            {"card payment problem"}, I(TECHNICAL), false, false},
    };
    struct retrieval *r = build_specs(specs, 2, NULL);

    (void)state;
    assert_string_equal(
        top(r, NULL, "card payment problem", INTENT_TECHNICAL), "a-technical");
    assert_string_equal(
        top(r, NULL, "card payment problem", INTENT_BILLING), "a-billing");
    /* Without the lift the two tie; no intent is not an error. */
    struct hit h[2];
    assert_int_equal(
        retrieval_search(r, "card payment problem", NULL, -1, NULL, h, 2), 2);
    assert_true(h[0].score == h[1].score);
    assert_int_equal(retrieval_search(r, "card payment problem", NULL,
                         INTENT_COUNT + 5, NULL, h, 2),
        2);
    retrieval_free(r);
}

static void
test_curated_entries_rank_first_when_they_match(void **state)
{
    static const struct spec specs[] = {
        {"seed-password", "Reset your password",
            "Use 'Forgot password' on the sign-in page.",
            {"password reset email not arriving", "reset password link",
                "forgot my password reset"},
            I(TECHNICAL), false, false},
        {"curated-password", "Reset link",
            "Check your spam folder; the link is valid for one hour.",
            {"password reset email not arriving"}, I(TECHNICAL), false, true},
        {"curated-other", "Gift wrapping",
            "We wrap gifts for 3 EUR; choose it at checkout.",
            {"do you offer gift wrapping"}, I(QUESTION), false, true},
    };
    struct retrieval_weights flat = {1, 1, 1, 0, 0}; /* no curated lift */
    struct hit h[3];
    int n;

    (void)state;
    struct retrieval *r = build_padded(specs, 3, 40, NULL);
    /* The seed entry scores higher on its own words, but the curated one
     * matches (BM25 above RETRIEVAL_CURATED_BM25): it comes first. */
    n = retrieval_search(r, "password reset email not arriving", NULL,
        INTENT_TECHNICAL, &flat, h, 3);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].entry->id, "curated-password");
    assert_string_equal(h[1].entry->id, "seed-password");
    assert_true(h[0].bm25 >= RETRIEVAL_CURATED_BM25);
    assert_true(h[1].score > h[0].score);
    /* A curated entry that only grazes the message does not jump ahead. */
    n = retrieval_search(r, "forgot password, wrapping", NULL, -1, &flat, h, 3);
    assert_true(n >= 2);
    assert_string_equal(h[0].entry->id, "seed-password");
    retrieval_free(r);

    struct encoder *enc = load_encoder();
    if (enc == NULL) {
        skip();
        return;
    }
    r = build_specs(specs, 3, enc);
    float emb[ENCODER_DIM];
    const char *q = "the password reset email isn't arriving";
    embed(enc, q, emb);
    n = retrieval_search(r, q, emb, INTENT_TECHNICAL, &flat, h, 3);
    assert_true(n >= 2);
    assert_string_equal(h[0].entry->id, "curated-password");
    assert_true(h[0].cosine >= RETRIEVAL_CURATED_COSINE);
    /* Unrelated: the curated gift-wrapping answer is not lifted. */
    q = "I forgot my password";
    embed(enc, q, emb);
    n = retrieval_search(r, q, emb, INTENT_TECHNICAL, NULL, h, 3);
    assert_true(n >= 1);
    assert_string_not_equal(h[0].entry->id, "curated-other");
    retrieval_free(r);
    encoder_free(enc);
}

static void
test_rebuild_reuses_embeddings(void **state)
{
    struct encoder *enc = load_encoder();
    static const struct spec v1[] = {
        {"order-status", "Where is my order", "Track it under My Orders.",
            {"How do I track my order?"}, I(QUESTION), false, false},
        {"refund-timing", "How long refunds take", "5-10 working days.",
            {"When do I get my money back?"}, I(REFUND), false, false},
    };
    static const struct spec v2[] = {
        {"refund-timing", "How long refunds take", "Within 10 days now.",
            {"When do I get my money back?"}, I(REFUND), false, false},
        {"order-status", "Where is my order", "Track it under My Orders.",
            {"How do I track my order?", "Has my order shipped?"}, I(QUESTION),
            false, false},
        {"curated-1", "Parcel lost", "We will send a replacement.",
            {"my parcel never came"}, I(QUESTION), false, true},
    };

    (void)state;
    if (enc == NULL) {
        skip();
        return;
    }
    struct retrieval *a = build_specs(v1, 2, enc), *b, *fresh;
    struct kb kb;
    assert_int_equal(retrieval_encoded(a), 2);
    fill(&kb, v2, 3);
    assert_int_equal(retrieval_rebuild(&b, &kb, enc, a), 0);
    assert_int_equal(kb.n, 0);
    /* refund-timing: only its answer changed, embeddings reused;
     * order-status gained a question and the curated entry is new. */
    assert_int_equal(retrieval_embedded(b), 3);
    assert_int_equal(retrieval_encoded(b), 2);
    fill(&kb, v2, 3);
    assert_int_equal(retrieval_build(&fresh, &kb, enc), 0);
    assert_int_equal(retrieval_encoded(fresh), 3);
    /* Same results as a fresh build. */
    const char *qs[] = {"money back when?", "my parcel never came",
        "track my order", "has it shipped"};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        struct hit x[3], y[3];
        float emb[ENCODER_DIM];
        embed(enc, qs[i], emb);
        int nx = retrieval_search(b, qs[i], emb, -1, NULL, x, 3);
        int ny = retrieval_search(fresh, qs[i], emb, -1, NULL, y, 3);
        assert_int_equal(nx, ny);
        for (int j = 0; j < nx; j++) {
            assert_string_equal(x[j].entry->id, y[j].entry->id);
            assert_float_equal(x[j].score, y[j].score, 1e-5);
        }
    }
    /* The new answer is the one served. */
    assert_string_equal(retrieval_entry(b, 0)->answer, "Within 10 days now.");
    assert_null(retrieval_entry(b, 3));
    retrieval_free(a);
    retrieval_free(b);
    retrieval_free(fresh);
    /* Without an encoder a rebuild is a plain build. */
    fill(&kb, v2, 3);
    assert_int_equal(retrieval_rebuild(&b, &kb, NULL, NULL), 0);
    assert_int_equal(retrieval_embedded(b), 0);
    retrieval_free(b);
    encoder_free(enc);
}

static void
test_odd_input(void **state)
{
    struct retrieval *r = build_real(NULL);
    struct hit h[64];
    size_t big = 200000;
    char *s = malloc(big + 1);

    (void)state;
    assert_non_null(s);
    /* Long words, long text, bytes of every kind. */
    for (size_t i = 0; i < big; i++)
        s[i] = (char)(1 + (i * 7919) % 255);
    s[big] = '\0';
    int n = retrieval_search(r, s, NULL, -1, NULL, h, 64);
    assert_true(n >= 0 && n <= 64);
    memset(s, 'a', big);
    assert_int_equal(retrieval_search(r, s, NULL, -1, NULL, h, 3), 0);
    /* Only the first RETRIEVAL_QUERY_MAX bytes count. */
    memcpy(s + RETRIEVAL_QUERY_MAX + 10, " refund ", 8);
    memset(s, ' ', RETRIEVAL_QUERY_MAX);
    assert_int_equal(retrieval_search(r, s, NULL, -1, NULL, h, 3), 0);
    free(s);
    /* UTF-8 and punctuation. */
    assert_string_equal(
        top(r, NULL, "¿Dónde está mi pedido? order!!!", -1), "order-status");
    /* k above what the index holds. */
    n = retrieval_search(r, "order", NULL, -1, NULL, h, 64);
    assert_true(n > 0 && n <= 64);
    retrieval_free(r);
}

/* ---- swapping under concurrent searches ------------------------------ */

struct reader {
    struct retrieval_slot *slot;
    int searches, wrong;
};

static void *
reader_main(void *arg)
{
    struct reader *rd = arg;

    for (int i = 0; i < 2000; i++) {
        struct retrieval *r = retrieval_slot_get(rd->slot);
        struct hit h[3];
        if (r == NULL)
            continue;
        int n = retrieval_search(
            r, "where is my order", NULL, INTENT_QUESTION, NULL, h, 3);
        if (n < 1 || strcmp(h[0].entry->id, "order-status") != 0
            || strstr(h[0].entry->answer, "My Orders") == NULL)
            rd->wrong++;
        rd->searches++;
        retrieval_free(r);
    }
    return NULL;
}

static void
test_slot_swap_under_searches(void **state)
{
    static const struct spec specs[] = {
        {"order-status", "Where is my order", "Track it under My Orders.",
            {"How do I track my order?"}, I(QUESTION), false, false},
        {"refund-timing", "How long refunds take", "5-10 working days.",
            {"When do I get my money back?"}, I(REFUND), false, false},
    };
    struct retrieval_slot slot;
    struct reader rd[4];
    pthread_t th[4];

    (void)state;
    retrieval_slot_init(&slot);
    assert_null(retrieval_slot_get(&slot));
    retrieval_slot_set(&slot, build_specs(specs, 2, NULL));
    for (int i = 0; i < 4; i++) {
        rd[i] = (struct reader) {&slot, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
    }
    for (int i = 0; i < 200; i++)
        retrieval_slot_set(&slot, build_specs(specs, 2, NULL));
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rd[i].searches, 2000);
        assert_int_equal(rd[i].wrong, 0);
    }
    /* A reference outlives the swap that replaces it. */
    struct retrieval *held = retrieval_slot_get(&slot);
    retrieval_slot_set(&slot, NULL);
    assert_null(retrieval_slot_get(&slot));
    assert_string_equal(
        top(held, NULL, "where is my order", -1), "order-status");
    retrieval_free(held);
    retrieval_slot_destroy(&slot);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bm25_on_the_knowledge_base),
        cmocka_unit_test(test_hybrid_finds_paraphrases),
        cmocka_unit_test(test_intent_lifts_its_entries),
        cmocka_unit_test(test_curated_entries_rank_first_when_they_match),
        cmocka_unit_test(test_rebuild_reuses_embeddings),
        cmocka_unit_test(test_odd_input),
        cmocka_unit_test(test_slot_swap_under_searches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
