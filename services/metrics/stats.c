#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "prom.h"

#define COLL_ROLLUPS "metric_rollups"
#define COLL_TRACES "traces"
#define MINUTE_MS 60000
#define FLUSH_TRACES_MAX 512

int
stats_init(struct stats *st, struct store *store, const struct stats_opts *o)
{
    memset(st, 0, sizeof(*st));
    st->store = store;
    st->nmin = o->retention_h * 60;
    st->minutes = calloc((size_t)st->nmin, sizeof(*st->minutes));
    st->dirty = calloc((size_t)st->nmin, sizeof(*st->dirty));
    struct tracebuf_opts to = {
        .slow_ms = o->trace_slow_ms,
        .notable_per_s = o->trace_notable_per_s,
        .sample_per_s = o->trace_sample_per_s,
        .ttl_s = o->trace_ttl_s,
    };
    st->traces = tracebuf_new(&to);
    st->started_ms = clock_now_ms();
    if (st->minutes == NULL || st->dirty == NULL || st->traces == NULL) {
        stats_release(st);
        return -1;
    }
    pthread_mutex_init(&st->mu, NULL);
    return 0;
}

void
stats_release(struct stats *st)
{
    if (st->minutes != NULL && st->dirty != NULL && st->traces != NULL)
        pthread_mutex_destroy(&st->mu);
    free(st->minutes);
    free(st->dirty);
    tracebuf_free(st->traces);
    memset(st, 0, sizeof(*st));
}

/* The rollup of the minute holding ms, reset when its slot held older. */
static struct rollup *
minute_of(struct stats *st, int64_t ms, int *slot)
{
    int64_t start = ms - ms % MINUTE_MS;
    int k = (int)((start / MINUTE_MS) % st->nmin);
    struct rollup *r = &st->minutes[k];
    if (r->start_ms != start) {
        memset(r, 0, sizeof(*r));
        r->start_ms = start;
    }
    if (slot != NULL)
        *slot = k;
    return r;
}

static void
heard_from(struct stats *st, const Metrics__Event *ev, int64_t now_ms)
{
    const char *svc = ev->service ? ev->service : "";
    const char *ins = ev->instance ? ev->instance : "";
    int k, oldest = 0;

    for (k = 0; k < st->ninst; k++) {
        if (strncmp(st->inst[k].instance, ins, sizeof(st->inst[k].instance) - 1)
                == 0
            && strncmp(
                   st->inst[k].service, svc, sizeof(st->inst[k].service) - 1)
                == 0)
            break;
        if (st->inst[k].last_seen_ms < st->inst[oldest].last_seen_ms)
            oldest = k;
    }
    if (k == st->ninst) {
        if (st->ninst < STATS_INSTANCES)
            k = st->ninst++;
        else
            k = oldest;
        snprintf(st->inst[k].service, sizeof(st->inst[k].service), "%s", svc);
        snprintf(st->inst[k].instance, sizeof(st->inst[k].instance), "%s", ins);
    }
    st->inst[k].last_seen_ms = now_ms;
    st->inst[k].uptime_s
        = ev->value >= 0 && ev->value < 1e12 ? (int64_t)ev->value : 0;
}

void
stats_apply(struct stats *st, const Metrics__EventBatch *b, int64_t now_ms)
{
    int slot;

    pthread_mutex_lock(&st->mu);
    struct rollup *m = minute_of(st, now_ms, &slot);
    for (size_t i = 0; i < b->n_events; i++) {
        const Metrics__Event *ev = b->events[i];
        if (ev->name != NULL && strcmp(ev->name, "heartbeat") == 0) {
            heard_from(st, ev, now_ms);
            continue;
        }
        rollup_event(m, ev);
        rollup_event(&st->total, ev);
    }
    for (size_t i = 0; i < b->n_spans; i++) {
        const Metrics__Span *sp = b->spans[i];
        if (sp->service == NULL || sp->name == NULL)
            continue;
        rollup_span(m, sp);
        rollup_span(&st->total, sp);
        tracebuf_add(st->traces, sp, now_ms);
    }
    m->dropped += b->dropped;
    st->total.dropped += b->dropped;
    st->events += b->n_events;
    st->spans += b->n_spans;
    st->dirty[slot] = true;
    st->total_dirty = true;
    pthread_mutex_unlock(&st->mu);
}

