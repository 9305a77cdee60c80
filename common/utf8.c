#include "utf8.h"

bool
utf8_valid(const char *str, size_t len, size_t *chars)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t k;
        unsigned cp;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            n++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
        n++;
    }
    if (chars != NULL)
        *chars = n;
    return true;
}
