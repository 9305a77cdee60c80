#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <argon2.h>
#include <cjson/cJSON.h>
#include <jwt.h>

#include "clock.h"
#include "hash.h"
#include "ids.h"

#define SALT_LEN 16
#define HASH_LEN 32
#define TOKEN_MAX 1024
#define CACHE_SLOTS 4096
#define CACHE_STRIPES 64

struct cache_slot {
    char token[TOKEN_MAX];
    struct principal who;
    int64_t exp;
};

struct auth {
    unsigned char *secret;
    size_t secret_len;
    int ttl_s;
    uint32_t m_kib, t_cost;
    sem_t slots;
    char dummy_hash[AUTH_HASH_MAX];
    struct cache_slot *cache;
    pthread_mutex_t stripes[CACHE_STRIPES];
};

static int
take_slot(struct auth *a)
{
    struct timespec until = clock_realtime_in(10 * 1000);

    while (sem_timedwait(&a->slots, &until) != 0) {
        if (errno != EINTR)
            return AUTH_BUSY;
    }
    return 0;
}

static int
hash_now(struct auth *a, const char *password, char *out)
{
    unsigned char salt[SALT_LEN];

    if (ids_random(salt, sizeof(salt)) != 0)
        return AUTH_ERROR;
    if (argon2id_hash_encoded(a->t_cost, a->m_kib, 1, password,
            strlen(password), salt, sizeof(salt), HASH_LEN, out, AUTH_HASH_MAX)
        != ARGON2_OK)
        return AUTH_ERROR;
    return 0;
}

int
auth_new(struct auth **ap, const struct auth_opts *o)
{
    struct auth *a;

    if (o->secret == NULL || o->secret_len < 32
        || argon2_encodedlen(
               o->t_cost, o->m_kib, 1, SALT_LEN, HASH_LEN, Argon2_id)
            > AUTH_HASH_MAX)
        return AUTH_ERROR;
    if ((a = calloc(1, sizeof(*a))) == NULL)
        return AUTH_ERROR;
    a->secret = malloc(o->secret_len);
    a->cache = calloc(CACHE_SLOTS, sizeof(*a->cache));
    if (a->secret == NULL || a->cache == NULL) {
        free(a->secret);
        free(a->cache);
        free(a);
        return AUTH_ERROR;
    }
    memcpy(a->secret, o->secret, o->secret_len);
    a->secret_len = o->secret_len;
    a->ttl_s = o->ttl_s;
    a->m_kib = o->m_kib;
    a->t_cost = o->t_cost;
    sem_init(&a->slots, 0, (unsigned)(o->workers > 0 ? o->workers : 1));
    for (int i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_init(&a->stripes[i], NULL);
    /* The hash an unknown user's password is checked against. */
    if (hash_now(a, "not a password of anyone", a->dummy_hash) != 0) {
        auth_free(a);
        return AUTH_ERROR;
    }
    *ap = a;
    return 0;
}

void
auth_free(struct auth *a)
{
    if (a == NULL)
        return;
    sem_destroy(&a->slots);
    for (int i = 0; i < CACHE_STRIPES; i++)
        pthread_mutex_destroy(&a->stripes[i]);
    explicit_bzero(a->secret, a->secret_len);
    free(a->secret);
    free(a->cache);
    free(a);
}

int
auth_hash(struct auth *a, const char *password, char *out)
{
    int rv;

    if ((rv = take_slot(a)) != 0)
        return rv;
    rv = hash_now(a, password, out);
    sem_post(&a->slots);
    return rv;
}

int
auth_verify(struct auth *a, const char *hash, const char *password)
{
    int rv;

    if ((rv = take_slot(a)) != 0)
        return rv;
    rv = argon2id_verify(
        hash ? hash : a->dummy_hash, password, strlen(password));
    sem_post(&a->slots);
    return rv == ARGON2_OK && hash != NULL ? 0 : AUTH_MISMATCH;
}

const char *
auth_role_name(enum role r)
{
    switch (r) {
    case ROLE_USER:
        return "user";
    case ROLE_AGENT:
        return "agent";
    case ROLE_ADMIN:
        return "admin";
    default:
        return "";
    }
}

enum role
auth_role_parse(const char *s)
{
    if (s == NULL)
        return ROLE_NONE;
    if (strcmp(s, "user") == 0)
        return ROLE_USER;
    if (strcmp(s, "agent") == 0)
        return ROLE_AGENT;
    if (strcmp(s, "admin") == 0)
        return ROLE_ADMIN;
    return ROLE_NONE;
}

int
auth_issue(struct auth *a, const struct principal *p, char *out, size_t n,
    int64_t *expires_at)
{
    jwt_t *jwt = NULL;
    time_t now = time(NULL);
    char *tok;
    int rv = AUTH_ERROR;

    if (jwt_new(&jwt) != 0)
        return AUTH_ERROR;
    if (jwt_add_grant(jwt, "sub", p->user_id) == 0
        && jwt_add_grant(jwt, "username", p->username) == 0
        && jwt_add_grant(jwt, "role", auth_role_name(p->role)) == 0
        && jwt_add_grant_int(jwt, "tv", p->token_version) == 0
        && jwt_add_grant_int(jwt, "iat", (long)now) == 0
        && jwt_add_grant_int(jwt, "exp", (long)now + a->ttl_s) == 0
        && jwt_set_alg(jwt, JWT_ALG_HS256, a->secret, (int)a->secret_len) == 0
        && (tok = jwt_encode_str(jwt)) != NULL) {
        if (strlen(tok) < n && strlen(tok) < TOKEN_MAX) {
            memcpy(out, tok, strlen(tok) + 1);
            *expires_at = (int64_t)now + a->ttl_s;
            rv = 0;
        }
        free(tok);
    }
    jwt_free(jwt);
    return rv;
}

/* Decode base64url (no padding) into out; returns length or -1. */
static int
b64url_decode(const char *in, size_t len, char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i], v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (int)o;
}