/* ---- the store ---------------------------------------------------------- */

static int
put_rollup(mongoc_collection_t *c, const char *id, const struct rollup *r)
{
    bson_t doc = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    bson_error_t err;
    bson_t *sel = BCON_NEW("_id", BCON_UTF8(id));
    int rv = 0;

    BSON_APPEND_UTF8(&doc, "_id", id);
    rollup_to_bson(r, &doc);
    BSON_APPEND_BOOL(&opts, "upsert", true);
    if (!mongoc_collection_replace_one(c, sel, &doc, &opts, NULL, &err))
        rv = store_error(&err, "metric_rollups replace");
    bson_destroy(sel);
    bson_destroy(&doc);
    bson_destroy(&opts);
    return rv;
}

int
stats_flush(struct stats *st, int64_t now_ms, bool sweep)
{
    struct rollup *copy = NULL;
    int *slots = NULL, ncopy = 0;
    struct rollup total;
    bool total_dirty;
    bson_t *docs[FLUSH_TRACES_MAX];
    int rv = 0;

    pthread_mutex_lock(&st->mu);
    int ndirty = 0;
    for (int k = 0; k < st->nmin; k++)
        ndirty += st->dirty[k];
    if (ndirty > 0) {
        copy = malloc((size_t)ndirty * sizeof(*copy));
        slots = malloc((size_t)ndirty * sizeof(*slots));
    }
    for (int k = 0; k < st->nmin && copy != NULL && slots != NULL; k++) {
        if (!st->dirty[k])
            continue;
        copy[ncopy] = st->minutes[k];
        slots[ncopy++] = k;
        st->dirty[k] = false;
    }
    total = st->total;
    total_dirty = st->total_dirty;
    st->total_dirty = false;
    int ndocs = tracebuf_close_due(st->traces, now_ms, docs, FLUSH_TRACES_MAX);
    pthread_mutex_unlock(&st->mu);

    if (st->store == NULL) {
        for (int i = 0; i < ndocs; i++)
            bson_destroy(docs[i]);
        free(copy);
        free(slots);
        return 0;
    }
    mongoc_client_t *cl;
    mongoc_collection_t *c = store_get(st->store, COLL_ROLLUPS, &cl);
    char id[32];
    int failed_from = ncopy;
    for (int i = 0; i < ncopy; i++) {
        snprintf(id, sizeof(id), "m%lld", (long long)copy[i].start_ms);
        if (put_rollup(c, id, &copy[i]) != 0) {
            failed_from = i;
            rv = -1;
            break;
        }
    }
    if (rv == 0 && total_dirty && put_rollup(c, "total", &total) != 0)
        rv = -1;
    if (sweep && rv == 0) {
        bson_error_t err;
        bson_t *q = BCON_NEW("start_ms", "{", "$lt",
            BCON_INT64(now_ms - (int64_t)st->nmin * MINUTE_MS), "}", "_id", "{",
            "$ne", BCON_UTF8("total"), "}");
        if (!mongoc_collection_delete_many(c, q, NULL, NULL, &err))
            store_error(&err, "metric_rollups sweep");
        bson_destroy(q);
    }
    store_put(st->store, cl, c);
    if (ndocs > 0) {
        c = store_get(st->store, COLL_TRACES, &cl);
        bson_error_t err;
        bson_t opts = BSON_INITIALIZER;
        BSON_APPEND_BOOL(&opts, "ordered", false);
        if (!mongoc_collection_insert_many(
                c, (const bson_t **)docs, (size_t)ndocs, &opts, NULL, &err)
            && store_error(&err, "traces insert") != STORE_DUP)
            rv = -1;
        bson_destroy(&opts);
        if (sweep) {
            bson_t *q = BCON_NEW(
                "expire_at", "{", "$lt", BCON_DATE_TIME(now_ms), "}");
            if (!mongoc_collection_delete_many(c, q, NULL, NULL, &err))
                store_error(&err, "traces sweep");
            bson_destroy(q);
        }
        store_put(st->store, cl, c);
        for (int i = 0; i < ndocs; i++)
            bson_destroy(docs[i]);
    }
    if (rv != 0) {
        /* Written again next time (whole documents: nothing doubles). */
        pthread_mutex_lock(&st->mu);
        for (int i = failed_from; i < ncopy; i++)
            if (st->minutes[slots[i]].start_ms == copy[i].start_ms)
                st->dirty[slots[i]] = true;
        st->total_dirty = st->total_dirty || total_dirty;
        pthread_mutex_unlock(&st->mu);
    }
    free(copy);
    free(slots);
    return rv;
}

