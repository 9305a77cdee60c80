/*
 * intent.h - the seven intents a customer message is classified into.
 *
 * The order is part of the model file format (the head's rows) and of the
 * wire format (ClassifyReply.scores): append, never reorder.
 */
#ifndef COMMON_INTENT_H
#define COMMON_INTENT_H

enum intent {
    INTENT_GREETING,
    INTENT_QUESTION,
    INTENT_COMPLAINT,
    INTENT_REFUND,
    INTENT_TECHNICAL,
    INTENT_BILLING,
    INTENT_OTHER,
    INTENT_COUNT
};

/* Lower-case name of an intent ("greeting"...); "other" for out-of-range. */
const char *intent_name(int intent);

/* The intent named s (exact, lower-case), or -1. */
int intent_parse(const char *s);

#endif
