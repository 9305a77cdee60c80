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
#include <stdint.h>

#define ENCODER_DIM 384

struct encoder;

/*
 * Arithmetic of the dense layers (docs/encoder.md): float32, or int8 for
 * all four products of each layer (Q/K/V, attention output, FFN in and
 * out), or int8 for the FFN's two only, or bfloat16 for all four (AMX's
 * tile unit where the CPU has one). ENCODER_AUTO, the default, is a request
 * that a load resolves: bf16 where AMX-BF16 runs it, float32 elsewhere.
 */
enum encoder_precision {
    ENCODER_FLOAT32,
    ENCODER_INT8,
    ENCODER_INT8_FFN,
    ENCODER_BF16,
    ENCODER_AUTO,
};
#define ENCODER_PRECISIONS 5

/*
 * "float32", "int8", "int8-ffn", "bf16" or "auto" to *p; NULL or "" is
 * auto. Returns 0, or -EINVAL for anything else.
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
 * (unset: auto; a bad value: -EINVAL), which the tools thus accept like the
 * daemons.
 */
int encoder_load(struct encoder **ep, const char *dir);

/*
 * int8 smoothing (docs/encoder.md): per layer and dense product, the
 * largest |x| of each input channel seen by the float32 encoder over a
 * calibration set (tools/encoder-calibrate, `make encoder-calibration`),
 * kept in ENCODER_SMOOTH_FILE next to the model. An int8 or int8-ffn load
 * uses it when present (absent: int8 without smoothing, and a warning); a
 * file that is malformed or was made for another model file fails the load.
 * ENCODER_SMOOTH_FLOATS floats: layer 0's Q/K/V input (384), attention
 * output input (384), FFN input (384), FFN output input (1536), then layer
 * 1's ...
 */
#define ENCODER_SMOOTH_FILE "int8-smooth.bin"
#define ENCODER_SMOOTH_PRODUCTS 4
#define ENCODER_SMOOTH_FLOATS (6 * (3 * ENCODER_DIM + 1536))

/*
 * encoder_load_with, the smoothing statistics read from path instead:
 * NULL is dir/ENCODER_SMOOTH_FILE if it exists, "" none.
 */
int encoder_load_smooth(struct encoder **ep, const char *dir,
    enum encoder_precision p, const char *path);

/* Whether e's int8 products were smoothed. */
int encoder_is_smoothed(const struct encoder *e);

/*
 * Calibration: embed n texts like encoder_embed (e must be float32) and
 * raise amax (ENCODER_SMOOTH_FLOATS floats, zeroed by the caller before
 * the first call) to the largest |x| each dense product's input channel
 * sees. Returns 0, -EINVAL (not float32) or -ENOMEM.
 */
int encoder_calibrate(
    const struct encoder *e, const char *const *texts, size_t n, float *amax);

/*
 * Write the smoothing file: amax as encoder_calibrate left it, the
 * migration strength alpha (0..1), mask (bit i: smooth product i, in the
 * order above), ntexts calibration texts; the header names the size and
 * sha256 of dir/model.safetensors. Returns 0 or a negative errno.
 */
int encoder_smooth_write(const char *path, const char *dir, const float *amax,
    float alpha, unsigned mask, uint32_t ntexts);

/* The precision e was loaded in (never ENCODER_AUTO: what it resolved to). */
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
