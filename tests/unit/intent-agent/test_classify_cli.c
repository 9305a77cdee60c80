/* Unit tests of classify_cli.c: the --classify JSON-lines stream. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "classifier.h"
#include "classify_cli.h"

#define MODEL "models/intent/head.bin"

static int
setup(void **state)
{
    struct classifier *c = NULL;
    if (classifier_load(&c, MODEL, NULL) != 0)
        return -1;
    *state = c;
    return 0;
}

static int
teardown(void **state)
{
    classifier_free(*state);
    return 0;
}

/* Run the stream over input (len bytes) read from a memory stream (fd 0) or
   a temporary file (fd 1); return the output, one string per line. */
static char **
run(struct classifier *c, const char *input, size_t len, int fd, size_t *nl)
{
    FILE *in, *out;
    char *obuf = NULL;
    size_t olen = 0;

    if (fd) {
        in = tmpfile();
        assert_non_null(in);
        assert_int_equal(fwrite(input, 1, len, in), len);
        rewind(in);
    } else {
        in = fmemopen((void *)input, len ? len : 1, "r");
        assert_non_null(in);
        if (len == 0)
            fgetc(in); /* fmemopen wants size > 0 */
    }
    out = open_memstream(&obuf, &olen);
    assert_non_null(out);
    assert_int_equal(classify_cli_run(in, out, c), 0);
    fclose(out);
    fclose(in);

    char **lines = calloc(olen + 1, sizeof *lines);
    assert_non_null(lines);
    *nl = 0;
    for (char *p = obuf, *e; p < obuf + olen; p = e + 1) {
        e = memchr(p, '\n', (size_t)(obuf + olen - p));
        assert_non_null(e); /* every answer ends its line */
        lines[(*nl)++] = strndup(p, (size_t)(e - p));
    }
    free(obuf);
    return lines;
}

static void
free_lines(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* The intent of an answer line, or "error:<message>". */
static void
intent_of(const char *line, char *buf, size_t cap)
{
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "intent");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(i)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "confidence");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "scores");
        assert_true(cJSON_IsNumber(c));
        assert_true(c->valuedouble > 0 && c->valuedouble <= 1);
        assert_true(cJSON_IsObject(s));
        assert_int_equal(cJSON_GetArraySize(s), INTENT_COUNT);
        for (int k = 0; k < INTENT_COUNT; k++)
            assert_true(cJSON_IsNumber(
                cJSON_GetObjectItemCaseSensitive(s, intent_name(k))));
        snprintf(buf, cap, "%s", i->valuestring);
    } else {
        assert_true(cJSON_IsString(e));
        snprintf(buf, cap, "error:%s", e->valuestring);
    }
    cJSON_Delete(j);
}

static void
test_basic(void **state)
{
    static const char in[]
        = "{\"text\":\"hello\"}\n"
          "{\"text\":\"I want a refund\"}\r\n"
          "\n"
          "   \n"
          "{\"text\": 5}\n"
          "not json\n"
          "{\"id\": 1}\n"
          "[\"text\"]\n"
          "{\"text\":\"my card was charged twice\", \"extra\": [1,2]}\n"
          "{\"text\":\"the app crashes on login\"}\n"
          "{\"text\":\"\"}\n"
          "{\"text\":\"where is my order?\"}"; /* no final newline */
    static const char *want[] = {
        "greeting",
        "refund",
        "error:no text string",
        "error:invalid JSON",
        "error:no text string",
        "error:no text string",
        "billing",
        "technical",
        NULL,
        "question",
    };
    for (int fd = 0; fd < 2; fd++) {
        size_t n;
        char **l = run(*state, in, sizeof in - 1, fd, &n);
        assert_int_equal(n, 10);
        for (size_t i = 0; i < n; i++) {
            char got[64];
            intent_of(l[i], got, sizeof got);
            if (want[i] != NULL)
                assert_string_equal(got, want[i]);
        }
        free_lines(l, n);
    }
}