int
stats_load(struct stats *st, int64_t now_ms)
{
    if (st->store == NULL)
        return 0;
    /* Expiry is also swept by the flusher, so a store without TTL indexes
     * keeps the same bound. */
    if (store_ensure_ttl_index(st->store, COLL_TRACES, "expire", "expire_at")
        != 0)
        log_warn("traces: no TTL index; expired traces are swept instead");
    mongoc_client_t *cl;
    mongoc_collection_t *c = store_get(st->store, COLL_ROLLUPS, &cl);
    bson_t *q = bson_new();
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, q, NULL, NULL);
    const bson_t *doc;
    bson_error_t err;
    int n = 0, rv = 0;
    int64_t oldest = now_ms - (int64_t)st->nmin * MINUTE_MS;

    pthread_mutex_lock(&st->mu);
    st->since_ms = now_ms;
    while (mongoc_cursor_next(cur, &doc)) {
        char id[32];
        struct rollup r;
        if (!store_string(doc, "_id", id, sizeof(id))
            || rollup_from_bson(&r, doc) != 0)
            continue;
        if (strcmp(id, "total") == 0) {
            st->total = r;
            if (r.start_ms > 0 && r.start_ms < st->since_ms)
                st->since_ms = r.start_ms;
            n++;
            continue;
        }
        if (r.start_ms < oldest || r.start_ms > now_ms + MINUTE_MS
            || r.start_ms % MINUTE_MS != 0)
            continue;
        struct rollup *m = minute_of(st, r.start_ms, NULL);
        *m = r;
        n++;
    }
    if (st->total.start_ms == 0)
        st->total.start_ms = now_ms;
    if (mongoc_cursor_error(cur, &err))
        rv = store_error(&err, "metric_rollups load");
    pthread_mutex_unlock(&st->mu);
    mongoc_cursor_destroy(cur);
    bson_destroy(q);
    store_put(st->store, cl, c);

    /* The most recent kept traces, oldest first into the ring. */
    c = store_get(st->store, COLL_TRACES, &cl);
    q = bson_new();
    bson_t *opts = BCON_NEW("sort", "{", "start_us", BCON_INT32(-1), "}",
        "limit", BCON_INT64(TRACE_RING));
    cur = mongoc_collection_find_with_opts(c, q, opts, NULL);
    bson_t **keep = calloc(TRACE_RING, sizeof(*keep));
    int nk = 0;
    while (keep != NULL && nk < TRACE_RING && mongoc_cursor_next(cur, &doc))
        keep[nk++] = bson_copy(doc);
    if (mongoc_cursor_error(cur, &err))
        rv = store_error(&err, "traces load");
    pthread_mutex_lock(&st->mu);
    for (int i = nk - 1; i >= 0; i--)
        tracebuf_restore(st->traces, keep[i]);
    pthread_mutex_unlock(&st->mu);
    for (int i = 0; i < nk; i++)
        bson_destroy(keep[i]);
    free(keep);
    mongoc_cursor_destroy(cur);
    bson_destroy(q);
    bson_destroy(opts);
    store_put(st->store, cl, c);
    log_info("history: %d rollup(s) and %d trace(s) read back", n, nk);
    return rv;
}

