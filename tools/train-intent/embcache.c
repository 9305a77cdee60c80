#include "embcache.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 64
#define MAX_RECORDS 10000000u

static const char magic[8] = {'E', 'M', 'B', 'C', 'A', 'C', 'H', '1'};
static const char probe_text[]
    = "cache probe: my order never arrived and I want my money back";

struct cache {
    uint64_t *keys;
    float *vecs;
    size_t n, cap;
};

static uint64_t
text_key(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static int
cache_add(struct cache *c, uint64_t key, const float *v)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 4096;
        uint64_t *nk = realloc(c->keys, ncap * sizeof *nk);
        if (nk == NULL)
            return -ENOMEM;
        c->keys = nk;
        float *nv = realloc(c->vecs, ncap * ENCODER_DIM * sizeof *nv);
        if (nv == NULL)
            return -ENOMEM;
        c->vecs = nv;
        c->cap = ncap;
    }
    c->keys[c->n] = key;
    memcpy(c->vecs + c->n * ENCODER_DIM, v, ENCODER_DIM * sizeof *v);
    c->n++;
    return 0;
}

/* Index of key in c (linear probe over a sorted copy is overkill: the keys
   are looked up once each, so a hash table of positions is built). */
struct index {
    uint64_t *k;
    size_t *pos;
    size_t mask;
};

static int
index_build(struct index *ix, const struct cache *c)
{
    size_t sz = 1024;
    while (sz < 2 * c->n + 1)
        sz *= 2;
    ix->k = calloc(sz, sizeof *ix->k);
    ix->pos = calloc(sz, sizeof *ix->pos);
    ix->mask = sz - 1;
    if (ix->k == NULL || ix->pos == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        uint64_t key = c->keys[i] ? c->keys[i] : 1;
        size_t h = (size_t)(key * 0x9e3779b97f4a7c15ull) & ix->mask;
        while (ix->k[h] != 0 && ix->k[h] != key)
            h = (h + 1) & ix->mask;
        ix->k[h] = key;
        ix->pos[h] = i;
    }
    return 0;
}

static long
index_find(const struct index *ix, uint64_t key)
{
    key = key ? key : 1;
    size_t h = (size_t)(key * 0x9e3779b97f4a7c15ull) & ix->mask;
    while (ix->k[h] != 0) {
        if (ix->k[h] == key)
            return (long)ix->pos[h];
        h = (h + 1) & ix->mask;
    }
    return -1;
}

static int
cache_load(struct cache *c, const char *path, const float *probe)
{
    FILE *f = fopen(path, "rb");
    char m[8];
    uint32_t dim;
    uint64_t count;
    float p[ENCODER_DIM], v[ENCODER_DIM];
    int rc = 0;

    if (f == NULL)
        return 0;
    if (fread(m, 1, 8, f) != 8 || memcmp(m, magic, 8) != 0
        || fread(&dim, sizeof dim, 1, f) != 1 || dim != ENCODER_DIM
        || fread(p, sizeof p, 1, f) != 1
        || fread(&count, sizeof count, 1, f) != 1 || count > MAX_RECORDS) {
        fprintf(stderr, "embcache: %s unusable, recomputing\n", path);
        fclose(f);
        return 0;
    }
    for (int d = 0; d < ENCODER_DIM; d++) {
        if (!(fabsf(p[d] - probe[d]) < 1e-4f)) {
            fprintf(stderr, "embcache: encoder changed, recomputing\n");
            fclose(f);
            return 0;
        }
    }
    for (uint64_t i = 0; i < count && rc == 0; i++) {
        uint64_t key;
        if (fread(&key, sizeof key, 1, f) != 1 || fread(v, sizeof v, 1, f) != 1)
            break;
        rc = cache_add(c, key, v);
    }
    fclose(f);
    return rc;
}

static int
cache_save(const struct cache *c, const char *path, const float *probe)
{
    char tmp[4096];
    uint32_t dim = ENCODER_DIM;
    uint64_t count = c->n;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f;
    int ok;

    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    f = fopen(tmp, "wb");
    if (f == NULL)
        return -errno;
    ok = fwrite(magic, 1, 8, f) == 8 && fwrite(&dim, sizeof dim, 1, f) == 1
        && fwrite(probe, sizeof(float), ENCODER_DIM, f) == ENCODER_DIM
        && fwrite(&count, sizeof count, 1, f) == 1;
    for (size_t i = 0; ok && i < c->n; i++)
        ok = fwrite(&c->keys[i], sizeof c->keys[i], 1, f) == 1
            && fwrite(c->vecs + i * ENCODER_DIM, sizeof(float), ENCODER_DIM, f)
                == ENCODER_DIM;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return -EIO;
    }
    return 0;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
embcache_embed(const struct encoder *enc, const char *cache_path,
    const char *const *texts, size_t n, float *out)
{
    struct cache c = {0};
    struct index ix = {0};
    float probe[ENCODER_DIM];
    const char *pt = probe_text;
    size_t *miss = NULL, nmiss = 0;
    int rc;

    rc = encoder_embed(enc, &pt, 1, probe);
    if (rc < 0)
        return rc;
    if (cache_path != NULL && (rc = cache_load(&c, cache_path, probe)) < 0)
        goto out;
    if ((rc = index_build(&ix, &c)) < 0)
        goto out;
    miss = malloc((n ? n : 1) * sizeof *miss);
    if (miss == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        long p = index_find(&ix, text_key(texts[i]));
        if (p >= 0)
            memcpy(out + i * ENCODER_DIM, c.vecs + (size_t)p * ENCODER_DIM,
                ENCODER_DIM * sizeof *out);
        else
            miss[nmiss++] = i;
    }
    fprintf(stderr, "embcache: %zu cached, %zu to embed\n", n - nmiss, nmiss);
    double t0 = now();
    for (size_t b = 0; b < nmiss; b += BATCH) {
        const char *bt[BATCH];
        float be[BATCH * ENCODER_DIM];
        size_t m = nmiss - b < BATCH ? nmiss - b : BATCH;
        for (size_t k = 0; k < m; k++)
            bt[k] = texts[miss[b + k]];
        rc = encoder_embed(enc, bt, m, be);
        if (rc < 0)
            goto out;
        for (size_t k = 0; k < m; k++) {
            memcpy(out + miss[b + k] * ENCODER_DIM, be + k * ENCODER_DIM,
                ENCODER_DIM * sizeof *out);
            if ((rc = cache_add(&c, text_key(bt[k]), be + k * ENCODER_DIM)) < 0)
                goto out;
        }
        if ((b / BATCH) % 50 == 49 || b + m == nmiss) {
            double dt = now() - t0;
            fprintf(stderr, "embcache: %zu/%zu (%.0f texts/s)\n", b + m, nmiss,
                (double)(b + m) / (dt > 0 ? dt : 1e-9));
        }
        /* save now and then so an interrupted run keeps its work */
        if (cache_path != NULL && (b / BATCH) % 200 == 199)
            cache_save(&c, cache_path, probe);
    }
    if (nmiss > 0 && cache_path != NULL)
        rc = cache_save(&c, cache_path, probe);
out:
    free(miss);
    free(ix.k);
    free(ix.pos);
    free(c.keys);
    free(c.vecs);
    return rc;
}
