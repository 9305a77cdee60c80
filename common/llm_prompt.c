#include "llm_prompt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "intent.h"

#define MESSAGE_MAX 4000 /* bytes of the customer's message sent */
#define TURN_MAX 2000    /* bytes of one history turn */
#define HISTORY_MAX 12   /* the most recent turns sent */
#define ID_MAX 64
#define TITLE_MAX 300
#define ANSWER_MAX 2000
#define LABEL_MAX 32

static const char intent_system[]
    = "You classify the intent of one customer-support message sent to the "
      "online store Northwind Goods. The labels:\n"
      "greeting: hello, thanks, goodbye, small talk\n"
      "question: how something works, products, shipping, order or delivery "
      "status\n"
      "complaint: dissatisfaction, anger, bad service or a bad product\n"
      "refund: wants money back, a return or a cancellation refunded\n"
      "technical: problems with the app, the website, login or a device\n"
      "billing: payments, charges, invoices, subscriptions\n"
      "other: anything else\n"
      "Answer with one label only, in lower case, nothing else.";

static const char support_system[]
    = "You are the support assistant of the online store Northwind Goods. "
      "Answer the customer's last message in a friendly, concise way (at "
      "most 4 sentences) using ONLY the facts in the knowledge snippets "
      "below (each has an id, a title and an answer); never invent policies, "
      "prices, dates or order details. If the snippets do not cover the "
      "question, or the message is a complaint, asks for a refund above 100 "
      "EUR, or needs access to the customer's account or order, set handoff "
      "to true with a short reason so that a human takes over; otherwise "
      "handoff is false and reason is empty. Reply with a JSON object only, "
      "with exactly the keys reply, handoff and reason: "
      "{\"reply\": \"...\", \"handoff\": false, \"reason\": \"\"}.\n\n"
      "Knowledge snippets:\n";

/* At most max bytes of s, never cutting a UTF-8 sequence; malloc'd. */
static char *
dup_cut(const char *s, size_t max)
{
    size_t n = strnlen(s ? s : "", max + 1);

    if (s == NULL)
        s = "";
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return strndup(s, n);
}

void
llm_request_release(struct llm_request *req)
{
    if (req == NULL || req->messages == NULL)
        return;
    /* Built here: the roles are literals, the contents our copies. */
    for (size_t i = 0; i < req->n_messages; i++)
        free((void *)req->messages[i].content);
    free((void *)req->messages);
    memset(req, 0, sizeof(*req));
}

/* A request of n messages whose contents are still to be set. */
static struct llm_message *
request_init(struct llm_request *out, size_t n)
{
    struct llm_message *m = calloc(n, sizeof(*m));

    memset(out, 0, sizeof(*out));
    if (m != NULL) {
        out->messages = m;
        out->n_messages = n;
    }
    return m;
}

int
llm_prompt_intent(const char *message, struct llm_request *out)
{
    struct llm_message *m = request_init(out, 2);

    if (m == NULL)
        return -1;
    m[0].role = "system";
    m[0].content = strdup(intent_system);
    m[1].role = "user";
    m[1].content = dup_cut(message, MESSAGE_MAX);
    out->temperature = 0.3;
    out->max_tokens = 10;
    if (m[0].content == NULL || m[1].content == NULL) {
        llm_request_release(out);
        return -1;
    }
    return 0;
}

/* The system prompt of the support request; malloc'd. */
static char *
support_system_prompt(
    const char *intent, const struct llm_snippet *knowledge, size_t nknowledge)
{
    size_t cap = sizeof(support_system) + 128;
    size_t len;
    char *s;

    for (size_t i = 0; i < nknowledge; i++)
        cap += ID_MAX + TITLE_MAX + ANSWER_MAX + 16;
    if ((s = malloc(cap)) == NULL)
        return NULL;
    len = (size_t)snprintf(s, cap, "%s", support_system);
    if (nknowledge == 0)
        len += (size_t)snprintf(s + len, cap - len, "(none)\n\n");
    for (size_t i = 0; i < nknowledge; i++) {
        const struct llm_snippet *k = &knowledge[i];
        char *id = dup_cut(k->id, ID_MAX),
             *title = dup_cut(k->title, TITLE_MAX),
             *answer = dup_cut(k->answer, ANSWER_MAX);
        if (id == NULL || title == NULL || answer == NULL) {
            free(id);
            free(title);
            free(answer);
            free(s);
            return NULL;
        }
        len += (size_t)snprintf(
            s + len, cap - len, "[%s] %s\nanswer: %s\n\n", id, title, answer);
        free(id);
        free(title);
        free(answer);
    }
    snprintf(s + len, cap - len, "The message was classified as: %.32s.",
        intent && intent[0] ? intent : "unknown");
    return s;
}

