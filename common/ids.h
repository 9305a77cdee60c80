/* ids.h - random identifiers and secrets from the kernel's CSPRNG. */
#ifndef COMMON_IDS_H
#define COMMON_IDS_H

#include <stddef.h>

/* Fill buf with n random bytes. Returns 0, or -1 when the kernel refused. */
int ids_random(void *buf, size_t n);

/*
 * Write nbytes (at most 64) random bytes as lower-case hex plus a NUL into
 * out, which must hold 2 * nbytes + 1 chars. The bytes come from a
 * per-thread pool of kernel randomness, each used once. Returns 0 or -1.
 */
int ids_hex(char *out, size_t nbytes);

/* Write n bytes of in as lower-case hex plus a NUL into out (2n+1 chars). */
void ids_to_hex(char *out, const unsigned char *in, size_t n);

/* True when s is exactly len lower-case hex digits and not all zero. */
int ids_is_hex(const char *s, size_t len);

#endif