static void
test_oversize(void **state)
{
    size_t big = CLASSIFY_CLI_MAX_LINE + 10;
    size_t cap = 3 * big + 256;
    char *in = malloc(cap);
    size_t len = 0;
    assert_non_null(in);

    len += (size_t)snprintf(in + len, cap - len, "{\"text\":\"hello\"}\n");
    /* a JSON line just over the cap */
    len += (size_t)snprintf(in + len, cap - len, "{\"text\":\"");
    memset(in + len, 'x', big);
    len += big;
    len += (size_t)snprintf(in + len, cap - len, "\"}\n");
    len += (size_t)snprintf(
        in + len, cap - len, "{\"text\":\"I want a refund\"}\n");
    /* twice the cap of garbage without a newline at the end */
    memset(in + len, 'y', 2 * big);
    len += 2 * big;

    for (int fd = 0; fd < 2; fd++) {
        size_t n;
        char got[64];
        char **l = run(*state, in, len, fd, &n);
        assert_int_equal(n, 4);
        intent_of(l[0], got, sizeof got);
        assert_string_equal(got, "greeting");
        intent_of(l[1], got, sizeof got);
        assert_string_equal(got, "error:line too long");
        intent_of(l[2], got, sizeof got);
        assert_string_equal(got, "refund");
        intent_of(l[3], got, sizeof got);
        assert_string_equal(got, "error:line too long");
        free_lines(l, n);
    }

    /* a line of exactly the cap is classified */
    len = 0;
    len += (size_t)snprintf(in + len, cap - len, "{\"text\":\"");
    size_t fill = CLASSIFY_CLI_MAX_LINE - len - 2;
    memset(in + len, 'z', fill);
    len += fill;
    len += (size_t)snprintf(in + len, cap - len, "\"}\n");
    assert_int_equal(len, CLASSIFY_CLI_MAX_LINE + 1);
    size_t n;
    char got[64];
    char **l = run(*state, in, len, 1, &n);
    assert_int_equal(n, 1);
    intent_of(l[0], got, sizeof got);
    assert_true(strncmp(got, "error:", 6) != 0);
    free_lines(l, n);
    free(in);
}

static void
test_order(void **state)
{
    /* many lines (several batches): answers stay in input order */
    static const char *texts[]
        = {"hello", "I want a refund", "my card was charged twice", "{bad"};
    static const char *want[]
        = {"greeting", "refund", "billing", "error:invalid JSON"};
    size_t cap = 1000 * 64, len = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    for (int i = 0; i < 1000; i++) {
        if (i % 4 == 3)
            len += (size_t)snprintf(in + len, cap - len, "%s\n", texts[3]);
        else
            len += (size_t)snprintf(
                in + len, cap - len, "{\"text\":\"%s\"}\n", texts[i % 4]);
    }
    for (int fd = 0; fd < 2; fd++) {
        size_t n;
        char **l = run(*state, in, len, fd, &n);
        assert_int_equal(n, 1000);
        for (size_t i = 0; i < n; i++) {
            char got[64];
            intent_of(l[i], got, sizeof got);
            assert_string_equal(got, want[i % 4]);
        }
        free_lines(l, n);
    }
    free(in);
}

static void
test_empty(void **state)
{
    size_t n;
    char **l = run(*state, "", 0, 1, &n);
    assert_int_equal(n, 0);
    free_lines(l, n);
    l = run(*state, "\n\n\n", 3, 0, &n);
    assert_int_equal(n, 0);
    free_lines(l, n);
    assert_int_equal(classify_cli_run(NULL, stdout, *state), -EINVAL);
}

struct feeder {
    int fd;
    int reply_fd;
    int answered; /* right answers received */
};

/* Interactive use over a pipe: each answer comes before the next line is
   sent, so the stream must not wait for a full batch. */
static void *
feed(void *arg)
{
    struct feeder *f = arg;
    FILE *r = fdopen(f->reply_fd, "r");
    char line[4096];
    for (int i = 0; i < 5; i++) {
        const char *msg = i % 2 ? "{\"text\":\"I want a refund\"}\n"
                                : "{\"text\":\"hello\"}\n";
        if (write(f->fd, msg, strlen(msg)) < 0)
            break;
        if (fgets(line, sizeof line, r) == NULL)
            break;
        if (strstr(line, i % 2 ? "\"refund\"" : "\"greeting\"") == NULL)
            break;
        f->answered++;
    }
    close(f->fd);
    fclose(r);
    return NULL;
}

static void
test_interactive(void **state)
{
    int in[2], out[2];
    pthread_t t;
    struct feeder f;

    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    f.fd = in[1];
    f.reply_fd = out[0];
    f.answered = 0;
    assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
    FILE *fi = fdopen(in[0], "r"), *fo = fdopen(out[1], "w");
    assert_non_null(fi);
    assert_non_null(fo);
    /* returns only when the feeder got all five answers and closed */
    assert_int_equal(classify_cli_run(fi, fo, *state), 0);
    fclose(fo);
    pthread_join(t, NULL);
    fclose(fi);
    assert_int_equal(f.answered, 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_interactive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
