/*
 * common/llm_client against the fake OpenAI-compatible server
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
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "llm_client.h"
#include "llm_prompt.h"

#define KEY "sk-test-0123456789-secret"

static pid_t server_pid = -1;
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
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* dies with a crashed test too */
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
        || strncmp(line, "PORT ", 5) != 0) {
        fprintf(stderr, "fake LLM server did not start\n");
        return -1;
    }
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(base, sizeof(base), "http://127.0.0.1:%s", line + 5);
    return 0;
}

static int
stop_server(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
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

/* A call to the fake server's control endpoints; the body, malloc'd. */
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

static struct llm_client *
client_with(const char *url, int timeout_ms, int max_retries, bool json_mode,
    const char *key, size_t max_response)
{
    struct llm_client *c = NULL;
    struct llm_config cfg = {.base_url = url,
        .api_key = key,
        .model = "test-model",
        .timeout_ms = timeout_ms,
        .max_retries = max_retries,
        .max_response = max_response,
        .json_mode = json_mode};

    free(control("/_reset", "{}"));
    assert_int_equal(llm_client_new(&c, &cfg), 0);
    return c;
}

static struct llm_client *
client(int timeout_ms, int max_retries)
{
    char url[128];

    snprintf(url, sizeof(url), "%s/v1/", base);
    return client_with(url, timeout_ms, max_retries, false, KEY, 4096);
}

static const struct llm_message msgs[] = {
    {"system", "You are a helpful assistant."},
    {"user", "where is my order?"},
    {"assistant", "It shipped yesterday."},
    {"user", "thanks, and the invoice? \"quoted\" \xc3\xa9"},
};
static const struct llm_request req = {msgs, 4, 0.2, 300};

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
    char url[128];
    struct llm_result r;

    (void)state;
    snprintf(url, sizeof(url), "%s/v1/", base);
    struct llm_client *c = client_with(url, 5000, 2, true, KEY, 4096);
    script("[{\"content\": \"hello there\"}]");
    assert_int_equal(llm_call(c, &req, &r), 0);
    assert_int_equal(r.error, LLM_OK);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.content, "hello there");
    llm_result_release(&r);
    assert_null(r.content);

    cJSON *arr = received();
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    cJSON *one = cJSON_GetArrayItem(arr, 0);
    cJSON *h = cJSON_GetObjectItem(one, "headers");
    cJSON *b = cJSON_GetObjectItem(one, "body");
    assert_string_equal(
        cJSON_GetObjectItem(one, "method")->valuestring, "POST");
    assert_string_equal(
        cJSON_GetObjectItem(one, "path")->valuestring, "/v1/chat/completions");
    assert_string_equal(
        cJSON_GetObjectItem(h, "authorization")->valuestring, "Bearer " KEY);
    assert_string_equal(cJSON_GetObjectItem(h, "content-type")->valuestring,
        "application/json");
    assert_null(cJSON_GetObjectItem(h, "expect"));
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
    llm_client_free(c);
}

/* No key: no Authorization header; no json_mode: no response_format; a
 * base URL without /v1 gets it added. */
static void
test_no_key_plain_mode(void **state)
{
    struct llm_result r;
    char url[128];

    (void)state;
    snprintf(url, sizeof(url), "%s/", base);
    struct llm_client *c = client_with(url, 5000, 2, false, "", 0);
    struct llm_request nt = {msgs, 2, 0.7, 0};
    script("[{\"content\": \"ok\"}]");
    assert_int_equal(llm_call(c, &nt, &r), 0);
    llm_result_release(&r);
    cJSON *arr = received();
    cJSON *one = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(
        cJSON_GetObjectItem(one, "path")->valuestring, "/v1/chat/completions");
    assert_null(cJSON_GetObjectItem(
        cJSON_GetObjectItem(one, "headers"), "authorization"));
    cJSON *b = cJSON_GetObjectItem(one, "body");
    assert_null(cJSON_GetObjectItem(b, "response_format"));
    assert_null(cJSON_GetObjectItem(b, "max_tokens"));
    assert_true(cJSON_GetObjectItem(b, "temperature")->valuedouble == 0.7);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(b, "messages")), 2);
    cJSON_Delete(arr);
    llm_client_free(c);

    /* ".../v1" without the slash. */
    snprintf(url, sizeof(url), "%s/v1", base);
    c = client_with(url, 5000, 2, false, NULL, 0);
    assert_int_equal(llm_call(c, &nt, &r), 0);
    llm_result_release(&r);
    arr = received();
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "path")->valuestring,
        "/v1/chat/completions");
    cJSON_Delete(arr);
    llm_client_free(c);
}

