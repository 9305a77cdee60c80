/*
 * llm.h - a client for OpenAI-compatible chat completions (OpenAI, Ollama,
 * vLLM, llama.cpp's server): POST {base}/v1/chat/completions over libcurl,
 * HTTP/1.1 with keep-alive connections reused across calls.
 *
 * Many slow calls at once must not cost a thread each: one event thread
 * drives curl's multi interface, calls are submitted from any thread and
 * finish in a callback on that thread. 512 calls to a model that answers in
 * 1 s take about 1 s together (docs/llm.md).
 *
 * Retries (429, 5xx, refused / reset / dropped connections) back off
 * exponentially with jitter, or wait what Retry-After says (capped), always
 * within the call's deadline: a wait that would end past it is not started,
 * the call fails at once. The waits are timers of the event thread, never
 * sleeps. Replies are capped in size. The API key goes into the
 * Authorization header only: never into a log line or a result message.
 *
 * curl_global_init(CURL_GLOBAL_DEFAULT) must have been called once (main,
 * before any thread starts); curl_global_cleanup() at exit, after llm_free.
 */
#ifndef COMMON_LLM_H
#define COMMON_LLM_H

#include <stdbool.h>
#include <stddef.h>

enum llm_error {
    LLM_OK = 0,
    LLM_ETIMEOUT,   /* the deadline passed */
    LLM_EHTTP,      /* a non-2xx status (after the retries for 429/5xx) */
    LLM_ETOOBIG,    /* the reply exceeded max_response */
    LLM_EMALFORMED, /* not a chat completion with a text content */
    LLM_ETRANSPORT, /* refused, reset, DNS, TLS... (after the retries) */
    LLM_ESHUTDOWN,  /* the client was freed before the call ended */
    LLM_ENOMEM,
};

struct llm_config {
    const char *base_url;   /* "http://h:p", ".../v1" or ".../v1/" alike */
    const char *api_key;    /* NULL or "": no Authorization header */
    const char *model;      /* default model of the requests; NULL: "" */
    int timeout_ms;         /* whole call, retries included; <= 0: 20000 */
    int max_retries;        /* after the first attempt; < 0: 2 */
    size_t max_response;    /* bytes of an HTTP body; 0: 1 MiB */
    bool json_mode;         /* ask for response_format json_object */
    int max_connections;    /* open to the server at once; 0: unlimited */
    int connect_timeout_ms; /* of one connection attempt; <= 0: 5000 */
    int retry_after_max_ms; /* cap on a server's Retry-After; <= 0: 30000 */
    int backoff_ms; /* first backoff step (doubles, <= 5 s); <= 0: 200 */
};

struct llm_message {
    const char *role; /* system, user, assistant */
    const char *content;
};

struct llm_request {
    const struct llm_message *messages;
    size_t n_messages;
    double temperature;
    int max_tokens;    /* <= 0: not sent */
    const char *model; /* NULL or "": the client's */
    int timeout_ms;    /* <= 0: the client's */
    int json_mode;     /* 0: the client's setting, > 0: ask, < 0: do not */
};

struct llm_result {
    int error;         /* enum llm_error */
    int http_status;   /* of the last attempt, 0 if none answered */
    int attempts;      /* HTTP requests started */
    int elapsed_ms;    /* from llm_submit to the callback */
    char *content;     /* choices[0].message.content, owned */
    char message[192]; /* what went wrong, for a log line; never the key */
};

/* The callback of llm_submit; runs on the client's thread, must not block
 * (hand the result over, or send an nng reply through an aio). res and its
 * content are valid during the call only. It may call llm_submit, never
 * llm_call or llm_free. */
typedef void (*llm_done_fn)(const struct llm_result *res, void *arg);

struct llm;

/*
 * Start a client and its event thread; cfg's strings are copied. Returns 0
 * with *lp set (free with llm_free), or -1 when base_url is missing or out
 * of memory / threads.
 */
int llm_new(struct llm **lp, const struct llm_config *cfg);

/*
 * Stop the event thread and free the client: calls still queued, waiting
 * for a retry or in flight end now, each callback called once with
 * LLM_ESHUTDOWN. No call may be submitted during or after. NULL is a no-op.
 */
void llm_free(struct llm *l);

/*
 * Queue one chat completion; the request is serialised (copied) before
 * this returns. cb(res, arg) is called exactly once, later, on the client's
 * thread. Returns 0, or -1 (out of memory, an empty or NULL message, the
 * client stopping) in which case cb is never called.
 */
int llm_submit(
    struct llm *l, const struct llm_request *req, llm_done_fn cb, void *arg);

/*
 * Blocking convenience on the same machinery: submit and wait. *out is
 * always filled and must be released with llm_result_release. Returns 0
 * when out->error is LLM_OK, -1 otherwise. Never call it from a callback.
 */
int llm_call(
    struct llm *l, const struct llm_request *req, struct llm_result *out);

/* Free the result's content; the struct stays reusable. */
void llm_result_release(struct llm_result *r);

/* A short, static name of an llm_error ("timeout"...). */
const char *llm_strerror(int error);

#endif
