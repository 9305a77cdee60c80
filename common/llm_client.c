#include "llm_client.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "clock.h"
#include "ids.h"
#include "log.h"

#define DEFAULT_TIMEOUT_MS 20000
#define DEFAULT_MAX_RETRIES 2
#define DEFAULT_MAX_RESPONSE ((size_t)1 << 20)
#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 10000
#define IDLE_POLL_MS 1000

/* One call, from llm_submit to its callback. */
struct job {
    struct llm_client *c;
    char *body; /* the serialised request */
    llm_done_fn cb;
    void *arg;
    int64_t deadline; /* monotonic ms */
    int64_t retry_at; /* monotonic ms, while on the waiting list */
    int attempts;
    CURL *easy;
    char *buf; /* the reply body, capped at max_response */
    size_t len;
    bool too_big;
    long retry_after_s; /* -1: none in the last reply */
    char errbuf[CURL_ERROR_SIZE];
    struct job *next;          /* submitted queue / waiting list */
    struct job *aprev, *anext; /* transfers in the multi */
};

struct llm_client {
    char *url, *model;
    int timeout_ms, max_retries;
    size_t max_response;
    bool json_mode;
    struct curl_slist *headers; /* holds the key: wiped before freeing */
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mu;
    struct job *sub_head, *sub_tail; /* guarded by mu */
    bool stopping;                   /* guarded by mu */
    struct job *waiting;             /* event thread only: backing off */
    struct job *active;              /* event thread only: transfers */
};