int
llm_prompt_support(const char *message, const char *intent,
    const struct llm_turn *history, size_t nhistory,
    const struct llm_snippet *knowledge, size_t nknowledge,
    struct llm_request *out)
{
    size_t first = nhistory > HISTORY_MAX ? nhistory - HISTORY_MAX : 0;
    size_t n = 0;
    struct llm_message *m = request_init(out, 2 + (nhistory - first));

    if (m == NULL)
        return -1;
    out->temperature = 0.2;
    out->max_tokens = 400;
    m[n].role = "system";
    if ((m[n++].content = support_system_prompt(intent, knowledge, nknowledge))
        == NULL)
        goto fail;
    for (size_t i = first; i < nhistory; i++) {
        const struct llm_turn *t = &history[i];
        if (t->text == NULL || t->text[0] == '\0')
            continue;
        /* The model speaks as the store, a human agent's turns included. */
        m[n].role
            = t->role && strcmp(t->role, "user") == 0 ? "user" : "assistant";
        if ((m[n++].content = dup_cut(t->text, TURN_MAX)) == NULL)
            goto fail;
    }
    m[n].role = "user";
    if ((m[n++].content = dup_cut(message, MESSAGE_MAX)) == NULL)
        goto fail;
    out->n_messages = n;
    return 0;
fail:
    out->n_messages = n;
    llm_request_release(out);
    return -1;
}

int
llm_parse_intent(const char *content, int *intent)
{
    char word[LABEL_MAX];
    size_t n = 0;

    if (content == NULL)
        return -1;
    while (isspace((unsigned char)*content) || *content == '`')
        content++;
    if (strncmp(content, "json", 4) == 0 && isspace((unsigned char)content[4]))
        content += 4; /* a ```json fence */
    while (isspace((unsigned char)*content))
        content++;
    if (*content == '{') {
        cJSON *o = cJSON_ParseWithOpts(content, NULL, false);
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "intent");
        int rv = cJSON_IsString(i) && i->valuestring[0] != '{'
            ? llm_parse_intent(i->valuestring, intent)
            : -1;
        cJSON_Delete(o);
        return rv;
    }
    while (*content == '"' || *content == '\'' || *content == '*')
        content++;
    for (; content[n] != '\0' && n < sizeof(word) - 1; n++)
        word[n] = (char)tolower((unsigned char)content[n]);
    if (content[n] != '\0')
        return -1; /* longer than any label */
    while (n > 0
        && (isspace((unsigned char)word[n - 1])
            || strchr(".,;:!?\"'`*", word[n - 1]) != NULL))
        n--;
    word[n] = '\0';
    int v = intent_parse(word);
    if (v < 0)
        return -1;
    *intent = v;
    return 0;
}

/* The handoff field: true/false, or the strings "true"/"false". */
static int
read_handoff(const cJSON *h, bool *out)
{
    if (h == NULL) {
        *out = false;
        return 0;
    }
    if (cJSON_IsBool(h)) {
        *out = cJSON_IsTrue(h);
        return 0;
    }
    if (cJSON_IsString(h) && strcasecmp(h->valuestring, "true") == 0) {
        *out = true;
        return 0;
    }
    if (cJSON_IsString(h) && strcasecmp(h->valuestring, "false") == 0) {
        *out = false;
        return 0;
    }
    return -1;
}

/* 0 when o is a usable answer, with the out-parameters set. */
static int
read_support(const cJSON *o, char **reply, bool *handoff, char *reason,
    size_t reason_len)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "reply");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(o, "reason");
    bool h;
    char *text;

    if (!cJSON_IsString(r)
        || read_handoff(cJSON_GetObjectItemCaseSensitive(o, "handoff"), &h)
            != 0)
        return -1;
    const char *p = r->valuestring;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return -1;
    if ((text = dup_cut(p, LLM_REPLY_MAX)) == NULL)
        return -1;
    *reply = text;
    *handoff = h;
    if (reason != NULL && reason_len > 0) {
        const char *w = cJSON_IsString(why) ? why->valuestring : "";
        size_t n = strnlen(w, reason_len);
        if (n >= reason_len) { /* cut at a character boundary */
            n = reason_len - 1;
            while (n > 0 && ((unsigned char)w[n] & 0xC0) == 0x80)
                n--;
        }
        memcpy(reason, w, n);
        reason[n] = '\0';
    }
    return 0;
}

int
llm_parse_support(const char *content, char **reply, bool *handoff,
    char *reason, size_t reason_len)
{
    if (content == NULL)
        return -1;
    /* Whatever surrounds the object (a preamble, code fences) is ignored. */
    for (const char *p = strchr(content, '{'); p != NULL;
         p = strchr(p + 1, '{')) {
        cJSON *o = cJSON_ParseWithOpts(p, NULL, false);
        if (o == NULL)
            continue;
        int rv = cJSON_IsObject(o)
            ? read_support(o, reply, handoff, reason, reason_len)
            : -1;
        cJSON_Delete(o);
        if (rv == 0)
            return 0;
    }
    return -1;
}
