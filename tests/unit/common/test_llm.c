/*
 * common/llm.c against the fake OpenAI-compatible server
 * (tests/fake_llm/server.py, started here on a free port): exactly what the
 * client sends, and every failure path. Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llm.h"

#define KEY "sk-test-5ecret-key"

static pid_t server_pid;
static char base[96];

static int
start_server(void **state)
{
    int fds[2];
    char line[64];

    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pipe(fds) != 0)
        return -1;
    if ((server_pid = fork()) == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphan if the test dies */
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", "tests/fake_llm/server.py", "--port", "0",
            (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL
        || strncmp(line, "PORT ", 5) != 0)
        return -1;
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(base, sizeof(base), "http://127.0.0.1:%s", line + 5);
    return 0;
}

static int
stop_server(void **state)
{
    (void)state;
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
    curl_global_cleanup();
    return 0;
}

struct buf {
    char *p;
    size_t n;
};

static size_t
collect(char *p, size_t s, size_t n, void *arg)
{
    struct buf *b = arg;
    char *q = realloc(b->p, b->n + s * n + 1);

    if (q == NULL)
        return 0;
    memcpy(q + b->n, p, s * n);
    b->n += s * n;
    q[b->n] = '\0';
    b->p = q;
    return s * n;
}

/* A plain request to the fake server's control endpoints; malloc'd. */
static char *
control(const char *path, const char *body)
{
    CURL *c = curl_easy_init();
    char url[192];
    struct buf b = {NULL, 0};

    assert_non_null(c);
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    return b.p ? b.p : strdup("");
}

static void
script(const char *steps)
{
    free(control("/_script", steps));
}

/* The requests the fake server received, as a cJSON array. */
static cJSON *
received(void)
{
    char *s = control("/_requests", NULL);
    cJSON *a = cJSON_Parse(s);

    free(s);
    assert_true(cJSON_IsArray(a));
    return a;
}

/* One number of GET /_stats. */
static int
stat_of(const char *name)
{
    char *s = control("/_stats", NULL);
    cJSON *o = cJSON_Parse(s);
    int v = cJSON_GetObjectItem(o, name)->valueint;

    cJSON_Delete(o);
    free(s);
    return v;
}

static struct llm_config
config(int timeout_ms)
{
    static char url[128];

    snprintf(url, sizeof(url), "%s/v1/", base);
    return (struct llm_config) {.base_url = url,
        .api_key = KEY,
        .model = "test-model",
        .timeout_ms = timeout_ms,
        .max_retries = 2,
        .max_response = 4096,
        .backoff_ms = 50};
}

static struct llm *
client_with(const struct llm_config *cfg)
{
    struct llm *l = NULL;

    free(control("/_reset", "{}"));
    assert_int_equal(llm_new(&l, cfg), 0);
    return l;
}

static struct llm *
client(int timeout_ms)
{
    struct llm_config cfg = config(timeout_ms);
    return client_with(&cfg);
}

static const struct llm_message msgs[] = {
    {"system", "You are a helpful assistant."},
    {"user", "where is my order?"},
    {"assistant", "It shipped yesterday."},
    {"user", "thanks, and the invoice? \"quoted\"\n\xc3\xa9"},
};
static const struct llm_request req = {
    .messages = msgs, .n_messages = 4, .temperature = 0.2, .max_tokens = 300};

/* The error message of a failed call never holds the key. */
static void
assert_no_key(const struct llm_result *r)
{
    assert_null(strstr(r->message, KEY));
    assert_null(strstr(r->message, "Bearer"));
}

