#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/* A header or file larger than this is not a model we ship. */
#define HEADER_MAX (16u << 20)
#define FILE_MAX ((off_t)4 << 30)

struct safetensors {
    const uint8_t *map;
    size_t size;
    const uint8_t *data; /* after the header */
    size_t data_size;
    cJSON *header;
};

/* A non-negative integer JSON number no larger than max. */
static int
get_size(const cJSON *n, double max, size_t *out)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > max
        || n->valuedouble != (double)(size_t)n->valuedouble)
        return -EINVAL;
    *out = (size_t)n->valuedouble;
    return 0;
}

static int
check_entry(const struct safetensors *s, const cJSON *e)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const cJSON *d;
    size_t count = 1, esize, dim, lo, hi;

    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs)
        || cJSON_GetArraySize(offs) != 2
        || cJSON_GetArraySize(shape) > SAFETENSORS_MAX_DIMS)
        return -EINVAL;
    if (strcmp(dtype->valuestring, "F32") == 0
        || strcmp(dtype->valuestring, "I32") == 0)
        esize = 4;
    else if (strcmp(dtype->valuestring, "I64") == 0
        || strcmp(dtype->valuestring, "F64") == 0)
        esize = 8;
    else if (strcmp(dtype->valuestring, "F16") == 0
        || strcmp(dtype->valuestring, "BF16") == 0)
        esize = 2;
    else if (strcmp(dtype->valuestring, "I8") == 0
        || strcmp(dtype->valuestring, "U8") == 0
        || strcmp(dtype->valuestring, "BOOL") == 0)
        esize = 1;
    else
        return -EINVAL;
    /* Every dimension and the product within the file: no overflow. */
    cJSON_ArrayForEach(d, shape)
    {
        if (get_size(d, (double)s->data_size, &dim) != 0)
            return -EINVAL;
        if (dim != 0 && count > s->data_size / dim)
            return -EINVAL;
        count *= dim;
    }
    if (get_size(cJSON_GetArrayItem(offs, 0), (double)s->data_size, &lo) != 0
        || get_size(cJSON_GetArrayItem(offs, 1), (double)s->data_size, &hi) != 0
        || hi < lo || count > s->data_size / esize || hi - lo != count * esize
        || lo % esize != 0)
        return -EINVAL;
    return 0;
}

int
safetensors_open(struct safetensors **sp, const char *path)
{
    struct safetensors *s;
    struct stat st;
    uint64_t hlen = 0;
    int fd, rv = -EINVAL;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 8
        || st.st_size > FILE_MAX) {
        close(fd);
        return -EINVAL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    s->size = (size_t)st.st_size;
    s->map = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (s->map == MAP_FAILED) {
        free(s);
        return -ENOMEM;
    }
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | s->map[i];
    /* The format pads the header so tensors are aligned; insist on it. */
    if (hlen == 0 || hlen > HEADER_MAX || hlen > s->size - 8 || hlen % 4)
        goto fail;
    s->header = cJSON_ParseWithLength((const char *)s->map + 8, (size_t)hlen);
    if (s->header == NULL || !cJSON_IsObject(s->header))
        goto fail;
    s->data = s->map + 8 + hlen;
    s->data_size = s->size - 8 - (size_t)hlen;
    const cJSON *e;
    cJSON_ArrayForEach(e, s->header)
    {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e))
                goto fail;
            continue;
        }
        if (!cJSON_IsObject(e) || check_entry(s, e) != 0)
            goto fail;
    }
    *sp = s;
    return 0;
fail:
    safetensors_close(s);
    return rv;
}

void
safetensors_close(struct safetensors *s)
{
    if (s == NULL)
        return;
    cJSON_Delete(s->header);
    if (s->map != NULL && s->map != MAP_FAILED)
        munmap((void *)s->map, s->size);
    free(s);
}

int
safetensors_get(const struct safetensors *s, const char *name, struct tensor *t)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(s->header, name);
    const cJSON *d;

    /* Entries were checked at open: dtype, shape and offsets are sound. */
    if (e == NULL || strcmp(name, "__metadata__") == 0)
        return -ENOENT;
    if (strcmp(cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring, "F32")
        != 0)
        return -EINVAL;
    memset(t, 0, sizeof(*t));
    t->count = 1;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(e, "shape"))
    {
        t->shape[t->ndims++] = (int64_t)d->valuedouble;
        t->count *= (size_t)d->valuedouble;
    }
    size_t lo = (size_t)cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(e, "data_offsets"), 0)
                    ->valuedouble;
    t->data = (const float *)(const void *)(s->data + lo);
    return 0;
}

void
safetensors_drop_pages(const struct safetensors *s)
{
    /* A private read-only file mapping: dropped pages refault from disk. */
    (void)madvise((void *)s->map, s->size, MADV_DONTNEED);
}
