#include "rollup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static void
copy_name(char *dst, const char *src)
{
    memset(dst, 0, ROLLUP_NAME); /* whole buffers are copied and compared */
    snprintf(dst, ROLLUP_NAME, "%s", src && *src ? src : "unknown");
}

static struct ru_kv *
table_slot(struct ru_table *t, const char *key)
{
    char k[ROLLUP_NAME];

    copy_name(k, key);
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->kv[i].key, k) == 0)
            return &t->kv[i];
    if (t->n < ROLLUP_KEYS - 1
        || (t->n == ROLLUP_KEYS - 1 && !strcmp(k, "other"))) {
        struct ru_kv *kv = &t->kv[t->n++];
        memcpy(kv->key, k, sizeof(kv->key));
        return kv;
    }
    return table_slot(t, "other");
}

static void
table_add(struct ru_table *t, const char *key, uint64_t n, double sum)
{
    struct ru_kv *kv = table_slot(t, key);
    kv->n += n;
    kv->sum += sum;
}

static struct ru_svc *
svc_slot(struct rollup *r, const char *name)
{
    char k[ROLLUP_NAME];

    copy_name(k, name);
    for (int i = 0; i < r->nsvc; i++)
        if (strcmp(r->svc[i].name, k) == 0)
            return &r->svc[i];
    if (r->nsvc < ROLLUP_SERVICES - 1
        || (r->nsvc == ROLLUP_SERVICES - 1 && !strcmp(k, "other"))) {
        struct ru_svc *s = &r->svc[r->nsvc++];
        memset(s, 0, sizeof(*s));
        memcpy(s->name, k, sizeof(s->name));
        return s;
    }
    return svc_slot(r, "other");
}

const struct ru_svc *
rollup_service(const struct rollup *r, const char *name)
{
    for (int i = 0; i < r->nsvc; i++)
        if (strcmp(r->svc[i].name, name) == 0)
            return &r->svc[i];
    return NULL;
}

static const char *
label(const Metrics__Event *ev, const char *key)
{
    for (size_t i = 0; i < ev->n_labels; i++)
        if (ev->labels[i]->key && strcmp(ev->labels[i]->key, key) == 0)
            return ev->labels[i]->value ? ev->labels[i]->value : "";
    return "";
}

static bool
is_true(const char *s)
{
    return strcmp(s, "true") == 0;
}

void
rollup_event(struct rollup *r, const Metrics__Event *ev)
{
    const char *name = ev->name ? ev->name : "";

    if (strcmp(name, "chat") == 0) {
        double conf = strtod(label(ev, "confidence"), NULL);
        if (!(conf >= 0 && conf <= 1))
            conf = 0;
        r->chats++;
        if (is_true(label(ev, "escalated")))
            r->chats_escalated++;
        table_add(&r->intents, label(ev, "intent"), 1, conf);
    } else if (strcmp(name, "escalation_created") == 0) {
        r->esc_created++;
    } else if (strcmp(name, "escalation_resolved") == 0) {
        r->esc_resolved++;
        if (ev->value >= 0 && ev->value < 1e12) {
            r->first_resp_n++;
            r->first_resp_s += ev->value / 1000;
        }
        if (is_true(label(ev, "breached")))
            r->sla_breaches++;
        table_add(&r->actions, label(ev, "resolution"), 1, 0);
    } else if (strcmp(name, "escalation_action") == 0) {
        table_add(&r->actions, label(ev, "action"), 1, 0);
    } else if (strcmp(name, "guard_block") == 0) {
        table_add(&r->guard, label(ev, "reason"), 1, 0);
    }
}

const char *
rollup_span_service(const Metrics__Span *sp)
{
    const char *name = sp->name ? sp->name : "";
    if (strncmp(name, "store ", 6) == 0)
        return "store";
    if (strcmp(name, "llm") == 0)
        return "llm";
    return sp->service;
}

