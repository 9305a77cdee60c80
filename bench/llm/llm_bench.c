/*
 * llm_bench - many concurrent calls of common/llm against a slow
 * OpenAI-compatible server: completed, errors, median and p99 latency, wall
 * time and the client's RSS.
 *
 *   llm_bench [-n CALLS] [-d DELAY_S] [-r ROUNDS] [-u BASE_URL]
 *
 * Without -u it starts tests/fake_llm/server.py (run from the repository
 * root) with DELAY_S of delay per answer. Every round submits CALLS at once
 * and waits for all of them; from the second round on the connections of
 * the first are reused. Exits 1 when a call failed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "clock.h"
#include "llm.h"

struct call {
    struct run *run;
    int64_t start_us, end_us;
    int error;
};

struct run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int errors[LLM_ESHUTDOWN + 1];
};

static void
on_done(const struct llm_result *res, void *arg)
{
    struct call *c = arg;
    struct run *r = c->run;

    c->end_us = clock_mono_us();
    c->error = res->error;
    pthread_mutex_lock(&r->mu);
    r->done++;
    if (res->error >= 0 && res->error <= LLM_ESHUTDOWN)
        r->errors[res->error]++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* VmRSS and VmHWM of this process, in KiB (-1 when unknown). */
static void
rss_kib(long *rss, long *hwm)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];

    *rss = *hwm = -1;
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

static pid_t
start_fake(const char *delay, char *url, size_t urlsz)
{
    int fds[2];
    char line[64];
    pid_t pid;

    if (pipe(fds) != 0)
        return -1;
    if ((pid = fork()) == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", "tests/fake_llm/server.py", "--port", "0",
            "--delay", delay, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    if (pid < 0 || f == NULL || fgets(line, sizeof(line), f) == NULL
        || strncmp(line, "PORT ", 5) != 0) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    snprintf(url, urlsz, "http://127.0.0.1:%s/v1", line + 5);
    return pid;
}

static int
parse_int(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > 100000)
        return -1;
    *out = (int)v;
    return 0;
}

/* One round of n concurrent calls; 0 when every call succeeded. */
static int
round_run(struct llm *cl, int n, int round)
{
    static const struct llm_message msgs[] = {
        {"system", "You are the support assistant of a shop."},
        {"user", "where is my order?"},
    };
    const struct llm_request req = {.messages = msgs,
        .n_messages = 2,
        .temperature = 0.2,
        .max_tokens = 100};
    struct run r;
    struct call *calls = calloc((size_t)n, sizeof(*calls));
    int64_t *lat = calloc((size_t)n, sizeof(*lat));
    long rss, hwm;

    if (calls == NULL || lat == NULL) {
        free(calls);
        free(lat);
        return -1;
    }
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    int64_t t0 = clock_mono_us();
    int submitted = 0;
    for (int i = 0; i < n; i++) {
        calls[i].run = &r;
        calls[i].start_us = clock_mono_us();
        if (llm_submit(cl, &req, on_done, &calls[i]) == 0)
            submitted++;
    }
    pthread_mutex_lock(&r.mu);
    while (r.done < submitted)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    int64_t wall = clock_mono_us() - t0;
    rss_kib(&rss, &hwm);

    int ok = 0;
    for (int i = 0; i < n; i++) {
        lat[i] = calls[i].end_us - calls[i].start_us;
        ok += calls[i].end_us != 0 && calls[i].error == LLM_OK;
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
    size_t p99 = (size_t)n * 99 / 100;
    if (p99 >= (size_t)n)
        p99 = (size_t)n - 1;
    printf(
        "round %d: %d calls, %d completed ok, %d errors", round, n, ok, n - ok);
    for (int e = 1; e <= LLM_ESHUTDOWN; e++)
        if (r.errors[e])
            printf(" [%s: %d]", llm_strerror(e), r.errors[e]);
    printf("\n  latency median %.3f s, p99 %.3f s, max %.3f s; wall %.3f s; "
           "client RSS %ld KiB (peak %ld KiB)\n",
        (double)lat[n / 2] / 1e6, (double)lat[p99] / 1e6,
        (double)lat[n - 1] / 1e6, (double)wall / 1e6, rss, hwm);
    fflush(stdout);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    free(calls);
    free(lat);
    return ok == n ? 0 : -1;
}

int
main(int argc, char **argv)
{
    int n = 512, rounds = 2, opt;
    const char *delay = "1.0", *base = NULL;
    char url[128];
    pid_t fake = -1;

    while ((opt = getopt(argc, argv, "n:d:r:u:h")) != -1) {
        switch (opt) {
        case 'n':
            if (parse_int(optarg, &n) != 0)
                goto usage;
            break;
        case 'r':
            if (parse_int(optarg, &rounds) != 0)
                goto usage;
            break;
        case 'd':
            delay = optarg;
            break;
        case 'u':
            base = optarg;
            break;
        default:
            goto usage;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (base == NULL) {
        if ((fake = start_fake(delay, url, sizeof(url))) < 0) {
            fprintf(stderr, "llm_bench: cannot start the fake server\n");
            return 2;
        }
        base = url;
        printf("fake server %s, %s s per answer\n", base, delay);
    }
    struct llm_config cfg = {.base_url = base,
        .api_key = "sk-bench",
        .model = "fake",
        .timeout_ms = 30000};
    struct llm *cl;
    int rc = 0;
    if (llm_new(&cl, &cfg) != 0) {
        fprintf(stderr, "llm_bench: cannot start the client\n");
        rc = 2;
    } else {
        for (int i = 1; i <= rounds; i++)
            if (round_run(cl, n, i) != 0)
                rc = 1;
        llm_free(cl);
    }
    if (fake > 0) {
        kill(fake, SIGTERM);
        waitpid(fake, NULL, 0);
    }
    curl_global_cleanup();
    return rc;
usage:
    fprintf(stderr,
        "usage: llm_bench [-n CALLS] [-d DELAY_S] [-r ROUNDS] [-u BASE_URL]\n");
    return 2;
}
