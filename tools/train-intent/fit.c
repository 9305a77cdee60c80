#include "fit.h"

#include <errno.h>
#include <linear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

static void
quiet(const char *s)
{
    (void)s;
}

int
fit_head(const struct fit_data *fd, const size_t *rows, size_t n, int kind,
    const struct fit_opts *o, struct intent_model *m)
{
    size_t nb = intent_model_buckets(m);
    int hybrid = kind == HEAD_HYBRID;
    size_t dims = nb + (hybrid ? ENCODER_DIM : 0);
    size_t nodes = 0, cnt[INTENT_COUNT] = {0};
    struct problem prob = {0};
    struct parameter par = {0};
    struct feature_node *space = NULL;
    struct model *lm = NULL;
    int wl[INTENT_COUNT];
    double wv[INTENT_COUNT];
    int rc, nw = 0, present = 0;

    if (n == 0 || n > (size_t)INT32_MAX || (hybrid && fd->emb == NULL)
        || dims + 1 > (size_t)INT32_MAX)
        return -EINVAL;
    rc = intent_model_alloc_head(m, kind);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < n; k++) {
        nodes += fd->feats[rows[k]].n + 2 + (hybrid ? ENCODER_DIM : 0);
        cnt[fd->labels[rows[k]]]++;
    }
    prob.l = (int)n;
    prob.n = (int)dims + 1;
    prob.bias = 1.0;
    prob.y = malloc(n * sizeof *prob.y);
    prob.x = malloc(n * sizeof *prob.x);
    space = malloc(nodes * sizeof *space);
    if (prob.y == NULL || prob.x == NULL || space == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    struct feature_node *p = space;
    for (size_t k = 0; k < n; k++) {
        const struct feature_vec *v = &fd->feats[rows[k]];
        prob.x[k] = p;
        prob.y[k] = fd->labels[rows[k]];
        for (size_t i = 0; i < v->n; i++) {
            p->index = (int)v->idx[i] + 1;
            p->value = v->val[i];
            p++;
        }
        if (hybrid) {
            const float *e = fd->emb + rows[k] * ENCODER_DIM;
            for (int d = 0; d < ENCODER_DIM; d++) {
                p->index = (int)(nb + 1 + (size_t)d);
                p->value = (double)o->emb_scale * e[d];
                p++;
            }
        }
        p->index = (int)dims + 1;
        p->value = 1.0;
        p++;
        p->index = -1;
        p++;
    }
    for (int c = 0; c < INTENT_COUNT; c++)
        present += cnt[c] > 0;
    for (int c = 0; c < INTENT_COUNT; c++) {
        if (cnt[c] == 0)
            continue;
        wl[nw] = c;
        wv[nw]
            = pow((double)n / ((double)present * (double)cnt[c]), o->cw_power);
        nw++;
    }
    par.solver_type = o->solver;
    par.C = o->C;
    par.eps = o->eps;
    par.nr_weight = nw;
    par.weight_label = wl;
    par.weight = wv;
    par.p = 0.1;
    if (check_parameter(&prob, &par) != NULL) {
        rc = -EINVAL;
        goto out;
    }
    set_print_string_function(quiet);
    srand(1); /* the dual solvers shuffle with rand() */
    lm = train(&prob, &par);
    if (lm == NULL) {
        rc = -ENOMEM;
        goto out;
    }

    struct head *h = &m->heads[kind];
    int ncls = get_nr_class(lm);
    int labels[INTENT_COUNT];
    if (ncls < 1 || ncls > INTENT_COUNT) {
        rc = -EINVAL;
        goto out;
    }
    get_labels(lm, labels);
    for (int c = 0; c < INTENT_COUNT; c++)
        h->bias[c] = -20.0f;
    h->emb_scale = hybrid ? o->emb_scale : 1.0f;
    h->temperature = 1.0f;
    for (int li = 0; li < ncls; li++) {
        int c = labels[li];
        if (c < 0 || c >= INTENT_COUNT) {
            rc = -EINVAL;
            goto out;
        }
        if (ncls == 1) { /* one class: it always wins */
            h->bias[c] = 20.0f;
            continue;
        }
        h->bias[c] = (float)get_decfun_bias(lm, li);
        for (size_t b = 0; b < nb; b++)
            h->w[b * INTENT_COUNT + c]
                = (float)get_decfun_coef(lm, (int)b + 1, li);
        if (hybrid)
            for (int d = 0; d < ENCODER_DIM; d++)
                h->we[(size_t)d * INTENT_COUNT + c]
                    = (float)get_decfun_coef(lm, (int)(nb + 1 + (size_t)d), li);
    }
    rc = 0;
out:
    if (lm != NULL)
        free_and_destroy_model(&lm);
    free(prob.y);
    free(prob.x);
    free(space);
    return rc;
}

static double
nll(const double *logp, const int *truth, size_t n, double t)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        const double *z = logp + i * INTENT_COUNT;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < INTENT_COUNT; c++)
            if (z[c] / t > mx)
                mx = z[c] / t;
        for (int c = 0; c < INTENT_COUNT; c++)
            sum += exp(z[c] / t - mx);
        s += mx + log(sum) - z[truth[i]] / t;
    }
    return n ? s / (double)n : 0;
}

double
fit_temperature(const double *logp, const int *truth, size_t n)
{
    /* golden-section search on ln T in [ln 0.05, ln 20] */
    const double g = (sqrt(5.0) - 1) / 2;
    double a = log(0.05), b = log(20.0);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll(logp, truth, n, exp(x1)), f2 = nll(logp, truth, n, exp(x2));

    for (int it = 0; it < 60; it++) {
        if (f1 < f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = nll(logp, truth, n, exp(x1));
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = nll(logp, truth, n, exp(x2));
        }
    }
    return exp((a + b) / 2);
}
