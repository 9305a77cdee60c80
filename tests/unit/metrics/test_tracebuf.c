/* Trace assembly: spans from several services become one trace, closed a
 * second after the root; the tail sampler; the stored form round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tracebuf.h"

static void
add(struct tracebuf *tb, const char *tid, const char *sid, const char *parent,
    const char *svc, const char *name, int64_t start_us, int64_t dur_us,
    int code, bool root, int64_t now_ms)
{
    Metrics__Span sp = METRICS__SPAN__INIT;
    sp.trace_id = (char *)tid;
    sp.span_id = (char *)sid;
    sp.parent_span_id = (char *)parent;
    sp.service = (char *)svc;
    sp.instance = (char *)"i";
    sp.name = (char *)name;
    sp.start_us = start_us;
    sp.duration_us = dur_us;
    sp.code = code;
    sp.root = root;
    tracebuf_add(tb, &sp, now_ms);
}

static void
tid_of(char *out, int i)
{
    snprintf(out, TRACE_ID_LEN + 1, "%032x", i + 1);
}

static void
test_assemble_and_close(void **state)
{
    struct tracebuf_opts o = {.slow_ms = 1000, .sample_per_s = 0, .ttl_s = 60};
    struct tracebuf *tb = tracebuf_new(&o);
    bson_t *docs[8];
    char t1[33];

    (void)state;
    tid_of(t1, 1);
    /* Children first, root last (the usual arrival order). */
    add(tb, t1, "00000000000000b1", "00000000000000a1", "intent-agent",
        "classify", 1100, 300, 200, false, 1000);
    add(tb, t1, "00000000000000b2", "00000000000000a1", "support-agent",
        "draft", 1500, 200, 200, false, 1000);
    add(tb, t1, "00000000000000a1", "", "gateway", "POST /api/chat", 1000, 900,
        200, true, 1050);
    /* Bad ids are dropped. */
    add(tb, "nothex", "00000000000000b1", "", "x", "y", 0, 0, 200, true, 1000);
    uint64_t kept, out, dropped;
    tracebuf_counts(tb, &kept, &out, &dropped);
    assert_int_equal(dropped, 1);

    assert_int_equal(tracebuf_close_due(tb, 1500, docs, 8), 0);
    assert_null(tracebuf_find(tb, t1)); /* still open */
    assert_int_equal(tracebuf_close_due(tb, 2100, docs, 8), 0);
    const struct trace *t = tracebuf_find(tb, t1);
    assert_non_null(t);
    assert_string_equal(t->name, "POST /api/chat");
    assert_int_equal(t->nspans, 3);
    assert_string_equal(t->spans[0].s.name, "POST /api/chat"); /* by start */
    assert_int_equal(t->dur_us, 900);
    assert_int_equal(t->nservices, 3);
    assert_false(t->error);
    tracebuf_counts(tb, &kept, &out, &dropped);
    assert_int_equal(kept, 0); /* sample_per_s 0, fast, no error */
    assert_int_equal(out, 1);
    tracebuf_free(tb);
}

