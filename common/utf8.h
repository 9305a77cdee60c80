/* utf8.h - checking text that comes from outside. */
#ifndef COMMON_UTF8_H
#define COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True when s (len bytes) is well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no NUL. *chars gets the number of
 * code points when not NULL.
 */
bool utf8_valid(const char *s, size_t len, size_t *chars);

#endif
