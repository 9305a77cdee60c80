#include "tracebuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "store.h"

#define NBUCKETS 4096
#define ROOT_GRACE_MS 1000
#define ORPHAN_MS 10000

struct pending {
    char trace_id[TRACE_ID_LEN + 1];
    int64_t first_ms, root_ms;
    bool rooted;
    int n, cap;
    struct tspan *spans;
    struct pending *next;
};

/* A token bucket: up to rate a second, bursts of rate. */
struct bucket {
    double tokens;
    int64_t ms;
    int rate;
};

static bool
bucket_take(struct bucket *b, int64_t now_ms)
{
    if (now_ms > b->ms) {
        b->tokens += b->rate * (double)(now_ms - b->ms) / 1000.0;
        b->ms = now_ms;
    }
    if (b->tokens > b->rate)
        b->tokens = b->rate;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return true;
    }
    return false;
}

struct tracebuf {
    struct tracebuf_opts o;
    struct pending *buckets[NBUCKETS];
    int npending;
    struct trace ring[TRACE_RING];
    int ring_head, ring_len; /* head: the next slot to write */
    struct bucket notable, others;
    uint64_t kept, sampled_out, dropped;
};

struct tracebuf *
tracebuf_new(const struct tracebuf_opts *o)
{
    struct tracebuf *tb = calloc(1, sizeof(*tb));
    if (tb != NULL) {
        tb->o = *o;
        tb->notable.rate = o->notable_per_s;
        tb->notable.tokens = o->notable_per_s;
        tb->others.rate = o->sample_per_s;
        tb->others.tokens = o->sample_per_s;
    }
    return tb;
}

void
trace_release(struct trace *t)
{
    free(t->spans);
    memset(t, 0, sizeof(*t));
}

void
tracebuf_free(struct tracebuf *tb)
{
    if (tb == NULL)
        return;
    for (int b = 0; b < NBUCKETS; b++) {
        struct pending *p = tb->buckets[b], *next;
        for (; p != NULL; p = next) {
            next = p->next;
            free(p->spans);
            free(p);
        }
    }
    for (int i = 0; i < TRACE_RING; i++)
        trace_release(&tb->ring[i]);
    free(tb);
}

static bool
valid_hex(const char *s, size_t n)
{
    if (s == NULL || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static unsigned
bucket_of(const char *id)
{
    return (unsigned)(hash_fnv32(id, TRACE_ID_LEN) % NBUCKETS);
}

static void
span_from_pb(struct tspan *t, const Metrics__Span *sp)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->s.trace_id, sp->trace_id, TRACE_ID_LEN + 1);
    memcpy(t->s.span_id, sp->span_id, SPAN_ID_LEN + 1);
    if (valid_hex(sp->parent_span_id, SPAN_ID_LEN))
        memcpy(t->s.parent_id, sp->parent_span_id, SPAN_ID_LEN + 1);
    snprintf(t->s.name, sizeof(t->s.name), "%s", sp->name ? sp->name : "");
    snprintf(
        t->service, sizeof(t->service), "%s", sp->service ? sp->service : "");
    snprintf(t->instance, sizeof(t->instance), "%s",
        sp->instance ? sp->instance : "");
    t->s.start_us = sp->start_us;
    t->s.dur_us = sp->duration_us > 0 ? sp->duration_us : 0;
    t->s.code = sp->code;
    t->s.root = sp->root;
    for (size_t i = 0; i < sp->n_attributes && t->s.nattrs < SPAN_ATTRS; i++)
        if (sp->attributes[i]->key != NULL)
            span_attr(&t->s, sp->attributes[i]->key, sp->attributes[i]->value);
}

bool
tracebuf_add(struct tracebuf *tb, const Metrics__Span *sp, int64_t now_ms)
{
    if (!valid_hex(sp->trace_id, TRACE_ID_LEN)
        || !valid_hex(sp->span_id, SPAN_ID_LEN)) {
        tb->dropped++;
        return false;
    }
    unsigned b = bucket_of(sp->trace_id);
    struct pending *p = tb->buckets[b];
    while (p != NULL && strcmp(p->trace_id, sp->trace_id) != 0)
        p = p->next;
    if (p == NULL) {
        if (tb->npending >= TRACE_MAX_PENDING
            || (p = calloc(1, sizeof(*p))) == NULL) {
            tb->dropped++;
            return false;
        }
        memcpy(p->trace_id, sp->trace_id, TRACE_ID_LEN + 1);
        p->first_ms = now_ms;
        p->next = tb->buckets[b];
        tb->buckets[b] = p;
        tb->npending++;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 8;
        struct tspan *ns;
        if (cap > TRACE_MAX_SPANS
            || (ns = realloc(p->spans, (size_t)cap * sizeof(*ns))) == NULL) {
            tb->dropped++;
            return false;
        }
        p->spans = ns;
        p->cap = cap;
    }
    span_from_pb(&p->spans[p->n++], sp);
    if (sp->root) {
        p->rooted = true;
        p->root_ms = now_ms;
    }
    return true;
}