void
rollup_span(struct rollup *r, const Metrics__Span *sp)
{
    struct ru_svc *s = svc_slot(r, rollup_span_service(sp));
    double ms = (double)sp->duration_us / 1000.0;

    if (!(ms >= 0))
        ms = 0;
    s->calls++;
    if (sp->code >= 500)
        s->errors++;
    s->sum_ms += ms;
    s->h[hist_index(ms)]++;
    for (size_t i = 0; i < sp->n_attributes; i++) {
        const Metrics__Span__AttributesEntry *a = sp->attributes[i];
        if (a->key && a->value && strcmp(a->key, "escalated") == 0
            && is_true(a->value)) {
            s->escalations++;
            break;
        }
    }
}

void
rollup_merge(struct rollup *dst, const struct rollup *src)
{
    for (int i = 0; i < src->nsvc; i++) {
        const struct ru_svc *a = &src->svc[i];
        struct ru_svc *b = svc_slot(dst, a->name);
        b->calls += a->calls;
        b->errors += a->errors;
        b->escalations += a->escalations;
        b->sum_ms += a->sum_ms;
        for (int k = 0; k < HIST_BUCKETS; k++)
            b->h[k] += a->h[k];
    }
    for (int i = 0; i < src->intents.n; i++)
        table_add(&dst->intents, src->intents.kv[i].key, src->intents.kv[i].n,
            src->intents.kv[i].sum);
    for (int i = 0; i < src->guard.n; i++)
        table_add(&dst->guard, src->guard.kv[i].key, src->guard.kv[i].n,
            src->guard.kv[i].sum);
    for (int i = 0; i < src->actions.n; i++)
        table_add(&dst->actions, src->actions.kv[i].key, src->actions.kv[i].n,
            src->actions.kv[i].sum);
    dst->chats += src->chats;
    dst->chats_escalated += src->chats_escalated;
    dst->esc_created += src->esc_created;
    dst->esc_resolved += src->esc_resolved;
    dst->sla_breaches += src->sla_breaches;
    dst->first_resp_n += src->first_resp_n;
    dst->first_resp_s += src->first_resp_s;
    dst->dropped += src->dropped;
}

/* ---- protobuf view ------------------------------------------------------ */

static int
table_to_pb(const struct ru_table *t, Metrics__Counter ***out, size_t *n)
{
    *n = 0;
    *out = NULL;
    if (t->n == 0)
        return 0;
    Metrics__Counter *c = calloc((size_t)t->n, sizeof(*c));
    Metrics__Counter **p = calloc((size_t)t->n, sizeof(*p));
    if (c == NULL || p == NULL) {
        free(c);
        free(p);
        return -1;
    }
    for (int i = 0; i < t->n; i++) {
        metrics__counter__init(&c[i]);
        c[i].key = (char *)t->kv[i].key;
        c[i].n = t->kv[i].n;
        c[i].sum = t->kv[i].sum;
        p[i] = &c[i];
    }
    *out = p;
    *n = (size_t)t->n;
    return 0;
}

static void
table_pb_free(Metrics__Counter **p, size_t n)
{
    if (n > 0 && p != NULL)
        free(p[0]);
    free(p);
}

int
rollup_to_pb(const struct rollup *r, Metrics__Rollup *out)
{
    metrics__rollup__init(out);
    out->start_ms = r->start_ms;
    out->chats = r->chats;
    out->chats_escalated = r->chats_escalated;
    out->escalations_created = r->esc_created;
    out->escalations_resolved = r->esc_resolved;
    out->sla_breaches = r->sla_breaches;
    out->first_response_n = r->first_resp_n;
    out->first_response_s = r->first_resp_s;
    out->dropped = r->dropped;
    if (r->nsvc > 0) {
        Metrics__ServiceStats *s = calloc((size_t)r->nsvc, sizeof(*s));
        Metrics__ServiceStats **p = calloc((size_t)r->nsvc, sizeof(*p));
        uint64_t *b = calloc((size_t)r->nsvc * HIST_BUCKETS, sizeof(*b));
        if (s == NULL || p == NULL || b == NULL) {
            free(s);
            free(p);
            free(b);
            return -1;
        }
        for (int i = 0; i < r->nsvc; i++) {
            const struct ru_svc *v = &r->svc[i];
            metrics__service_stats__init(&s[i]);
            s[i].service = (char *)v->name;
            s[i].calls = v->calls;
            s[i].errors = v->errors;
            s[i].escalations = v->escalations;
            s[i].sum_ms = v->sum_ms;
            s[i].p50_ms = hist_quantile(v->h, 0.50);
            s[i].p95_ms = hist_quantile(v->h, 0.95);
            s[i].p99_ms = hist_quantile(v->h, 0.99);
            s[i].buckets = &b[i * HIST_BUCKETS];
            s[i].n_buckets = HIST_BUCKETS;
            for (int k = 0; k < HIST_BUCKETS; k++)
                s[i].buckets[k] = v->h[k];
            p[i] = &s[i];
        }
        out->services = p;
        out->n_services = (size_t)r->nsvc;
    }
    if (table_to_pb(&r->intents, &out->intents, &out->n_intents) != 0
        || table_to_pb(&r->guard, &out->guard_blocks, &out->n_guard_blocks) != 0
        || table_to_pb(&r->actions, &out->escalation_actions,
               &out->n_escalation_actions)
            != 0) {
        rollup_pb_free(out);
        return -1;
    }
    return 0;
}