/* ---- queries ------------------------------------------------------------ */

int
stats_summary(struct stats *st, int64_t now_ms, int64_t window_s,
    int64_t step_s, struct summary *s)
{
    memset(s, 0, sizeof(*s));
    metrics__summary_reply__init(&s->reply);
    if (window_s <= 0)
        window_s = 3600;
    if (window_s > (int64_t)st->nmin * 60)
        window_s = (int64_t)st->nmin * 60;
    if (step_s > 0) {
        step_s = step_s < 60 ? 60 : step_s - step_s % 60;
        if (window_s / step_s > SERIES_MAX)
            step_s = (window_s / SERIES_MAX + 59) / 60 * 60;
        s->nseries = (int)((window_s + step_s - 1) / step_s);
        s->series = calloc((size_t)s->nseries, sizeof(*s->series));
        s->pb_series = calloc((size_t)s->nseries, sizeof(*s->pb_series));
        s->pb_series_ptrs
            = calloc((size_t)s->nseries, sizeof(*s->pb_series_ptrs));
        if (!s->series || !s->pb_series || !s->pb_series_ptrs) {
            stats_summary_free(s);
            return -1;
        }
    }
    int64_t cur = now_ms - now_ms % MINUTE_MS;
    int64_t first = cur - (window_s / 60 - 1) * MINUTE_MS;
    if (window_s < 60)
        first = cur;
    int64_t step_ms = step_s * 1000;
    int64_t series0
        = step_s > 0 ? cur - (int64_t)(s->nseries - 1) * step_ms : 0;
    for (int i = 0; i < s->nseries; i++)
        s->series[i].start_ms = series0 + (int64_t)i * step_ms;

    pthread_mutex_lock(&st->mu);
    s->total = st->total;
    s->window.start_ms = first;
    int64_t lo = first < series0 || step_s == 0 ? first : series0;
    for (int64_t t = lo; t <= cur; t += MINUTE_MS) {
        const struct rollup *m
            = &st->minutes[(int)((t / MINUTE_MS) % st->nmin)];
        if (m->start_ms != t)
            continue;
        if (t >= first)
            rollup_merge(&s->window, m);
        if (step_s > 0 && t >= series0) {
            int i = (int)((t - series0) / step_ms);
            if (i >= 0 && i < s->nseries)
                rollup_merge(&s->series[i], m);
        }
    }
    int ni = 0;
    for (int k = 0; k < st->ninst; k++)
        if (now_ms - st->inst[k].last_seen_ms <= INSTANCE_ALIVE_MS)
            s->inst[ni++] = st->inst[k];
    tracebuf_counts(st->traces, &s->reply.traces_kept,
        &s->reply.traces_sampled_out, &(uint64_t) {0});
    s->reply.uptime_s = (now_ms - st->started_ms) / 1000;
    s->reply.since_ms = st->since_ms;
    pthread_mutex_unlock(&st->mu);

    for (int i = 0; i < HIST_BOUNDS; i++)
        s->bounds[i] = hist_bound(i);
    s->reply.bounds_ms = s->bounds;
    s->reply.n_bounds_ms = HIST_BOUNDS;
    if (rollup_to_pb(&s->total, &s->pb_total) != 0
        || rollup_to_pb(&s->window, &s->pb_window) != 0) {
        stats_summary_free(s);
        return -1;
    }
    s->reply.total = &s->pb_total;
    s->reply.window = &s->pb_window;
    for (int i = 0; i < s->nseries; i++) {
        if (rollup_to_pb(&s->series[i], &s->pb_series[i]) != 0) {
            stats_summary_free(s);
            return -1;
        }
        s->pb_series_ptrs[i] = &s->pb_series[i];
    }
    s->reply.series = s->pb_series_ptrs;
    s->reply.n_series = (size_t)s->nseries;
    for (int i = 0; i < ni; i++) {
        metrics__instance__init(&s->pb_inst[i]);
        s->pb_inst[i].service = s->inst[i].service;
        s->pb_inst[i].instance = s->inst[i].instance;
        s->pb_inst[i].uptime_s = s->inst[i].uptime_s;
        s->pb_inst[i].last_seen_ms = s->inst[i].last_seen_ms;
        s->pb_inst_ptrs[i] = &s->pb_inst[i];
    }
    s->reply.instances = s->pb_inst_ptrs;
    s->reply.n_instances = (size_t)ni;
    return 0;
}

