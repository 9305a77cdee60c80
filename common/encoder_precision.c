/*
 * encoder_precision.c - the names of the encoder's precisions, apart from
 * encoder.c so that configuration checks do not link the encoder (and
 * OpenBLAS, whose per-thread storage costs every thread of a process
 * ~64 KiB: 37 MB in a gateway with 576 HTTP threads).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "encoder.h"

static const char *const precision_names[] = {
    [ENCODER_FLOAT32] = "float32",
    [ENCODER_INT8] = "int8",
    [ENCODER_INT8_FFN] = "int8-ffn",
    [ENCODER_BF16] = "bf16",
    [ENCODER_AUTO] = "auto",
};

int
encoder_precision_parse(const char *s, enum encoder_precision *p)
{
    if (s == NULL || *s == '\0') {
        *p = ENCODER_AUTO;
        return 0;
    }
    for (size_t i = 0; i < ENCODER_PRECISIONS; i++)
        if (strcmp(s, precision_names[i]) == 0) {
            *p = (enum encoder_precision)i;
            return 0;
        }
    return -EINVAL;
}

const char *
encoder_precision_name(enum encoder_precision p)
{
    return (size_t)p < ENCODER_PRECISIONS ? precision_names[p] : "?";
}
