/*
 * compose.h - the built-in reply: the best knowledge entry's answer, and
 * the decision whether a human must answer instead, with a reason that
 * travels as a structured field (never a keyword inside the text).
 *
 * The decision, in order:
 *   - nothing matches well enough (the best entry's cosine is under
 *     cosine_min; without an embedding, its BM25 under bm25_min):
 *     "no_match";
 *   - a greeting is answered from a greeting entry (or a fixed welcome
 *     when none matched), unless it came with more than small talk;
 *   - the best entry is marked needs_human: the reason its policy names
 *     ("policy_refund", "policy_complaint", ..., "policy");
 *   - the message is a complaint: "policy_complaint";
 *   - a refund above the limit is asked for: "policy_refund";
 *   - the intent's confidence is low: "low_confidence".
 * When a human is needed the entry's answer is kept as the draft the
 * human starts from, and `holding` is what the customer can be told
 * meanwhile.
 */
#ifndef SUPPORT_COMPOSE_H
#define SUPPORT_COMPOSE_H

#include <stdbool.h>

#include "retrieval.h"

#define COMPOSE_MAX_IDS 3

/*
 * The defaults of struct compose_limits, tuned on
 * tests/data/retrieval_eval.jsonl (make retrieval-eval, docs/knowledge.md).
 */
#define COMPOSE_COSINE_MIN 0.45f
#define COMPOSE_BM25_MIN 4.0f
#define COMPOSE_CONFIDENCE_MIN 0.30f
#define COMPOSE_REFUND_LIMIT 100.0

struct compose_limits {
    float cosine_min;     /* the best entry matches at this cosine */
    float bm25_min;       /* or, searched without an embedding, BM25 */
    float confidence_min; /* below this intent confidence a human looks */
    double refund_limit;  /* refunds above this many EUR are a human's */
};

extern const struct compose_limits compose_default_limits;

/* Why a human is needed. */
enum compose_reason {
    COMPOSE_ANSWERED,         /* "": no human needed */
    COMPOSE_NO_MATCH,         /* "no_match" */
    COMPOSE_LOW_CONFIDENCE,   /* "low_confidence" */
    COMPOSE_POLICY_COMPLAINT, /* "policy_complaint" */
    COMPOSE_POLICY_REFUND,    /* "policy_refund" */
    COMPOSE_POLICY_BILLING,   /* "policy_billing" */
    COMPOSE_POLICY_SECURITY,  /* "policy_security" */
    COMPOSE_POLICY_ACCOUNT,   /* "policy_account" */
    COMPOSE_HUMAN_REQUESTED,  /* "policy_human_requested" */
    COMPOSE_POLICY,           /* "policy": an entry's other policy */
    COMPOSE_REASON_COUNT
};

struct draft {
    /*
     * The reply (borrowed: an entry's answer, owned by the index, or a
     * fixed text). When needs_human, the draft a human starts from.
     */
    const char *reply;
    /* When needs_human: a fixed text the customer can be told while a
     * human looks (NULL otherwise). */
    const char *holding;
    bool needs_human;
    enum compose_reason why;
    const char *reason; /* compose_reason_name(why): a static string */
    bool matched;       /* the best entry passed the match threshold */
    /* The entries behind the reply, the one used first (owned by the
     * index). */
    const char *ids[COMPOSE_MAX_IDS];
    int nids;
};

/*
 * Decide the reply to message (classified as intent, -1 when unknown,
 * with confidence 0..1) from hits (best first, as retrieval_search ranks
 * them; nhits <= 0: none) under lim (NULL: compose_default_limits).
 * Fills *out; never fails. The strings in *out stay valid as long as the
 * index the hits came from.
 */
void compose_reply_with(const struct compose_limits *lim, const char *message,
    int intent, float confidence, const struct hit *hits, int nhits,
    struct draft *out);

/* compose_reply_with under the default limits. */
void compose_reply(const char *message, int intent, float confidence,
    const struct hit *hits, int nhits, struct draft *out);

/* The wire name of a reason ("" for COMPOSE_ANSWERED); a static string. */
const char *compose_reason_name(enum compose_reason why);

/*
 * The reason an entry's policy names: its text up to the first ':'
 * ("refund: above 100 EUR..." -> COMPOSE_POLICY_REFUND); COMPOSE_POLICY
 * when it names none.
 */
enum compose_reason compose_policy_reason(const char *policy);

/*
 * The largest money amount in text (at most RETRIEVAL_QUERY_MAX bytes
 * looked at): a number next to a currency sign or word (EUR, euro, €, $,
 * USD, dollar, £, GBP, pound), with thousands separators ("1,200.50",
 * "1.200,50"). 0 when there is none.
 */
double compose_amount(const char *text);

/* True when the message asks for a person (a manager, a human agent...). */
bool compose_asks_for_person(const char *message);

#endif