const char *
llm_error_name(int error)
{
    static const char *const names[] = {"ok", "timeout", "http error",
        "reply too large", "malformed reply", "transport error", "shutdown"};

    return error >= 0 && error <= LLM_ESHUTDOWN ? names[error] : "error";
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t k = size * n;

    if (k > j->c->max_response - j->len) {
        j->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
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

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t k = size * n;
    static const char name[] = "retry-after:";

    /* A status line starts a new reply (after a 100 or a redirect). */
    if (k >= 5 && strncmp(p, "HTTP/", 5) == 0)
        j->retry_after_s = -1;
    if (k > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        char tmp[32];
        size_t m = k - (sizeof(name) - 1);
        if (m > sizeof(tmp) - 1)
            m = sizeof(tmp) - 1;
        memcpy(tmp, p + sizeof(name) - 1, m);
        tmp[m] = '\0';
        /* Seconds only; an HTTP date falls back to the backoff. */
        char *end;
        long v = strtol(tmp, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (end != tmp && *end == '\0' && v >= 0)
            j->retry_after_s = v;
    }
    return k;
}

static void
job_free(struct job *j)
{
    free(j->body);
    free(j->buf);
    free(j);
}

static void
finish(struct job *j, int error, int status, char *content, const char *msg)
{
    struct llm_result r;

    memset(&r, 0, sizeof(r));
    r.error = error;
    r.http_status = status;
    r.attempts = j->attempts;
    r.content = content;
    snprintf(r.message, sizeof(r.message), "%s", msg ? msg : "");
    j->cb(&r, j->arg);
    free(content);
    job_free(j);
}

static void
link_active(struct llm_client *c, struct job *j)
{
    j->aprev = NULL;
    j->anext = c->active;
    if (c->active)
        c->active->aprev = j;
    c->active = j;
}

static void
unlink_active(struct llm_client *c, struct job *j)
{
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        c->active = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
}

static void
start_transfer(struct llm_client *c, struct job *j)
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
    j->retry_after_s = -1;
    j->errbuf[0] = '\0';
    j->attempts++;
    if ((j->easy = curl_easy_init()) == NULL) {
        finish(j, LLM_ETRANSPORT, 0, NULL, "cannot create a transfer");
        return;
    }
    curl_easy_setopt(j->easy, CURLOPT_URL, c->url);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(left < CONNECT_TIMEOUT_MS ? left : CONNECT_TIMEOUT_MS));
    curl_easy_setopt(j->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(j->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (curl_multi_add_handle(c->multi, j->easy) != CURLM_OK) {
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
        finish(j, LLM_ETRANSPORT, 0, NULL, "cannot start a transfer");
        return;
    }
    link_active(c, j);
}

/* Back off before the next attempt, or give up with this error. */
static void
retry_or_finish(
    struct llm_client *c, struct job *j, int error, int status, const char *msg)
{
    int64_t now = clock_mono_ms();
    int shift = j->attempts - 1 < 16 ? j->attempts - 1 : 16;
    int64_t wait = (int64_t)BACKOFF_BASE_MS << shift;
    unsigned char rnd;

    if (wait > BACKOFF_MAX_MS)
        wait = BACKOFF_MAX_MS;
    if (ids_random(&rnd, 1) == 0) /* jitter: 50-100 % of the step */
        wait = wait / 2 + (wait / 2) * rnd / 255;
    if (j->retry_after_s >= 0)
        wait = j->retry_after_s > 86400 ? 86400000 : j->retry_after_s * 1000;
    if (j->attempts > c->max_retries) {
        finish(j, error, status, NULL, msg);
        return;
    }
    if (now + wait >= j->deadline) {
        char m[256];
        snprintf(m, sizeof(m), "%.200s (no time left to retry)", msg);
        finish(j, error, status, NULL, m);
        return;
    }
    log_warn("llm: %s, retrying in %lld ms (attempt %d of %d)", msg,
        (long long)wait, j->attempts + 1, c->max_retries + 1);
    j->retry_at = now + wait;
    j->next = c->waiting;
    c->waiting = j;
}

/* choices[0].message.content, malloc'd, or NULL with *why set. */
static char *
parse_content(const char *body, size_t len, const char **why)
{
    cJSON *doc = cJSON_ParseWithLength(body, len);
    const cJSON *ch
        = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "choices"), 0);
    const cJSON *content
        = cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content");
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

static bool
retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: /* a connect timeout with time left */
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static void
done_transfer(struct llm_client *c, CURL *easy, CURLcode code)
{
    struct job *j = NULL;
    long status = 0;
    char msg[256];

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(c->multi, easy);
    curl_easy_cleanup(easy);
    j->easy = NULL;
    unlink_active(c, j);

    if (j->too_big) {
        snprintf(
            msg, sizeof(msg), "reply larger than %zu bytes", c->max_response);
        finish(j, LLM_ETOOBIG, (int)status, NULL, msg);
        return;
    }
    if (code != CURLE_OK) {
        if (code == CURLE_OPERATION_TIMEDOUT
            && clock_mono_ms() >= j->deadline - 5) {
            finish(j, LLM_ETIMEOUT, (int)status, NULL, "timed out");
            return;
        }
        snprintf(msg, sizeof(msg), "transport: %.200s",
            j->errbuf[0] ? j->errbuf : curl_easy_strerror(code));
        if (retryable(code))
            retry_or_finish(c, j, LLM_ETRANSPORT, 0, msg);
        else
            finish(j, LLM_ETRANSPORT, 0, NULL, msg);
        return;
    }
    if (status < 200 || status > 299) {
        snprintf(msg, sizeof(msg), "HTTP %ld", status);
        if (status == 429 || status >= 500)
            retry_or_finish(c, j, LLM_EHTTP, (int)status, msg);
        else
            finish(j, LLM_EHTTP, (int)status, NULL, msg);
        return;
    }
    const char *why = NULL;
    char *content = parse_content(j->buf ? j->buf : "", j->len, &why);
    if (content == NULL)
        finish(j, LLM_EMALFORMED, (int)status, NULL, why);
    else
        finish(j, LLM_OK, (int)status, content, "ok");
}

/* End every call the thread still holds with LLM_ESHUTDOWN. */
static void
cancel_all(struct llm_client *c)
{
    while (c->active != NULL) {
        struct job *j = c->active;
        unlink_active(c, j);
        curl_multi_remove_handle(c->multi, j->easy);
        curl_easy_cleanup(j->easy);
        j->easy = NULL;
        finish(j, LLM_ESHUTDOWN, 0, NULL, "client stopped");
    }
    while (c->waiting != NULL) {
        struct job *j = c->waiting;
        c->waiting = j->next;
        finish(j, LLM_ESHUTDOWN, 0, NULL, "client stopped");
    }
    pthread_mutex_lock(&c->mu);
    struct job *sub = c->sub_head;
    c->sub_head = c->sub_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (sub != NULL) {
        struct job *next = sub->next;
        finish(sub, LLM_ESHUTDOWN, 0, NULL, "client stopped");
        sub = next;
    }
}

static void *
event_main(void *arg)
{
    struct llm_client *c = arg;

    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool stopping = c->stopping;
        struct job *sub = stopping ? NULL : c->sub_head;
        if (!stopping)
            c->sub_head = c->sub_tail = NULL;
        pthread_mutex_unlock(&c->mu);
        if (stopping) {
            cancel_all(c);
            return NULL;
        }
        while (sub != NULL) {
            struct job *next = sub->next;
            start_transfer(c, sub);
            sub = next;
        }
        /* Start the retries that are due. */
        int64_t now = clock_mono_ms();
        struct job **pp = &c->waiting;
        while (*pp != NULL) {
            struct job *j = *pp;
            if (j->retry_at <= now) {
                *pp = j->next;
                start_transfer(c, j);
            } else {
                pp = &j->next;
            }
        }
        int running;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int queued;
        while ((m = curl_multi_info_read(c->multi, &queued)) != NULL)
            if (m->msg == CURLMSG_DONE)
                done_transfer(c, m->easy_handle, m->data.result);
        /* Sleep until curl, the next retry or a submission needs us. */
        int64_t next_due = clock_mono_ms() + IDLE_POLL_MS;
        for (struct job *j = c->waiting; j != NULL; j = j->next)
            if (j->retry_at < next_due)
                next_due = j->retry_at;
        int64_t wait = next_due - clock_mono_ms();
        curl_multi_poll(c->multi, NULL, 0, wait > 0 ? (int)wait : 0, NULL);
    }
}

