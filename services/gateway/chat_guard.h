/*
 * chat_guard.h - the guardrails' answers in POST /api/chat (guard.h does
 * the checking): a blocked message is answered here and never stored or
 * forwarded, and every block is counted in metrics by reason.
 */
#ifndef GATEWAY_CHAT_GUARD_H
#define GATEWAY_CHAT_GUARD_H

#include "guard.h"
#include "http.h"

/*
 * Run the guardrails on message msg. Returns 0 with *res filled when the
 * message may go on (res->text: the cleaned, redacted text to store and
 * send); -1 when the answer was written: 400 for invalid UTF-8, a blank
 * or an over-long message, 200 with a polite reply ("blocked": true) for
 * a deny-listed or injection message, 503 out of memory. The caller
 * releases *res either way.
 */
int chat_guard(struct req *r, const char *msg, struct guard_result *res);

#endif
