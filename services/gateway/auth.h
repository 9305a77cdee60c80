/*
 * auth.h - passwords (argon2id) and bearer tokens (JWT, HS256).
 *
 * Hashing is slow on purpose (~40 ms at m=19 MiB, t=2), so at most
 * `workers` hashes run at once: logins wait their turn and can never starve
 * the threads that serve chat. Verified tokens are cached until they expire,
 * since decoding one costs ~10 us.
 */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* An encoded argon2id hash ("$argon2id$v=19$m=...") fits here. */
#define AUTH_HASH_MAX 160

enum auth_err {
    AUTH_OK = 0,
    AUTH_BUSY = -1,     /* every hashing slot stayed taken: try later */
    AUTH_MISMATCH = -2, /* wrong password, or an invalid token */
    AUTH_EXPIRED = -3,
    AUTH_ERROR = -4,
};

struct auth;

struct auth_opts {
    const char *secret; /* HS256 key, >= 32 bytes */
    size_t secret_len;
    int ttl_s;
    uint32_t m_kib, t_cost;
    int workers;
};

/* Returns 0 with *ap set, or AUTH_ERROR (e.g. a short secret). */
int auth_new(struct auth **ap, const struct auth_opts *o);
void auth_free(struct auth *a);

/* Hash password into out (AUTH_HASH_MAX). 0, AUTH_BUSY or AUTH_ERROR. */
int auth_hash(struct auth *a, const char *password, char *out);

/*
 * Check password against an encoded hash; hash NULL still costs one hash
 * (so an unknown user takes as long as a wrong password). 0, AUTH_MISMATCH
 * or AUTH_BUSY.
 */
int auth_verify(struct auth *a, const char *hash, const char *password);

/*
 * Issue a token for p into out (size n); *expires_at gets its exp (Unix s).
 * Returns 0 or AUTH_ERROR.
 */
int auth_issue(struct auth *a, const struct principal *p, char *out, size_t n,
    int64_t *expires_at);

/*
 * Check a bearer token: HS256 only, signature, exp required and in the
 * future. On 0 *p holds its claims; else AUTH_MISMATCH or AUTH_EXPIRED.
 */
int auth_check(struct auth *a, const char *token, struct principal *p);

/* "user", "agent", "admin" <-> enum role; ROLE_NONE for anything else. */
enum role auth_role_parse(const char *s);
const char *auth_role_name(enum role r);

#endif
