#include "injection.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"

static const char magic[8] = {'G', 'U', 'A', 'R', 'D', 'I', 'N', '1'};

/* Fixed fields after the magic: 7 u32, 4 f32. */
#define HEADER_BYTES (8 + 11 * 4)

size_t
injection_model_buckets(const struct injection_model *m)
{
    return (size_t)1 << m->fp.hash_bits;
}

int
injection_model_alloc(struct injection_model *m)
{
    if (features_check_params(&m->fp) != 0)
        return -EINVAL;
    free(m->w);
    m->w = calloc(injection_model_buckets(m), sizeof *m->w);
    return m->w ? 0 : -ENOMEM;
}

void
injection_model_free(struct injection_model *m)
{
    if (m == NULL)
        return;
    free(m->w);
    memset(m, 0, sizeof *m);
}

/* ---- reading -------------------------------------------------------------
 */

struct rd {
    const unsigned char *p;
    size_t len, off;
};

static uint32_t
rd_u32(struct rd *r)
{
    const unsigned char *b = r->p + r->off;
    r->off += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16
        | (uint32_t)b[3] << 24;
}

static float
rd_f32(struct rd *r)
{
    uint32_t u = rd_u32(r);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int
injection_model_parse(struct injection_model *m, const void *buf, size_t len)
{
    struct rd r = {buf, len, 8};
    struct injection_model t;

    memset(m, 0, sizeof *m);
    memset(&t, 0, sizeof t);
    if (buf == NULL || len < HEADER_BYTES + 4 || len > INJECTION_MODEL_MAX_BYTES
        || memcmp(buf, magic, 8) != 0)
        return -EINVAL;
    if (rd_u32(&r) != INJECTION_MODEL_VERSION || rd_u32(&r) != FEATURES_VERSION)
        return -EINVAL;
    t.fp.hash_bits = rd_u32(&r);
    t.fp.hash_seed = rd_u32(&r);
    t.fp.word_max = rd_u32(&r);
    t.fp.char_min = rd_u32(&r);
    t.fp.char_max = rd_u32(&r);
    t.fp.word_weight = rd_f32(&r);
    t.fp.char_weight = rd_f32(&r);
    t.bias = rd_f32(&r);
    t.threshold = rd_f32(&r);
    if (features_check_params(&t.fp) != 0 || !isfinite(t.bias)
        || !(t.threshold > 0.0f && t.threshold <= 1.0f))
        return -EINVAL;
    size_t nb = injection_model_buckets(&t);
    if (len != HEADER_BYTES + nb * 4 + 4)
        return -EINVAL;
    uint32_t crc = (uint32_t)((const unsigned char *)buf)[len - 4]
        | (uint32_t)((const unsigned char *)buf)[len - 3] << 8
        | (uint32_t)((const unsigned char *)buf)[len - 2] << 16
        | (uint32_t)((const unsigned char *)buf)[len - 1] << 24;
    if (crc != crc32_ieee(buf, len - 4))
        return -EINVAL;
    if ((t.w = malloc(nb * sizeof *t.w)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < nb; i++) {
        t.w[i] = rd_f32(&r);
        if (!isfinite(t.w[i])) {
            free(t.w);
            return -EINVAL;
        }
    }
    *m = t;
    return 0;
}

int
injection_model_load(struct injection_model *m, const char *path)
{
    struct stat st;
    unsigned char *buf;
    int fd, rc;

    memset(m, 0, sizeof *m);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0
        || (uint64_t)st.st_size > INJECTION_MODEL_MAX_BYTES) {
        close(fd);
        return -EINVAL;
    }
    if ((buf = malloc((size_t)st.st_size)) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    rc = got == (size_t)st.st_size ? injection_model_parse(m, buf, got) : -EIO;
    free(buf);
    return rc;
}

/* ---- writing -------------------------------------------------------------
 */

static void
wr_u32(unsigned char *b, size_t *off, uint32_t v)
{
    b[(*off)++] = (unsigned char)(v & 0xff);
    b[(*off)++] = (unsigned char)(v >> 8 & 0xff);
    b[(*off)++] = (unsigned char)(v >> 16 & 0xff);
    b[(*off)++] = (unsigned char)(v >> 24 & 0xff);
}

static void
wr_f32(unsigned char *b, size_t *off, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    wr_u32(b, off, u);
}

int
injection_model_save(const struct injection_model *m, const char *path)
{
    size_t nb = injection_model_buckets(m), off = 0;
    size_t len = HEADER_BYTES + nb * 4 + 4;
    unsigned char *b = malloc(len);
    char tmp[4096];
    int rc = 0;

    if (b == NULL)
        return -ENOMEM;
    memcpy(b, magic, 8);
    off = 8;
    wr_u32(b, &off, INJECTION_MODEL_VERSION);
    wr_u32(b, &off, FEATURES_VERSION);
    wr_u32(b, &off, m->fp.hash_bits);
    wr_u32(b, &off, m->fp.hash_seed);
    wr_u32(b, &off, m->fp.word_max);
    wr_u32(b, &off, m->fp.char_min);
    wr_u32(b, &off, m->fp.char_max);
    wr_f32(b, &off, m->fp.word_weight);
    wr_f32(b, &off, m->fp.char_weight);
    wr_f32(b, &off, m->bias);
    wr_f32(b, &off, m->threshold);
    for (size_t i = 0; i < nb; i++)
        wr_f32(b, &off, m->w[i]);
    wr_u32(b, &off, crc32_ieee(b, off));
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        free(b);
        return -ENAMETOOLONG;
    }
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        rc = -errno;
    } else {
        if (fwrite(b, 1, len, f) != len)
            rc = -EIO;
        if (fclose(f) != 0 && rc == 0)
            rc = -EIO;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = -errno;
        if (rc != 0)
            unlink(tmp);
    }
    free(b);
    return rc;
}

/* ---- scoring -------------------------------------------------------------
 */

double
injection_score(const struct injection_model *m, const char *text)
{
    struct feature_vec v = {0};
    double z = m->bias;

    if (features_extract(&m->fp, text, &v) != 0) {
        feature_vec_free(&v);
        return -1;
    }
    for (size_t i = 0; i < v.n; i++)
        z += (double)v.val[i] * m->w[v.idx[i]];
    feature_vec_free(&v);
    return 1.0 / (1.0 + exp(-z));
}
