#include "trace.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "ids.h"

static bool
is_lower_hex(const char *s, size_t n)
{
    bool nonzero = false;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        nonzero |= c != '0';
    }
    return nonzero;
}

bool
trace_parse(const char *h, char trace_id[TRACE_ID_LEN + 1],
    char parent_id[SPAN_ID_LEN + 1])
{
    if (h == NULL)
        return false;
    size_t n = strnlen(h, TRACEPARENT_LEN + 1);
    if (n < TRACEPARENT_LEN || h[2] != '-' || h[35] != '-' || h[52] != '-')
        return false;
    /* Version 00 is exactly 55 characters; later ones may add "-..." */
    bool v00 = h[0] == '0' && h[1] == '0';
    if (v00 ? n != TRACEPARENT_LEN
            : (n > TRACEPARENT_LEN && h[TRACEPARENT_LEN] != '-'))
        return false;
    if (!v00
        && !(((h[0] >= '0' && h[0] <= '9') || (h[0] >= 'a' && h[0] <= 'f'))
            && ((h[1] >= '0' && h[1] <= '9') || (h[1] >= 'a' && h[1] <= 'f'))))
        return false;
    if (h[0] == 'f' && h[1] == 'f')
        return false;
    if (!is_lower_hex(h + 3, TRACE_ID_LEN)
        || !is_lower_hex(h + 36, SPAN_ID_LEN))
        return false;
    char f0 = h[53], f1 = h[54];
    if (!((f0 >= '0' && f0 <= '9') || (f0 >= 'a' && f0 <= 'f'))
        || !((f1 >= '0' && f1 <= '9') || (f1 >= 'a' && f1 <= 'f')))
        return false;
    memcpy(trace_id, h + 3, TRACE_ID_LEN);
    trace_id[TRACE_ID_LEN] = '\0';
    memcpy(parent_id, h + 36, SPAN_ID_LEN);
    parent_id[SPAN_ID_LEN] = '\0';
    return true;
}

void
trace_format(char *out, size_t n, const char *trace_id, const char *span_id)
{
    snprintf(out, n, "00-%s-%s-01", trace_id, span_id);
}

void
trace_new_id(char *out, size_t nbytes)
{
    /* The kernel's CSPRNG; all zero is invalid, and so near impossible. */
    if (ids_hex(out, nbytes) != 0 || !is_lower_hex(out, 2 * nbytes)) {
        static const char fallback[] = "0123456789abcdef0123456789abcdef";
        unsigned long long t = (unsigned long long)clock_mono_us();
        memcpy(out, fallback, 2 * nbytes);
        for (size_t i = 0; i < 2 * nbytes && t; i++, t >>= 4)
            out[i] = fallback[t & 15];
        out[2 * nbytes] = '\0';
    }
}

void
span_begin(
    struct span *s, const char *trace_id, const char *parent, const char *name)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    s->mono_us = clock_mono_us();
    s->dur_us = 0;
    s->code = 0;
    s->root = false;
    s->nattrs = 0;
    if (trace_id != NULL && strlen(trace_id) == TRACE_ID_LEN
        && is_lower_hex(trace_id, TRACE_ID_LEN))
        memcpy(s->trace_id, trace_id, TRACE_ID_LEN + 1);
    else
        trace_new_id(s->trace_id, TRACE_ID_LEN / 2);
    trace_new_id(s->span_id, SPAN_ID_LEN / 2);
    if (parent != NULL && strlen(parent) == SPAN_ID_LEN
        && is_lower_hex(parent, SPAN_ID_LEN))
        memcpy(s->parent_id, parent, SPAN_ID_LEN + 1);
    else
        s->parent_id[0] = '\0';
    snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
}

void
span_attr(struct span *s, const char *key, const char *val)
{
    if (s->nattrs >= SPAN_ATTRS || key == NULL)
        return;
    snprintf(s->keys[s->nattrs], SPAN_KEY, "%s", key);
    snprintf(s->vals[s->nattrs], SPAN_VAL, "%s", val ? val : "");
    s->nattrs++;
}

void
span_end(struct span *s, int code)
{
    s->dur_us = clock_mono_us() - s->mono_us;
    if (s->dur_us < 0)
        s->dur_us = 0;
    s->code = code;
}