static void
test_sends_what_it_should(void **state)
{
    struct llm_config cfg = config(5000);
    struct llm_result r;

    (void)state;
    cfg.json_mode = true;
    struct llm *l = client_with(&cfg);
    script("[{\"content\": \"hello there\"}]");
    assert_int_equal(llm_call(l, &req, &r), 0);
    assert_int_equal(r.error, LLM_OK);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.attempts, 1);
    assert_true(r.elapsed_ms >= 0 && r.elapsed_ms < 5000);
    assert_string_equal(r.content, "hello there");
    llm_result_release(&r);
    assert_null(r.content);

    cJSON *arr = received();
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    cJSON *one = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(
        cJSON_GetObjectItem(one, "method")->valuestring, "POST");
    assert_string_equal(
        cJSON_GetObjectItem(one, "path")->valuestring, "/v1/chat/completions");
    cJSON *h = cJSON_GetObjectItem(one, "headers");
    assert_string_equal(
        cJSON_GetObjectItem(h, "authorization")->valuestring, "Bearer " KEY);
    assert_string_equal(cJSON_GetObjectItem(h, "content-type")->valuestring,
        "application/json");
    assert_null(cJSON_GetObjectItem(h, "expect"));
    cJSON *b = cJSON_GetObjectItem(one, "body");
    assert_string_equal(
        cJSON_GetObjectItem(b, "model")->valuestring, "test-model");
    assert_true(cJSON_GetObjectItem(b, "temperature")->valuedouble == 0.2);
    assert_int_equal(cJSON_GetObjectItem(b, "max_tokens")->valueint, 300);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(b, "stream")));
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(b, "response_format"), "type")
            ->valuestring,
        "json_object");
    cJSON *m = cJSON_GetObjectItem(b, "messages");
    assert_int_equal(cJSON_GetArraySize(m), 4);
    for (int i = 0; i < 4; i++) {
        cJSON *mi = cJSON_GetArrayItem(m, i);
        assert_int_equal(cJSON_GetArraySize(mi), 2);
        assert_string_equal(
            cJSON_GetObjectItem(mi, "role")->valuestring, msgs[i].role);
        assert_string_equal(
            cJSON_GetObjectItem(mi, "content")->valuestring, msgs[i].content);
    }
    cJSON_Delete(arr);
    llm_free(l);
}

/*
 * A support-style request: the knowledge in the system prompt, the history
 * as turns, then the message, all sent as given; the fake answers from the
 * first knowledge entry.
 */
static void
test_sends_history_and_knowledge(void **state)
{
    static const struct llm_message support[] = {
        {"system",
            "Answer ONLY from these entries. Reply with JSON "
            "{\"reply\", \"handoff\", \"reason\"}.\n\n"
            "[kb-12] Delivery times\n"
            "answer: Parcels arrive in 2-4 working days.\n\n"
            "[kb-40] Returns\nanswer: 30 days to return.\n"},
        {"user", "hello"},
        {"assistant", "Hi! How can I help?"},
        {"user", "how long does delivery take?"},
    };
    struct llm_request sr = {.messages = support,
        .n_messages = 4,
        .temperature = 0.2,
        .max_tokens = 400};
    struct llm *l = client(5000);
    struct llm_result r;

    (void)state;
    assert_int_equal(llm_call(l, &sr, &r), 0);
    cJSON *ans = cJSON_Parse(r.content);
    assert_string_equal(cJSON_GetObjectItem(ans, "reply")->valuestring,
        "Parcels arrive in 2-4 working days.");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(ans, "handoff")));
    cJSON_Delete(ans);
    llm_result_release(&r);

    cJSON *arr = received();
    cJSON *m = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "body"), "messages");
    assert_int_equal(cJSON_GetArraySize(m), 4);
    for (int i = 0; i < 4; i++) {
        cJSON *mi = cJSON_GetArrayItem(m, i);
        assert_string_equal(
            cJSON_GetObjectItem(mi, "role")->valuestring, support[i].role);
        assert_string_equal(cJSON_GetObjectItem(mi, "content")->valuestring,
            support[i].content);
    }
    assert_null(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "body"),
        "response_format"));
    cJSON_Delete(arr);
    llm_free(l);
}

