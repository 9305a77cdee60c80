#include "intent_model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "encoder.h"

static const char magic[8] = {'I', 'N', 'T', 'H', 'E', 'A', 'D', '1'};

size_t
intent_model_buckets(const struct intent_model *m)
{
    return (size_t)1 << m->fp.hash_bits;
}

int
intent_model_alloc_head(struct intent_model *m, int kind)
{
    struct head *h;

    if (kind < 0 || kind >= HEAD_KINDS || features_check_params(&m->fp) < 0)
        return -EINVAL;
    if (kind == HEAD_HYBRID && m->emb_dim != ENCODER_DIM)
        return -EINVAL;
    h = &m->heads[kind];
    free(h->w);
    free(h->we);
    memset(h, 0, sizeof *h);
    h->w = calloc(intent_model_buckets(m) * INTENT_COUNT, sizeof *h->w);
    if (h->w == NULL)
        return -ENOMEM;
    if (kind == HEAD_HYBRID) {
        h->we = calloc((size_t)m->emb_dim * INTENT_COUNT, sizeof *h->we);
        if (h->we == NULL) {
            free(h->w);
            h->w = NULL;
            return -ENOMEM;
        }
    }
    h->present = 1;
    h->temperature = 1.0f;
    h->emb_scale = 1.0f;
    return 0;
}

void
intent_model_free(struct intent_model *m)
{
    if (m == NULL)
        return;
    for (int k = 0; k < HEAD_KINDS; k++) {
        free(m->heads[k].w);
        free(m->heads[k].we);
    }
    memset(m, 0, sizeof *m);
}

/* ---- reading --------------------------------------------------------------
 */

struct rd {
    const unsigned char *p;
    size_t len, off;
    int err;
};

static uint32_t
rd_u32(struct rd *r)
{
    if (r->err || r->len - r->off < 4) {
        r->err = 1;
        return 0;
    }
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
    if (!isfinite(f))
        r->err = 1;
    return f;
}

static void
rd_head(struct rd *r, const struct intent_model *m, struct head *h, int kind)
{
    size_t nw = intent_model_buckets(m) * INTENT_COUNT;
    float qscale[INTENT_COUNT];
    uint32_t k = rd_u32(r), quant = rd_u32(r);

    if (k != (uint32_t)kind || (quant != QUANT_F32 && quant != QUANT_I8)) {
        r->err = 1;
        return;
    }
    h->emb_scale = rd_f32(r);
    h->temperature = rd_f32(r);
    if (!(h->temperature > 1e-3f && h->temperature < 1e3f)
        || !(fabsf(h->emb_scale) < 1e6f))
        r->err = 1;
    for (int c = 0; c < INTENT_COUNT; c++)
        h->bias[c] = rd_f32(r);
    for (int c = 0; c < INTENT_COUNT; c++) {
        qscale[c] = rd_f32(r);
        if (!(qscale[c] >= 0))
            r->err = 1;
    }
    if (r->err)
        return;
    if (quant == QUANT_F32) {
        if ((r->len - r->off) / 4 < nw) {
            r->err = 1;
            return;
        }
        for (size_t i = 0; i < nw && !r->err; i++)
            h->w[i] = rd_f32(r);
    } else {
        if (r->len - r->off < nw) {
            r->err = 1;
            return;
        }
        const signed char *q = (const signed char *)(r->p + r->off);
        for (size_t i = 0; i < nw; i++)
            h->w[i] = (float)q[i] * qscale[i % INTENT_COUNT];
        r->off += nw;
    }
    if (kind == HEAD_HYBRID) {
        size_t ne = (size_t)m->emb_dim * INTENT_COUNT;
        if ((r->len - r->off) / 4 < ne) {
            r->err = 1;
            return;
        }
        for (size_t i = 0; i < ne && !r->err; i++)
            h->we[i] = rd_f32(r);
    }
}

