#include "llm_reply.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char system_intro[]
    = "You are the customer support assistant of Northwind Goods, an online "
      "shop for home goods and electronics in the EU. Answer the customer's "
      "last message in a friendly, concise way (at most 4 sentences), using "
      "ONLY the facts in the knowledge entries below; never invent policies, "
      "prices, dates or order details. Set handoff to true, with a short "
      "reason, when the entries do not answer the question, when the customer "
      "complains or asks for a person, when a refund above 100 EUR or outside "
      "the policy is asked for, or when it needs access to their account or "
      "order; otherwise handoff is false. Reply with a JSON object only: "
      "{\"reply\": \"...\", \"handoff\": true|false, \"reason\": \"...\"}.\n\n"
      "Knowledge entries:\n";

void
llm_prompt_release(struct llm_prompt *p)
{
    for (size_t i = 0; i < sizeof(p->texts) / sizeof(p->texts[0]); i++) {
        free(p->texts[i]);
        p->texts[i] = NULL;
    }
}

int
llm_prompt_build(struct llm_prompt *p, const char *message, const char *intent,
    Support__Turn *const *history, size_t nhistory, const struct hit *hits,
    int nhits)
{
    size_t cap = sizeof(system_intro) + 256;
    size_t n = 0;

    memset(p, 0, sizeof(*p));
    for (int i = 0; i < nhits; i++)
        cap += strlen(hits[i].entry->id) + strlen(hits[i].entry->title)
            + strlen(hits[i].entry->answer) + 32;
    char *sys = malloc(cap);
    if (sys == NULL)
        return -1;
    size_t len = (size_t)snprintf(sys, cap, "%s", system_intro);
    for (int i = 0; i < nhits && len < cap; i++)
        len += (size_t)snprintf(sys + len, cap - len, "[%s] %s\nanswer: %s\n\n",
            hits[i].entry->id, hits[i].entry->title, hits[i].entry->answer);
    if (len < cap)
        snprintf(sys + len, cap - len, "The message was classified as: %s.",
            intent && intent[0] ? intent : "unknown");
    p->texts[n] = sys;
    p->msgs[n++] = (struct llm_message) {"system", sys};

    size_t first = nhistory > LLM_HISTORY_MAX ? nhistory - LLM_HISTORY_MAX : 0;
    for (size_t i = first; i < nhistory; i++) {
        const Support__Turn *t = history[i];
        if (t->text == NULL || t->role == NULL)
            continue;
        /* The model speaks as the shop: a human agent's turns too. */
        const char *role = strcmp(t->role, "user") == 0 ? "user" : "assistant";
        if ((p->texts[n] = strndup(t->text, LLM_REPLY_MAX)) == NULL)
            goto fail;
        p->msgs[n] = (struct llm_message) {role, p->texts[n]};
        n++;
    }
    if ((p->texts[n] = strndup(message, LLM_REPLY_MAX)) == NULL)
        goto fail;
    p->msgs[n] = (struct llm_message) {"user", p->texts[n]};
    n++;
    p->req.messages = p->msgs;
    p->req.n_messages = n;
    p->req.temperature = 0.2;
    p->req.max_tokens = 400;
    return 0;
fail:
    llm_prompt_release(p);
    return -1;
}

static bool
blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* A copy of s of at most max bytes, never ending inside a character. */
static char *
cut_utf8(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return strndup(s, n);
}

int
llm_reply_parse(const char *content, char **reply, bool *handoff, char *reason,
    size_t reason_len)
{
    const char *open, *close;
    cJSON *o;
    int rv = -1;

    if (content == NULL)
        return -1;
    /* Whatever surrounds the object (code fences, a preamble) is ignored. */
    if ((open = strchr(content, '{')) == NULL
        || (close = strrchr(content, '}')) == NULL || close < open)
        return -1;
    if ((o = cJSON_ParseWithLength(open, (size_t)(close - open + 1))) == NULL)
        return -1;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "reply");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "handoff");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(o, "reason");
    if (cJSON_IsString(r) && !blank(r->valuestring) && cJSON_IsBool(h)) {
        *reply = cut_utf8(r->valuestring, LLM_REPLY_MAX);
        *handoff = cJSON_IsTrue(h);
        snprintf(reason, reason_len, "%s",
            cJSON_IsString(why) ? why->valuestring : "");
        rv = *reply ? 0 : -1;
    }
    cJSON_Delete(o);
    return rv;
}
