/* hash.h - FNV-1a, for hash tables and caches (not for anything secret). */
#ifndef COMMON_HASH_H
#define COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 32-bit FNV-1a of n bytes. */
static inline uint32_t
hash_fnv32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

/* 64-bit FNV-1a of n bytes. */
static inline uint64_t
hash_fnv64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

#endif
