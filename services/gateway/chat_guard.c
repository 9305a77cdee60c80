#include "chat_guard.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"

int
chat_guard(struct req *r, const char *msg, struct guard_result *res)
{
    struct gateway *gw = r->gw;
    char detail[128];

    if (guard_check(gw->guard, msg, strlen(msg), res) != 0) {
        http_error_hdr(r, 503, "busy", "out of memory", "Retry-After: 1\r\n");
        return -1;
    }
    if (res->nredacted > 0)
        bus_event(gw->events, "guard_redact", (double)res->nredacted, NULL);
    if (res->reason == GUARD_OK)
        return 0;
    const char *why = guard_reason_name(res->reason);
    bus_event(gw->events, "guard_block", 1, "reason", why, NULL);
    switch (res->reason) {
    case GUARD_INVALID_UTF8:
        http_error(r, 400, "invalid_request", "message is not valid UTF-8");
        return -1;
    case GUARD_EMPTY:
        http_error(r, 400, "invalid_request", "message must not be empty");
        return -1;
    case GUARD_TOO_LONG:
        snprintf(detail, sizeof detail, "message is longer than %d characters",
            gw->cfg->chat_max_chars);
        http_error(r, 400, "message_too_long", detail);
        return -1;
    default:
        break;
    }
    /* Never the text itself in the log. */
    log_info("chat blocked: reason=%s score=%.3f chars=%zu", why, res->score,
        res->chars);
    char when[32];
    clock_iso8601(when, sizeof when, clock_now_ms());
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "response", guard_reply(res->reason));
    cJSON_AddStringToObject(o, "intent", "other");
    cJSON_AddNumberToObject(o, "confidence", 0);
    cJSON_AddStringToObject(o, "agent_type", "guard");
    cJSON_AddBoolToObject(o, "escalated", false);
    cJSON_AddBoolToObject(o, "blocked", true);
    cJSON_AddStringToObject(o, "block_reason", why);
    cJSON_AddStringToObject(o, "timestamp", when);
    http_json(r, 200, o);
    return -1;
}
