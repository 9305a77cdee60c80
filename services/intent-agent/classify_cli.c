#include "classify_cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_CAP (2 * CLASSIFY_CLI_MAX_LINE + 2)

/* Line reader over a file descriptor (or, without one, over stdio). */
struct reader {
    FILE *f;
    int fd; /* -1: read f with fread, it never waits */
    char *buf;
    size_t start, end, scan; /* unread bytes [start, end); no '\n' before
                                scan */
    int eof;
    int discarding; /* inside a line that is over the cap */
};

enum { LINE_OK = 1, LINE_WAIT = 0, LINE_EOF = -1 };

/* Input is available without blocking (or reading returns EOF / error). */
static int
ready(const struct reader *r)
{
    struct pollfd p = {r->fd, POLLIN, 0};
    int n;

    if (r->fd < 0)
        return 1;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n != 0;
}

static int
fill(struct reader *r)
{
    ssize_t n;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->scan -= r->start;
        r->start = 0;
    }
    if (r->fd < 0) {
        size_t m = fread(r->buf + r->end, 1, BUF_CAP - r->end, r->f);
        if (m == 0) {
            if (ferror(r->f))
                return -EIO;
            r->eof = 1;
        }
        r->end += m;
        return 0;
    }
    do
        n = read(r->fd, r->buf + r->end, BUF_CAP - r->end);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        r->eof = 1;
    r->end += (size_t)n;
    return 0;
}

/*
 * Next line into *line / *len (not NUL-terminated, valid until the next
 * call); *over when it was longer than the cap (then *len is 0). With
 * may_wait 0, returns LINE_WAIT instead of blocking. Returns LINE_OK,
 * LINE_WAIT, LINE_EOF or a negative errno.
 */
static int
next_line(
    struct reader *r, int may_wait, const char **line, size_t *len, int *over)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
        if (nl != NULL || (r->eof && (r->end > r->start || r->discarding))) {
            size_t stop = nl ? (size_t)(nl - r->buf) : r->end;
            *line = r->buf + r->start;
            *len = stop - r->start;
            *over = r->discarding || *len > CLASSIFY_CLI_MAX_LINE;
            if (*over)
                *len = 0;
            r->discarding = 0;
            r->start = r->scan = nl ? stop + 1 : stop;
            return LINE_OK;
        }
        if (r->eof)
            return LINE_EOF;
        r->scan = r->end;
        if (r->end - r->start > CLASSIFY_CLI_MAX_LINE) {
            r->discarding = 1;
            r->start = r->end = r->scan = 0;
        }
        if (!may_wait && !ready(r))
            return LINE_WAIT;
        int rc = fill(r);
        if (rc < 0)
            return rc;
    }
}

struct item {
    cJSON *json;      /* owns text */
    const char *text; /* NULL: answer err */
    const char *err;
};

static int
blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static void
parse_item(struct item *it, const char *line, size_t len, int over)
{
    const cJSON *t;

    memset(it, 0, sizeof *it);
    if (over) {
        it->err = "line too long";
        return;
    }
    it->json = cJSON_ParseWithLength(line, len);
    if (it->json == NULL) {
        it->err = "invalid JSON";
        return;
    }
    t = cJSON_GetObjectItemCaseSensitive(it->json, "text");
    if (!cJSON_IsString(t) || t->valuestring == NULL) {
        it->err = "no text string";
        return;
    }
    it->text = t->valuestring;
}

static int
write_result(FILE *out, const struct classify_result *r)
{
    if (fprintf(out, "{\"intent\":\"%s\",\"confidence\":%.5f,\"scores\":{",
            intent_name(r->intent), (double)r->confidence)
        < 0)
        return -EIO;
    for (int c = 0; c < INTENT_COUNT; c++)
        if (fprintf(out, "%s\"%s\":%.5f", c ? "," : "", intent_name(c),
                (double)r->scores[c])
            < 0)
            return -EIO;
    return fputs("}}\n", out) < 0 ? -EIO : 0;
}

/* One part of a batch, classified on a thread of its own. */
struct part {
    pthread_t thread;
    struct classifier *c;
    unsigned flags;
    const char **texts;
    size_t n;
    struct classify_result *res;
    int rc;
};

static void *
part_main(void *arg)
{
    struct part *p = arg;

    p->rc = classifier_classify(p->c, p->texts, p->n, NULL, p->flags, p->res);
    return NULL;
}

