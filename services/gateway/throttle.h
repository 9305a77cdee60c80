/*
 * throttle.h - the gateway's request-rate limits and failed-login
 * throttling over ratelimit.h, answering 429 with Retry-After:
 *
 *   sign-ins     RATE_LOGIN_IP a minute per client address (well-formed
 *                 signups, logins, password changes); login also
 *                 RATE_LOGIN_USER a minute per account, and after
 *                 LOGIN_FAIL_MAX failures of an account from one address
 *                 that address waits LOGIN_LOCK_S, doubling per further
 *                 failure (at most 15 min)
 *   chat          RATE_CHAT_IP a minute per client address, and
 *                 RATE_CHAT_USER per signed-in account
 *
 * Each refusal pushes a "rate_limited" event (label "limit") to metrics.
 */
#ifndef GATEWAY_THROTTLE_H
#define GATEWAY_THROTTLE_H

#include <stdbool.h>

#include "http.h"

/*
 * Count r against the limits of its route's kind. 0: go on; -1: a 429 was
 * written.
 */
int limits_check(struct req *r, enum limit_kind kind);

/* Before checking a password of `username`: 0, or -1 with 429 written. */
int limits_login_begin(struct req *r, const char *username);

/* After it: a failure counts towards the throttle, a success clears it. */
void limits_login_end(struct req *r, const char *username, bool ok);

#endif
