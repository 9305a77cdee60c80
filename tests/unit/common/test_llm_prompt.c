/* common/llm_prompt: the answers' parsers and the requests' builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "intent.h"
#include "llm_prompt.h"

static int
intent_of(const char *content)
{
    int v = -2;

    return llm_parse_intent(content, &v) == 0 ? v : -1;
}

static void
test_parse_intent(void **state)
{
    (void)state;
    assert_int_equal(intent_of("billing"), INTENT_BILLING);
    assert_int_equal(intent_of("  Refund.\n"), INTENT_REFUND);
    assert_int_equal(intent_of("\"greeting\""), INTENT_GREETING);
    assert_int_equal(intent_of("'TECHNICAL'!"), INTENT_TECHNICAL);
    assert_int_equal(intent_of("**complaint**"), INTENT_COMPLAINT);
    assert_int_equal(intent_of("other"), INTENT_OTHER);
    assert_int_equal(intent_of("question?"), INTENT_QUESTION);
    assert_int_equal(intent_of("{\"intent\": \"billing\"}"), INTENT_BILLING);
    assert_int_equal(
        intent_of(" {\"intent\": \"Refund\", \"confidence\": 0.9} "),
        INTENT_REFUND);
    assert_int_equal(
        intent_of("```json\n{\"intent\": \"greeting\"}\n```"), INTENT_GREETING);

    int v = 42;
    assert_int_equal(llm_parse_intent("shipping", &v), -1);
    assert_int_equal(v, 42); /* untouched on failure */
    assert_int_equal(intent_of(""), -1);
    assert_int_equal(intent_of(NULL), -1);
    assert_int_equal(intent_of("The intent is billing."), -1);
    assert_int_equal(intent_of("billing, refund"), -1);
    assert_int_equal(intent_of("{\"intent\": 3}"), -1);
    assert_int_equal(intent_of("{\"label\": \"billing\"}"), -1);
    assert_int_equal(intent_of("{\"intent\": \"{\\\"intent\\\":1}\"}"), -1);
    assert_int_equal(intent_of("{not json"), -1);
    assert_int_equal(
        intent_of("billingbillingbillingbillingbillingbilling"), -1);
}

static int
support(
    const char *content, char **reply, bool *handoff, char *reason, size_t n)
{
    *reply = NULL;
    return llm_parse_support(content, reply, handoff, reason, n);
}

static void
test_parse_support(void **state)
{
    char *reply;
    bool handoff;
    char reason[32];

    (void)state;
    assert_int_equal(support("{\"reply\": \"Hi!\", \"handoff\": false, "
                             "\"reason\": \"\"}",
                         &reply, &handoff, reason, sizeof(reason)),
        0);
    assert_string_equal(reply, "Hi!");
    assert_false(handoff);
    assert_string_equal(reason, "");
    free(reply);

    /* A code fence and a preamble around the object. */
    assert_int_equal(
        support("Sure! Here it is:\n```json\n{\"reply\": \"A human will "
                "help.\", \"handoff\": true, \"reason\": \"complaint\"}\n```",
            &reply, &handoff, reason, sizeof(reason)),
        0);
    assert_string_equal(reply, "A human will help.");
    assert_true(handoff);
    assert_string_equal(reason, "complaint");
    free(reply);

    /* Braces in the preamble, handoff as a string, reason cut. */
    assert_int_equal(support("note {x} then {\"reply\": \"ok\", \"handoff\": "
                             "\"true\", \"reason\": \"a reason longer than "
                             "the buffer it goes into\"} {trailing}",
                         &reply, &handoff, reason, sizeof(reason)),
        0);
    assert_string_equal(reply, "ok");
    assert_true(handoff);
    assert_int_equal(strlen(reason), sizeof(reason) - 1);
    free(reply);

    /* handoff missing: false. */
    assert_int_equal(support("{\"reply\": \"ok\"}", &reply, &handoff, reason,
                         sizeof(reason)),
        0);
    assert_false(handoff);
    free(reply);

    const char *bad[] = {NULL, "", "just text", "{\"reply\": \"\"}",
        "{\"reply\": \"   \"}", "{\"reply\": 3, \"handoff\": false}",
        "{\"handoff\": true, \"reason\": \"x\"}",
        "{\"reply\": \"x\", \"handoff\": 1}", "[\"reply\"]",
        "{\"reply\": \"unterminated"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        handoff = true;
        assert_int_equal(support(bad[i], &reply, &handoff, reason, 8), -1);
        assert_null(reply);
    }
}

