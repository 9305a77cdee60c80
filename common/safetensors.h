/*
 * safetensors.h - read a .safetensors file: an 8-byte little-endian header
 * length, a JSON header naming each tensor's dtype, shape and byte range,
 * then the data. The file is mapped read-only; tensors point into it.
 */
#ifndef COMMON_SAFETENSORS_H
#define COMMON_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SAFETENSORS_MAX_DIMS 4

struct safetensors;

struct tensor {
    const float *data; /* F32 only */
    int ndims;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t count; /* elements */
};

/*
 * Map path and check its header (at most 16 MiB, file at most 4 GiB):
 * every tensor's dtype known, shape whole numbers, byte range inside the
 * file, aligned, and as long as dtype and shape say. Returns 0 with *sp
 * set, or a negative errno (-EINVAL for a malformed file).
 */
int safetensors_open(struct safetensors **sp, const char *path);

/* Unmap and free; NULL is a no-op. */
void safetensors_close(struct safetensors *s);

/*
 * Find F32 tensor `name`. Returns 0 with *t filled, -ENOENT when absent,
 * -EINVAL when it is not F32.
 */
int safetensors_get(
    const struct safetensors *s, const char *name, struct tensor *t);

/*
 * Give back the mapped pages read so far, after their tensors were copied
 * elsewhere: resident memory drops, and a tensor touched again is read
 * back from the file (its pointers stay valid).
 */
void safetensors_drop_pages(const struct safetensors *s);

#endif
