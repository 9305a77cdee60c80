#include "llm.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "clock.h"
#include "ids.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS 20000
#define DEFAULT_RETRIES 2
#define DEFAULT_MAX_RESPONSE (1u << 20)
#define DEFAULT_CONNECT_MS 5000
#define DEFAULT_RETRY_AFTER_MAX_MS 30000
#define DEFAULT_BACKOFF_MS 200
#define BACKOFF_MAX_MS 5000
#define IDLE_WAIT_MS 1000
#define CONNECTION_CACHE 1024 /* idle connections kept for reuse */
#define EVENTS_PER_WAIT 64

struct job {
    struct llm *l;
    char *body;
    llm_done_fn cb;
    void *arg;
    int64_t start;    /* monotonic ms */
    int64_t deadline; /* monotonic ms */
    int64_t retry_at; /* monotonic ms, while waiting */
    int attempts;
    CURL *easy;
    char *buf; /* the reply's body, at most l->max_response bytes */
    size_t len;
    bool too_big;
    long retry_after_ms;       /* from the last reply; -1: none */
    struct job *next;          /* submitted / waiting lists */
    struct job *aprev, *anext; /* transfers running */
};

struct llm {
    char *url, *model;
    int timeout_ms, max_retries, connect_ms, retry_after_max_ms, backoff_ms;
    size_t max_response;
    bool json_mode;
    CURLM *multi;
    int epfd;        /* the transfers' sockets, and wakefd */
    int wakefd;      /* eventfd: a call submitted, or stop */
    int64_t curl_at; /* monotonic ms when curl's timer is due; -1: none */
    struct curl_slist *headers;
    pthread_t thread;
    pthread_mutex_t mu;
    struct job *submitted, **submitted_tail; /* FIFO, guarded by mu */
    bool stopping;                           /* guarded by mu */
    struct job *waiting; /* event thread only: backing off */
    struct job *active;  /* event thread only: transfers in the multi */
};

const char *
llm_strerror(int error)
{
    static const char *const names[]
        = {"ok", "timeout", "http error", "reply too large", "malformed",
            "transport", "shutdown", "out of memory"};
    return error >= 0 && error <= LLM_ENOMEM ? names[error] : "error";
}

/* curl's write callback: keep the body, abort past the cap. */
static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t k = size * n;

    if (k > j->l->max_response - j->len) {
        j->too_big = true;
        return 0; /* aborts the transfer */
    }
    char *b = realloc(j->buf, j->len + k + 1);
    if (b == NULL)
        return 0;
    memcpy(b + j->len, p, k);
    j->len += k;
    b[j->len] = '\0';
    j->buf = b;
    return k;
}

/* Retry-After: delay-seconds or an HTTP-date; milliseconds, or -1. */
static long
parse_retry_after(const char *v, size_t n)
{
    char tmp[64];
    char *end;

    while (n > 0 && isspace((unsigned char)*v)) {
        v++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    if (isdigit((unsigned char)tmp[0])) {
        errno = 0;
        long s = strtol(tmp, &end, 10);
        if (errno != 0 || *end != '\0' || s < 0)
            return -1;
        return s > 86400 ? 86400L * 1000 : s * 1000;
    }
    time_t at = curl_getdate(tmp, NULL);
    if (at == (time_t)-1)
        return -1;
    time_t now = time(NULL);
    return at <= now ? 0 : (long)((at - now) > 86400 ? 86400 : at - now) * 1000;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t k = size * n;

    if (k > 12 && strncasecmp(p, "retry-after:", 12) == 0)
        j->retry_after_ms = parse_retry_after(p + 12, k - 12);
    return k;
}

static void
finish(struct job *j, int error, int status, char *content, const char *msg)
{
    struct llm_result r;

    memset(&r, 0, sizeof(r));
    r.error = error;
    r.http_status = status;
    r.attempts = j->attempts;
    r.elapsed_ms = (int)(clock_mono_ms() - j->start);
    r.content = content;
    snprintf(r.message, sizeof(r.message), "%s", msg ? msg : "");
    j->cb(&r, j->arg);
    free(content);
    free(j->body);
    free(j->buf);
    free(j);
}

static void
link_active(struct llm *l, struct job *j)
{
    j->aprev = NULL;
    j->anext = l->active;
    if (l->active)
        l->active->aprev = j;
    l->active = j;
}

static void
unlink_active(struct llm *l, struct job *j)
{
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        l->active = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
    j->aprev = j->anext = NULL;
}

static void
start_transfer(struct llm *l, struct job *j)
{
    int64_t left = j->deadline - clock_mono_ms();

    if (left <= 0) {
        finish(j, LLM_ETIMEOUT, 0, NULL, "deadline passed before a reply");
        return;
    }
    free(j->buf);
    j->buf = NULL;
    j->len = 0;
    j->too_big = false;
    j->retry_after_ms = -1;
    j->attempts++;
    if ((j->easy = curl_easy_init()) == NULL) {
        finish(j, LLM_ENOMEM, 0, NULL, "cannot create a transfer");
        return;
    }
    CURL *e = j->easy;
    curl_easy_setopt(e, CURLOPT_URL, l->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* A Content-Length over the cap fails before any byte is read. */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)l->max_response);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(left < l->connect_ms ? left : l->connect_ms));
    if (curl_multi_add_handle(l->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        j->easy = NULL;
        finish(j, LLM_ENOMEM, 0, NULL, "cannot start a transfer");
        return;
    }
    link_active(l, j);
}

