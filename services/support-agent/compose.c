#include "compose.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "intent.h"

const struct compose_limits compose_default_limits = {
    .cosine_min = COMPOSE_COSINE_MIN,
    .bm25_min = COMPOSE_BM25_MIN,
    .confidence_min = COMPOSE_CONFIDENCE_MIN,
    .refund_limit = COMPOSE_REFUND_LIMIT,
};

/* Wire names, and the policy word that names each in an entry. */
static const struct {
    const char *name, *policy;
} reasons[COMPOSE_REASON_COUNT] = {
    [COMPOSE_ANSWERED] = {"", NULL},
    [COMPOSE_NO_MATCH] = {"no_match", NULL},
    [COMPOSE_LOW_CONFIDENCE] = {"low_confidence", NULL},
    [COMPOSE_POLICY_COMPLAINT] = {"policy_complaint", "complaint"},
    [COMPOSE_POLICY_REFUND] = {"policy_refund", "refund"},
    [COMPOSE_POLICY_BILLING] = {"policy_billing", "billing"},
    [COMPOSE_POLICY_SECURITY] = {"policy_security", "security"},
    [COMPOSE_POLICY_ACCOUNT] = {"policy_account", "account"},
    [COMPOSE_HUMAN_REQUESTED] = {"policy_human_requested", "human_requested"},
    [COMPOSE_POLICY] = {"policy", NULL},
};

/* What the customer is told while a human looks. */
static const char holding_default[]
    = "Thanks for your message. I have passed it to a member of our support "
      "team, who will reply here shortly.";
static const char holding_complaint[]
    = "I'm sorry about this. I have passed your message to a member of our "
      "support team, who will look into it and reply here shortly.";
static const char holding_refund[]
    = "I have passed your request to a member of our support team, who will "
      "check it and reply here shortly.";
static const char holding_human[]
    = "Of course. I have asked a member of our support team to take over; "
      "they will reply here shortly.";
/* A greeting when no greeting entry matched. */
static const char welcome[]
    = "Hello! How can I help you today? You can ask me about an order, "
      "delivery, returns, payments or your account.";

const char *
compose_reason_name(enum compose_reason why)
{
    if ((unsigned)why >= COMPOSE_REASON_COUNT)
        return reasons[COMPOSE_POLICY].name;
    return reasons[why].name;
}

enum compose_reason
compose_policy_reason(const char *policy)
{
    if (policy == NULL)
        return COMPOSE_POLICY;
    size_t n = strcspn(policy, ":");
    while (n > 0 && isspace((unsigned char)policy[n - 1]))
        n--;
    for (int i = 0; i < COMPOSE_REASON_COUNT; i++) {
        const char *p = reasons[i].policy;
        if (p != NULL && strlen(p) == n && strncasecmp(policy, p, n) == 0)
            return (enum compose_reason)i;
    }
    return COMPOSE_POLICY;
}

static const char *
holding_for(enum compose_reason why)
{
    switch (why) {
    case COMPOSE_POLICY_COMPLAINT:
        return holding_complaint;
    case COMPOSE_POLICY_REFUND:
        return holding_refund;
    case COMPOSE_HUMAN_REQUESTED:
        return holding_human;
    default:
        return holding_default;
    }
}

/* ---- money amounts ------------------------------------------------------ */

static bool
has_prefix(const char *s, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - s) >= n && strncasecmp(s, word, n) == 0;
}

static bool
is_letter(unsigned char c)
{
    return isalpha(c) || c >= 0x80;
}

