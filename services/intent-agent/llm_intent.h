/*
 * llm_intent.h - intent classification by an LLM (INTENT_MODE=llm or
 * hybrid): the seed's prompt idea (one label of seven, temperature 0.3, a
 * few tokens) and a strict parse of the answer. Anything but one of the
 * seven labels is refused, so the caller falls back to the built-in model.
 */
#ifndef INTENT_LLM_INTENT_H
#define INTENT_LLM_INTENT_H

#include "llm.h"

/* A prompt and the string it owns. */
struct intent_prompt {
    struct llm_message msgs[2];
    char *text;
    struct llm_request req;
};

/* Build the request for message. 0 or -1 (memory). */
int intent_prompt_build(struct intent_prompt *p, const char *message);

/* Free the prompt's string. */
void intent_prompt_release(struct intent_prompt *p);

/*
 * The label in the model's answer: the whole answer, trimmed of spaces,
 * quotes and a final period, case-insensitive, or a JSON object
 * {"intent": label}. Returns the enum intent, or -1.
 */
int intent_parse_answer(const char *content);

#endif