/* The prompt builders against the fake's default answers. */
static void
test_prompts_against_default_answers(void **state)
{
    struct llm_client *c = client(5000, 2);
    struct llm_request q;
    struct llm_result r;
    int intent = -1;

    (void)state;
    assert_int_equal(llm_prompt_intent("my card was charged twice", &q), 0);
    assert_int_equal(llm_call(c, &q, &r), 0);
    llm_request_release(&q);
    assert_int_equal(llm_parse_intent(r.content, &intent), 0);
    assert_int_equal(intent, 5); /* billing */
    llm_result_release(&r);

    struct llm_snippet k[] = {{"kb-7", "Delivery times",
        "Orders arrive within 3 to 5 working days."}};
    assert_int_equal(llm_prompt_support(
                         "when will it arrive?", "question", NULL, 0, k, 1, &q),
        0);
    assert_int_equal(llm_call(c, &q, &r), 0);
    llm_request_release(&q);
    char *reply = NULL, reason[64];
    bool handoff = true;
    assert_int_equal(
        llm_parse_support(r.content, &reply, &handoff, reason, sizeof(reason)),
        0);
    assert_string_equal(reply, "Orders arrive within 3 to 5 working days.");
    assert_false(handoff);
    free(reply);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_timeout(void **state)
{
    struct llm_client *c = client(1000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"delay\": 3}]");
    int64_t t0 = clock_mono_ms();
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETIMEOUT);
    assert_null(r.content);
    assert_true(clock_mono_ms() - t0 < 2500); /* not 3 s */
    assert_no_key(&r);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_500_then_200_is_retried(void **state)
{
    struct llm_client *c = client(5000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 500}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(c, &req, &r), 0);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.content, "ok");
    llm_result_release(&r);
    cJSON *arr = received();
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    cJSON_Delete(arr);
    llm_client_free(c);
}

static void
test_5xx_until_retries_run_out(void **state)
{
    struct llm_client *c = client(10000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 503}, {\"status\": 502}, {\"status\": 500}, "
           "{\"content\": \"too late\"}]");
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.http_status, 500);
    assert_int_equal(r.attempts, 3);
    assert_no_key(&r);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_429_retry_after_then_200(void **state)
{
    struct llm_client *c = client(5000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 429, \"retry_after\": 1}, {\"content\": \"ok\"}]");
    int64_t t0 = clock_mono_ms();
    assert_int_equal(llm_call(c, &req, &r), 0);
    assert_true(clock_mono_ms() - t0 >= 950); /* waited as told */
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.content, "ok");
    llm_result_release(&r);
    llm_client_free(c);
}

/* A Retry-After past the deadline fails at once instead of waiting. */
static void
test_retry_after_past_deadline(void **state)
{
    struct llm_client *c = client(2000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 429, \"retry_after\": 30}]");
    int64_t t0 = clock_mono_ms();
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_true(clock_mono_ms() - t0 < 1500);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.http_status, 429);
    assert_int_equal(r.attempts, 1);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_4xx_is_not_retried(void **state)
{
    struct llm_client *c = client(5000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"status\": 401}, {\"content\": \"never\"}]");
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_EHTTP);
    assert_int_equal(r.http_status, 401);
    assert_int_equal(r.attempts, 1);
    assert_no_key(&r);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_malformed(void **state)
{
    struct llm_client *c = client(5000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"malformed\": true}]");
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_EMALFORMED);
    assert_int_equal(r.attempts, 1);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_huge_reply(void **state)
{
    struct llm_client *c = client(5000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"huge\": 100000}]");
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETOOBIG);
    assert_null(r.content);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_connection_refused(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    char url[64];
    struct llm_result r;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* A port that was free a moment ago and has no listener. */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    struct llm_client *c = client_with(url, 5000, 2, false, KEY, 0);
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETRANSPORT);
    assert_int_equal(r.http_status, 0);
    assert_int_equal(r.attempts, 3); /* connect errors are retried */
    assert_no_key(&r);
    llm_result_release(&r);
    llm_client_free(c);

    c = client_with(url, 5000, -1, false, KEY, 0); /* no retries */
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETRANSPORT);
    assert_int_equal(r.attempts, 1);
    llm_result_release(&r);
    llm_client_free(c);
}

