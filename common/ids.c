#include "ids.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

int
ids_random(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t k = getrandom(p, n, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

void
ids_to_hex(char *out, const unsigned char *in, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * Identifiers are made on every request (request, trace, span, message
 * ids: nine a chat), so each thread draws kernel randomness POOL bytes at a
 * time instead of one getrandom(2) per id. Every byte is handed out once
 * and wiped as it goes; a forked child starts a new generation, so it never
 * reuses its parent's bytes.
 */
#define POOL 512

static atomic_uint generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
new_generation(void)
{
    atomic_fetch_add(&generation, 1);
}

static void
register_atfork(void)
{
    pthread_atfork(NULL, NULL, new_generation);
}

static _Thread_local struct {
    unsigned char bytes[POOL];
    size_t left; /* unused bytes, at the end of bytes */
    unsigned gen;
} pool;

static int
pool_take(unsigned char *out, size_t n)
{
    unsigned gen = atomic_load(&generation);

    if (pool.gen != gen) {
        pthread_once(&atfork_once, register_atfork);
        pool.gen = atomic_load(&generation);
        pool.left = 0;
    }
    if (pool.left < n) {
        if (ids_random(pool.bytes, POOL) != 0)
            return -1;
        pool.left = POOL;
    }
    unsigned char *p = pool.bytes + POOL - pool.left;
    memcpy(out, p, n);
    explicit_bzero(p, n);
    pool.left -= n;
    return 0;
}

int
ids_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];

    if (nbytes > sizeof(buf) || pool_take(buf, nbytes) != 0)
        return -1;
    ids_to_hex(out, buf, nbytes);
    explicit_bzero(buf, nbytes);
    return 0;
}

int
ids_is_hex(const char *s, size_t len)
{
    int nonzero = 0;

    if (s == NULL || strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        nonzero |= c != '0';
    }
    return nonzero;
}