static void
test_no_key_no_header_and_bare_url(void **state)
{
    struct llm_config cfg = config(5000);
    struct llm_result r;

    (void)state;
    cfg.api_key = "";
    cfg.base_url = base; /* no /v1: added */
    struct llm *l = client_with(&cfg);
    assert_int_equal(llm_call(l, &req, &r), 0);
    llm_result_release(&r);
    cJSON *arr = received();
    cJSON *one = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(
        cJSON_GetObjectItem(one, "path")->valuestring, "/v1/chat/completions");
    assert_null(cJSON_GetObjectItem(
        cJSON_GetObjectItem(one, "headers"), "authorization"));
    cJSON_Delete(arr);
    llm_free(l);
}

/* Per-request model, response_format and deadline override the client's. */
static void
test_request_overrides(void **state)
{
    struct llm_config cfg = config(5000);
    struct llm_result r;
    struct llm_request q = req;

    (void)state;
    cfg.json_mode = true;
    struct llm *l = client_with(&cfg);
    q.model = "other-model";
    q.json_mode = -1;
    q.max_tokens = 0;
    assert_int_equal(llm_call(l, &q, &r), 0);
    llm_result_release(&r);
    cJSON *arr = received();
    cJSON *b = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "body");
    assert_string_equal(
        cJSON_GetObjectItem(b, "model")->valuestring, "other-model");
    assert_null(cJSON_GetObjectItem(b, "response_format"));
    assert_null(cJSON_GetObjectItem(b, "max_tokens"));
    cJSON_Delete(arr);
    llm_free(l);

    cfg.json_mode = false;
    l = client_with(&cfg);
    q.json_mode = 1;
    q.model = NULL;
    q.timeout_ms = 400;
    script("[{\"delay\": 0.1}, {\"delay\": 1}]");
    assert_int_equal(llm_call(l, &q, &r), 0);
    llm_result_release(&r);
    assert_int_equal(llm_call(l, &q, &r), -1);
    assert_int_equal(r.error, LLM_ETIMEOUT);
    assert_true(r.elapsed_ms < 900);
    arr = received();
    b = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "body");
    assert_string_equal(
        cJSON_GetObjectItem(b, "model")->valuestring, "test-model");
    assert_non_null(cJSON_GetObjectItem(b, "response_format"));
    cJSON_Delete(arr);
    llm_free(l);
}

static void
test_timeout(void **state)
{
    struct llm *l = client(500);
    struct llm_result r;

    (void)state;
    script("[{\"delay\": 3}]");
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETIMEOUT);
    assert_int_equal(r.attempts, 1);
    assert_true(r.elapsed_ms >= 450 && r.elapsed_ms < 1500);
    assert_null(r.content);
    llm_free(l);
}

static void
test_5xx_then_ok(void **state)
{
    struct llm *l = client(5000);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 500}, {\"status\": 502}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(l, &req, &r), 0);
    assert_string_equal(r.content, "ok");
    assert_int_equal(r.attempts, 3);
    llm_result_release(&r);
    /* Every attempt sent the same body. */
    cJSON *arr = received();
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    char *a = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "body"));
    char *c = cJSON_PrintUnformatted(
        cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 2), "body"));
    assert_string_equal(a, c);
    free(a);
    free(c);
    cJSON_Delete(arr);

    /* Always 503: gives up after max_retries with the last status. */
    script("[{\"status\": 503}, {\"status\": 503}, {\"status\": 503}, "
           "{\"content\": \"too late\"}]");
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.http_status, 503);
    assert_int_equal(r.attempts, 3);
    assert_string_equal(r.message, "HTTP 503");
    assert_no_key(&r);
    llm_free(l);
}

