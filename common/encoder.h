/*
 * encoder.h - all-MiniLM-L6-v2 sentence encoder computed in C.
 *
 * Loads model.safetensors and vocab.txt from a folder (the build puts them
 * in build/model/minilm), tokenizes with WordPiece (lower-case, accents
 * stripped), runs the 6-layer BERT forward pass, mean-pools over the tokens
 * and L2-normalises. The loaded encoder is read-only: any number of threads
 * may call encoder_embed() on it at once. Loading sets OpenBLAS to one
 * thread per caller: parallelism comes from running callers side by side.
 */
#ifndef COMMON_ENCODER_H
#define COMMON_ENCODER_H

#include <stddef.h>

#define ENCODER_DIM 384

struct encoder;

/*
 * Arithmetic of the dense layers (docs/encoder.md): float32, or int8 for
 * all four products of each layer (Q/K/V, attention output, FFN in and
 * out), or int8 for the FFN's two only.
 */
enum encoder_precision {
    ENCODER_FLOAT32,
    ENCODER_INT8,
    ENCODER_INT8_FFN,
};
#define ENCODER_PRECISIONS 3

/*
 * "float32", "int8" or "int8-ffn" to *p; NULL or "" is float32. Returns 0,
 * or -EINVAL for anything else.
 */
int encoder_precision_parse(const char *s, enum encoder_precision *p);

/* The name encoder_precision_parse() reads for p. */
const char *encoder_precision_name(enum encoder_precision p);

/*
 * Load the model in dir, its dense layers in precision p. On success *ep
 * owns a new encoder (free it with encoder_free) and 0 is returned; on
 * failure a negative errno-style code and *ep is untouched.
 */
int encoder_load_with(
    struct encoder **ep, const char *dir, enum encoder_precision p);

/*
 * The same in the precision the environment's ENCODER_PRECISION names
 * (unset: float32; a bad value: -EINVAL), which the tools thus accept
 * like the daemons.
 */
int encoder_load(struct encoder **ep, const char *dir);

/* The precision e was loaded in. */
enum encoder_precision encoder_get_precision(const struct encoder *e);

/* Free an encoder; NULL is a no-op. */
void encoder_free(struct encoder *e);

/*
 * Embed n texts (UTF-8, NUL-terminated) into out, n * ENCODER_DIM floats,
 * each row unit length. Texts longer than the model's window are cut.
 * Returns 0, or a negative code (out of memory).
 */
int encoder_embed(
    const struct encoder *e, const char *const *texts, size_t n, float *out);

#endif
