/*
 * The LLM client against the fake OpenAI-compatible server
 * (tests/fake_llm/server.py): what the client sends, and every failure path.
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
#include <sys/wait.h>
#include <unistd.h>

#include "llm.h"

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
        dup2(fds[1], 1);
        close(fds[0]);
        execlp("python3", "python3", "tests/fake_llm/server.py", "--port", "0",
            (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL
        || strncmp(line, "PORT ", 5) != 0)
        return -1;
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

static size_t
collect(char *p, size_t s, size_t n, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0;
    char *b = realloc(*buf, old + s * n + 1);
    memcpy(b + old, p, s * n);
    b[old + s * n] = '\0';
    *buf = b;
    return s * n;
}

/* A plain request to the fake server's control endpoints. */
static char *
control(const char *path, const char *body)
{
    CURL *c = curl_easy_init();
    char url[192], *out = NULL;

    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    return out;
}

static struct llm *
client(int timeout_ms, bool json_mode, const char *key)
{
    struct llm *l;
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/", base);
    struct llm_config cfg = {.base_url = url,
        .api_key = key,
        .model = "test-model",
        .timeout_ms = timeout_ms,
        .max_retries = 2,
        .max_response = 4096,
        .json_mode = json_mode};
    free(control("/_reset", "{}"));
    assert_int_equal(llm_new(&l, &cfg), 0);
    return l;
}

static const struct llm_message msgs[] = {
    {"system", "You are a helpful assistant."},
    {"user", "where is my order?"},
    {"assistant", "It shipped yesterday."},
    {"user", "thanks, and the invoice?"},
};
static const struct llm_request req = {msgs, 4, 0.2, 300};

static void
test_sends_what_it_should(void **state)
{
    struct llm *l = client(5000, true, "sk-secret-key");
    struct llm_result r;

    (void)state;
    free(control("/_script", "[{\"content\": \"hello there\"}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_OK);
    assert_string_equal(r.content, "hello there");
    assert_int_equal(r.attempts, 1);
    llm_result_release(&r);

    char *got = control("/_requests", NULL);
    cJSON *arr = cJSON_Parse(got);
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    cJSON *one = cJSON_GetArrayItem(arr, 0);
    cJSON *h = cJSON_GetObjectItem(one, "headers");
    cJSON *b = cJSON_GetObjectItem(one, "body");
    assert_string_equal(cJSON_GetObjectItem(h, "authorization")->valuestring,
        "Bearer sk-secret-key");
    assert_string_equal(
        cJSON_GetObjectItem(b, "model")->valuestring, "test-model");
    assert_true(cJSON_GetObjectItem(b, "temperature")->valuedouble == 0.2);
    assert_int_equal(cJSON_GetObjectItem(b, "max_tokens")->valueint, 300);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(b, "response_format"), "type")
            ->valuestring,
        "json_object");
    cJSON *m = cJSON_GetObjectItem(b, "messages");
    assert_int_equal(cJSON_GetArraySize(m), 4);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(m, 2), "role")->valuestring,
        "assistant");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(m, 3), "content")->valuestring,
        "thanks, and the invoice?");
    cJSON_Delete(arr);
    free(got);
    llm_free(l);
}

static void
test_no_key_no_header(void **state)
{
    struct llm *l = client(5000, false, "");
    struct llm_result r;

    (void)state;
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_OK);
    llm_result_release(&r);
    char *got = control("/_requests", NULL);
    assert_null(strstr(got, "authorization"));
    assert_null(strstr(got, "response_format"));
    free(got);
    llm_free(l);
}

static void
test_failures(void **state)
{
    struct llm *l = client(1500, false, "sk-secret-key");
    struct llm_result r;

    (void)state;
    /* 500 then success: retried. */
    free(control("/_script", "[{\"status\": 500}, {\"content\": \"ok\"}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_OK);
    assert_int_equal(r.attempts, 2);
    llm_result_release(&r);
    /* 429 with Retry-After, then success. */
    free(control("/_script",
        "[{\"status\": 429, \"retry_after\": 1}, {\"content\": "
        "\"ok\"}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_OK);
    assert_int_equal(r.attempts, 2);
    llm_result_release(&r);
    /* Always 500: gives up with the status. */
    free(control("/_script",
        "[{\"status\": 503}, {\"status\": 503}, "
        "{\"status\": 503}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.http_status, 503);
    assert_null(strstr(r.message, "sk-secret"));
    llm_result_release(&r);
    /* 400: not retried. */
    free(control("/_script", "[{\"status\": 400}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.attempts, 1);
    /* Malformed and huge replies. */
    free(control("/_script", "[{\"malformed\": true}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_EMALFORMED);
    free(control("/_script", "[{\"huge\": 100000}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_ETOOBIG);
    /* Slower than the deadline. */
    free(control("/_script", "[{\"delay\": 3}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_ETIMEOUT);
    /* Connection dropped without an answer: retried, then ok. */
    free(control("/_script", "[{\"drop\": true}, {\"content\": \"ok\"}]"));
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_OK);
    llm_result_release(&r);
    llm_free(l);

    /* Nothing listening. */
    struct llm_config cfg = {.base_url = "http://127.0.0.1:9",
        .model = "m",
        .timeout_ms = 1000,
        .max_retries = 1};
    assert_int_equal(llm_new(&l, &cfg), 0);
    llm_call(l, &req, &r);
    assert_int_equal(r.error, LLM_ETRANSPORT);
    llm_free(l);
}

struct tally {
    pthread_mutex_t mu;
    int ok, failed;
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
    pthread_mutex_unlock(&t->mu);
}

static void
test_many_at_once_and_shutdown(void **state)
{
    struct llm *l = client(10000, false, NULL);
    struct tally t = {PTHREAD_MUTEX_INITIALIZER, 0, 0};

    (void)state;
    free(control("/_config", "{\"delay\": 0.2}"));
    for (int i = 0; i < 64; i++)
        assert_int_equal(llm_submit(l, &req, count, &t), 0);
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&t.mu);
        int done = t.ok + t.failed;
        pthread_mutex_unlock(&t.mu);
        if (done == 64)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(t.ok, 64);
    /* Freed with calls in flight: each still gets its callback. */
    free(control("/_config", "{\"delay\": 5}"));
    for (int i = 0; i < 8; i++)
        assert_int_equal(llm_submit(l, &req, count, &t), 0);
    usleep(100 * 1000);
    llm_free(l);
    assert_int_equal(t.failed, 8);
    free(control("/_config", "{\"delay\": 0}"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sends_what_it_should),
        cmocka_unit_test(test_no_key_no_header),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_many_at_once_and_shutdown),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
