/*
 * compose.h - the built-in reply: the best knowledge entry's answer, and
 * the decision whether a human must answer instead, with a reason that
 * travels as a structured field (never a keyword inside the text).
 */
#ifndef SUPPORT_COMPOSE_H
#define SUPPORT_COMPOSE_H

#include <stdbool.h>

#include "retrieval.h"

#define COMPOSE_MAX_IDS 3

/*
 * The best entry answers the message when its sentence similarity reaches
 * COMPOSE_COSINE_MIN, or (keyword retrieval, no encoder) its BM25 score
 * reaches COMPOSE_BM25_MIN; tuned on tests/data/retrieval_eval.jsonl.
 */
#define COMPOSE_COSINE_MIN 0.45f
#define COMPOSE_BM25_MIN 2.5f
/* Below this intent confidence a human looks first. */
#define COMPOSE_CONFIDENCE_MIN 0.30f
/* Refunds above this many euros are a human's to promise. */
#define COMPOSE_REFUND_LIMIT 100.0

struct draft {
    const char *reply; /* borrowed: an entry's answer or a fixed text */
    bool needs_human;
    const char *reason; /* "" or low_confidence, no_match, policy_complaint,
                           policy_refund, policy */
    const char *ids[COMPOSE_MAX_IDS];
    int nids;
};

/*
 * Decide the reply to message (classified as intent with confidence) from
 * hits (best first, nhits may be 0). Fills *out; never fails.
 */
void compose_reply(const char *message, int intent, float confidence,
    const struct hit *hits, int nhits, struct draft *out);

/* The largest money amount in text (EUR, $, £ or a bare number next to a
 * currency word), or 0. */
double compose_amount(const char *text);

#endif