/* Back off before the next attempt, or give up with this error. */
static void
retry_or_finish(
    struct llm *l, struct job *j, int error, int status, const char *msg)
{
    int64_t now = clock_mono_ms();
    int shift = j->attempts - 1 < 16 ? j->attempts - 1 : 16;
    int64_t wait = (int64_t)l->backoff_ms << shift;
    unsigned char rnd;
    char why[192];

    if (wait > BACKOFF_MAX_MS)
        wait = BACKOFF_MAX_MS;
    if (ids_random(&rnd, 1) == 0) /* jitter: 50-100 % of the step */
        wait = wait / 2 + (wait / 2) * rnd / 255;
    if (j->retry_after_ms >= 0)
        wait = j->retry_after_ms < l->retry_after_max_ms
            ? j->retry_after_ms
            : l->retry_after_max_ms;
    if (j->attempts > l->max_retries) {
        finish(j, error, status, NULL, msg);
        return;
    }
    if (now + wait >= j->deadline) {
        snprintf(why, sizeof(why),
            "%s; a retry in %lld ms would pass the "
            "deadline",
            msg, (long long)wait);
        finish(j, error, status, NULL, why);
        return;
    }
    log_warn("llm: %s, retrying in %lld ms (attempt %d)", msg, (long long)wait,
        j->attempts + 1);
    j->retry_at = now + wait;
    j->next = l->waiting;
    l->waiting = j;
}

static char *
parse_content(const char *body, const char **why)
{
    cJSON *doc = cJSON_Parse(body);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "choices"), 0);
    const cJSON *content
        = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "message"), "content");
    char *out = NULL;

    if (doc == NULL)
        *why = "reply is not JSON";
    else if (!cJSON_IsString(content))
        *why = "reply has no choices[0].message.content";
    else if ((out = strdup(content->valuestring)) == NULL)
        *why = "out of memory";
    cJSON_Delete(doc);
    return out;
}

/*
 * "HTTP 404 (model_not_found)": the status and the error's code or type
 * when it is a plain identifier. Never the server's free text: OpenAI's
 * quotes part of a wrong key.
 */
static void
http_error(char *out, size_t n, long status, const char *body)
{
    cJSON *doc = body ? cJSON_Parse(body) : NULL;
    const cJSON *e = cJSON_GetObjectItem(doc, "error");
    const cJSON *id = cJSON_GetObjectItem(e, "code");
    const char *s = NULL;

    if (!cJSON_IsString(id))
        id = cJSON_GetObjectItem(e, "type");
    if (cJSON_IsString(id) && strlen(id->valuestring) <= 48) {
        s = id->valuestring;
        for (const char *p = s; *p != '\0'; p++)
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-'
                && *p != '.')
                s = NULL;
    }
    if (s != NULL && s[0] != '\0')
        snprintf(out, n, "HTTP %ld (%s)", status, s);
    else
        snprintf(out, n, "HTTP %ld", status);
    cJSON_Delete(doc);
}

/* curl errors worth another attempt: the server may be back a bit later. */
static bool
transient(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_OPERATION_TIMEDOUT: /* a connect timeout, not the deadline */
        return true;
    default:
        return false;
    }
}