/* {base}/v1/chat/completions from "h", "h/", "h/v1" or "h/v1/". */
static char *
completions_url(const char *base)
{
    size_t n = strlen(base);
    char *url;

    while (n > 0 && base[n - 1] == '/')
        n--;
    bool has_v1 = n >= 3 && strncmp(base + n - 3, "/v1", 3) == 0;
    size_t cap = n + sizeof("/v1/chat/completions");
    if ((url = malloc(cap)) == NULL)
        return NULL;
    snprintf(
        url, cap, "%.*s%s/chat/completions", (int)n, base, has_v1 ? "" : "/v1");
    return url;
}

static void
wipe_headers(struct curl_slist *h)
{
    for (struct curl_slist *s = h; s != NULL; s = s->next)
        explicit_bzero(s->data, strlen(s->data));
    curl_slist_free_all(h);
}

static void
client_release(struct llm_client *c)
{
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi);
    wipe_headers(c->headers);
    free(c->url);
    free(c->model);
    free(c);
}

int
llm_client_new(struct llm_client **cp, const struct llm_config *cfg)
{
    struct llm_client *c;

    if (cfg == NULL || cfg->base_url == NULL || cfg->base_url[0] == '\0')
        return -1;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return -1;
    c->url = completions_url(cfg->base_url);
    c->model = strdup(cfg->model ? cfg->model : "");
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->max_retries = cfg->max_retries > 0 ? cfg->max_retries
        : cfg->max_retries == 0           ? DEFAULT_MAX_RETRIES
                                          : 0;
    c->max_response
        = cfg->max_response ? cfg->max_response : DEFAULT_MAX_RESPONSE;
    c->json_mode = cfg->json_mode;
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->headers != NULL) /* no "Expect: 100-continue" round trip */
        c->headers = curl_slist_append(c->headers, "Expect:");
    if (c->headers != NULL && cfg->api_key != NULL && cfg->api_key[0]) {
        size_t cap = strlen(cfg->api_key) + sizeof("Authorization: Bearer ");
        char *h = malloc(cap);
        struct curl_slist *added = NULL;
        if (h != NULL) {
            snprintf(h, cap, "Authorization: Bearer %s", cfg->api_key);
            added = curl_slist_append(c->headers, h);
            explicit_bzero(h, cap);
            free(h);
        }
        if (added == NULL) {
            wipe_headers(c->headers);
            c->headers = NULL;
        } else {
            c->headers = added;
        }
    }
    c->multi = curl_multi_init();
    if (c->url == NULL || c->model == NULL || c->headers == NULL
        || c->multi == NULL) {
        client_release(c);
        return -1;
    }
    if (cfg->max_connections > 0) {
        curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
            (long)cfg->max_connections);
        curl_multi_setopt(
            c->multi, CURLMOPT_MAXCONNECTS, (long)cfg->max_connections);
    } else {
        /* Keep idle connections of a burst for reuse. */
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 1024L);
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        client_release(c);
        return -1;
    }
    if (pthread_create(&c->thread, NULL, event_main, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        client_release(c);
        return -1;
    }
    *cp = c;
    return 0;
}

