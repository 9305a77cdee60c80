/*
 * sessions.h - whether a token that verified is still good: its account
 * exists, is not disabled, and the token's "tv" (token version) is the
 * account's current one. A password change or an admin disabling the
 * account bumps the version, so every token issued before stops working.
 *
 * Each account's state is cached for SESSIONS_TTL_MS: a change is seen at
 * once by the gateway that made it (sessions_forget) and within the TTL by
 * the others. At most one store look-up per account per TTL.
 */
#ifndef GATEWAY_SESSIONS_H
#define GATEWAY_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "store.h"

#define SESSIONS_TTL_MS 5000

struct sessions;

/* A cache of about `slots` accounts. 0 or -ENOMEM. */
int sessions_new(struct sessions **sp, size_t slots);
void sessions_free(struct sessions *ss);

/*
 * 0 when p's token is still good; -1 when revoked (disabled, deleted, or
 * an older version); STORE_DOWN when the account cannot be read.
 */
int sessions_check(struct sessions *ss, struct store *st,
    const struct principal *p, int64_t now_ms);

/* Forget the cached state of user_id (after changing it here). */
void sessions_forget(struct sessions *ss, const char *user_id);

#endif
