/*
 * llm.h - a client for OpenAI-compatible chat completions (OpenAI, Ollama,
 * vLLM, llama.cpp's server): POST {base}/v1/chat/completions over libcurl.
 *
 * Many slow calls at once must not cost a thread each: one event thread
 * drives curl's multi interface, calls are submitted from any thread and
 * finish in a callback. Retries (429, 5xx, connection errors) back off
 * exponentially with jitter and honour Retry-After, within the call's
 * deadline; the wait is a timer of the event thread, not a sleep. Replies
 * are capped in size. The API key goes into the Authorization header only:
 * never into a log line or an error message.
 *
 * curl_global_init() must have been called once (main, before threads).
 */
#ifndef COMMON_LLM_H
#define COMMON_LLM_H

#include <stdbool.h>
#include <stddef.h>

enum llm_error {
    LLM_OK = 0,
    LLM_ETIMEOUT,   /* the deadline passed */
    LLM_EHTTP,      /* a non-2xx status after the retries */
    LLM_ETOOBIG,    /* the reply exceeded max_response */
    LLM_EMALFORMED, /* not a chat completion with a text content */
    LLM_ETRANSPORT, /* connection refused, reset, DNS... after the retries */
    LLM_ESHUTDOWN,  /* the client was freed first */
    LLM_ENOMEM,
};

struct llm_config {
    const char *base_url; /* with or without a trailing /v1 */
    const char *api_key;  /* NULL or "": no Authorization header */
    const char *model;
    int timeout_ms;      /* whole call, retries included */
    int max_retries;     /* after the first attempt */
    size_t max_response; /* bytes; 0: 1 MiB */
    bool json_mode;      /* ask for response_format json_object */
};

struct llm_message {
    const char *role; /* system, user, assistant */
    const char *content;
};

struct llm_request {
    const struct llm_message *messages;
    size_t n_messages;
    double temperature;
    int max_tokens;
};

struct llm_result {
    int error;       /* enum llm_error */
    int http_status; /* of the last attempt, 0 if none answered */
    int attempts;
    char *content; /* choices[0].message.content, owned */
    char message[192];
};

/* The callback of llm_submit; runs on the client's thread, must not block.
 * res is valid during the call only (its content is freed after). */
typedef void (*llm_done_fn)(const struct llm_result *res, void *arg);

struct llm;

/* Start a client and its event thread. 0 with *lp set, or -1. */
int llm_new(struct llm **lp, const struct llm_config *cfg);

/* Stop the thread; calls still pending finish with LLM_ESHUTDOWN. NULL ok. */
void llm_free(struct llm *l);

/*
 * Queue one chat completion; cb(res, arg) is called exactly once, later,
 * on the client's thread. The request is copied. Returns 0, or -1 (out of
 * memory, shutting down) when cb will not be called.
 */
int llm_submit(
    struct llm *l, const struct llm_request *req, llm_done_fn cb, void *arg);

/* Blocking: submit and wait. *out must be released (llm_result_release). */
void llm_call(
    struct llm *l, const struct llm_request *req, struct llm_result *out);

/* Free the result's content. */
void llm_result_release(struct llm_result *r);

/* A short name for an llm_error ("timeout"...). */
const char *llm_strerror(int error);

#endif
