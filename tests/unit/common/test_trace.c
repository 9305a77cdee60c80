/* W3C traceparent parsing and formatting, and span bookkeeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "trace.h"

static const char tid[] = "4bf92f3577b34da6a3ce929d0e0e4736";
static const char pid[] = "00f067aa0ba902b7";

static void
test_parse_valid(void **state)
{
    char t[TRACE_ID_LEN + 1], p[SPAN_ID_LEN + 1];

    (void)state;
    assert_true(trace_parse(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", t, p));
    assert_string_equal(t, tid);
    assert_string_equal(p, pid);
    /* A later version may append fields after a dash. */
    assert_true(trace_parse(
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what", t, p));
}

static void
test_parse_invalid(void **state)
{
    static const char *bad[] = {
        NULL,
        "",
        "garbage",
        /* upper case */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        /* all-zero ids */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        /* version ff, version 00 with extra fields, short ids */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        /* wrong separators, bad flags */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    };
    char t[TRACE_ID_LEN + 1], p[SPAN_ID_LEN + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (trace_parse(bad[i], t, p))
            fail_msg("accepted %s", bad[i]);
}

static void
test_span_lifecycle(void **state)
{
    struct span s, c;
    char tp[TRACEPARENT_LEN + 1], t[TRACE_ID_LEN + 1], p[SPAN_ID_LEN + 1];

    (void)state;
    span_begin(&s, tid, pid, "POST /api/chat");
    assert_string_equal(s.trace_id, tid);
    assert_string_equal(s.parent_id, pid);
    assert_int_equal(strlen(s.span_id), SPAN_ID_LEN);
    trace_format(tp, sizeof(tp), s.trace_id, s.span_id);
    assert_int_equal(strlen(tp), TRACEPARENT_LEN);
    assert_true(trace_parse(tp, t, p));
    assert_string_equal(p, s.span_id);

    /* A child keeps the trace; bad ids start a new trace / no parent. */
    span_begin(&c, s.trace_id, s.span_id, "classify");
    assert_string_equal(c.trace_id, tid);
    assert_string_not_equal(c.span_id, s.span_id);
    span_begin(&c, "nothex", "x", "x");
    assert_int_equal(strlen(c.trace_id), TRACE_ID_LEN);
    assert_string_not_equal(c.trace_id, tid);
    assert_string_equal(c.parent_id, "");

    for (int i = 0; i < SPAN_ATTRS + 3; i++)
        span_attr(&s, "k", "v");
    assert_int_equal(s.nattrs, SPAN_ATTRS);
    char longv[200];
    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    s.nattrs = 0;
    span_attr(&s, "long", longv);
    assert_int_equal(strlen(s.vals[0]), SPAN_VAL - 1);
    span_end(&s, 503);
    assert_int_equal(s.code, 503);
    assert_true(s.dur_us >= 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_span_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
