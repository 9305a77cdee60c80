/* crc32.h - CRC-32 (IEEE 802.3) of model files. */
#ifndef COMMON_CRC32_H
#define COMMON_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32 (IEEE, reflected, as zlib's crc32()) of n bytes at p. */
uint32_t crc32_ieee(const unsigned char *p, size_t n);

#endif