int
intent_model_parse(struct intent_model *out, const void *buf, size_t len)
{
    struct intent_model m;
    struct rd r = {buf, len, 0, 0};
    uint32_t mask;
    int rc;

    memset(&m, 0, sizeof m);
    if (buf == NULL || len < sizeof magic + 4 || len > INTENT_MODEL_MAX_BYTES)
        return -EINVAL;
    if (memcmp(buf, magic, sizeof magic) != 0)
        return -EINVAL;
    {
        const unsigned char *t = r.p + len - 4;
        uint32_t crc = (uint32_t)t[0] | (uint32_t)t[1] << 8
            | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
        if (crc != crc32_ieee(r.p, len - 4))
            return -EINVAL;
        r.len = len - 4;
    }
    r.off = sizeof magic;
    if (rd_u32(&r) != INTENT_MODEL_VERSION)
        return -EINVAL;
    if (rd_u32(&r) != FEATURES_VERSION)
        return -EINVAL;
    if (rd_u32(&r) != INTENT_COUNT)
        return -EINVAL;
    m.fp.hash_bits = rd_u32(&r);
    m.fp.hash_seed = rd_u32(&r);
    m.fp.word_max = rd_u32(&r);
    m.fp.char_min = rd_u32(&r);
    m.fp.char_max = rd_u32(&r);
    m.fp.word_weight = rd_f32(&r);
    m.fp.char_weight = rd_f32(&r);
    m.emb_dim = rd_u32(&r);
    m.skip_threshold = rd_f32(&r);
    mask = rd_u32(&r);
    if (r.err || features_check_params(&m.fp) < 0)
        return -EINVAL;
    if (m.emb_dim != 0 && m.emb_dim != ENCODER_DIM)
        return -EINVAL;
    if (mask == 0 || mask > 3 || ((mask & 2) && m.emb_dim == 0))
        return -EINVAL;
    if (!(m.skip_threshold >= 0))
        return -EINVAL;
    for (int k = 0; k < HEAD_KINDS; k++) {
        if (!(mask & (1u << k)))
            continue;
        rc = intent_model_alloc_head(&m, k);
        if (rc < 0) {
            intent_model_free(&m);
            return rc;
        }
        rd_head(&r, &m, &m.heads[k], k);
        if (r.err)
            break;
    }
    if (r.err || r.off != r.len) {
        intent_model_free(&m);
        return -EINVAL;
    }
    *out = m;
    return 0;
}

int
intent_model_read(struct intent_model *m, const char *path)
{
    struct stat st;
    unsigned char *buf;
    size_t got = 0;
    int fd, rc;

    if (m == NULL || path == NULL)
        return -EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0
        || (uint64_t)st.st_size > INTENT_MODEL_MAX_BYTES) {
        close(fd);
        return -EINVAL;
    }
    buf = malloc((size_t)st.st_size);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    rc = got == (size_t)st.st_size ? intent_model_parse(m, buf, got) : -EIO;
    free(buf);
    return rc;
}

/* ---- writing --------------------------------------------------------------
 */

struct wr {
    unsigned char *p;
    size_t off;
};

static void
wr_u32(struct wr *w, uint32_t v)
{
    unsigned char *b = w->p + w->off;
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
    w->off += 4;
}

static void
wr_f32(struct wr *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    wr_u32(w, u);
}

static void
wr_head(struct wr *w, const struct intent_model *m, const struct head *h,
    int kind, int quant)
{
    size_t nw = intent_model_buckets(m) * INTENT_COUNT;
    float qscale[INTENT_COUNT] = {0};

    if (quant == QUANT_I8) {
        for (size_t i = 0; i < nw; i++) {
            float a = fabsf(h->w[i]);
            if (a > qscale[i % INTENT_COUNT])
                qscale[i % INTENT_COUNT] = a;
        }
        for (int c = 0; c < INTENT_COUNT; c++)
            qscale[c] /= 127.0f;
    }
    wr_u32(w, (uint32_t)kind);
    wr_u32(w, (uint32_t)quant);
    wr_f32(w, h->emb_scale);
    wr_f32(w, h->temperature);
    for (int c = 0; c < INTENT_COUNT; c++)
        wr_f32(w, h->bias[c]);
    for (int c = 0; c < INTENT_COUNT; c++)
        wr_f32(w, qscale[c]);
    if (quant == QUANT_F32) {
        for (size_t i = 0; i < nw; i++)
            wr_f32(w, h->w[i]);
    } else {
        for (size_t i = 0; i < nw; i++) {
            float s = qscale[i % INTENT_COUNT];
            long q = s > 0 ? lroundf(h->w[i] / s) : 0;
            if (q > 127)
                q = 127;
            if (q < -127)
                q = -127;
            w->p[w->off++] = (unsigned char)(signed char)q;
        }
    }
    if (kind == HEAD_HYBRID)
        for (size_t i = 0; i < (size_t)m->emb_dim * INTENT_COUNT; i++)
            wr_f32(w, h->we[i]);
}