static void
done_transfer(struct llm *l, CURL *easy, CURLcode code)
{
    struct job *j;
    long status = 0;
    char msg[160];

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(l->multi, easy);
    curl_easy_cleanup(easy);
    j->easy = NULL;
    unlink_active(l, j);

    if (j->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(
            msg, sizeof(msg), "reply larger than %zu bytes", l->max_response);
        finish(j, LLM_ETOOBIG, (int)status, NULL, msg);
        return;
    }
    if (code == CURLE_OPERATION_TIMEDOUT
        && clock_mono_ms() >= j->deadline - 5) {
        finish(j, LLM_ETIMEOUT, (int)status, NULL, "timed out");
        return;
    }
    if (code != CURLE_OK) {
        snprintf(msg, sizeof(msg), "transport: %s", curl_easy_strerror(code));
        if (transient(code))
            retry_or_finish(l, j, LLM_ETRANSPORT, 0, msg);
        else
            finish(j, LLM_ETRANSPORT, 0, NULL, msg);
        return;
    }
    if (status < 200 || status > 299) {
        http_error(msg, sizeof(msg), status, j->buf);
        if (status == 429 || status == 408 || status >= 500)
            retry_or_finish(l, j, LLM_EHTTP, (int)status, msg);
        else
            finish(j, LLM_EHTTP, (int)status, NULL, msg);
        return;
    }
    const char *why = NULL;
    char *content = parse_content(j->buf ? j->buf : "", &why);
    if (content == NULL)
        finish(j, LLM_EMALFORMED, (int)status, NULL, why);
    else
        finish(j, LLM_OK, (int)status, content, "ok");
}

/* Fail every call the client still holds (it is stopping). */
static void
abort_all(struct llm *l, struct job *sub)
{
    while (sub != NULL) {
        struct job *next = sub->next;
        finish(sub, LLM_ESHUTDOWN, 0, NULL, "client stopped");
        sub = next;
    }
    while (l->waiting != NULL) {
        struct job *j = l->waiting;
        l->waiting = j->next;
        finish(j, LLM_ESHUTDOWN, 0, NULL, "client stopped");
    }
    while (l->active != NULL) {
        struct job *j = l->active;
        unlink_active(l, j);
        curl_multi_remove_handle(l->multi, j->easy);
        curl_easy_cleanup(j->easy);
        finish(j, LLM_ESHUTDOWN, 0, NULL, "client stopped");
    }
}

/* Start the retries that are due; the time the next one is. */
static int64_t
start_due(struct llm *l, int64_t now, int64_t next_due)
{
    struct job **pp = &l->waiting;

    while (*pp != NULL) {
        struct job *j = *pp;
        if (j->retry_at <= now) {
            *pp = j->next;
            start_transfer(l, j);
        } else {
            if (j->retry_at < next_due)
                next_due = j->retry_at;
            pp = &j->next;
        }
    }
    return next_due;
}

/*
 * curl tells which sockets to watch for what (CURLMOPT_SOCKETFUNCTION) and
 * when its next timeout is due (CURLMOPT_TIMERFUNCTION); the event thread
 * waits on them with epoll and hands curl only the sockets that are ready,
 * so a wake-up costs the same with 5 transfers running or 5,000.
 */
static int
on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    struct llm *l = arg;
    struct epoll_event ev;

    (void)easy;
    (void)sockp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u)
        | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, s, &ev) != 0
        && (errno != ENOENT || epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev) != 0))
        log_warn("llm: cannot watch a socket: %s", strerror(errno));
    return 0;
}

static int
on_timer(CURLM *multi, long ms, void *arg)
{
    struct llm *l = arg;

    (void)multi;
    l->curl_at = ms < 0 ? -1 : clock_mono_ms() + ms;
    return 0;
}

static void
wake_thread(struct llm *l)
{
    uint64_t one = 1;
    ssize_t n;

    do
        n = write(l->wakefd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
}

static void
reap(struct llm *l)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(l->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE)
            done_transfer(l, m->easy_handle, m->data.result);
}

