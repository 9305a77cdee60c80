#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define WAYS 4
#define STRIPES 64

struct slot {
    char key[RATELIMIT_KEY_MAX];
    double tokens;
    int64_t seen_ms; /* last use: LRU and refill */
    int fails;
    int64_t fail_ms;   /* last failure */
    int64_t locked_ms; /* no attempt before this */
};

struct ratelimit {
    struct slot *slots;
    size_t sets;
    pthread_mutex_t stripes[STRIPES];
};

int
ratelimit_new(struct ratelimit **rp, size_t slots)
{
    struct ratelimit *rl = calloc(1, sizeof *rl);

    if (rl == NULL)
        return -ENOMEM;
    rl->sets = (slots + WAYS - 1) / WAYS;
    if (rl->sets == 0)
        rl->sets = 1;
    rl->slots = calloc(rl->sets * WAYS, sizeof *rl->slots);
    if (rl->slots == NULL) {
        free(rl);
        return -ENOMEM;
    }
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->stripes[i], NULL);
    *rp = rl;
    return 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->stripes[i]);
    free(rl->slots);
    free(rl);
}

/*
 * The slot of key, locked (unlock with *mu). create: take an empty or the
 * least recently used slot of its set when key is not there; else NULL.
 */
static struct slot *
find(struct ratelimit *rl, const char *key, bool create, int64_t now_ms,
    pthread_mutex_t **mu)
{
    char k[RATELIMIT_KEY_MAX];
    snprintf(k, sizeof k, "%s", key);
    size_t set = hash_fnv64(k, strlen(k)) % rl->sets;
    struct slot *s = &rl->slots[set * WAYS], *victim = NULL;

    *mu = &rl->stripes[set % STRIPES];
    pthread_mutex_lock(*mu);
    for (int i = 0; i < WAYS; i++)
        if (strcmp(s[i].key, k) == 0)
            return &s[i];
    if (!create) {
        pthread_mutex_unlock(*mu);
        return NULL;
    }
    for (int i = 0; i < WAYS; i++) {
        if (s[i].key[0] == '\0') {
            victim = &s[i];
            break;
        }
        if (victim == NULL || s[i].seen_ms < victim->seen_ms)
            victim = &s[i];
    }
    memset(victim, 0, sizeof *victim);
    memcpy(victim->key, k, sizeof k);
    victim->tokens = -1; /* a new bucket starts full */
    victim->seen_ms = now_ms;
    return victim;
}

int
ratelimit_take(
    struct ratelimit *rl, const char *key, int per_min, int64_t now_ms)
{
    pthread_mutex_t *mu;
    int wait = 0;

    if (per_min <= 0)
        return 0;
    struct slot *s = find(rl, key, true, now_ms, &mu);
    double rate = per_min / 60000.0; /* tokens per ms */
    if (s->tokens < 0) {
        s->tokens = per_min;
    } else if (now_ms > s->seen_ms) {
        s->tokens += (double)(now_ms - s->seen_ms) * rate;
        if (s->tokens > per_min)
            s->tokens = per_min;
    }
    s->seen_ms = now_ms > s->seen_ms ? now_ms : s->seen_ms;
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
    } else {
        double ms = (1.0 - s->tokens) / rate;
        wait = (int)(ms / 1000.0) + 1;
    }
    pthread_mutex_unlock(mu);
    return wait;
}

/* Failures older than the TTL are forgotten. */
static void
expire(struct slot *s, int64_t now_ms)
{
    if (s->fails > 0 && now_ms - s->fail_ms > RATELIMIT_FAIL_TTL_S * 1000LL) {
        s->fails = 0;
        s->locked_ms = 0;
    }
}

int
ratelimit_locked(struct ratelimit *rl, const char *key, int64_t now_ms)
{
    pthread_mutex_t *mu;
    int wait = 0;
    struct slot *s = find(rl, key, false, now_ms, &mu);

    if (s == NULL)
        return 0;
    expire(s, now_ms);
    if (s->locked_ms > now_ms)
        wait = (int)((s->locked_ms - now_ms + 999) / 1000);
    pthread_mutex_unlock(mu);
    return wait;
}

int
ratelimit_fail(
    struct ratelimit *rl, const char *key, int max, int base_s, int64_t now_ms)
{
    pthread_mutex_t *mu;
    int wait = 0;

    if (max <= 0)
        return 0;
    struct slot *s = find(rl, key, true, now_ms, &mu);
    expire(s, now_ms);
    s->fails++;
    s->fail_ms = now_ms;
    s->seen_ms = now_ms;
    if (s->fails > max) {
        int64_t w = base_s > 0 ? base_s : 1;
        for (int i = max + 1; i < s->fails && w < RATELIMIT_LOCK_MAX_S; i++)
            w *= 2;
        if (w > RATELIMIT_LOCK_MAX_S)
            w = RATELIMIT_LOCK_MAX_S;
        s->locked_ms = now_ms + w * 1000;
        wait = (int)w;
    }
    pthread_mutex_unlock(mu);
    return wait;
}

void
ratelimit_clear(struct ratelimit *rl, const char *key)
{
    pthread_mutex_t *mu;
    struct slot *s = find(rl, key, false, 0, &mu);

    if (s == NULL)
        return;
    s->fails = 0;
    s->locked_ms = 0;
    pthread_mutex_unlock(mu);
}
