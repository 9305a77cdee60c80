/* The support agent's LLM prompt and the parse of the model's answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "llm_reply.h"

static void
test_parse(void **state)
{
    char *reply = NULL, why[64];
    bool handoff;

    (void)state;
    assert_int_equal(llm_reply_parse("{\"reply\": \"Hi!\", \"handoff\": false}",
                         &reply, &handoff, why, sizeof(why)),
        0);
    assert_string_equal(reply, "Hi!");
    assert_false(handoff);
    free(reply);
    assert_int_equal(
        llm_reply_parse("Sure:\n```json\n{\"reply\": \"A person will help.\", "
                        "\"handoff\": true, \"reason\": \"refund\"}\n```",
            &reply, &handoff, why, sizeof(why)),
        0);
    assert_true(handoff);
    assert_string_equal(why, "refund");
    free(reply);
    const char *bad[] = {
        "I can help with that!",
        "{\"reply\": \"\", \"handoff\": false}",
        "{\"reply\": \"  \\n \", \"handoff\": false}",
        "{\"reply\": \"x\"}",
        "{\"reply\": 5, \"handoff\": false}",
        "{\"reply\": \"x\", \"handoff\": \"no\"}",
        "{broken",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            llm_reply_parse(bad[i], &reply, &handoff, why, sizeof(why)), -1);
    assert_int_equal(
        llm_reply_parse(NULL, &reply, &handoff, why, sizeof(why)), -1);
}

static void
test_prompt(void **state)
{
    struct kb_entry e = {.id = (char *)"refund-timing",
        .title = (char *)"How long refunds take",
        .answer = (char *)"5-10 working days."};
    struct hit h = {.entry = &e, .score = 0.9f, .bm25 = 1.0f, .cosine = 0.8f};
    Support__Turn t1 = SUPPORT__TURN__INIT, t2 = SUPPORT__TURN__INIT;
    Support__Turn *hist[2] = {&t1, &t2};
    struct llm_prompt p;

    (void)state;
    t1.role = (char *)"user";
    t1.text = (char *)"hello";
    t2.role = (char *)"agent";
    t2.text = (char *)"Hi, I'm Sam from support.";
    assert_int_equal(llm_prompt_build(&p, "when is my money back?", "refund",
                         hist, 2, &h, 1),
        0);
    assert_int_equal(p.req.n_messages, 4);
    assert_non_null(strstr(p.msgs[0].content, "[refund-timing]"));
    assert_non_null(strstr(p.msgs[0].content, "5-10 working days."));
    assert_non_null(strstr(p.msgs[0].content, "\"handoff\""));
    assert_string_equal(p.msgs[1].role, "user");
    assert_string_equal(p.msgs[2].role, "assistant"); /* a human's turn */
    assert_string_equal(p.msgs[3].content, "when is my money back?");
    llm_prompt_release(&p);
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