static void *
event_main(void *arg)
{
    struct llm *l = arg;
    struct epoll_event evs[EVENTS_PER_WAIT];
    int running;

    for (;;) {
        pthread_mutex_lock(&l->mu);
        struct job *sub = l->submitted;
        l->submitted = NULL;
        l->submitted_tail = &l->submitted;
        bool stopping = l->stopping;
        pthread_mutex_unlock(&l->mu);
        if (stopping) {
            abort_all(l, sub);
            return NULL;
        }
        while (sub != NULL) {
            struct job *next = sub->next;
            start_transfer(l, sub);
            sub = next;
        }
        int64_t now = clock_mono_ms();
        if (l->curl_at >= 0 && l->curl_at <= now) {
            l->curl_at = -1;
            curl_multi_socket_action(
                l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            reap(l);
            now = clock_mono_ms();
        }
        int64_t next_due = start_due(l, now, now + IDLE_WAIT_MS);
        if (l->curl_at >= 0 && l->curl_at < next_due)
            next_due = l->curl_at;
        int64_t wait = next_due - clock_mono_ms();
        int n = epoll_wait(
            l->epfd, evs, EVENTS_PER_WAIT, wait > 0 ? (int)wait : 0);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l->wakefd) {
                uint64_t count; /* EAGAIN: drained by an earlier event */
                if (read(l->wakefd, &count, sizeof(count)) < 0
                    && errno != EAGAIN)
                    log_warn("llm: wake-up: %s", strerror(errno));
                continue;
            }
            uint32_t e = evs[i].events;
            int flags = (e & EPOLLIN ? CURL_CSELECT_IN : 0)
                | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0)
                | (e & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(l->multi, fd, flags, &running);
        }
        reap(l);
    }
}

static char *
chat_url(const char *base)
{
    size_t n = strlen(base);
    char *url;

    /* Accept ".../v1", ".../v1/" and the bare host alike. */
    while (n > 0 && base[n - 1] == '/')
        n--;
    bool has_v1 = n >= 3 && strncmp(base + n - 3, "/v1", 3) == 0;
    size_t cap = n + sizeof("/v1/chat/completions");
    if ((url = malloc(cap)) != NULL)
        snprintf(url, cap, "%.*s%s/chat/completions", (int)n, base,
            has_v1 ? "" : "/v1");
    return url;
}

/* The key must not linger in freed memory. */
static void
free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p != NULL; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

