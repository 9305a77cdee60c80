/* Histograms, rollups (events, spans, merge, BSON round trip) and the
 * Prometheus rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "prom.h"
#include "rollup.h"

static void
test_hist(void **state)
{
    uint64_t h[HIST_BUCKETS] = {0};

    (void)state;
    assert_true(fabs(hist_bound(0) - 0.1) < 1e-12);
    assert_true(fabs(hist_bound(10) - 1.0) < 1e-12);
    assert_true(fabs(hist_bound(HIST_BOUNDS - 1) - 80000) < 1e-6);
    for (int i = 1; i < HIST_BOUNDS; i++)
        assert_true(hist_bound(i) > hist_bound(i - 1));
    assert_int_equal(hist_index(0), 0);
    assert_int_equal(hist_index(-5), 0);
    assert_int_equal(hist_index(1.0), 10);  /* on a bound: that bucket */
    assert_int_equal(hist_index(1.01), 11); /* just above: the next */
    assert_int_equal(hist_index(1e9), HIST_BOUNDS);
    assert_true(hist_quantile(h, 0.5) == 0);
    /* 1..1000 ms uniformly: quantiles within one bucket (25%). */
    for (int ms = 1; ms <= 1000; ms++)
        h[hist_index(ms)]++;
    double q[] = {0.5, 0.95, 0.99};
    for (int i = 0; i < 3; i++) {
        double got = hist_quantile(h, q[i]), want = 1000 * q[i];
        if (fabs(got - want) / want > 0.25)
            fail_msg("p%g = %g, want about %g", q[i] * 100, got, want);
    }
    int n = 0;
    for (int i = 0; i < HIST_BOUNDS; i++)
        n += hist_coarse(i);
    assert_int_equal(n, 18);
}

static Metrics__Event *
event(const char *name, double value, const char *k1, const char *v1,
    const char *k2, const char *v2)
{
    static Metrics__Event ev;
    static Metrics__Event__LabelsEntry l[2], *lp[2];
    metrics__event__init(&ev);
    ev.name = (char *)name;
    ev.value = value;
    ev.service = (char *)"gateway";
    ev.instance = (char *)"i1";
    size_t n = 0;
    if (k1) {
        metrics__event__labels_entry__init(&l[n]);
        l[n].key = (char *)k1;
        l[n].value = (char *)v1;
        lp[n] = &l[n];
        n++;
    }
    if (k2) {
        metrics__event__labels_entry__init(&l[n]);
        l[n].key = (char *)k2;
        l[n].value = (char *)v2;
        lp[n] = &l[n];
        n++;
    }
    ev.labels = lp;
    ev.n_labels = n;
    return &ev;
}

static Metrics__Span *
span(const char *service, const char *name, int64_t us, int code, bool esc)
{
    static Metrics__Span sp;
    static Metrics__Span__AttributesEntry a, *ap[1];
    metrics__span__init(&sp);
    sp.service = (char *)service;
    sp.name = (char *)name;
    sp.duration_us = us;
    sp.code = code;
    if (esc) {
        metrics__span__attributes_entry__init(&a);
        a.key = (char *)"escalated";
        a.value = (char *)"true";
        ap[0] = &a;
        sp.attributes = ap;
        sp.n_attributes = 1;
    }
    return &sp;
}

static void
fill(struct rollup *r)
{
    memset(r, 0, sizeof(*r));
    r->start_ms = 60000;
    rollup_event(
        r, event("chat", 12, "intent", "billing", "confidence", "0.9"));
    rollup_event(
        r, event("chat", 15, "intent", "billing", "escalated", "true"));
    rollup_event(r, event("chat", 15, "intent", "refund", "confidence", "7"));
    rollup_event(r, event("escalation_created", 1, "reason", "policy", 0, 0));
    rollup_event(r,
        event("escalation_resolved", 90000, "breached", "true", "resolution",
            "edited"));
    rollup_event(r, event("escalation_action", 1, "action", "claim", 0, 0));
    rollup_event(r, event("guard_block", 1, "reason", "injection", 0, 0));
    rollup_event(r, event("unheard_of", 1, 0, 0, 0, 0));
    rollup_span(r, span("support-agent", "draft", 2500, 200, true));
    rollup_span(r, span("support-agent", "draft", 1500, 503, false));
    rollup_span(r, span("gateway", "store save reply", 800, 200, false));
    rollup_span(r, span("support-agent", "llm", 900000, 200, false));
}