static void
test_429_retry_after(void **state)
{
    struct llm *l = client(5000);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 429, \"retry_after\": 1}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(l, &req, &r), 0);
    assert_int_equal(r.attempts, 2);
    assert_true(r.elapsed_ms >= 950); /* waited what the server asked */
    llm_result_release(&r);

    /* An HTTP-date in the past: retry at once. */
    script("[{\"status\": 503, \"headers\": {\"Retry-After\": "
           "\"Wed, 21 Oct 2015 07:28:00 GMT\"}}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(l, &req, &r), 0);
    assert_int_equal(r.attempts, 2);
    assert_true(r.elapsed_ms < 900);
    llm_result_release(&r);

    /* Past the deadline: fails at once instead of waiting in vain. */
    script("[{\"status\": 429, \"retry_after\": 30}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.http_status, 429);
    assert_int_equal(r.attempts, 1);
    assert_true(r.elapsed_ms < 1000);
    llm_free(l);

    /* Capped by retry_after_max_ms. */
    struct llm_config cfg = config(5000);
    cfg.retry_after_max_ms = 200;
    l = client_with(&cfg);
    script("[{\"status\": 429, \"retry_after\": 3600}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(l, &req, &r), 0);
    assert_int_equal(r.attempts, 2);
    assert_true(r.elapsed_ms >= 190 && r.elapsed_ms < 1500);
    llm_result_release(&r);
    llm_free(l);
}

static void
test_4xx_not_retried(void **state)
{
    struct llm *l = client(5000);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 400}, {\"content\": \"not asked\"}]");
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.http_status, 400);
    assert_int_equal(r.attempts, 1);
    /* The error's code names the problem; its free text (OpenAI quotes
     * part of a wrong key there) never reaches the message. */
    free(control("/_reset", "{}")); /* drops the unasked step */
    script("[{\"status\": 401, \"body\": \"{\\\"error\\\": {\\\"message\\\": "
           "\\\"Incorrect API key provided: " KEY "\\\", \\\"code\\\": "
           "\\\"invalid_api_key\\\"}}\"}]");
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.http_status, 401);
    assert_string_equal(r.message, "HTTP 401 (invalid_api_key)");
    assert_no_key(&r);
    llm_free(l);
}

static void
test_malformed(void **state)
{
    struct llm *l = client(5000);
    struct llm_result r;

    (void)state;
    script("[{\"malformed\": true}, {\"body\": \"{\\\"choices\\\": []}\"}, "
           "{\"body\": \"{\\\"choices\\\": [{\\\"message\\\": "
           "{\\\"content\\\": null}}]}\"}]");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(llm_call(l, &req, &r), -1);
        assert_int_equal(r.error, LLM_EMALFORMED);
        assert_int_equal(r.attempts, 1);
        assert_null(r.content);
    }
    llm_free(l);
}

static void
test_too_big(void **state)
{
    struct llm *l = client(5000); /* max_response 4096 */
    struct llm_result r;

    (void)state;
    /* Announced by Content-Length, then streamed without one. */
    script("[{\"huge\": 100000}, {\"huge\": 100000, \"chunked\": true}, "
           "{\"huge\": 4000}]");
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETOOBIG);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETOOBIG);
    /* Under the cap: read in full, then refused as not a completion. */
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_EMALFORMED);
    llm_free(l);
}

static void
test_dropped_and_refused(void **state)
{
    struct llm *l = client(5000);
    struct llm_result r;

    (void)state;
    /* Connection closed without an answer: retried, then ok. */
    script("[{\"drop\": true}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(l, &req, &r), 0);
    assert_string_equal(r.content, "ok");
    llm_result_release(&r);
    llm_free(l);

    /* Nothing listening: retried, then the transport error. */
    struct llm_config cfg = {.base_url = "http://127.0.0.1:9/v1",
        .api_key = KEY,
        .model = "m",
        .timeout_ms = 3000,
        .max_retries = 1,
        .backoff_ms = 50};
    assert_int_equal(llm_new(&l, &cfg), 0);
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETRANSPORT);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.http_status, 0);
    assert_no_key(&r);
    llm_free(l);

    /* max_retries < 0: one attempt only. */
    cfg.max_retries = -1;
    assert_int_equal(llm_new(&l, &cfg), 0);
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETRANSPORT);
    assert_int_equal(r.attempts, 1);
    llm_free(l);

    /* A scheme curl may not use: not worth a retry. */
    cfg.max_retries = 1;
    cfg.base_url = "ftp://127.0.0.1:9";
    assert_int_equal(llm_new(&l, &cfg), 0);
    assert_int_equal(llm_call(l, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETRANSPORT);
    assert_int_equal(r.attempts, 1);
    llm_free(l);
}