void
rollup_pb_free(Metrics__Rollup *out)
{
    if (out->n_services > 0 && out->services != NULL) {
        free(out->services[0]->buckets);
        free(out->services[0]);
    }
    free(out->services);
    table_pb_free(out->intents, out->n_intents);
    table_pb_free(out->guard_blocks, out->n_guard_blocks);
    table_pb_free(out->escalation_actions, out->n_escalation_actions);
    metrics__rollup__init(out);
}

/* ---- BSON --------------------------------------------------------------- */

static void
table_to_bson(bson_t *doc, const char *key, const struct ru_table *t)
{
    bson_t arr, item;
    char idx[16];
    const char *ik;

    bson_append_array_begin(doc, key, -1, &arr);
    for (int i = 0; i < t->n; i++) {
        bson_uint32_to_string((uint32_t)i, &ik, idx, sizeof(idx));
        bson_append_document_begin(&arr, ik, -1, &item);
        BSON_APPEND_UTF8(&item, "k", t->kv[i].key);
        BSON_APPEND_INT64(&item, "n", (int64_t)t->kv[i].n);
        BSON_APPEND_DOUBLE(&item, "s", t->kv[i].sum);
        bson_append_document_end(&arr, &item);
    }
    bson_append_array_end(doc, &arr);
}

void
rollup_to_bson(const struct rollup *r, bson_t *doc)
{
    bson_t arr, item, h;
    char idx[16];
    const char *ik;

    BSON_APPEND_INT64(doc, "start_ms", r->start_ms);
    BSON_APPEND_INT64(doc, "chats", (int64_t)r->chats);
    BSON_APPEND_INT64(doc, "chats_escalated", (int64_t)r->chats_escalated);
    BSON_APPEND_INT64(doc, "esc_created", (int64_t)r->esc_created);
    BSON_APPEND_INT64(doc, "esc_resolved", (int64_t)r->esc_resolved);
    BSON_APPEND_INT64(doc, "sla_breaches", (int64_t)r->sla_breaches);
    BSON_APPEND_INT64(doc, "first_resp_n", (int64_t)r->first_resp_n);
    BSON_APPEND_DOUBLE(doc, "first_resp_s", r->first_resp_s);
    BSON_APPEND_INT64(doc, "dropped", (int64_t)r->dropped);
    bson_append_array_begin(doc, "services", -1, &arr);
    for (int i = 0; i < r->nsvc; i++) {
        const struct ru_svc *s = &r->svc[i];
        bson_uint32_to_string((uint32_t)i, &ik, idx, sizeof(idx));
        bson_append_document_begin(&arr, ik, -1, &item);
        BSON_APPEND_UTF8(&item, "name", s->name);
        BSON_APPEND_INT64(&item, "calls", (int64_t)s->calls);
        BSON_APPEND_INT64(&item, "errors", (int64_t)s->errors);
        BSON_APPEND_INT64(&item, "escalations", (int64_t)s->escalations);
        BSON_APPEND_DOUBLE(&item, "sum_ms", s->sum_ms);
        /* Sparse: [bucket, count] pairs of the non-empty buckets. */
        bson_append_array_begin(&item, "h", -1, &h);
        uint32_t k = 0;
        for (int b = 0; b < HIST_BUCKETS; b++) {
            if (s->h[b] == 0)
                continue;
            bson_uint32_to_string(k++, &ik, idx, sizeof(idx));
            BSON_APPEND_INT32(&h, ik, b);
            bson_uint32_to_string(k++, &ik, idx, sizeof(idx));
            BSON_APPEND_INT64(&h, ik, (int64_t)s->h[b]);
        }
        bson_append_array_end(&item, &h);
        bson_append_document_end(&arr, &item);
    }
    bson_append_array_end(doc, &arr);
    table_to_bson(doc, "intents", &r->intents);
    table_to_bson(doc, "guard", &r->guard);
    table_to_bson(doc, "actions", &r->actions);
}

