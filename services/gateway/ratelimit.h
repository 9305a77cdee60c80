/*
 * ratelimit.h - request rates and failed-login throttling, in memory.
 *
 * A fixed table of token buckets keyed by strings ("login-ip:10.0.0.7",
 * "chat-user:<id>", ...), set-associative (4 slots a set, the least
 * recently used evicted), so memory stays bounded whatever clients send.
 * A bucket of `per_min` holds at most per_min tokens and refills at
 * per_min per minute.
 *
 * Failed logins are counted per key (the gateway uses account + client
 * address, so an attacker elsewhere cannot lock the real user out): after
 * `max` failures each further attempt waits base_s * 2^(failures - max)
 * seconds, at most RATELIMIT_LOCK_MAX_S; failures are forgotten after a
 * success or RATELIMIT_FAIL_TTL_S without one. Nothing locks forever.
 */
#ifndef GATEWAY_RATELIMIT_H
#define GATEWAY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 96
#define RATELIMIT_LOCK_MAX_S 900
#define RATELIMIT_FAIL_TTL_S 3600

struct ratelimit;

/* A table of about `slots` keys (rounded up to sets of 4). 0 or -ENOMEM. */
int ratelimit_new(struct ratelimit **rp, size_t slots);
void ratelimit_free(struct ratelimit *rl);

/*
 * Take a token from key's bucket of per_min a minute. Returns 0 when
 * allowed, else the whole seconds (>= 1) until a token is back. per_min
 * <= 0 always allows.
 */
int ratelimit_take(
    struct ratelimit *rl, const char *key, int per_min, int64_t now_ms);

/* Seconds key must still wait after failures (0: none). */
int ratelimit_locked(struct ratelimit *rl, const char *key, int64_t now_ms);

/*
 * Count a failure of key; returns the wait it now has (0 while failures
 * <= max). max <= 0 turns throttling off.
 */
int ratelimit_fail(
    struct ratelimit *rl, const char *key, int max, int base_s, int64_t now_ms);

/* Forget key's failures (after a success). */
void ratelimit_clear(struct ratelimit *rl, const char *key);

#endif