/* A currency sign or code right before b (spaces skipped). */
static bool
currency_before(const char *text, const char *b)
{
    while (b > text && b[-1] == ' ')
        b--;
    size_t n = (size_t)(b - text);
    if (n >= 1 && b[-1] == '$')
        return true;
    if (n >= 3 && memcmp(b - 3, "\xe2\x82\xac", 3) == 0) /* € */
        return true;
    if (n >= 2 && memcmp(b - 2, "\xc2\xa3", 2) == 0) /* £ */
        return true;
    static const char *const codes[] = {"eur", "usd", "gbp"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (n >= 3 && strncasecmp(b - 3, codes[i], 3) == 0
            && (n == 3 || !is_letter((unsigned char)b[-4])))
            return true;
    return false;
}

/* A currency sign or word right after f (spaces skipped). */
static bool
currency_after(const char *f, const char *end)
{
    static const char *const words[] = {"eur", "euro", "usd", "dollar", "gbp",
        "pound", "quid", "bucks", "\xe2\x82\xac", "$", "\xc2\xa3"};

    while (f < end && *f == ' ')
        f++;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (has_prefix(f, end, words[i]))
            return true;
    return false;
}

/* Count the digits at p (before end). */
static size_t
digits(const char *p, const char *end)
{
    size_t n = 0;
    while (p + n < end && isdigit((unsigned char)p[n]))
        n++;
    return n;
}

/*
 * The number at p: digits, groups of three after ',' or '.', then up to
 * two decimals after ',' or '.'. Sets *next past it.
 */
static double
parse_number(const char *p, const char *end, const char **next)
{
    size_t n = digits(p, end);
    double v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    p += n;
    /* Thousands: only after a first group of at most three digits. */
    if (n <= 3) {
        while (p + 1 < end && (*p == ',' || *p == '.')
            && digits(p + 1, end) == 3) {
            for (int i = 1; i <= 3; i++)
                v = v * 10 + (p[i] - '0');
            p += 4;
        }
    }
    if (p + 1 < end && (*p == ',' || *p == '.')) {
        size_t d = digits(p + 1, end);
        if (d == 1 || d == 2) {
            v += (p[1] - '0') / 10.0;
            if (d == 2)
                v += (p[2] - '0') / 100.0;
            p += 1 + d;
        }
    }
    *next = p;
    return v;
}

double
compose_amount(const char *text)
{
    double best = 0;

    if (text == NULL)
        return 0;
    const char *end = text + strnlen(text, RETRIEVAL_QUERY_MAX);
    const char *p = text;
    while (p < end) {
        /* A number starts at a digit that does not continue a word
         * (but may follow a currency code: "EUR250"). */
        if (!isdigit((unsigned char)*p)
            || (p > text
                && (isalnum((unsigned char)p[-1]) || p[-1] == '.'
                    || p[-1] == ',')
                && !(isalpha((unsigned char)p[-1])
                    && currency_before(text, p)))) {
            p++;
            continue;
        }
        const char *next;
        double v = parse_number(p, end, &next);
        if ((currency_before(text, p) || currency_after(next, end)) && v > best)
            best = v;
        p = next;
    }
    return best;
}

/* ---- the decision ------------------------------------------------------- */

static bool
is_greeting_entry(const struct kb_entry *e)
{
    return e->intents == (1u << INTENT_GREETING);
}

/*
 * With an embedding only the cosine decides: shared words alone match
 * too much that the shop knows nothing about ("stock market" and "out of
 * stock"); without one, the BM25 score does.
 */
static bool
matches(const struct compose_limits *lim, const struct hit *h)
{
    return h->cosine != RETRIEVAL_NO_COSINE ? h->cosine >= lim->cosine_min
                                            : h->bm25 >= lim->bm25_min;
}

/* ids: the entry used first, then the others in rank order. */
static void
set_ids(struct draft *out, const struct hit *hits, int nhits, int used)
{
    out->nids = 0;
    if (used >= 0)
        out->ids[out->nids++] = hits[used].entry->id;
    for (int i = 0; i < nhits && out->nids < COMPOSE_MAX_IDS; i++)
        if (i != used)
            out->ids[out->nids++] = hits[i].entry->id;
}

/* The next word at p (letters only, lower-cased, at most n-1); p moves on. */
static size_t
next_word(const char **p, char *w, size_t n)
{
    size_t k = 0;
    while (**p && !isalpha((unsigned char)**p))
        (*p)++;
    while (**p && isalpha((unsigned char)**p)) {
        if (k + 1 < n)
            w[k++] = (char)tolower((unsigned char)**p);
        (*p)++;
    }
    w[k] = '\0';
    return k;
}

static bool
word_in(const char *w, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(w, *set) == 0)
            return true;
    return false;
}

/*
 * The customer asks for a person: "speak to a manager", "talk with a real
 * human", "can I chat to someone", "connect me to an agent", "human
 * agent please". A verb of talking, then (after at most four small
 * words) a word for a person; or "real person", "human being", "live
 * agent" anywhere.
 */
