/*
 * guard.h - the chat's input guardrails, run in the gateway before a
 * message is stored or sent to an agent or an LLM (docs/security.md):
 *
 *   1. limits: valid UTF-8, control and invisible formatting characters
 *      stripped, not blank, at most max_chars characters;
 *   2. the operator's deny-list (GUARD_DENY_LIST, empty by default);
 *   3. the prompt-injection / jailbreak detector (injection.h);
 *   4. sensitive data redacted (pii.h): the message goes on with
 *      "[CARD]"-style placeholders, and the customer is told what went.
 *
 * Blocking (1-3) is an answer, redaction (4) is not. The same code serves
 * POST /api/chat and `gateway --guard` (guard_cli.h).
 */
#ifndef GATEWAY_GUARD_H
#define GATEWAY_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "injection.h"
#include "pii.h"

/* Longest deny-list (bytes) and number of its phrases. */
#define GUARD_DENY_MAX_BYTES 8192
#define GUARD_DENY_MAX_PHRASES 256

struct guard_opts {
    int max_chars;          /* CHAT_MAX_CHARS */
    const char *deny_list;  /* comma-separated phrases, may be "" */
    const char *model_path; /* GUARD_MODEL; "" or NULL: no detector */
    double threshold;       /* GUARD_THRESHOLD; 0: the model's own */
};

struct guard;

/*
 * Make a guard: parse the deny-list and load the model. Returns 0 with
 * *gp set, or -1 with a sentence in err (errlen bytes).
 */
int guard_new(
    struct guard **gp, const struct guard_opts *o, char *err, size_t errlen);
void guard_free(struct guard *g);

/* Why a message was blocked. */
enum guard_reason {
    GUARD_OK = 0,
    GUARD_INVALID_UTF8,
    GUARD_EMPTY,
    GUARD_TOO_LONG,
    GUARD_DENY_LIST,
    GUARD_INJECTION,
};

struct guard_result {
    enum guard_reason reason; /* GUARD_OK: allowed */
    double score;             /* the detector's p(attack), -1 if not run */
    char *text;               /* owned: cleaned and redacted (allowed only) */
    size_t chars;             /* code points of the cleaned message */
    unsigned redacted;        /* bit (1 << pii_kind) per kind removed */
    int nredacted;            /* spans removed */
};

/*
 * Check a message of len bytes. Returns 0 with *res filled (allowed or
 * blocked; release it with guard_result_release), or -ENOMEM.
 */
int guard_check(const struct guard *g, const char *msg, size_t len,
    struct guard_result *res);
void guard_result_release(struct guard_result *res);

/* "invalid_utf8", "empty", "too_long", "deny_list", "prompt_injection". */
const char *guard_reason_name(enum guard_reason r);

/* The polite reply to a blocked message. */
const char *guard_reply(enum guard_reason r);

/*
 * Tell the customer what was removed: adds "redacted": ["credit_card", ...]
 * and a "notice" sentence to a chat reply object when anything was.
 */
void guard_annotate(const struct guard_result *res, cJSON *reply);

/* A text cleaned of control and invisible formatting characters. */
struct guard_text {
    char *text; /* owned, NUL-terminated */
    size_t len; /* bytes */
    size_t chars;
};

/*
 * Copy valid UTF-8 s (len bytes) without C0/C1 controls (tab and newline
 * kept, CR dropped), DEL, soft hyphens, zero-width and bidirectional
 * formatting characters and BOMs, trimmed of white space at both ends.
 * 0, or -ENOMEM.
 */
int guard_clean(const char *s, size_t len, struct guard_text *out);
void guard_text_release(struct guard_text *t);

#endif
