#include "llm_intent.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "intent.h"

#define MESSAGE_MAX 4000

static const char system_prompt[]
    = "You classify the intent of customer-support messages of an online "
      "shop. Answer with "
      "exactly one label, nothing else, from: greeting (hello, thanks, "
      "goodbye), question (how something works, order or delivery status), "
      "complaint (dissatisfaction, anger, bad service), refund (wants money "
      "back, returns), technical (app, website, login or device problems), "
      "billing (payments, charges, invoices, subscriptions), other (anything "
      "else).";

int
intent_prompt_build(struct intent_prompt *p, const char *message)
{
    memset(p, 0, sizeof(*p));
    if ((p->text = strndup(message, MESSAGE_MAX)) == NULL)
        return -1;
    p->msgs[0] = (struct llm_message) {"system", system_prompt};
    p->msgs[1] = (struct llm_message) {"user", p->text};
    p->req.messages = p->msgs;
    p->req.n_messages = 2;
    p->req.temperature = 0.3;
    p->req.max_tokens = 10;
    return 0;
}

void
intent_prompt_release(struct intent_prompt *p)
{
    free(p->text);
    p->text = NULL;
}

int
intent_parse_answer(const char *content)
{
    char word[32];
    size_t n = 0;

    if (content == NULL)
        return -1;
    while (isspace((unsigned char)*content))
        content++;
    if (*content == '{') {
        cJSON *o = cJSON_Parse(content);
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "intent");
        int rv = cJSON_IsString(i) ? intent_parse_answer(i->valuestring) : -1;
        cJSON_Delete(o);
        return rv;
    }
    /* Quotes and markdown around the label: "billing", **billing**, `x`. */
    while (*content == '"' || *content == '\'' || *content == '*'
        || *content == '`')
        content++;
    for (; content[n] != '\0' && n < sizeof(word) - 1; n++)
        word[n] = (char)tolower((unsigned char)content[n]);
    if (content[n] != '\0')
        return -1; /* longer than any label */
    while (n > 0
        && (isspace((unsigned char)word[n - 1])
            || strchr(".!\"'*`", word[n - 1]) != NULL))
        n--;
    word[n] = '\0';
    return intent_parse(word);
}
