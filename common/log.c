#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char service_name[32] = "-";
static enum log_level min_level = LOG_INFO;
static _Thread_local char ctx_req[40];
static _Thread_local char ctx_trace[40];

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void
log_init(const char *service, const char *level)
{
    snprintf(service_name, sizeof(service_name), "%s", service);
    if (level == NULL)
        return;
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
        if (strcasecmp(level, level_names[i]) == 0)
            min_level = (enum log_level)i;
}

/* Set on every request and bus call: a copy, not a format. */
static void
set_ctx(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

void
log_set_context(const char *request_id, const char *trace_id)
{
    set_ctx(ctx_req, sizeof(ctx_req), request_id);
    set_ctx(ctx_trace, sizeof(ctx_trace), trace_id);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    va_list ap;

    if (level < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s",
        ts.tv_nsec / 1000000, level_names[level], service_name);
    if (ctx_req[0] && n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, " req=%s", ctx_req);
    if (ctx_trace[0] && n < sizeof(line))
        n += (size_t)snprintf(
            line + n, sizeof(line) - n, " trace=%s", ctx_trace);
    if (n < sizeof(line) - 1) {
        line[n++] = ' ';
        va_start(ap, fmt);
        int k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (k > 0)
            n += (size_t)k;
    }
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    /* One write per line, so lines of concurrent threads never interleave. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}
