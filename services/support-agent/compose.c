#include "compose.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "intent.h"

static const char no_match_reply[]
    = "I want to get this right for you, so I have passed your message to a "
      "member of our support team. They will reply here shortly.";

/* A number right after a currency sign or before a currency word. */
double
compose_amount(const char *text)
{
    double best = 0;
    const char *p = text;

    while (*p) {
        if (!isdigit((unsigned char)*p)) {
            p++;
            continue;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p) {
            p++;
            continue;
        }
        /* Look back past spaces for a sign, forward for a word. */
        const char *b = p;
        while (b > text && b[-1] == ' ')
            b--;
        bool money
            = (b > text && (b[-1] == '$' || b[-1] == '\xac' || b[-1] == '\xa3'))
            || (b - text >= 3 && strncasecmp(b - 3, "eur", 3) == 0);
        const char *f = end;
        while (*f == ' ')
            f++;
        if (strncasecmp(f, "eur", 3) == 0 || strncasecmp(f, "euro", 4) == 0
            || strncasecmp(f, "\xe2\x82\xac", 3) == 0
            || strncasecmp(f, "usd", 3) == 0 || strncasecmp(f, "dollar", 6) == 0
            || strncasecmp(f, "pound", 5) == 0 || strncasecmp(f, "gbp", 3) == 0)
            money = true;
        if (money && v > best)
            best = v;
        p = end;
    }
    return best;
}

void
compose_reply(const char *message, int intent, float confidence,
    const struct hit *hits, int nhits, struct draft *out)
{
    memset(out, 0, sizeof(*out));
    out->reason = "";
    for (int i = 0; i < nhits && out->nids < COMPOSE_MAX_IDS; i++)
        out->ids[out->nids++] = hits[i].entry->id;

    if (nhits == 0
        || (hits[0].cosine < COMPOSE_COSINE_MIN
            && hits[0].bm25 < COMPOSE_BM25_MIN)) {
        out->reply = nhits > 0 ? hits[0].entry->answer : no_match_reply;
        out->needs_human = true;
        out->reason = "no_match";
        return;
    }
    const struct kb_entry *best = hits[0].entry;
    out->reply = best->answer;
    if (intent == INTENT_GREETING)
        return; /* small talk never needs a person */
    if (intent == INTENT_COMPLAINT) {
        out->needs_human = true;
        out->reason = "policy_complaint";
    } else if (intent == INTENT_REFUND
        && compose_amount(message) > COMPOSE_REFUND_LIMIT) {
        out->needs_human = true;
        out->reason = "policy_refund";
    } else if (best->needs_human) {
        out->needs_human = true;
        out->reason = (best->intents & (1u << INTENT_REFUND)) ? "policy_refund"
                                                              : "policy";
    } else if (confidence < COMPOSE_CONFIDENCE_MIN) {
        out->needs_human = true;
        out->reason = "low_confidence";
    }
}
