/*
 * llm_prompt.h - what the agents ask an LLM and how its answers are read:
 * pure functions, no I/O.
 *
 * The intent agent asks for one of the seven labels of intent.h; the
 * support agent asks for a JSON object {"reply", "handoff", "reason"}
 * grounded on knowledge snippets. A parser that cannot read an answer
 * returns -1 and the caller falls back to its built-in result.
 */
#ifndef COMMON_LLM_PROMPT_H
#define COMMON_LLM_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "llm_client.h"

/* Longest reply llm_parse_support hands out, in bytes (cut at a character). */
#define LLM_REPLY_MAX 4096

/* One turn of a conversation; role "user", "assistant" or "agent". */
struct llm_turn {
    const char *role;
    const char *text;
};

/* One knowledge-base entry given to the model. */
struct llm_snippet {
    const char *id, *title, *answer;
};

/*
 * Read an intent answer: one label of intent.h ("Billing.", "'refund'",
 * " question\n"...) or a JSON object {"intent": "<label>"}. Returns 0 with
 * *intent set to an enum intent, or -1 for anything else.
 */
int llm_parse_intent(const char *content, int *intent);

/*
 * Read a support answer: the first JSON object in content with a non-empty
 * string "reply" (code fences and text around it are ignored), a boolean
 * "handoff" (absent: false) and a string "reason" (absent: ""). Returns 0
 * with *reply malloc'd (the caller frees it; at most LLM_REPLY_MAX bytes),
 * *handoff and reason (NUL-terminated, cut to reason_len) set; -1 and
 * nothing set otherwise.
 */
int llm_parse_support(const char *content, char **reply, bool *handoff,
    char *reason, size_t reason_len);

/*
 * Build the intent-classification request for message: a system prompt
 * listing the seven labels, the message as the user turn; temperature 0.3,
 * 10 tokens. *out owns copies of everything: release it with
 * llm_request_release. Returns 0, or -1 (out of memory) with *out empty.
 */
int llm_prompt_intent(const char *message, struct llm_request *out);

/*
 * Build the support request: a system prompt with the store's rules, the
 * knowledge snippets (id, title, answer) and the intent (may be NULL), then
 * the last history turns (user as "user", anything else - the assistant or
 * a human agent - as "assistant"), then message; temperature 0.2, 400
 * tokens. Long texts are cut. *out owns copies of everything: release it
 * with llm_request_release. Returns 0, or -1 (out of memory) with *out
 * empty.
 */
int llm_prompt_support(const char *message, const char *intent,
    const struct llm_turn *history, size_t nhistory,
    const struct llm_snippet *knowledge, size_t nknowledge,
    struct llm_request *out);

/*
 * Free a request built by llm_prompt_intent or llm_prompt_support (not one
 * the caller assembled) and empty it. NULL and empty requests are no-ops.
 */
void llm_request_release(struct llm_request *req);

#endif