bool
compose_asks_for_person(const char *message)
{
    static const char *const verbs[] = {"speak", "talk", "chat", "connect",
        "transfer", "escalate", "put", "get", "need", "want", NULL};
    static const char *const small[] = {"to", "with", "me", "a", "an", "the",
        "your", "some", "one", "of", "through", "real", "actual", "live", NULL};
    static const char *const people[] = {"human", "person", "manager",
        "supervisor", "representative", "rep", "someone", "somebody",
        "operator", "agent", "employee", "people", NULL};
    char w[32], prev[32] = "";
    const char *p = message;
    int after_verb = -1; /* small words seen since a verb; -1: none */

    if (message == NULL)
        return false;
    while (next_word(&p, w, sizeof(w)) > 0) {
        if ((strcmp(prev, "real") == 0 && strcmp(w, "person") == 0)
            || (strcmp(prev, "human") == 0
                && (strcmp(w, "being") == 0 || strcmp(w, "agent") == 0))
            || (strcmp(prev, "live") == 0 && strcmp(w, "agent") == 0))
            return true;
        if (after_verb >= 0 && word_in(w, people)
            && !(strcmp(w, "agent") == 0 && after_verb == 0))
            return true;
        if (word_in(w, verbs))
            after_verb = 0;
        else if (after_verb >= 0 && word_in(w, small) && after_verb < 4)
            after_verb++;
        else
            after_verb = -1;
        memcpy(prev, w, sizeof(prev));
    }
    return false;
}

static void
hand_over(struct draft *out, enum compose_reason why)
{
    out->needs_human = true;
    out->why = why;
    out->reason = compose_reason_name(why);
    out->holding = holding_for(why);
}

void
compose_reply_with(const struct compose_limits *lim, const char *message,
    int intent, float confidence, const struct hit *hits, int nhits,
    struct draft *out)
{
    memset(out, 0, sizeof(*out));
    out->reason = "";
    if (lim == NULL)
        lim = &compose_default_limits;
    if (hits == NULL || nhits < 0)
        nhits = 0;

    /* The entry to answer from: the best one, but a greeting entry only
     * for a greeting when another entry matches too. */
    int b = nhits > 0 ? 0 : -1;
    if (b == 0 && intent >= 0 && intent != INTENT_GREETING
        && is_greeting_entry(hits[0].entry)) {
        for (int i = 1; i < nhits; i++) {
            if (!is_greeting_entry(hits[i].entry) && matches(lim, &hits[i])) {
                b = i;
                break;
            }
        }
    }
    out->matched = b >= 0 && matches(lim, &hits[b]);
    bool sure = confidence >= lim->confidence_min;

    /* Small talk: a greeting entry's answer, or a fixed welcome. */
    if (intent == INTENT_GREETING && sure
        && !(out->matched && !is_greeting_entry(hits[b].entry))) {
        for (int i = 0; i < nhits; i++) {
            if (is_greeting_entry(hits[i].entry)
                && !hits[i].entry->needs_human) {
                out->reply = hits[i].entry->answer;
                set_ids(out, hits, nhits, i);
                return;
            }
        }
        out->reply = welcome; /* no entry used */
        return;
    }

    set_ids(out, hits, nhits, out->matched ? b : -1);
    /* Asked for a person: a person it is, whatever else the message says. */
    if (compose_asks_for_person(message)) {
        out->reply = holding_human;
        for (int i = 0; i < nhits; i++)
            if (hits[i].entry->needs_human
                && compose_policy_reason(hits[i].entry->policy)
                    == COMPOSE_HUMAN_REQUESTED)
                out->reply = hits[i].entry->answer;
        hand_over(out, COMPOSE_HUMAN_REQUESTED);
        return;
    }
    if (!out->matched) {
        /* The closest entry, if any, stays as a draft for the human. */
        out->reply = b >= 0 ? hits[b].entry->answer : holding_default;
        hand_over(out, COMPOSE_NO_MATCH);
        return;
    }
    const struct kb_entry *best = hits[b].entry;
    out->reply = best->answer;
    /*
     * A person already answered this very question and chose to teach it:
     * a curated entry that matches closely is that person's answer, so it
     * goes out without asking again (policy hand-overs are for the AI's
     * own answers).
     */
    if (best->curated
        && (hits[b].cosine >= RETRIEVAL_CURATED_COSINE
            || (hits[b].cosine < 0 && hits[b].bm25 >= RETRIEVAL_CURATED_BM25)))
        return;
    if (best->needs_human)
        hand_over(out, compose_policy_reason(best->policy));
    else if (intent == INTENT_COMPLAINT)
        hand_over(out, COMPOSE_POLICY_COMPLAINT);
    else if ((intent == INTENT_REFUND
                 || (best->intents & (1u << INTENT_REFUND)) != 0)
        && compose_amount(message) > lim->refund_limit)
        hand_over(out, COMPOSE_POLICY_REFUND);
    else if (!sure)
        hand_over(out, COMPOSE_LOW_CONFIDENCE);
}

void
compose_reply(const char *message, int intent, float confidence,
    const struct hit *hits, int nhits, struct draft *out)
{
    compose_reply_with(NULL, message, intent, confidence, hits, nhits, out);
}