void
llm_client_free(struct llm_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_mutex_unlock(&c->mu);
    curl_multi_wakeup(c->multi);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->mu);
    client_release(c);
}

static char *
build_body(const struct llm_client *c, const struct llm_request *req)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *msgs;
    char *s = NULL;

    if (o == NULL)
        return NULL;
    if (cJSON_AddStringToObject(o, "model", c->model) == NULL
        || (msgs = cJSON_AddArrayToObject(o, "messages")) == NULL)
        goto out;
    for (size_t i = 0; i < req->n_messages; i++) {
        const struct llm_message *m = &req->messages[i];
        cJSON *item = cJSON_CreateObject();
        if (item == NULL || !cJSON_AddItemToArray(msgs, item)
            || cJSON_AddStringToObject(item, "role", m->role ? m->role : "user")
                == NULL
            || cJSON_AddStringToObject(
                   item, "content", m->content ? m->content : "")
                == NULL)
            goto out;
    }
    if (cJSON_AddNumberToObject(o, "temperature", req->temperature) == NULL)
        goto out;
    if (req->max_tokens > 0
        && cJSON_AddNumberToObject(o, "max_tokens", req->max_tokens) == NULL)
        goto out;
    if (c->json_mode) {
        cJSON *rf = cJSON_AddObjectToObject(o, "response_format");
        if (rf == NULL
            || cJSON_AddStringToObject(rf, "type", "json_object") == NULL)
            goto out;
    }
    if (cJSON_AddFalseToObject(o, "stream") == NULL)
        goto out;
    s = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return s;
}

int
llm_submit(struct llm_client *c, const struct llm_request *req, llm_done_fn cb,
    void *arg)
{
    struct job *j;

    if (c == NULL || req == NULL || cb == NULL
        || (req->n_messages > 0 && req->messages == NULL))
        return -1;
    if ((j = calloc(1, sizeof(*j))) == NULL)
        return -1;
    if ((j->body = build_body(c, req)) == NULL) {
        free(j);
        return -1;
    }
    j->c = c;
    j->cb = cb;
    j->arg = arg;
    j->deadline = clock_mono_ms() + c->timeout_ms;
    pthread_mutex_lock(&c->mu);
    if (c->stopping) {
        pthread_mutex_unlock(&c->mu);
        job_free(j);
        return -1;
    }
    if (c->sub_tail)
        c->sub_tail->next = j;
    else
        c->sub_head = j;
    c->sub_tail = j;
    pthread_mutex_unlock(&c->mu);
    curl_multi_wakeup(c->multi);
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
    w->out->content = NULL;
    if (res->content != NULL && (w->out->content = strdup(res->content)) == NULL
        && res->error == LLM_OK) {
        w->out->error = LLM_EMALFORMED;
        snprintf(w->out->message, sizeof(w->out->message), "out of memory");
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int
llm_call(
    struct llm_client *c, const struct llm_request *req, struct llm_result *out)
{
    struct waiter w;

    memset(out, 0, sizeof(*out));
    memset(&w, 0, sizeof(w));
    w.out = out;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    if (llm_submit(c, req, wake, &w) != 0) {
        out->error = LLM_ESHUTDOWN;
        snprintf(out->message, sizeof(out->message),
            "cannot submit (out of memory or client stopping)");
    } else {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
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