void
stats_summary_free(struct summary *s)
{
    rollup_pb_free(&s->pb_total);
    rollup_pb_free(&s->pb_window);
    for (int i = 0; i < s->nseries && s->pb_series != NULL; i++)
        rollup_pb_free(&s->pb_series[i]);
    free(s->series);
    free(s->pb_series);
    free(s->pb_series_ptrs);
    s->series = NULL;
    s->pb_series = NULL;
    s->pb_series_ptrs = NULL;
    s->nseries = 0;
}

static void
sum_fill(struct trace_sum *ts, const struct trace *t)
{
    metrics__trace_summary__init(&ts->pb);
    memcpy(ts->id, t->trace_id, sizeof(ts->id));
    memcpy(ts->name, t->name, sizeof(ts->name));
    for (int i = 0; i < t->nservices; i++) {
        memcpy(ts->svc[i], t->services[i], sizeof(ts->svc[i]));
        ts->svcp[i] = ts->svc[i];
    }
    ts->pb.trace_id = ts->id;
    ts->pb.name = ts->name;
    ts->pb.start_us = t->start_us;
    ts->pb.duration_us = t->dur_us;
    ts->pb.code = t->error && t->code < 500 ? 500 : t->code;
    ts->pb.services = ts->svcp;
    ts->pb.n_services = (size_t)t->nservices;
    ts->pb.span_count = t->nspans;
}

void
stats_traces(
    struct stats *st, const Metrics__TracesRequest *in, struct traces_view *v)
{
    const struct trace *found[TRACES_MAX];
    int limit = in->limit > 0 && in->limit <= TRACES_MAX ? in->limit : 50;

    metrics__traces_reply__init(&v->reply);
    pthread_mutex_lock(&st->mu);
    int n = tracebuf_recent(st->traces, in->status,
        in->min_duration_ms > 0 ? in->min_duration_ms : 0, found, limit);
    for (int i = 0; i < n; i++) {
        sum_fill(&v->sums[i], found[i]);
        v->ptrs[i] = &v->sums[i].pb;
    }
    pthread_mutex_unlock(&st->mu);
    v->reply.traces = v->ptrs;
    v->reply.n_traces = (size_t)n;
}

static int
trace_copy(struct trace *dst, const struct trace *src)
{
    *dst = *src;
    dst->spans = NULL;
    if (src->nspans > 0) {
        dst->spans = malloc((size_t)src->nspans * sizeof(*dst->spans));
        if (dst->spans == NULL)
            return -1;
        memcpy(
            dst->spans, src->spans, (size_t)src->nspans * sizeof(*dst->spans));
    }
    return 0;
}

