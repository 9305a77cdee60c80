/* Parsing an LLM's intent answer strictly; the prompt's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "intent.h"
#include "llm_intent.h"

static void
test_parse(void **state)
{
    (void)state;
    assert_int_equal(intent_parse_answer("billing"), INTENT_BILLING);
    assert_int_equal(intent_parse_answer("  Refund.\n"), INTENT_REFUND);
    assert_int_equal(intent_parse_answer("\"greeting\""), INTENT_GREETING);
    assert_int_equal(
        intent_parse_answer("{\"intent\": \"technical\"}"), INTENT_TECHNICAL);
    assert_int_equal(intent_parse_answer("OTHER"), INTENT_OTHER);
    assert_int_equal(intent_parse_answer("**billing**"), INTENT_BILLING);
    assert_int_equal(intent_parse_answer("`refund`!"), INTENT_REFUND);
    assert_int_equal(intent_parse_answer("banana"), -1);
    assert_int_equal(intent_parse_answer("The intent is billing"), -1);
    assert_int_equal(intent_parse_answer(""), -1);
    assert_int_equal(intent_parse_answer(NULL), -1);
    assert_int_equal(intent_parse_answer("{\"intent\": 3}"), -1);
    assert_int_equal(intent_parse_answer("{broken"), -1);
}

static void
test_prompt(void **state)
{
    struct intent_prompt p;

    (void)state;
    assert_int_equal(intent_prompt_build(&p, "my card was charged twice"), 0);
    assert_int_equal(p.req.n_messages, 2);
    assert_string_equal(p.msgs[0].role, "system");
    for (int i = 0; i < INTENT_COUNT; i++)
        assert_non_null(strstr(p.msgs[0].content, intent_name(i)));
    assert_string_equal(p.msgs[1].content, "my card was charged twice");
    assert_true(p.req.temperature == 0.3);
    assert_true(p.req.max_tokens > 0 && p.req.max_tokens <= 16);
    intent_prompt_release(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
