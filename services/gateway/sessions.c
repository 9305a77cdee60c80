#include "sessions.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "users.h"

#define STRIPES 64

struct entry {
    char id[32]; /* "" = empty */
    long tv;
    bool usable; /* exists and not disabled */
    int64_t fetched_ms;
};

struct sessions {
    struct entry *e;
    size_t n;
    pthread_mutex_t stripes[STRIPES];
};

int
sessions_new(struct sessions **sp, size_t slots)
{
    struct sessions *ss = calloc(1, sizeof *ss);

    if (ss == NULL)
        return -ENOMEM;
    ss->n = slots ? slots : 1;
    if ((ss->e = calloc(ss->n, sizeof *ss->e)) == NULL) {
        free(ss);
        return -ENOMEM;
    }
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&ss->stripes[i], NULL);
    *sp = ss;
    return 0;
}

void
sessions_free(struct sessions *ss)
{
    if (ss == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&ss->stripes[i]);
    free(ss->e);
    free(ss);
}

static size_t
slot_of(const struct sessions *ss, const char *id)
{
    return hash_fnv32(id, strlen(id)) % ss->n;
}

int
sessions_check(struct sessions *ss, struct store *st, const struct principal *p,
    int64_t now_ms)
{
    size_t k = slot_of(ss, p->user_id);
    pthread_mutex_t *mu = &ss->stripes[k % STRIPES];
    struct entry *e = &ss->e[k], got;
    struct user u;

    pthread_mutex_lock(mu);
    bool hit = strcmp(e->id, p->user_id) == 0
        && now_ms - e->fetched_ms < SESSIONS_TTL_MS;
    got = *e;
    pthread_mutex_unlock(mu);
    if (!hit) {
        int rv = users_find_id(st, p->user_id, &u);
        if (rv != 0 && rv != STORE_NOTFOUND)
            return STORE_DOWN;
        memset(&got, 0, sizeof got);
        snprintf(got.id, sizeof got.id, "%s", p->user_id);
        got.usable = rv == 0 && !u.disabled;
        got.tv = rv == 0 ? u.token_version : -1;
        got.fetched_ms = now_ms;
        pthread_mutex_lock(mu);
        *e = got;
        pthread_mutex_unlock(mu);
    }
    return got.usable && got.tv == p->token_version ? 0 : -1;
}

void
sessions_forget(struct sessions *ss, const char *user_id)
{
    size_t k = slot_of(ss, user_id);
    pthread_mutex_t *mu = &ss->stripes[k % STRIPES];

    pthread_mutex_lock(mu);
    if (strcmp(ss->e[k].id, user_id) == 0)
        ss->e[k].id[0] = '\0';
    pthread_mutex_unlock(mu);
}
