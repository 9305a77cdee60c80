/*
 * libFuzzer harness: PII detection and redaction (pii.c) and the
 * guardrails' text cleaning (guard.c) over arbitrary bytes. Spans must be
 * sorted, disjoint and inside the text; the redaction must be a string no
 * longer than the text plus its placeholders.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "pii.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *t = malloc(size + 1);
    memcpy(t, data, size);
    t[size] = '\0';
    struct pii_span *sp = malloc((size + 1) * sizeof *sp);
    size_t n = pii_find(t, size, sp, size + 1);
    for (size_t i = 0; i < n; i++) {
        if (sp[i].start >= sp[i].end || sp[i].end > size
            || (i > 0 && sp[i].start < sp[i - 1].end)
            || sp[i].kind >= PII_KINDS)
            abort();
    }
    unsigned kinds;
    int count;
    char *r = pii_redact(t, size, &kinds, &count);
    if (r == NULL || (size_t)count != n || strlen(r) > size + 12 * n)
        abort();
    free(r);
    struct guard_text g;
    if (guard_clean(t, size, &g) != 0 || g.len > size)
        abort();
    guard_text_release(&g);
    free(sp);
    free(t);
    return 0;
}
