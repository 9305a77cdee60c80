#include "llm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "clock.h"
#include "ids.h"
#include "log.h"

#define DEFAULT_MAX_RESPONSE (1u << 20)
#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS 5000

struct job {
    struct llm *l;
    char *body;
    llm_done_fn cb;
    void *arg;
    int64_t deadline; /* monotonic ms */
    int64_t retry_at; /* monotonic ms; 0: not waiting */
    int attempts;
    CURL *easy;
    char *buf;
    size_t len;
    bool too_big;
    long retry_after_s;
    struct job *next;          /* submitted / waiting lists */
    struct job *aprev, *anext; /* transfers running */
};

struct llm {
    char *url, *auth, *model;
    int timeout_ms, max_retries;
    size_t max_response;
    bool json_mode;
    CURLM *multi;
    struct curl_slist *headers;
    pthread_t thread;
    pthread_mutex_t mu;
    struct job *submitted; /* guarded by mu */
    bool stopping;         /* guarded by mu */
    struct job *waiting;   /* event thread only: backing off */
    struct job *active;    /* event thread only: transfers in the multi */
};

const char *
llm_strerror(int error)
{
    static const char *const names[]
        = {"ok", "timeout", "http error", "reply too large", "malformed",
            "transport", "shutdown", "out of memory"};
    return error >= 0 && error <= LLM_ENOMEM ? names[error] : "error";
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t k = size * n;

    if (j->len + k > j->l->max_response) {
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

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    struct job *j = arg;
    size_t k = size * n;

    if (k > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char tmp[32];
        size_t m = k - 12 < sizeof(tmp) - 1 ? k - 12 : sizeof(tmp) - 1;
        memcpy(tmp, p + 12, m);
        tmp[m] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        if (end != tmp && v >= 0)
            j->retry_after_s = v;
    }
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
    r.content = content;
    snprintf(r.message, sizeof(r.message), "%s", msg ? msg : "");
    j->cb(&r, j->arg);
    free(content);
    free(j->body);
    free(j->buf);
    free(j);
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
    j->retry_after_s = -1;
    j->attempts++;
    if ((j->easy = curl_easy_init()) == NULL) {
        finish(j, LLM_ENOMEM, 0, NULL, "cannot create a transfer");
        return;
    }
    curl_easy_setopt(j->easy, CURLOPT_URL, l->url);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, l->headers);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(
        j->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(left < 5000 ? left : 5000));
    curl_easy_setopt(j->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_multi_add_handle(l->multi, j->easy);
    j->aprev = NULL;
    j->anext = l->active;
    if (l->active)
        l->active->aprev = j;
    l->active = j;
}

/* Back off before the next attempt, or give up. */
static void
retry_or_finish(
    struct llm *l, struct job *j, int error, int status, const char *msg)
{
    int64_t now = clock_mono_ms();
    int64_t wait = (int64_t)BACKOFF_BASE_MS << (j->attempts - 1);
    unsigned char rnd;

    if (wait > BACKOFF_MAX_MS)
        wait = BACKOFF_MAX_MS;
    if (ids_random(&rnd, 1) == 0) /* jitter: 50-100% of the step */
        wait = wait / 2 + (wait / 2) * rnd / 255;
    if (j->retry_after_s >= 0)
        wait = j->retry_after_s * 1000;
    if (j->attempts > l->max_retries || now + wait >= j->deadline) {
        finish(j, error, status, NULL, msg);
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

static void
unlink_active(struct llm *l, struct job *j)
{
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        l->active = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
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

    if (j->too_big) {
        finish(j, LLM_ETOOBIG, (int)status, NULL, "reply too large");
        return;
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
        finish(j, LLM_ETIMEOUT, (int)status, NULL, "timed out");
        return;
    }
    if (code != CURLE_OK) {
        snprintf(msg, sizeof(msg), "transport: %s", curl_easy_strerror(code));
        retry_or_finish(l, j, LLM_ETRANSPORT, 0, msg);
        return;
    }
    if (status == 429 || status >= 500) {
        snprintf(msg, sizeof(msg), "HTTP %ld", status);
        retry_or_finish(l, j, LLM_EHTTP, (int)status, msg);
        return;
    }
    if (status < 200 || status > 299) {
        snprintf(msg, sizeof(msg), "HTTP %ld", status);
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

static void *
event_main(void *arg)
{
    struct llm *l = arg;

    for (;;) {
        /* Take new submissions. */
        pthread_mutex_lock(&l->mu);
        struct job *sub = l->submitted;
        l->submitted = NULL;
        bool stopping = l->stopping;
        pthread_mutex_unlock(&l->mu);
        while (sub != NULL) {
            struct job *next = sub->next;
            if (stopping)
                finish(sub, LLM_ESHUTDOWN, 0, NULL, "client stopped");
            else
                start_transfer(l, sub);
            sub = next;
        }
        /* Start the retries that are due; find the next one. */
        int64_t now = clock_mono_ms(), next_due = now + 1000;
        struct job **pp = &l->waiting;
        while (*pp != NULL) {
            struct job *j = *pp;
            if (stopping || j->retry_at <= now) {
                *pp = j->next;
                if (stopping)
                    finish(j, LLM_ESHUTDOWN, 0, NULL, "client stopped");
                else
                    start_transfer(l, j);
            } else {
                if (j->retry_at < next_due)
                    next_due = j->retry_at;
                pp = &j->next;
            }
        }
        if (stopping) {
            /* Abort the transfers still running. */
            while (l->active != NULL) {
                struct job *j = l->active;
                unlink_active(l, j);
                curl_multi_remove_handle(l->multi, j->easy);
                curl_easy_cleanup(j->easy);
                finish(j, LLM_ESHUTDOWN, 0, NULL, "client stopped");
            }
            return NULL;
        }
        int still;
        curl_multi_perform(l->multi, &still);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(l->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                done_transfer(l, m->easy_handle, m->data.result);
        /* Transfers that just failed may wait for a retry sooner. */
        for (struct job *j = l->waiting; j != NULL; j = j->next)
            if (j->retry_at < next_due)
                next_due = j->retry_at;
        int wait = (int)(next_due - clock_mono_ms());
        curl_multi_poll(l->multi, NULL, 0, wait > 0 ? wait : 0, NULL);
    }
}

int
llm_new(struct llm **lp, const struct llm_config *cfg)
{
    struct llm *l = calloc(1, sizeof(*l));
    char buf[2048];

    if (l == NULL || cfg->base_url == NULL || cfg->base_url[0] == '\0') {
        free(l);
        return -1;
    }
    /* Accept ".../v1", ".../v1/" and the bare host alike. */
    size_t n = strlen(cfg->base_url);
    while (n > 0 && cfg->base_url[n - 1] == '/')
        n--;
    bool has_v1 = n >= 3 && strncmp(cfg->base_url + n - 3, "/v1", 3) == 0;
    snprintf(buf, sizeof(buf), "%.*s%s/chat/completions", (int)n, cfg->base_url,
        has_v1 ? "" : "/v1");
    l->url = strdup(buf);
    l->model = strdup(cfg->model ? cfg->model : "");
    l->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 20000;
    l->max_retries = cfg->max_retries >= 0 ? cfg->max_retries : 2;
    l->max_response
        = cfg->max_response ? cfg->max_response : DEFAULT_MAX_RESPONSE;
    l->json_mode = cfg->json_mode;
    l->headers = curl_slist_append(NULL, "Content-Type: application/json");
    l->headers = curl_slist_append(l->headers, "Expect:");
    if (cfg->api_key != NULL && cfg->api_key[0] != '\0') {
        snprintf(buf, sizeof(buf), "Authorization: Bearer %s", cfg->api_key);
        l->headers = curl_slist_append(l->headers, buf);
        explicit_bzero(buf, sizeof(buf));
    }
    l->multi = curl_multi_init();
    if (l->url == NULL || l->model == NULL || l->headers == NULL
        || l->multi == NULL) {
        llm_free(l);
        return -1;
    }
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 1024L);
    pthread_mutex_init(&l->mu, NULL);
    if (pthread_create(&l->thread, NULL, event_main, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        curl_multi_cleanup(l->multi);
        l->multi = NULL;
        llm_free(l);
        return -1;
    }
    *lp = l;
    return 0;
}

void
llm_free(struct llm *l)
{
    if (l == NULL)
        return;
    if (l->multi != NULL) {
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_mutex_unlock(&l->mu);
        curl_multi_wakeup(l->multi);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->mu);
        curl_multi_cleanup(l->multi);
    }
    curl_slist_free_all(l->headers);
    free(l->url);
    free(l->model);
    free(l);
}

static char *
build_body(const struct llm *l, const struct llm_request *req)
{
    cJSON *o = cJSON_CreateObject(),
          *msgs = cJSON_AddArrayToObject(o, "messages");
    char *s;

    cJSON_AddStringToObject(o, "model", l->model);
    for (size_t i = 0; i < req->n_messages; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", req->messages[i].role);
        cJSON_AddStringToObject(m, "content", req->messages[i].content);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON_AddNumberToObject(o, "temperature", req->temperature);
    if (req->max_tokens > 0)
        cJSON_AddNumberToObject(o, "max_tokens", req->max_tokens);
    if (l->json_mode) {
        cJSON *rf = cJSON_AddObjectToObject(o, "response_format");
        cJSON_AddStringToObject(rf, "type", "json_object");
    }
    cJSON_AddFalseToObject(o, "stream");
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int
llm_submit(
    struct llm *l, const struct llm_request *req, llm_done_fn cb, void *arg)
{
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL || (j->body = build_body(l, req)) == NULL) {
        free(j);
        return -1;
    }
    j->l = l;
    j->cb = cb;
    j->arg = arg;
    j->deadline = clock_mono_ms() + l->timeout_ms;
    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        free(j->body);
        free(j);
        return -1;
    }
    j->next = l->submitted;
    l->submitted = j;
    pthread_mutex_unlock(&l->mu);
    curl_multi_wakeup(l->multi);
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
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void
llm_call(struct llm *l, const struct llm_request *req, struct llm_result *out)
{
    struct waiter w
        = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, out};

    memset(out, 0, sizeof(*out));
    if (llm_submit(l, req, wake, &w) != 0) {
        out->error = LLM_ENOMEM;
        snprintf(out->message, sizeof(out->message), "cannot submit");
        return;
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
}

void
llm_result_release(struct llm_result *r)
{
    free(r->content);
    r->content = NULL;
}
