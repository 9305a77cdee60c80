#include "intent.h"

#include <string.h>

static const char *const names[INTENT_COUNT] = {
    "greeting",
    "question",
    "complaint",
    "refund",
    "technical",
    "billing",
    "other",
};

const char *
intent_name(int intent)
{
    if (intent < 0 || intent >= INTENT_COUNT)
        return names[INTENT_OTHER];
    return names[intent];
}

int
intent_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < INTENT_COUNT; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}