/*
 * Only HS256 is accepted, whatever the token claims: the header is read
 * before libjwt sees the token, so "alg": "none" or an asymmetric algorithm
 * is refused here and never reaches a verifier.
 */
static bool
header_is_hs256(const char *token)
{
    const char *dot = strchr(token, '.');
    char hdr[256];
    bool ok = false;

    if (dot == NULL
        || b64url_decode(token, (size_t)(dot - token), hdr, sizeof(hdr)) < 0)
        return false;
    cJSON *h = cJSON_Parse(hdr);
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
    ok = cJSON_IsString(alg) && strcmp(alg->valuestring, "HS256") == 0;
    cJSON_Delete(h);
    return ok;
}

static int
decode(struct auth *a, const char *token, struct principal *p, int64_t *exp)
{
    jwt_t *jwt = NULL;
    int rv = AUTH_MISMATCH;

    if (!header_is_hs256(token))
        return AUTH_MISMATCH;
    if (jwt_decode(&jwt, token, a->secret, (int)a->secret_len) != 0)
        return AUTH_MISMATCH;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto out;
    errno = 0;
    long e = jwt_get_grant_int(jwt, "exp");
    if (errno != 0 || e <= 0)
        goto out;
    const char *sub = jwt_get_grant(jwt, "sub");
    const char *name = jwt_get_grant(jwt, "username");
    enum role role = auth_role_parse(jwt_get_grant(jwt, "role"));
    if (sub == NULL || name == NULL || role == ROLE_NONE
        || strlen(sub) >= sizeof(p->user_id)
        || strlen(name) >= sizeof(p->username))
        goto out;
    memset(p, 0, sizeof(*p));
    memcpy(p->user_id, sub, strlen(sub) + 1);
    memcpy(p->username, name, strlen(name) + 1);
    p->role = role;
    errno = 0;
    p->token_version = jwt_get_grant_int(jwt, "tv");
    if (errno != 0)
        p->token_version = 0;
    *exp = e;
    rv = 0;
out:
    jwt_free(jwt);
    return rv;
}

int
auth_check(struct auth *a, const char *token, struct principal *p)
{
    int64_t now = (int64_t)time(NULL), exp;
    size_t len = strlen(token);
    uint32_t h;
    int rv;

    if (len == 0 || len >= TOKEN_MAX)
        return AUTH_MISMATCH;
    h = hash_fnv32(token, len);
    struct cache_slot *slot = &a->cache[h % CACHE_SLOTS];
    pthread_mutex_t *mu = &a->stripes[h % CACHE_STRIPES];
    pthread_mutex_lock(mu);
    if (strcmp(slot->token, token) == 0) {
        bool fresh = slot->exp > now;
        if (fresh)
            *p = slot->who;
        pthread_mutex_unlock(mu);
        return fresh ? 0 : AUTH_EXPIRED;
    }
    pthread_mutex_unlock(mu);

    if ((rv = decode(a, token, p, &exp)) != 0)
        return rv;
    if (exp <= now)
        return AUTH_EXPIRED;
    pthread_mutex_lock(mu);
    memcpy(slot->token, token, len + 1);
    slot->who = *p;
    slot->exp = exp;
    pthread_mutex_unlock(mu);
    return 0;
}