/*
 * Classify texts in up to CLASSIFY_CLI_THREADS parts at once (one BLAS
 * thread each, as in the daemon): parts of at least 8 texts, so small
 * batches, and single interactive lines, stay on the calling thread.
 */
static int
classify_parallel(struct classifier *c, unsigned flags, const char **texts,
    size_t nt, struct classify_result *res)
{
    struct part parts[CLASSIFY_CLI_THREADS];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t np = nt / 8;

    if (np > CLASSIFY_CLI_THREADS)
        np = CLASSIFY_CLI_THREADS;
    if (cpus > 0 && np > (size_t)cpus)
        np = (size_t)cpus;
    if (np < 2)
        return classifier_classify(c, texts, nt, NULL, flags, res);
    size_t per = (nt + np - 1) / np;
    bool threaded[CLASSIFY_CLI_THREADS] = {false};
    for (size_t i = 0; i < np; i++) {
        size_t from = i * per;
        parts[i] = (struct part) {.c = c,
            .flags = flags,
            .texts = texts + from,
            .n = from + per > nt ? nt - from : per,
            .res = res + from};
        /* Part 0 on this thread; any part whose thread cannot start too. */
        threaded[i] = i > 0
            && pthread_create(&parts[i].thread, NULL, part_main, &parts[i])
                == 0;
    }
    int rc = 0;
    for (size_t i = 0; i < np; i++) {
        if (threaded[i])
            pthread_join(parts[i].thread, NULL);
        else
            part_main(&parts[i]);
        if (parts[i].rc < 0)
            rc = parts[i].rc;
    }
    return rc;
}

static int
run_batch(FILE *out, struct classifier *c, unsigned flags, struct item *items,
    size_t n)
{
    const char *texts[CLASSIFY_CLI_BATCH];
    struct classify_result *res = NULL;
    size_t nt = 0, k = 0;
    int rc = 0, crc = 0;

    for (size_t i = 0; i < n; i++)
        if (items[i].text != NULL)
            texts[nt++] = items[i].text;
    if (nt > 0) {
        res = malloc(nt * sizeof *res);
        crc = res == NULL ? -ENOMEM
                          : classify_parallel(c, flags, texts, nt, res);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (items[i].text == NULL) {
            if (fprintf(out, "{\"error\":\"%s\"}\n", items[i].err) < 0)
                rc = -EIO;
        } else if (crc < 0) {
            if (fputs("{\"error\":\"classification failed\"}\n", out) < 0)
                rc = -EIO;
        } else {
            rc = write_result(out, &res[k]);
        }
        if (items[i].text != NULL)
            k++;
    }
    free(res);
    if (rc == 0 && fflush(out) != 0)
        rc = -EIO;
    return rc;
}

int
classify_cli_run_flags(
    FILE *in, FILE *out, struct classifier *c, unsigned flags)
{
    struct reader r = {0};
    struct item items[CLASSIFY_CLI_BATCH];
    size_t n = 0;
    int rc = 0, done = 0;

    if (in == NULL || out == NULL || c == NULL)
        return -EINVAL;
    r.f = in;
    r.fd = fileno(in);
    r.buf = malloc(BUF_CAP);
    if (r.buf == NULL)
        return -ENOMEM;
    while (!done) {
        const char *line;
        size_t len;
        int over;
        int got = next_line(&r, n == 0, &line, &len, &over);

        if (got == LINE_OK) {
            if (!over && blank(line, len))
                continue;
            parse_item(&items[n++], line, len, over);
            if (n < CLASSIFY_CLI_BATCH)
                continue;
        } else if (got == LINE_EOF) {
            done = 1;
        } else if (got < 0) {
            rc = got;
            done = 1;
        }
        /* a full batch, nothing more to read now, or the end */
        if (n > 0) {
            int wrc = run_batch(out, c, flags, items, n);
            for (size_t i = 0; i < n; i++)
                cJSON_Delete(items[i].json);
            n = 0;
            if (wrc < 0) {
                rc = wrc;
                done = 1;
            }
        }
    }
    free(r.buf);
    return rc;
}

int
classify_cli_run(FILE *in, FILE *out, struct classifier *c)
{
    return classify_cli_run_flags(in, out, c, 0);
}