static void
test_parse_support_caps_reply(void **state)
{
    size_t n = 3 * LLM_REPLY_MAX;
    char *content = malloc(n + 64), *reply;
    bool handoff;
    char reason[8];
    size_t len = (size_t)snprintf(content, 64, "{\"reply\": \"");

    (void)state;
    /* Two-byte characters, so that the cap falls inside one. */
    for (size_t i = 0; i < n / 2; i++) {
        content[len++] = '\xc3';
        content[len++] = '\xa9';
    }
    memcpy(content + len, "x\", \"handoff\": false}", 22);
    assert_int_equal(
        support(content, &reply, &handoff, reason, sizeof(reason)), 0);
    assert_true(strlen(reply) <= LLM_REPLY_MAX);
    assert_true(strlen(reply) >= LLM_REPLY_MAX - 1);
    assert_int_equal(strlen(reply) % 2, 0); /* whole characters only */
    free(reply);
    free(content);
}

static void
test_prompt_intent(void **state)
{
    struct llm_request q;

    (void)state;
    assert_int_equal(llm_prompt_intent("Hello there", &q), 0);
    assert_int_equal(q.n_messages, 2);
    assert_string_equal(q.messages[0].role, "system");
    assert_string_equal(q.messages[1].role, "user");
    assert_string_equal(q.messages[1].content, "Hello there");
    for (int i = 0; i < INTENT_COUNT; i++)
        assert_non_null(strstr(q.messages[0].content, intent_name(i)));
    assert_non_null(strstr(q.messages[0].content, "one label only"));
    assert_true(q.temperature == 0.3);
    assert_int_equal(q.max_tokens, 10);
    llm_request_release(&q);
    assert_null(q.messages);
    assert_int_equal(q.n_messages, 0);
    llm_request_release(&q); /* twice is harmless */
}

static void
test_prompt_support(void **state)
{
    const struct llm_turn history[] = {
        {"user", "where is my parcel?"},
        {"assistant", "It left our warehouse yesterday."},
        {"agent", "I checked it for you: it arrives tomorrow."},
        {"user", ""}, /* empty turns are skipped */
    };
    const struct llm_snippet k[] = {
        {"kb-12", "Delivery times", "Orders arrive in 3 to 5 working days."},
        {"kb-40", "Returns", "You can return items within 30 days."},
    };
    struct llm_request q;

    (void)state;
    assert_int_equal(llm_prompt_support("and can I return it?", "refund",
                         history, 4, k, 2, &q),
        0);
    assert_int_equal(q.n_messages, 5);
    assert_true(q.temperature == 0.2);
    assert_int_equal(q.max_tokens, 400);
    const char *sys = q.messages[0].content;
    assert_string_equal(q.messages[0].role, "system");
    assert_non_null(strstr(sys, "Northwind Goods"));
    assert_non_null(strstr(sys, "ONLY"));
    assert_non_null(strstr(sys, "handoff"));
    assert_non_null(strstr(sys, "100 EUR"));
    assert_non_null(strstr(sys,
        "[kb-12] Delivery times\nanswer: Orders arrive "
        "in 3 to 5 working days."));
    assert_non_null(strstr(sys, "[kb-40] Returns\nanswer: You can return"));
    assert_true(strstr(sys, "kb-12") < strstr(sys, "kb-40"));
    assert_non_null(strstr(sys, "classified as: refund"));
    assert_string_equal(q.messages[1].role, "user");
    assert_string_equal(q.messages[1].content, "where is my parcel?");
    assert_string_equal(q.messages[2].role, "assistant");
    assert_string_equal(q.messages[3].role, "assistant"); /* human agent */
    assert_string_equal(
        q.messages[3].content, "I checked it for you: it arrives tomorrow.");
    assert_string_equal(q.messages[4].role, "user");
    assert_string_equal(q.messages[4].content, "and can I return it?");
    llm_request_release(&q);
}

static void
test_prompt_support_limits(void **state)
{
    struct llm_turn history[40];
    char big[10000];
    struct llm_request q;

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 40; i++)
        history[i] = (struct llm_turn) {i % 2 ? "assistant" : "user", big};
    /* No knowledge, no intent, long history and message: all cut. */
    assert_int_equal(
        llm_prompt_support(big, NULL, history, 40, NULL, 0, &q), 0);
    assert_true(q.n_messages < 20);
    assert_non_null(strstr(q.messages[0].content, "(none)"));
    for (size_t i = 1; i < q.n_messages; i++)
        assert_true(strlen(q.messages[i].content) < sizeof(big) / 2);
    llm_request_release(&q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_intent),
        cmocka_unit_test(test_parse_support),
        cmocka_unit_test(test_parse_support_caps_reply),
        cmocka_unit_test(test_prompt_intent),
        cmocka_unit_test(test_prompt_support),
        cmocka_unit_test(test_prompt_support_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