static void
test_bad_input(void **state)
{
    struct llm_config none = {.model = "m"};
    struct llm *l = NULL;
    struct llm_result r;
    struct llm_message holes[] = {{"user", NULL}};
    struct llm_request q = {.messages = holes, .n_messages = 1};

    (void)state;
    assert_int_equal(llm_new(&l, &none), -1);
    assert_null(l);
    llm_free(NULL);
    l = client(1000);
    assert_int_equal(llm_call(l, &q, &r), -1);
    assert_int_equal(r.attempts, 0);
    q.n_messages = 0;
    assert_int_equal(llm_submit(l, &q, NULL, NULL), -1);
    llm_free(l);
    assert_string_equal(llm_strerror(LLM_ETIMEOUT), "timeout");
    assert_string_equal(llm_strerror(99), "error");
}

struct tally {
    pthread_mutex_t mu;
    int ok, failed, shutdown;
};

static void
count(const struct llm_result *res, void *arg)
{
    struct tally *t = arg;

    pthread_mutex_lock(&t->mu);
    if (res->error == LLM_OK && res->content != NULL)
        t->ok++;
    else
        t->failed++;
    if (res->error == LLM_ESHUTDOWN)
        t->shutdown++;
    pthread_mutex_unlock(&t->mu);
}

static int
done_of(struct tally *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->ok + t->failed;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/*
 * 64 calls answered after 200 ms each: all complete, and the server saw
 * them open at once (no thread or connection per call in turn).
 */
static void
test_many_at_once(void **state)
{
    struct llm *l = client(20000);
    struct tally t = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};

    (void)state;
    free(control("/_config", "{\"delay\": 0.2}"));
    for (int i = 0; i < 64; i++)
        assert_int_equal(llm_submit(l, &req, count, &t), 0);
    for (int i = 0; i < 400 && done_of(&t) < 64; i++)
        usleep(50 * 1000);
    assert_int_equal(t.ok, 64);
    assert_int_equal(stat_of("calls"), 64);
    assert_true(stat_of("peak") >= 32);
    free(control("/_config", "{\"delay\": 0}"));
    llm_free(l);
}

/* Freed with calls in flight and waiting to retry: each still ends once. */
static void
test_shutdown(void **state)
{
    struct llm_config cfg = config(20000);
    struct tally t = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};

    (void)state;
    cfg.backoff_ms = 5000;
    struct llm *l = client_with(&cfg);
    script("[{\"status\": 500}, {\"status\": 500}, {\"delay\": 5}, "
           "{\"delay\": 5}]");
    for (int i = 0; i < 4; i++)
        assert_int_equal(llm_submit(l, &req, count, &t), 0);
    for (int i = 0; i < 100 && stat_of("calls") < 4; i++)
        usleep(20 * 1000);
    llm_free(l);
    assert_int_equal(t.shutdown, 4);
    assert_int_equal(done_of(&t), 4);
    free(control("/_reset", "{}"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sends_what_it_should),
        cmocka_unit_test(test_sends_history_and_knowledge),
        cmocka_unit_test(test_no_key_no_header_and_bare_url),
        cmocka_unit_test(test_request_overrides),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_5xx_then_ok),
        cmocka_unit_test(test_429_retry_after),
        cmocka_unit_test(test_4xx_not_retried),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_dropped_and_refused),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_many_at_once),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