static struct curl_slist *
make_headers(const char *api_key)
{
    struct curl_slist *h = NULL, *t;

    if ((t = curl_slist_append(h, "Content-Type: application/json")) == NULL)
        return NULL;
    h = t;
    /* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
    if ((t = curl_slist_append(h, "Expect:")) == NULL)
        goto fail;
    h = t;
    if (api_key != NULL && api_key[0] != '\0') {
        size_t cap = strlen(api_key) + sizeof("Authorization: Bearer ");
        char *line = malloc(cap);
        if (line == NULL)
            goto fail;
        snprintf(line, cap, "Authorization: Bearer %s", api_key);
        t = curl_slist_append(h, line);
        explicit_bzero(line, cap);
        free(line);
        if (t == NULL)
            goto fail;
        h = t;
    }
    return h;
fail:
    free_headers(h);
    return NULL;
}

int
llm_new(struct llm **lp, const struct llm_config *cfg)
{
    struct llm *l;

    if (cfg == NULL || cfg->base_url == NULL || cfg->base_url[0] == '\0'
        || (l = calloc(1, sizeof(*l))) == NULL)
        return -1;
    l->url = chat_url(cfg->base_url);
    l->model = strdup(cfg->model ? cfg->model : "");
    l->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    l->max_retries = cfg->max_retries > 0 ? cfg->max_retries
        : cfg->max_retries < 0            ? 0
                                          : DEFAULT_RETRIES;
    l->max_response
        = cfg->max_response ? cfg->max_response : DEFAULT_MAX_RESPONSE;
    l->json_mode = cfg->json_mode;
    l->connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
                                                : DEFAULT_CONNECT_MS;
    l->retry_after_max_ms = cfg->retry_after_max_ms > 0
        ? cfg->retry_after_max_ms
        : DEFAULT_RETRY_AFTER_MAX_MS;
    l->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : DEFAULT_BACKOFF_MS;
    l->headers = make_headers(cfg->api_key);
    l->multi = curl_multi_init();
    l->submitted_tail = &l->submitted;
    l->curl_at = -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->wakefd};
    if (l->url == NULL || l->model == NULL || l->headers == NULL
        || l->multi == NULL || l->epfd < 0 || l->wakefd < 0
        || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0)
        goto fail;
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    long cache = cfg->max_connections > CONNECTION_CACHE ? cfg->max_connections
                                                         : CONNECTION_CACHE;
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, cache);
    curl_multi_setopt(
        l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->max_connections);
    curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
    pthread_mutex_init(&l->mu, NULL);
    if (pthread_create(&l->thread, NULL, event_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        goto fail;
    }
    *lp = l;
    return 0;
fail:
    curl_multi_cleanup(l->multi);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free_headers(l->headers);
    free(l->url);
    free(l->model);
    free(l);
    return -1;
}

void
llm_free(struct llm *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_mutex_unlock(&l->mu);
    wake_thread(l);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    curl_multi_cleanup(l->multi);
    close(l->epfd);
    close(l->wakefd);
    free_headers(l->headers);
    free(l->url);
    free(l->model);
    free(l);
}

/* The JSON body of a request; malloc'd, or NULL (memory). */
static char *
build_body(const struct llm *l, const struct llm_request *req)
{
    cJSON *o = cJSON_CreateObject(), *msgs;
    const char *model = req->model && req->model[0] ? req->model : l->model;
    bool json = req->json_mode > 0 || (req->json_mode == 0 && l->json_mode);
    char *s = NULL;

    if (o == NULL || cJSON_AddStringToObject(o, "model", model) == NULL
        || (msgs = cJSON_AddArrayToObject(o, "messages")) == NULL)
        goto out;
    for (size_t i = 0; i < req->n_messages; i++) {
        cJSON *m = cJSON_CreateObject();
        if (m == NULL || !cJSON_AddItemToArray(msgs, m)) {
            cJSON_Delete(m);
            goto out;
        }
        if (cJSON_AddStringToObject(m, "role", req->messages[i].role) == NULL
            || cJSON_AddStringToObject(m, "content", req->messages[i].content)
                == NULL)
            goto out;
    }
    if (cJSON_AddNumberToObject(o, "temperature", req->temperature) == NULL
        || (req->max_tokens > 0
            && cJSON_AddNumberToObject(o, "max_tokens", req->max_tokens)
                == NULL)
        || cJSON_AddFalseToObject(o, "stream") == NULL)
        goto out;
    if (json) {
        cJSON *rf = cJSON_AddObjectToObject(o, "response_format");
        if (rf == NULL
            || cJSON_AddStringToObject(rf, "type", "json_object") == NULL)
            goto out;
    }
    s = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return s;
}

static bool
valid(const struct llm_request *req)
{
    if (req == NULL || req->messages == NULL || req->n_messages == 0)
        return false;
    for (size_t i = 0; i < req->n_messages; i++)
        if (req->messages[i].role == NULL || req->messages[i].content == NULL)
            return false;
    return true;
}

int
llm_submit(
    struct llm *l, const struct llm_request *req, llm_done_fn cb, void *arg)
{
    struct job *j;

    if (l == NULL || cb == NULL || !valid(req)
        || (j = calloc(1, sizeof(*j))) == NULL)
        return -1;
    if ((j->body = build_body(l, req)) == NULL) {
        free(j);
        return -1;
    }
    j->l = l;
    j->cb = cb;
    j->arg = arg;
    j->start = clock_mono_ms();
    j->deadline
        = j->start + (req->timeout_ms > 0 ? req->timeout_ms : l->timeout_ms);
    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        free(j->body);
        free(j);
        return -1;
    }
    *l->submitted_tail = j;
    l->submitted_tail = &j->next;
    pthread_mutex_unlock(&l->mu);
    wake_thread(l);
    return 0;
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct llm_result *out;
};

static void
wake(const struct llm_result *res, void *arg)
{
    struct waiter *w = arg;

    pthread_mutex_lock(&w->mu);
    *w->out = *res;
    w->out->content = res->content ? strdup(res->content) : NULL;
    if (res->content != NULL && w->out->content == NULL) {
        w->out->error = LLM_ENOMEM;
        snprintf(w->out->message, sizeof(w->out->message), "out of memory");
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int
llm_call(struct llm *l, const struct llm_request *req, struct llm_result *out)
{
    struct waiter w
        = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, out};

    memset(out, 0, sizeof(*out));
    if (llm_submit(l, req, wake, &w) != 0) {
        out->error = LLM_ENOMEM;
        snprintf(out->message, sizeof(out->message),
            "cannot submit (empty request, memory or client stopping)");
        return -1;
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return out->error == LLM_OK ? 0 : -1;
}

void
llm_result_release(struct llm_result *r)
{
    if (r == NULL)
        return;
    free(r->content);
    r->content = NULL;
}