static int
by_start(const void *a, const void *b)
{
    const struct tspan *x = a, *y = b;
    return (x->s.start_us > y->s.start_us) - (x->s.start_us < y->s.start_us);
}

static void
add_service(struct trace *t, const char *svc)
{
    for (int i = 0; i < t->nservices; i++)
        if (strcmp(t->services[i], svc) == 0)
            return;
    if (t->nservices < TRACE_SERVICES)
        snprintf(
            t->services[t->nservices++], sizeof(t->services[0]), "%s", svc);
}

/* Summarise spans (sorted here) into t, which takes them. */
static void
summarise(struct trace *t, const char *id, struct tspan *spans, int n)
{
    memset(t, 0, sizeof(*t));
    memcpy(t->trace_id, id, TRACE_ID_LEN + 1);
    qsort(spans, (size_t)n, sizeof(*spans), by_start);
    t->spans = spans;
    t->nspans = n;
    const struct tspan *root = n > 0 ? &spans[0] : NULL;
    for (int i = 0; i < n; i++) {
        if (spans[i].s.root) {
            root = &spans[i];
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        add_service(t, spans[i].service);
        if (spans[i].s.code >= 500)
            t->error = true;
    }
    if (root != NULL) {
        snprintf(t->name, sizeof(t->name), "%s", root->s.name);
        t->start_us = root->s.start_us;
        t->dur_us = root->s.dur_us;
        t->code = root->s.code;
    }
}

static bson_t *
trace_to_bson(const struct trace *t, int ttl_s)
{
    bson_t *doc = bson_new(), arr, sp, attrs;
    char idx[16];
    const char *ik;

    BSON_APPEND_UTF8(doc, "_id", t->trace_id);
    BSON_APPEND_UTF8(doc, "name", t->name);
    BSON_APPEND_INT64(doc, "start_us", t->start_us);
    BSON_APPEND_INT64(doc, "duration_us", t->dur_us);
    BSON_APPEND_INT32(doc, "code", t->code);
    BSON_APPEND_BOOL(doc, "error", t->error);
    BSON_APPEND_DATE_TIME(
        doc, "expire_at", t->start_us / 1000 + (int64_t)ttl_s * 1000);
    bson_append_array_begin(doc, "spans", -1, &arr);
    for (int i = 0; i < t->nspans; i++) {
        const struct tspan *s = &t->spans[i];
        bson_uint32_to_string((uint32_t)i, &ik, idx, sizeof(idx));
        bson_append_document_begin(&arr, ik, -1, &sp);
        BSON_APPEND_UTF8(&sp, "span_id", s->s.span_id);
        BSON_APPEND_UTF8(&sp, "parent", s->s.parent_id);
        BSON_APPEND_UTF8(&sp, "name", s->s.name);
        BSON_APPEND_UTF8(&sp, "service", s->service);
        BSON_APPEND_UTF8(&sp, "instance", s->instance);
        BSON_APPEND_INT64(&sp, "start_us", s->s.start_us);
        BSON_APPEND_INT64(&sp, "duration_us", s->s.dur_us);
        BSON_APPEND_INT32(&sp, "code", s->s.code);
        BSON_APPEND_BOOL(&sp, "root", s->s.root);
        bson_append_document_begin(&sp, "attributes", -1, &attrs);
        for (int k = 0; k < s->s.nattrs; k++)
            BSON_APPEND_UTF8(&attrs, s->s.keys[k], s->s.vals[k]);
        bson_append_document_end(&sp, &attrs);
        bson_append_document_end(&arr, &sp);
    }
    bson_append_array_end(doc, &arr);
    return doc;
}

static int64_t
i64_at(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) ? store_int64(&it) : 0;
}

static bool
bool_at(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_BOOL(&it)
        && bson_iter_bool(&it);
}

