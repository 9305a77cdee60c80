/*
 * llm_reply.h - the support agent's LLM mode: a prompt grounded on the
 * retrieved knowledge entries and the recent history, and the parsing of
 * the model's structured answer {"reply", "handoff", "reason"} - the
 * decision to hand over is a field of that object, never a keyword found in
 * the text.
 */
#ifndef SUPPORT_LLM_REPLY_H
#define SUPPORT_LLM_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "llm.h"
#include "retrieval.h"
#include "support.pb-c.h"

#define LLM_REPLY_MAX 4096
#define LLM_HISTORY_MAX 10

/* A prompt and the strings it owns. */
struct llm_prompt {
    struct llm_message msgs[2 + LLM_HISTORY_MAX];
    char *texts[2 + LLM_HISTORY_MAX];
    struct llm_request req;
};

/*
 * Build the chat-completion request for message (classified as intent)
 * with the last turns of history and the hits as knowledge. Copies every
 * string, so the index and the request may go away. 0 or -1 (memory).
 */
int llm_prompt_build(struct llm_prompt *p, const char *message,
    const char *intent, Support__Turn *const *history, size_t nhistory,
    const struct hit *hits, int nhits);

/* Free the prompt's strings. */
void llm_prompt_release(struct llm_prompt *p);

/*
 * Parse the model's answer: a JSON object (code fences and text around it
 * tolerated) with a non-empty "reply" string, a "handoff" boolean and an
 * optional "reason". On 0, *reply is malloc'd (at most LLM_REPLY_MAX bytes)
 * and reason holds the model's reason; -1 when the answer is unusable.
 */
int llm_reply_parse(const char *content, char **reply, bool *handoff,
    char *reason, size_t reason_len);

#endif