static void
test_rollup_counts(void **state)
{
    struct rollup r;

    (void)state;
    fill(&r);
    assert_int_equal(r.chats, 3);
    assert_int_equal(r.chats_escalated, 1);
    assert_int_equal(r.intents.n, 2);
    assert_string_equal(r.intents.kv[0].key, "billing");
    assert_int_equal(r.intents.kv[0].n, 2);
    assert_true(fabs(r.intents.kv[0].sum - 0.9) < 1e-9);
    assert_true(r.intents.kv[1].sum == 0); /* 7 is not a confidence */
    assert_int_equal(r.esc_created, 1);
    assert_int_equal(r.esc_resolved, 1);
    assert_int_equal(r.sla_breaches, 1);
    assert_true(fabs(r.first_resp_s - 90) < 1e-9);
    assert_int_equal(r.guard.kv[0].n, 1);
    const struct ru_svc *s = rollup_service(&r, "support-agent");
    assert_non_null(s);
    assert_int_equal(s->calls, 2);
    assert_int_equal(s->errors, 1);
    assert_int_equal(s->escalations, 1);
    assert_true(fabs(s->sum_ms - 4.0) < 1e-9);
    assert_non_null(rollup_service(&r, "store"));
    assert_non_null(rollup_service(&r, "llm"));
    assert_null(rollup_service(&r, "gateway"));
}

static void
test_rollup_bounded(void **state)
{
    struct rollup r;
    char name[32];

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "intent%d", i);
        rollup_event(&r, event("chat", 1, "intent", name, 0, 0));
        snprintf(name, sizeof(name), "svc%d", i);
        rollup_span(&r, span(name, "x", 10, 200, false));
    }
    assert_int_equal(r.intents.n, ROLLUP_KEYS);
    assert_int_equal(r.nsvc, ROLLUP_SERVICES);
    assert_string_equal(r.intents.kv[ROLLUP_KEYS - 1].key, "other");
    assert_int_equal(r.intents.kv[ROLLUP_KEYS - 1].n, 100 - (ROLLUP_KEYS - 1));
    uint64_t calls = 0;
    for (int i = 0; i < r.nsvc; i++)
        calls += r.svc[i].calls;
    assert_int_equal(calls, 100);
}

static void
test_merge_and_bson(void **state)
{
    struct rollup a, b, back;
    bson_t doc = BSON_INITIALIZER;

    (void)state;
    fill(&a);
    fill(&b);
    rollup_merge(&a, &b);
    assert_int_equal(a.chats, 6);
    assert_int_equal(rollup_service(&a, "support-agent")->calls, 4);
    rollup_to_bson(&a, &doc);
    assert_int_equal(rollup_from_bson(&back, &doc), 0);
    assert_int_equal(back.start_ms, a.start_ms);
    assert_int_equal(back.chats, a.chats);
    assert_int_equal(back.sla_breaches, a.sla_breaches);
    assert_int_equal(back.intents.n, a.intents.n);
    assert_int_equal(back.nsvc, a.nsvc);
    for (int i = 0; i < a.nsvc; i++)
        assert_memory_equal(&back.svc[i], &a.svc[i], sizeof(a.svc[i]));
    bson_destroy(&doc);

    Metrics__Rollup pb;
    assert_int_equal(rollup_to_pb(&a, &pb), 0);
    assert_int_equal(pb.n_services, (size_t)a.nsvc);
    assert_int_equal(pb.services[0]->n_buckets, HIST_BUCKETS);
    rollup_pb_free(&pb);
}

static void
test_prometheus(void **state)
{
    struct rollup r;
    struct instance in = {"intent-agent", "host:1\"x", 42, 0};

    (void)state;
    fill(&r);
    char *text = prom_render(&r, &in, 1, 7);
    assert_non_null(text);
    assert_non_null(strstr(text,
        "# TYPE support_call_duration_seconds "
        "histogram\n"));
    assert_non_null(strstr(text,
        "support_call_duration_seconds_bucket{service=\"support-agent\","
        "le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(text,
        "support_call_duration_seconds_count{service=\"support-agent\"} 2\n"));
    assert_non_null(strstr(text, "support_chats_total 3\n"));
    assert_non_null(
        strstr(text, "support_chat_intents_total{intent=\"billing\"} 2\n"));
    assert_non_null(strstr(text, "instance=\"host:1\\\"x\"} 42\n"));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist),
        cmocka_unit_test(test_rollup_counts),
        cmocka_unit_test(test_rollup_bounded),
        cmocka_unit_test(test_merge_and_bson),
        cmocka_unit_test(test_prometheus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