static void
test_dropped_connection(void **state)
{
    struct llm_client *c = client(5000, 2);
    struct llm_result r;

    (void)state;
    script("[{\"drop\": true}, {\"content\": \"ok\"}]");
    assert_int_equal(llm_call(c, &req, &r), 0);
    assert_string_equal(r.content, "ok");
    assert_int_equal(r.attempts, 2);
    llm_result_release(&r);

    /* curl itself retries once when a reused connection dies: more drops
     * than attempts, and whatever is left of them is cleared after. */
    script("[{\"drop\": true}, {\"drop\": true}, {\"drop\": true}, "
           "{\"drop\": true}, {\"drop\": true}]");
    assert_int_equal(llm_call(c, &req, &r), -1);
    assert_int_equal(r.error, LLM_ETRANSPORT);
    assert_int_equal(r.attempts, 3);
    llm_result_release(&r);
    llm_client_free(c);
    free(control("/_reset", "{}"));
}

struct tally;

struct slot {
    struct tally *t;
    int called;
};

struct tally {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok, shutdown;
    struct slot slots[64];
};

static void
count(const struct llm_result *res, void *arg)
{
    struct slot *s = arg;
    struct tally *t = s->t;

    pthread_mutex_lock(&t->mu);
    s->called++;
    t->done++;
    if (res->error == LLM_OK && res->content
        && strcmp(res->content, "concurrent") == 0)
        t->ok++;
    if (res->error == LLM_ESHUTDOWN)
        t->shutdown++;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void
tally_init(struct tally *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    for (int i = 0; i < 64; i++)
        t->slots[i].t = t;
}

static void
test_64_concurrent(void **state)
{
    struct llm_client *c = client(20000, 2);
    struct tally t;
    char cfg[] = "{\"delay\": 0.2}";
    char steps[64 * 32 + 2];
    size_t len = 0;

    (void)state;
    tally_init(&t);
    free(control("/_config", cfg));
    steps[len++] = '[';
    for (int i = 0; i < 64; i++)
        len += (size_t)snprintf(steps + len, sizeof(steps) - len,
            "%s{\"content\": \"concurrent\"}", i ? "," : "");
    snprintf(steps + len, sizeof(steps) - len, "]");
    script(steps);
    for (int i = 0; i < 64; i++)
        assert_int_equal(llm_submit(c, &req, count, &t.slots[i]), 0);
    pthread_mutex_lock(&t.mu);
    while (t.done < 64)
        pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    assert_int_equal(t.ok, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(t.slots[i].called, 1);
    cJSON *arr = received();
    assert_int_equal(cJSON_GetArraySize(arr), 64);
    cJSON_Delete(arr);
    llm_client_free(c);
}

/* Freeing the client ends the calls in flight, each callback called once. */
static void
test_free_cancels_in_flight(void **state)
{
    struct llm_client *c = client(20000, 2);
    struct tally t;

    (void)state;
    tally_init(&t);
    free(control("/_config", "{\"delay\": 5}"));
    for (int i = 0; i < 8; i++)
        assert_int_equal(llm_submit(c, &req, count, &t.slots[i]), 0);
    usleep(200 * 1000);
    llm_client_free(c);
    assert_int_equal(t.done, 8);
    assert_int_equal(t.shutdown, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(t.slots[i].called, 1);
    free(control("/_reset", "{}"));
}

static void
test_bad_config(void **state)
{
    struct llm_client *c = NULL;
    struct llm_config none = {.model = "m"};

    (void)state;
    assert_int_equal(llm_client_new(&c, &none), -1);
    assert_null(c);
    llm_client_free(NULL);
    assert_string_equal(llm_error_name(LLM_ETIMEOUT), "timeout");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sends_what_it_should),
        cmocka_unit_test(test_no_key_plain_mode),
        cmocka_unit_test(test_prompts_against_default_answers),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_500_then_200_is_retried),
        cmocka_unit_test(test_5xx_until_retries_run_out),
        cmocka_unit_test(test_429_retry_after_then_200),
        cmocka_unit_test(test_retry_after_past_deadline),
        cmocka_unit_test(test_4xx_is_not_retried),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_huge_reply),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_dropped_connection),
        cmocka_unit_test(test_64_concurrent),
        cmocka_unit_test(test_free_cancels_in_flight),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