static int
finite_head(const struct intent_model *m, const struct head *h, int kind)
{
    size_t nw = intent_model_buckets(m) * INTENT_COUNT;
    if (!isfinite(h->emb_scale) || !(h->temperature > 1e-3f)
        || !(h->temperature < 1e3f))
        return 0;
    for (int c = 0; c < INTENT_COUNT; c++)
        if (!isfinite(h->bias[c]))
            return 0;
    for (size_t i = 0; i < nw; i++)
        if (!isfinite(h->w[i]))
            return 0;
    if (kind == HEAD_HYBRID)
        for (size_t i = 0; i < (size_t)m->emb_dim * INTENT_COUNT; i++)
            if (!isfinite(h->we[i]))
                return 0;
    return 1;
}

int
intent_model_serialise(
    const struct intent_model *m, int quant, void **bufp, size_t *lenp)
{
    size_t nw, len;
    uint32_t mask = 0;
    struct wr w;

    if (m == NULL || bufp == NULL || lenp == NULL
        || (quant != QUANT_F32 && quant != QUANT_I8)
        || features_check_params(&m->fp) < 0
        || (m->emb_dim != 0 && m->emb_dim != ENCODER_DIM)
        || !(m->skip_threshold >= 0))
        return -EINVAL;
    nw = intent_model_buckets(m) * INTENT_COUNT;
    len = sizeof magic + 13 * 4;
    for (int k = 0; k < HEAD_KINDS; k++) {
        const struct head *h = &m->heads[k];
        if (!h->present)
            continue;
        if (h->w == NULL || (k == HEAD_HYBRID && h->we == NULL)
            || (k == HEAD_HYBRID && m->emb_dim == 0) || !finite_head(m, h, k))
            return -EINVAL;
        mask |= 1u << k;
        len += 4 * (4 + 2 * INTENT_COUNT);
        len += quant == QUANT_F32 ? 4 * nw : nw;
        if (k == HEAD_HYBRID)
            len += 4 * (size_t)m->emb_dim * INTENT_COUNT;
    }
    len += 4;
    if (mask == 0 || len > INTENT_MODEL_MAX_BYTES)
        return -EINVAL;
    w.p = malloc(len);
    if (w.p == NULL)
        return -ENOMEM;
    w.off = 0;
    memcpy(w.p, magic, sizeof magic);
    w.off = sizeof magic;
    wr_u32(&w, INTENT_MODEL_VERSION);
    wr_u32(&w, FEATURES_VERSION);
    wr_u32(&w, INTENT_COUNT);
    wr_u32(&w, m->fp.hash_bits);
    wr_u32(&w, m->fp.hash_seed);
    wr_u32(&w, m->fp.word_max);
    wr_u32(&w, m->fp.char_min);
    wr_u32(&w, m->fp.char_max);
    wr_f32(&w, m->fp.word_weight);
    wr_f32(&w, m->fp.char_weight);
    wr_u32(&w, m->emb_dim);
    wr_f32(&w, m->skip_threshold);
    wr_u32(&w, mask);
    for (int k = 0; k < HEAD_KINDS; k++)
        if (m->heads[k].present)
            wr_head(&w, m, &m->heads[k], k, quant);
    wr_u32(&w, crc32_ieee(w.p, w.off));
    if (w.off != len) {
        free(w.p);
        return -EINVAL;
    }
    *bufp = w.p;
    *lenp = len;
    return 0;
}

int
intent_model_write(const struct intent_model *m, int quant, const char *path)
{
    void *buf;
    size_t len;
    char tmp[4096];
    FILE *f;
    int rc, n;

    if (path == NULL)
        return -EINVAL;
    n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    rc = intent_model_serialise(m, quant, &buf, &len);
    if (rc < 0)
        return rc;
    f = fopen(tmp, "wb");
    if (f == NULL) {
        rc = -errno;
        free(buf);
        return rc;
    }
    rc = fwrite(buf, 1, len, f) == len ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -EIO;
    free(buf);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}
