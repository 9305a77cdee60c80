/*
 * llm_client.h - an asynchronous client for OpenAI-compatible chat
 * completions (OpenAI, Ollama, vLLM, llama.cpp's server):
 * POST {base_url}/v1/chat/completions over libcurl, HTTP/1.1.
 *
 * Many slow calls at once must not cost a thread each: one event thread per
 * client drives curl's multi interface (curl_multi_poll, woken by
 * curl_multi_wakeup when a call is submitted from any thread), and every
 * call ends in a callback on that thread. Connections are reused.
 *
 * Retries: 429, 5xx and connection errors are retried (max_retries) with
 * exponential backoff and jitter, or after Retry-After seconds when the
 * server says so, always within the call's deadline (timeout_ms, retries
 * included); a wait that would end past the deadline is not started, the
 * call fails at once. The waits are timers of the event thread, not sleeps.
 * Replies are capped (max_response). The API key goes into the
 * Authorization header only: never into a log line or a result message.
 *
 * The caller must call curl_global_init(CURL_GLOBAL_DEFAULT) once in main,
 * before any thread starts, and curl_global_cleanup() at exit.
 */
#ifndef COMMON_LLM_CLIENT_H
#define COMMON_LLM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * llm_submit, llm_call and llm_result_release are linked as
 * llm_client_submit... so that this module and the older common/llm.c (the
 * same function names over other types) can both sit in libcommon.a until
 * llm.c is retired; drop the labels then.
 */
#define LLM_CLIENT_SYMBOL(name) __asm__("llm_client_" #name)

enum llm_error {
    LLM_OK = 0,
    LLM_ETIMEOUT,   /* the deadline passed */
    LLM_EHTTP,      /* a non-2xx status (after the retries for 429/5xx) */
    LLM_ETOOBIG,    /* the reply exceeded max_response */
    LLM_EMALFORMED, /* not a chat completion with a text content */
    LLM_ETRANSPORT, /* refused, reset, dropped... after the retries */
    LLM_ESHUTDOWN,  /* the client was freed before the call ended */
};

struct llm_config {
    const char *base_url; /* "http://h:p", ".../v1" or ".../v1/" alike */
    const char *api_key;  /* NULL or "": no Authorization header */
    const char *model;    /* NULL: "" */
    int timeout_ms;       /* whole call, retries included; 0: 20000 */
    int max_retries;      /* after the first attempt; 0: 2, < 0: none */
    size_t max_response;  /* bytes of the HTTP body; 0: 1 MiB */
    int max_connections;  /* to the server at once; 0: unlimited */
    bool json_mode;       /* send response_format {"type":"json_object"} */
};

struct llm_message {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
};

struct llm_request {
    const struct llm_message *messages;
    size_t n_messages;
    double temperature;
    int max_tokens; /* <= 0: not sent */
};

struct llm_result {
    int error;         /* enum llm_error */
    int http_status;   /* of the last attempt; 0 if none answered */
    int attempts;      /* HTTP requests made */
    char *content;     /* choices[0].message.content (malloc'd) or NULL */
    char message[256]; /* what went wrong, for a log line; never the key */
};

/*
 * The callback of llm_submit: runs once on the client's event thread and
 * must not block (hand the result over to another thread, or reply
 * asynchronously). res and its content are valid during the call only; it
 * may call llm_submit, not llm_client_free.
 */
typedef void (*llm_done_fn)(const struct llm_result *res, void *arg);

struct llm_client;

/*
 * Start a client and its event thread; cfg's strings are copied. Returns 0
 * with *cp set (free with llm_client_free), or -1 when base_url is missing
 * or out of memory / threads.
 */
int llm_client_new(struct llm_client **cp, const struct llm_config *cfg);

/*
 * Stop the event thread and free the client: every call still queued,
 * waiting for a retry or in flight ends now, its callback called once with
 * LLM_ESHUTDOWN. No call may be submitted during or after. NULL is a no-op.
 */
void llm_client_free(struct llm_client *c);

/*
 * Queue one chat completion; the request is copied (serialised) before
 * returning. cb(res, arg) is called exactly once, later, on the client's
 * thread. Returns 0, or -1 (out of memory, client stopping) in which case
 * cb is never called.
 */
int llm_submit(struct llm_client *c, const struct llm_request *req,
    llm_done_fn cb, void *arg) LLM_CLIENT_SYMBOL(submit);

/*
 * Blocking convenience: submit and wait for the result. *out is always
 * filled (error, message...) and must be released with llm_result_release.
 * Returns 0 when out->error is LLM_OK, -1 otherwise. Never call it from an
 * llm_done_fn (it would wait for its own thread).
 */
int llm_call(struct llm_client *c, const struct llm_request *req,
    struct llm_result *out) LLM_CLIENT_SYMBOL(call);

/* Free a result's content (from llm_call); the struct stays reusable. */
void llm_result_release(struct llm_result *r) LLM_CLIENT_SYMBOL(result_release);

/* A short, static name of an llm_error ("timeout"...). */
const char *llm_error_name(int error);

#endif