static void
test_sampler_keeps_errors_and_slow(void **state)
{
    struct tracebuf_opts o
        = {.slow_ms = 100, .notable_per_s = 5, .sample_per_s = 2, .ttl_s = 60};
    struct tracebuf *tb = tracebuf_new(&o);
    bson_t *docs[64];
    char tid[33];

    (void)state;
    for (int i = 0; i < 20; i++) {
        tid_of(tid, i);
        int code = i == 3 ? 503 : 200;
        int64_t dur = i == 5 ? 200000 : 1000;
        add(tb, tid, "00000000000000a1", "", "gateway", "GET /x", i, dur, code,
            true, 0);
    }
    int n = tracebuf_close_due(tb, 1000, docs, 64);
    /* The error, the slow one, and two sampled (the bucket holds 2). */
    assert_int_equal(n, 4);
    bool saw_err = false, saw_slow = false;
    for (int i = 0; i < n; i++) {
        struct trace back;
        assert_int_equal(trace_from_bson(&back, docs[i]), 0);
        saw_err |= back.error && back.code == 503;
        saw_slow |= back.dur_us == 200000;
        assert_int_equal(back.nspans, 1);
        assert_string_equal(back.spans[0].service, "gateway");
        trace_release(&back);
        bson_destroy(docs[i]);
    }
    assert_true(saw_err && saw_slow);
    const struct trace *found[32];
    assert_int_equal(tracebuf_recent(tb, "error", 0, found, 32), 1);
    assert_int_equal(tracebuf_recent(tb, "ok", 0, found, 32), 19);
    assert_int_equal(tracebuf_recent(tb, "", 100, found, 32), 1);
    assert_int_equal(tracebuf_recent(tb, "", 0, found, 5), 5);
    tracebuf_free(tb);
}

/* When every trace is slow (a slow model), the store gets notable_per_s
 * of them a second, then sample_per_s more, not the whole traffic; the
 * ring still lists them all. */
static void
test_sampler_bounds_slow_traces(void **state)
{
    struct tracebuf_opts o
        = {.slow_ms = 100, .notable_per_s = 5, .sample_per_s = 2, .ttl_s = 60};
    struct tracebuf *tb = tracebuf_new(&o);
    bson_t *docs[64];
    char tid[33];
    uint64_t kept, out, dropped;

    (void)state;
    for (int i = 0; i < 30; i++) {
        tid_of(tid, i);
        add(tb, tid, "00000000000000a1", "", "gateway", "POST /api/chat", i,
            1500000, 200, true, 0);
    }
    int n = tracebuf_close_due(tb, 1000, docs, 64);
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++)
        bson_destroy(docs[i]);
    tracebuf_counts(tb, &kept, &out, &dropped);
    assert_int_equal(kept, 7);
    assert_int_equal(out, 23);
    const struct trace *found[32];
    assert_int_equal(tracebuf_recent(tb, "", 1000, found, 32), 30);
    /* A second later the budgets are full again. */
    for (int i = 30; i < 60; i++) {
        tid_of(tid, i);
        add(tb, tid, "00000000000000a1", "", "gateway", "POST /api/chat", 1000,
            1500000, 200, true, 1000);
    }
    n = tracebuf_close_due(tb, 2000, docs, 64);
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++)
        bson_destroy(docs[i]);
    tracebuf_free(tb);
}

static void
test_orphans_close_and_ring_wraps(void **state)
{
    struct tracebuf_opts o = {.slow_ms = 1000, .sample_per_s = 0, .ttl_s = 60};
    struct tracebuf *tb = tracebuf_new(&o);
    bson_t *docs[1];
    char tid[33];

    (void)state;
    tid_of(tid, 7);
    add(tb, tid, "00000000000000b1", "00000000000000a1", "support-agent",
        "draft", 0, 10, 200, false, 0);
    tracebuf_close_due(tb, 9000, docs, 1);
    assert_null(tracebuf_find(tb, tid));
    tracebuf_close_due(tb, 10000, docs, 1); /* no root after 10 s */
    assert_non_null(tracebuf_find(tb, tid));
    for (int i = 100; i < 100 + TRACE_RING + 5; i++) {
        tid_of(tid, i);
        add(tb, tid, "00000000000000a1", "", "gateway", "GET /x", 0, 1, 200,
            true, 20000);
    }
    tracebuf_close_due(tb, 30000, docs, 1);
    tid_of(tid, 7);
    assert_null(tracebuf_find(tb, tid)); /* pushed out of the ring */
    tracebuf_free(tb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assemble_and_close),
        cmocka_unit_test(test_sampler_keeps_errors_and_slow),
        cmocka_unit_test(test_sampler_bounds_slow_traces),
        cmocka_unit_test(test_orphans_close_and_ring_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