int
trace_from_bson(struct trace *t, const bson_t *doc)
{
    char id[TRACE_ID_LEN + 2];
    bson_iter_t it, arr;
    struct tspan *spans = NULL;
    int n = 0;

    if (!store_string(doc, "_id", id, sizeof(id))
        || !valid_hex(id, TRACE_ID_LEN))
        return -1;
    if (bson_iter_init_find(&it, doc, "spans") && BSON_ITER_HOLDS_ARRAY(&it)
        && bson_iter_recurse(&it, &arr)) {
        spans = calloc(TRACE_MAX_SPANS, sizeof(*spans));
        if (spans == NULL)
            return -1;
        while (bson_iter_next(&arr) && n < TRACE_MAX_SPANS) {
            const uint8_t *data;
            uint32_t len;
            bson_t sp;
            bson_iter_t ai, av;
            if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
                continue;
            bson_iter_document(&arr, &len, &data);
            if (!bson_init_static(&sp, data, len))
                continue;
            struct tspan *s = &spans[n];
            memset(s, 0, sizeof(*s));
            memcpy(s->s.trace_id, id, TRACE_ID_LEN + 1);
            if (!store_string(
                    &sp, "span_id", s->s.span_id, sizeof(s->s.span_id)))
                continue;
            store_string(&sp, "parent", s->s.parent_id, sizeof(s->s.parent_id));
            store_string(&sp, "name", s->s.name, sizeof(s->s.name));
            store_string(&sp, "service", s->service, sizeof(s->service));
            store_string(&sp, "instance", s->instance, sizeof(s->instance));
            s->s.start_us = i64_at(&sp, "start_us");
            s->s.dur_us = i64_at(&sp, "duration_us");
            s->s.code = (int)i64_at(&sp, "code");
            s->s.root = bool_at(&sp, "root");
            if (bson_iter_init_find(&ai, &sp, "attributes")
                && BSON_ITER_HOLDS_DOCUMENT(&ai) && bson_iter_recurse(&ai, &av))
                while (bson_iter_next(&av))
                    if (BSON_ITER_HOLDS_UTF8(&av))
                        span_attr(&s->s, bson_iter_key(&av),
                            bson_iter_utf8(&av, NULL));
            n++;
        }
    }
    summarise(t, id, spans, n);
    return 0;
}

static void
ring_push(struct tracebuf *tb, struct trace *t)
{
    struct trace *slot = &tb->ring[tb->ring_head];
    trace_release(slot);
    *slot = *t;
    tb->ring_head = (tb->ring_head + 1) % TRACE_RING;
    if (tb->ring_len < TRACE_RING)
        tb->ring_len++;
}

void
tracebuf_restore(struct tracebuf *tb, const bson_t *doc)
{
    struct trace t;
    if (trace_from_bson(&t, doc) == 0)
        ring_push(tb, &t);
}

/* The tail sampler: errors and slow traces first, a few of the rest; an
 * error or slow trace past its own budget may still take a sampled slot. */
static bool
keep(struct tracebuf *tb, const struct trace *t, int64_t now_ms)
{
    if ((t->error || t->dur_us >= (int64_t)tb->o.slow_ms * 1000)
        && bucket_take(&tb->notable, now_ms))
        return true;
    return bucket_take(&tb->others, now_ms);
}

int
tracebuf_close_due(struct tracebuf *tb, int64_t now_ms, bson_t **docs, int max)
{
    int nd = 0;

    for (int b = 0; b < NBUCKETS; b++) {
        struct pending **pp = &tb->buckets[b];
        while (*pp != NULL) {
            struct pending *p = *pp;
            bool due = (p->rooted && now_ms - p->root_ms >= ROOT_GRACE_MS)
                || now_ms - p->first_ms >= ORPHAN_MS;
            if (!due) {
                pp = &p->next;
                continue;
            }
            *pp = p->next;
            tb->npending--;
            struct trace t;
            summarise(&t, p->trace_id, p->spans, p->n);
            free(p);
            if (nd < max && keep(tb, &t, now_ms)) {
                docs[nd++] = trace_to_bson(&t, tb->o.ttl_s);
                tb->kept++;
            } else {
                tb->sampled_out++;
            }
            ring_push(tb, &t);
        }
    }
    return nd;
}

int
tracebuf_recent(const struct tracebuf *tb, const char *status,
    int64_t min_dur_ms, const struct trace **out, int max)
{
    int n = 0;

    for (int i = 0; i < tb->ring_len && n < max; i++) {
        int k = (tb->ring_head - 1 - i + TRACE_RING) % TRACE_RING;
        const struct trace *t = &tb->ring[k];
        if (status != NULL && strcmp(status, "error") == 0 && !t->error)
            continue;
        if (status != NULL && strcmp(status, "ok") == 0 && t->error)
            continue;
        if (t->dur_us < min_dur_ms * 1000)
            continue;
        out[n++] = t;
    }
    return n;
}

const struct trace *
tracebuf_find(const struct tracebuf *tb, const char *id)
{
    for (int i = 0; i < tb->ring_len; i++) {
        int k = (tb->ring_head - 1 - i + TRACE_RING) % TRACE_RING;
        if (strcmp(tb->ring[k].trace_id, id) == 0)
            return &tb->ring[k];
    }
    return NULL;
}

void
tracebuf_counts(const struct tracebuf *tb, uint64_t *kept,
    uint64_t *sampled_out, uint64_t *dropped)
{
    *kept = tb->kept;
    *sampled_out = tb->sampled_out;
    *dropped = tb->dropped;
}