static uint64_t
u64_at(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    int64_t v = bson_iter_init_find(&it, doc, key) ? store_int64(&it) : 0;
    return v > 0 ? (uint64_t)v : 0;
}

static double
dbl_at(bson_iter_t *it)
{
    if (BSON_ITER_HOLDS_DOUBLE(it))
        return bson_iter_double(it);
    return (double)store_int64(it);
}

static double
f64_at(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) ? dbl_at(&it) : 0;
}

static void
table_from_bson(const bson_t *doc, const char *key, struct ru_table *t)
{
    bson_iter_t it, arr;

    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it)
        || !bson_iter_recurse(&it, &arr))
        return;
    while (bson_iter_next(&arr)) {
        const uint8_t *data;
        uint32_t len;
        bson_t item;
        char k[ROLLUP_NAME];
        if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
            continue;
        bson_iter_document(&arr, &len, &data);
        if (!bson_init_static(&item, data, len)
            || !store_string(&item, "k", k, sizeof(k)))
            continue;
        table_add(t, k, u64_at(&item, "n"), f64_at(&item, "s"));
    }
}

int
rollup_from_bson(struct rollup *r, const bson_t *doc)
{
    bson_iter_t it, arr;

    memset(r, 0, sizeof(*r));
    r->start_ms = (int64_t)u64_at(doc, "start_ms");
    r->chats = u64_at(doc, "chats");
    r->chats_escalated = u64_at(doc, "chats_escalated");
    r->esc_created = u64_at(doc, "esc_created");
    r->esc_resolved = u64_at(doc, "esc_resolved");
    r->sla_breaches = u64_at(doc, "sla_breaches");
    r->first_resp_n = u64_at(doc, "first_resp_n");
    r->first_resp_s = f64_at(doc, "first_resp_s");
    r->dropped = u64_at(doc, "dropped");
    if (bson_iter_init_find(&it, doc, "services") && BSON_ITER_HOLDS_ARRAY(&it)
        && bson_iter_recurse(&it, &arr)) {
        while (bson_iter_next(&arr)) {
            const uint8_t *data;
            uint32_t len;
            bson_t item;
            bson_iter_t hi, hv;
            char name[ROLLUP_NAME];
            if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
                continue;
            bson_iter_document(&arr, &len, &data);
            if (!bson_init_static(&item, data, len)
                || !store_string(&item, "name", name, sizeof(name)))
                continue;
            struct ru_svc *s = svc_slot(r, name);
            s->calls += u64_at(&item, "calls");
            s->errors += u64_at(&item, "errors");
            s->escalations += u64_at(&item, "escalations");
            s->sum_ms += f64_at(&item, "sum_ms");
            if (bson_iter_init_find(&hi, &item, "h")
                && BSON_ITER_HOLDS_ARRAY(&hi) && bson_iter_recurse(&hi, &hv)) {
                while (bson_iter_next(&hv)) {
                    int64_t b = store_int64(&hv);
                    if (!bson_iter_next(&hv))
                        break;
                    int64_t c = store_int64(&hv);
                    if (b >= 0 && b < HIST_BUCKETS && c > 0)
                        s->h[b] += (uint64_t)c;
                }
            }
        }
    }
    table_from_bson(doc, "intents", &r->intents);
    table_from_bson(doc, "guard", &r->guard);
    table_from_bson(doc, "actions", &r->actions);
    return 0;
}