static int
find_stored(struct stats *st, const char *id, struct trace *t)
{
    if (st->store == NULL)
        return STORE_NOTFOUND;
    mongoc_client_t *cl;
    mongoc_collection_t *c = store_get(st->store, COLL_TRACES, &cl);
    bson_t *q = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, q, NULL, NULL);
    const bson_t *doc;
    bson_error_t err;
    int rv = STORE_NOTFOUND;

    if (mongoc_cursor_next(cur, &doc))
        rv = trace_from_bson(t, doc) == 0 ? 0 : STORE_INVALID;
    else if (mongoc_cursor_error(cur, &err))
        rv = store_error(&err, "traces find");
    mongoc_cursor_destroy(cur);
    bson_destroy(q);
    store_put(st->store, cl, c);
    return rv;
}

int
stats_trace(struct stats *st, const char *id, struct trace_view *v)
{
    int rv;

    memset(v, 0, sizeof(*v));
    metrics__trace_reply__init(&v->reply);
    pthread_mutex_lock(&st->mu);
    const struct trace *t = tracebuf_find(st->traces, id);
    rv = t != NULL ? trace_copy(&v->t, t) : STORE_NOTFOUND;
    pthread_mutex_unlock(&st->mu);
    if (t == NULL)
        rv = find_stored(st, id, &v->t);
    if (rv != 0)
        return rv;
    int n = v->t.nspans;
    size_t un = (size_t)n + 1;
    v->spans = calloc(un, sizeof(*v->spans));
    v->sptrs = calloc(un, sizeof(*v->sptrs));
    v->attrs = calloc(un * SPAN_ATTRS, sizeof(*v->attrs));
    v->aptrs = calloc(un * SPAN_ATTRS, sizeof(*v->aptrs));
    if (!v->spans || !v->sptrs || !v->attrs || !v->aptrs) {
        stats_trace_free(v);
        return STORE_DOWN;
    }
    for (int i = 0; i < n; i++) {
        struct tspan *s = &v->t.spans[i];
        Metrics__Span *m = &v->spans[i];
        metrics__span__init(m);
        m->trace_id = v->t.trace_id;
        m->span_id = s->s.span_id;
        m->parent_span_id = s->s.parent_id;
        m->name = s->s.name;
        m->service = s->service;
        m->instance = s->instance;
        m->start_us = s->s.start_us;
        m->duration_us = s->s.dur_us;
        m->code = s->s.code;
        m->root = s->s.root;
        m->attributes = &v->aptrs[i * SPAN_ATTRS];
        for (int k = 0; k < s->s.nattrs; k++) {
            Metrics__Span__AttributesEntry *a = &v->attrs[i * SPAN_ATTRS + k];
            metrics__span__attributes_entry__init(a);
            a->key = s->s.keys[k];
            a->value = s->s.vals[k];
            m->attributes[k] = a;
        }
        m->n_attributes = (size_t)s->s.nattrs;
        v->sptrs[i] = m;
    }
    sum_fill(&v->sum, &v->t);
    v->reply.summary = &v->sum.pb;
    v->reply.spans = v->sptrs;
    v->reply.n_spans = (size_t)n;
    return 0;
}

void
stats_trace_free(struct trace_view *v)
{
    free(v->spans);
    free(v->sptrs);
    free(v->attrs);
    free(v->aptrs);
    trace_release(&v->t);
    v->spans = NULL;
    v->sptrs = NULL;
    v->attrs = NULL;
    v->aptrs = NULL;
}

char *
stats_prometheus(struct stats *st, int64_t now_ms)
{
    struct rollup *total = malloc(sizeof(*total));
    struct instance inst[STATS_INSTANCES];
    int ni = 0;

    if (total == NULL)
        return NULL;
    pthread_mutex_lock(&st->mu);
    *total = st->total;
    for (int k = 0; k < st->ninst; k++)
        if (now_ms - st->inst[k].last_seen_ms <= INSTANCE_ALIVE_MS)
            inst[ni++] = st->inst[k];
    int64_t up = (now_ms - st->started_ms) / 1000;
    pthread_mutex_unlock(&st->mu);
    char *text = prom_render(total, inst, ni, up);
    free(total);
    return text;
}
