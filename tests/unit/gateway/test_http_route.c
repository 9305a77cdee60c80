/* The router (http.h http_route): literal segments, {x} parameters, 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

static void
noop(struct req *r)
{
    (void)r;
}

static const struct route routes[] = {
    {"GET", "/api/chat/history", noop, ROLE_NONE, false},
    {"POST", "/api/chat", noop, ROLE_NONE, false},
    {"GET", "/api/hitl/escalations/pending", noop, ROLE_AGENT, false},
    {"GET", "/api/hitl/escalations/{id}", noop, ROLE_AGENT, false},
    {"POST", "/api/hitl/escalations/{id}/claim", noop, ROLE_AGENT, false},
    {"GET", "/api/a/{w}/{x}/{y}/{z}", noop, ROLE_NONE, false},
    {"GET", "/api/b/{v}/{w}/{x}/{y}/{z}", noop, ROLE_NONE, false},
    {"GET", "/api/{x", noop, ROLE_NONE, false},
    {"GET", "/metrics", noop, ROLE_NONE, false},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* The index of the route found for method + path, or -1 (then *known). */
static int
find(const char *method, const char *path, struct req *r, bool *known)
{
    memset(r, 0, sizeof(*r));
    r->method = method;
    r->path = path;
    const struct route *rt = http_route(routes, NROUTES, r, known);
    return rt == NULL ? -1 : (int)(rt - routes);
}

static void
test_literal_paths(void **state)
{
    (void)state;
    struct req r;
    bool known;

    assert_int_equal(find("POST", "/api/chat", &r, &known), 1);
    assert_int_equal(r.nparams, 0);
    assert_int_equal(find("GET", "/api/chat/history", &r, &known), 0);
    assert_int_equal(find("GET", "/metrics", &r, &known), 8);
    /* A literal segment wins where the table lists it first. */
    assert_int_equal(
        find("GET", "/api/hitl/escalations/pending", &r, &known), 2);
    /* A pattern segment without its closing brace is literal. */
    assert_int_equal(find("GET", "/api/{x", &r, &known), 7);
    assert_int_equal(find("GET", "/api/zx", &r, &known), -1);
}

static void
test_near_misses(void **state)
{
    (void)state;
    static const char *const paths[] = {"/api/cha", "/api/chatx", "/api/chat/",
        "/api/chat/history/", "/api/chat/histor", "/api/chat//history",
        "/api//chat", "api/chat", "/API/chat", "/", "", "/metrics/",
        "/metricsx", "/api/hitl/escalations/", "/api/hitl/escalations//claim",
        "/api/hitl/escalations/e1/claim/x", "/api/hitl/escalations/e1/clai"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct req r;
        bool known = true;
        assert_int_equal(find("GET", paths[i], &r, &known), -1);
        assert_false(known);
        known = true;
        assert_int_equal(find("POST", paths[i], &r, &known), -1);
        assert_false(known);
    }
}

static void
test_parameters(void **state)
{
    (void)state;
    struct req r;
    bool known;

    assert_int_equal(find("GET", "/api/hitl/escalations/e-42", &r, &known), 3);
    assert_int_equal(r.nparams, 1);
    assert_string_equal(r.params[0], "e-42");
    assert_int_equal(
        find("POST", "/api/hitl/escalations/abc/claim", &r, &known), 4);
    assert_int_equal(r.nparams, 1);
    assert_string_equal(r.params[0], "abc");
    assert_int_equal(find("GET", "/api/a/1/22/333/4444", &r, &known), 5);
    assert_int_equal(r.nparams, 4);
    assert_string_equal(r.params[0], "1");
    assert_string_equal(r.params[3], "4444");

    /* The longest value that fits, and one byte more. */
    char path[256], id[sizeof(r.param_buf[0]) + 1];
    memset(id, 'a', sizeof(id) - 2);
    id[sizeof(id) - 2] = '\0';
    snprintf(path, sizeof(path), "/api/hitl/escalations/%s", id);
    assert_int_equal(find("GET", path, &r, &known), 3);
    assert_string_equal(r.params[0], id);
    id[sizeof(id) - 2] = 'a';
    id[sizeof(id) - 1] = '\0';
    snprintf(path, sizeof(path), "/api/hitl/escalations/%s", id);
    assert_int_equal(find("GET", path, &r, &known), -1);

    /* No more than four parameters are kept: a fifth fails the route. */
    assert_int_equal(find("GET", "/api/b/1/2/3/4/5", &r, &known), -1);
}

static void
test_other_method_is_known_path(void **state)
{
    (void)state;
    struct req r;
    bool known = false;

    assert_int_equal(find("GET", "/api/chat", &r, &known), -1);
    assert_true(known);
    known = false;
    assert_int_equal(
        find("DELETE", "/api/hitl/escalations/e1", &r, &known), -1);
    assert_true(known);
    known = false;
    assert_int_equal(
        find("GET", "/api/hitl/escalations/e1/claim", &r, &known), -1);
    assert_true(known);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_paths),
        cmocka_unit_test(test_near_misses),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_other_method_is_known_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
