/*
 * train-intent - train the intent classifier's heads (models/intent/head.bin)
 * and check them on held-out sources.
 *
 *   train-intent --data FILE [--data FILE...] [--encoder DIR] [--cache FILE]
 * [--out FILE]
 *                [--splits DIR] [--folds SPEC,SPEC...] [--no-validate]
 *                [--C X] [--ngram-C X] [--emb-scale X] [--cw-power X]
 *                [--solver N] [--bits N] [--char-weight X] [--quant i8|f32]
 *                [--skip-loss X] [--probe FILE] [--other-shift X]
 *                [--hybrid-only]
 *
 * Validation holds out whole sources: for each fold SPEC (sources joined
 * by '+') both heads are trained on the other rows and scored on the held-out
 * ones, through the same model file path and classifier code the daemon uses.
 * The out-of-fold answers also fit each head's softmax temperature and the
 * n-gram confidence above which the encoder may be skipped. Then both heads
 * are trained on all rows and written to --out. Several --data files are
 * read as one set; a source that no fold names is always trained on.
 * --hybrid-only (for sweeps, without --out) trains and scores only the
 * hybrid head in the folds; the n-gram columns then read 0.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "classifier.h"
#include "dataset.h"
#include "embcache.h"
#include "encoder.h"
#include "text_features.h"
#include "fit.h"
#include "intent_model.h"
#include "metrics.h"

#define MAX_FOLDS 16
#define MAX_DATA 8
#define BATCH 256

struct opts {
    const char *data[MAX_DATA];
    int ndata;
    const char *probe;
    const char *encoder, *cache, *out, *splits;
    char *folds[MAX_FOLDS];
    int nfolds;
    int validate;
    int hybrid_only; /* sweeps: folds train and score the hybrid head only */
    int quant;
    double skip_loss;
    struct fit_opts fit; /* hybrid head */
    double ngram_C;      /* n-gram head's cost; the rest as fit */
    double other_shift;  /* subtracted from the bias of "other" */
    struct feature_params fp;
};

struct fold_result {
    const char *name;
    size_t n;
    struct confusion conf[HEAD_KINDS];
    struct intent_model m;
};

/* everything the folds share */
struct run {
    const struct opts *o;
    struct dataset ds;
    struct feature_vec *feats;
    int *labels;
    float *emb; /* NULL without encoder */
    int kinds;  /* 1: n-gram only, 2: both heads */
    /* out-of-fold answers, per row and head */
    double *oof_logp[HEAD_KINDS];
    int *oof_has;
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: train-intent --data FILE... [--encoder DIR] [--cache FILE]\n"
        "         [--out FILE] [--splits DIR] [--folds SPEC,...]\n"
        "         [--no-validate] [--C X] [--ngram-C X] [--emb-scale X]\n"
        "         [--cw-power X] [--solver N] [--bits N] [--char-weight X]\n"
        "         [--quant i8|f32] [--skip-loss X] [--probe FILE]\n"
        "         [--other-shift X] [--hybrid-only]\n");
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    static char default_folds[] = "bitext8k,b77train,clinc_val+clinc_oos_val";
    static const struct option lo[] = {
        {"data", required_argument, NULL, 'd'},
        {"encoder", required_argument, NULL, 'e'},
        {"cache", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},
        {"splits", required_argument, NULL, 's'},
        {"folds", required_argument, NULL, 'f'},
        {"no-validate", no_argument, NULL, 'n'},
        {"C", required_argument, NULL, 'C'},
        {"ngram-C", required_argument, NULL, 'N'},
        {"emb-scale", required_argument, NULL, 'a'},
        {"cw-power", required_argument, NULL, 'w'},
        {"solver", required_argument, NULL, 'S'},
        {"bits", required_argument, NULL, 'b'},
        {"quant", required_argument, NULL, 'q'},
        {"skip-loss", required_argument, NULL, 'l'},
        {"probe", required_argument, NULL, 'p'},
        {"other-shift", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {"char-weight", required_argument, NULL, 'c'},
        {"hybrid-only", no_argument, NULL, 'H'},
        {NULL, 0, NULL, 0},
    };
    char *folds = default_folds;
    double v;
    int ch;

    memset(o, 0, sizeof *o);
    o->validate = 1;
    o->quant = QUANT_I8;
    o->skip_loss = 0.002;
    o->fit.solver = 0; /* L2R_LR */
    o->fit.C = 5;
    o->ngram_C = 50;
    o->other_shift = 1.0;
    o->fit.eps = 0.001;
    o->fit.cw_power = 0.5;
    o->fit.emb_scale = 1.0f;
    features_default_params(&o->fp);
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            if (o->ndata == MAX_DATA)
                return -1;
            o->data[o->ndata++] = optarg;
            break;
        case 'e':
            o->encoder = optarg;
            break;
        case 'k':
            o->cache = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 's':
            o->splits = optarg;
            break;
        case 'f':
            folds = optarg;
            break;
        case 'n':
            o->validate = 0;
            break;
        case 'H':
            o->hybrid_only = 1;
            break;
        case 'C':
            if (parse_double(optarg, 1e-4, 1e6, &o->fit.C) < 0)
                return -1;
            break;
        case 'N':
            if (parse_double(optarg, 1e-4, 1e6, &o->ngram_C) < 0)
                return -1;
            break;
        case 'a':
            if (parse_double(optarg, 0, 1e4, &v) < 0)
                return -1;
            o->fit.emb_scale = (float)v;
            break;
        case 'w':
            if (parse_double(optarg, 0, 2, &o->fit.cw_power) < 0)
                return -1;
            break;
        case 'S':
            if (parse_double(optarg, 0, 7, &v) < 0 || v != floor(v))
                return -1;
            o->fit.solver = (int)v;
            break;
        case 'b':
            if (parse_double(optarg, FEATURES_MIN_BITS, FEATURES_MAX_BITS, &v)
                    < 0
                || v != floor(v))
                return -1;
            o->fp.hash_bits = (uint32_t)v;
            break;
        case 'q':
            if (strcmp(optarg, "i8") == 0)
                o->quant = QUANT_I8;
            else if (strcmp(optarg, "f32") == 0)
                o->quant = QUANT_F32;
            else
                return -1;
            break;
        case 'p':
            o->probe = optarg;
            break;
        case 'h':
            return 1;
        case 'O':
            if (parse_double(optarg, -20, 20, &o->other_shift) < 0)
                return -1;
            break;
        case 'l':
            if (parse_double(optarg, 0, 1, &o->skip_loss) < 0)
                return -1;
            break;
        case 'c':
            if (parse_double(optarg, 0, 100, &v) < 0)
                return -1;
            o->fp.char_weight = (float)v;
            break;
        default:
            return -1;
        }
    }
    if (o->ndata == 0 || optind != argc || (o->hybrid_only && o->out != NULL))
        return -1;
    for (char *p = folds; p != NULL && *p;) {
        char *e = strchr(p, ',');
        if (e != NULL)
            *e = '\0';
        if (o->nfolds == MAX_FOLDS)
            return -1;
        o->folds[o->nfolds++] = p;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Classify rows sel[0..n) of r with head kind of c into res. */
static int
classify_rows(const struct run *r, const struct classifier *c, int kind,
    const size_t *sel, size_t n, struct classify_result *res)
{
    const char *texts[BATCH];
    float *emb = NULL;
    int rc = 0;

    if (kind == HEAD_HYBRID) {
        emb = malloc((size_t)BATCH * ENCODER_DIM * sizeof *emb);
        if (emb == NULL)
            return -ENOMEM;
    }
    for (size_t b = 0; b < n && rc == 0; b += BATCH) {
        size_t m = n - b < BATCH ? n - b : BATCH;
        for (size_t k = 0; k < m; k++) {
            texts[k] = r->ds.rows[sel[b + k]].text;
            if (emb != NULL)
                memcpy(emb + k * ENCODER_DIM, r->emb + sel[b + k] * ENCODER_DIM,
                    ENCODER_DIM * sizeof *emb);
        }
        rc = classifier_classify(c, texts, m, emb, 0, res + b);
    }
    free(emb);
    return rc;
}

/* Train the heads on train rows into m. */
static int
train_heads(
    struct run *r, const size_t *train, size_t ntrain, struct intent_model *m)
{
    struct fit_data fd = {r->feats, r->labels, r->emb};

    memset(m, 0, sizeof *m);
    m->fp = r->o->fp;
    m->emb_dim = r->kinds > 1 ? ENCODER_DIM : 0;
    m->skip_threshold = 2.0f;
    for (int k = r->o->hybrid_only && r->kinds > 1; k < r->kinds; k++) {
        double t0 = now();
        struct fit_opts fo = r->o->fit;
        if (k == HEAD_NGRAM)
            fo.C = r->o->ngram_C;
        int rc = fit_head(&fd, train, ntrain, k, &fo, m);
        if (rc < 0) {
            fprintf(stderr, "train-intent: fit failed: %s\n", strerror(-rc));
            intent_model_free(m);
            return rc;
        }
        /* "other" is a third of the rows (CLINC's assistant queries); in a
           support channel it is rarer: lower its prior */
        m->heads[k].bias[INTENT_OTHER] -= (float)r->o->other_shift;
        fprintf(stderr, "  %s head: %zu rows, %.1f s\n",
            k ? "hybrid" : "n-gram", ntrain, now() - t0);
    }
    return 0;
}

/* Round-trip m through the file format, as the daemon will read it. */
static int
to_classifier(const struct intent_model *m, int quant, struct classifier **cp)
{
    void *buf;
    size_t len;
    struct intent_model back;
    int rc = intent_model_serialise(m, quant, &buf, &len);

    if (rc < 0)
        return rc;
    rc = intent_model_parse(&back, buf, len);
    free(buf);
    if (rc < 0)
        return rc;
    rc = classifier_from_model(cp, &back, NULL);
    if (rc < 0)
        intent_model_free(&back);
    return rc;
}

static int
run_fold(struct run *r, const char *spec, struct fold_result *fr)
{
    size_t *train = malloc(r->ds.n * sizeof *train);
    size_t *test = malloc(r->ds.n * sizeof *test);
    struct classify_result *res = NULL;
    struct classifier *c = NULL;
    size_t ntrain = 0, ntest = 0;
    int rc = 0;

    memset(fr, 0, sizeof *fr);
    fr->name = spec;
    if (train == NULL || test == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->ds.n; i++) {
        if (dataset_source_in(r->ds.rows[i].source, spec))
            test[ntest++] = i;
        else
            train[ntrain++] = i;
    }
    fr->n = ntest;
    if (ntest == 0 || ntrain == 0) {
        fprintf(stderr,
            "train-intent: fold %s holds out %zu of %zu rows, "
            "skipped\n",
            spec, ntest, r->ds.n);
        goto out;
    }
    fprintf(stderr, "fold %s: train %zu, test %zu\n", spec, ntrain, ntest);
    rc = train_heads(r, train, ntrain, &fr->m);
    if (rc < 0)
        goto out;
    rc = to_classifier(&fr->m, r->o->quant, &c);
    if (rc < 0)
        goto out;
    res = malloc(ntest * sizeof *res);
    if (res == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (int k = r->o->hybrid_only && r->kinds > 1; k < r->kinds; k++) {
        rc = classify_rows(r, c, k, test, ntest, res);
        if (rc < 0)
            goto out;
        for (size_t j = 0; j < ntest; j++) {
            size_t i = test[j];
            confusion_add(&fr->conf[k], r->labels[i], res[j].intent);
            for (int q = 0; q < INTENT_COUNT; q++) {
                float p = res[j].scores[q];
                r->oof_logp[k][i * INTENT_COUNT + q]
                    = p > 1e-37f ? log((double)p) : -85.0;
            }
            r->oof_has[i] = 1;
        }
    }
    if (r->o->splits != NULL) {
        char path[4096];
        int nn = snprintf(
            path, sizeof path, "%s/holdout-%s.jsonl", r->o->splits, spec);
        if (nn > 0 && (size_t)nn < sizeof path)
            rc = dataset_write_jsonl(&r->ds, test, ntest, path);
    }
out:
    classifier_free(c);
    free(res);
    free(train);
    free(test);
    return rc;
}

static void
softmax_t(const double *logp, double t, double *p)
{
    double mx = -INFINITY, s = 0;
    for (int c = 0; c < INTENT_COUNT; c++)
        if (logp[c] / t > mx)
            mx = logp[c] / t;
    for (int c = 0; c < INTENT_COUNT; c++) {
        p[c] = exp(logp[c] / t - mx);
        s += p[c];
    }
    for (int c = 0; c < INTENT_COUNT; c++)
        p[c] /= s;
}

static int
argmax(const double *p)
{
    int b = 0;
    for (int c = 1; c < INTENT_COUNT; c++)
        if (p[c] > p[b])
            b = c;
    return b;
}

/*
 * Fit the temperatures on the out-of-fold answers; measure and pick the
 * skip threshold. Returns 0 or -ENOMEM.
 */
static int
calibrate(struct run *r, double temp[HEAD_KINDS], double *skip)
{
    size_t n = 0;
    double *lp = malloc(r->ds.n * INTENT_COUNT * sizeof *lp);
    int *truth = malloc(r->ds.n * sizeof *truth);

    temp[0] = temp[1] = 1.0;
    *skip = 2.0;
    if (lp == NULL || truth == NULL) {
        free(lp);
        free(truth);
        return -ENOMEM;
    }
    for (int k = 0; k < r->kinds; k++) {
        n = 0;
        for (size_t i = 0; i < r->ds.n; i++) {
            if (!r->oof_has[i])
                continue;
            memcpy(lp + n * INTENT_COUNT, r->oof_logp[k] + i * INTENT_COUNT,
                INTENT_COUNT * sizeof *lp);
            truth[n++] = r->labels[i];
        }
        temp[k] = n ? fit_temperature(lp, truth, n) : 1.0;
        /* calibration error of the fitted probabilities, 10 bins */
        double bin_c[10] = {0}, bin_a[10] = {0}, ece = 0;
        size_t bin_n[10] = {0};
        for (size_t j = 0; j < n; j++) {
            double p[INTENT_COUNT];
            softmax_t(lp + j * INTENT_COUNT, temp[k], p);
            int y = argmax(p);
            int b = (int)(p[y] * 10);
            b = b > 9 ? 9 : b;
            bin_c[b] += p[y];
            bin_a[b] += y == truth[j];
            bin_n[b]++;
        }
        for (int b = 0; b < 10; b++)
            ece += fabs(bin_c[b] - bin_a[b]);
        printf("%s head: temperature %.3f, expected calibration error %.4f "
               "(out-of-fold, %zu rows)\n",
            k ? "hybrid" : "n-gram", temp[k], n ? ece / (double)n : 0, n);
    }
    free(lp);
    free(truth);
    if (r->kinds < 2)
        return 0;

    /* skip the encoder when the n-gram head is sure */
    static const double ts[] = {0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97,
        0.98, 0.99, 0.995, 0.998, 0.999, 2.0};
    double full = 0;
    size_t all = 0;
    for (size_t i = 0; i < r->ds.n; i++) {
        if (!r->oof_has[i])
            continue;
        double p[INTENT_COUNT];
        softmax_t(r->oof_logp[1] + i * INTENT_COUNT, temp[1], p);
        full += argmax(p) == r->labels[i];
        all++;
    }
    full /= all ? (double)all : 1;
    printf("\nskip the encoder when n-gram confidence >= t (out-of-fold):\n"
           "  %6s %8s %9s %8s\n",
        "t", "skipped", "accuracy", "loss");
    for (size_t q = 0; q < sizeof ts / sizeof ts[0]; q++) {
        size_t skipped = 0;
        double ok = 0;
        for (size_t i = 0; i < r->ds.n; i++) {
            if (!r->oof_has[i])
                continue;
            double pn[INTENT_COUNT], ph[INTENT_COUNT];
            softmax_t(r->oof_logp[0] + i * INTENT_COUNT, temp[0], pn);
            softmax_t(r->oof_logp[1] + i * INTENT_COUNT, temp[1], ph);
            int yn = argmax(pn);
            if (pn[yn] >= ts[q]) {
                skipped++;
                ok += yn == r->labels[i];
            } else {
                ok += argmax(ph) == r->labels[i];
            }
        }
        double acc = ok / (all ? (double)all : 1);
        printf("  %6.3f %7.1f%% %9.4f %8.4f\n", ts[q],
            100.0 * (double)skipped / (double)(all ? all : 1), acc, full - acc);
        if (*skip > 1.5 && full - acc <= r->o->skip_loss && ts[q] < 1.5)
            *skip = ts[q];
    }
    printf("skip threshold: %.3f (accuracy loss <= %.3f)\n", *skip,
        r->o->skip_loss);
    return 0;
}

static void
print_table(const struct run *r, const struct fold_result *fr, int nf)
{
    printf("\nheld-out sources (train on the rest, score the source):\n");
    printf("  %-26s %6s  %-15s  %-15s\n", "", "", "n-gram", "hybrid");
    printf("  %-26s %6s  %6s %8s  %6s %8s\n", "held out", "rows", "acc",
        "macro-F1", "acc", "macro-F1");
    for (int f = 0; f < nf; f++) {
        if (fr[f].n == 0)
            continue;
        printf("  %-26s %6zu  %6.4f %8.4f", fr[f].name, fr[f].n,
            confusion_accuracy(&fr[f].conf[0]),
            confusion_macro_f1(&fr[f].conf[0]));
        if (r->kinds > 1)
            printf("  %6.4f %8.4f", confusion_accuracy(&fr[f].conf[1]),
                confusion_macro_f1(&fr[f].conf[1]));
        printf("\n");
    }
    for (int k = 0; k < r->kinds; k++) {
        printf("\n%s head, per fold:\n", k ? "hybrid" : "n-gram");
        for (int f = 0; f < nf; f++) {
            if (fr[f].n == 0)
                continue;
            printf("  %s\n", fr[f].name);
            confusion_print(&fr[f].conf[k], stdout);
        }
    }
}

static int
write_fold_models(const struct run *r, struct fold_result *fr, int nf,
    const double temp[HEAD_KINDS], double skip)
{
    for (int f = 0; f < nf; f++) {
        char path[4096];
        if (fr[f].n == 0)
            continue;
        int nn = snprintf(
            path, sizeof path, "%s/fold-%s.bin", r->o->splits, fr[f].name);
        if (nn < 0 || (size_t)nn >= sizeof path)
            return -ENAMETOOLONG;
        for (int k = 0; k < r->kinds; k++)
            fr[f].m.heads[k].temperature = (float)temp[k];
        fr[f].m.skip_threshold = (float)skip;
        int rc = intent_model_write(&fr[f].m, r->o->quant, path);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
final_model(struct run *r, const double temp[HEAD_KINDS], double skip)
{
    struct intent_model m;
    struct classifier *c = NULL;
    struct classify_result *res = NULL;
    size_t *all = malloc(r->ds.n * sizeof *all);
    int rc;

    if (all == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < r->ds.n; i++)
        all[i] = i;
    fprintf(stderr, "final: all %zu rows\n", r->ds.n);
    rc = train_heads(r, all, r->ds.n, &m);
    if (rc < 0)
        goto out;
    for (int k = 0; k < r->kinds; k++)
        m.heads[k].temperature = (float)temp[k];
    m.skip_threshold = (float)skip;
    rc = intent_model_write(&m, r->o->quant, r->o->out);
    intent_model_free(&m);
    if (rc < 0) {
        fprintf(
            stderr, "train-intent: writing %s: %s\n", r->o->out, strerror(-rc));
        goto out;
    }
    /* read it back the way the daemon does, and check it learnt the data */
    rc = classifier_load(&c, r->o->out, NULL);
    if (rc < 0) {
        fprintf(stderr, "train-intent: reloading %s: %s\n", r->o->out,
            strerror(-rc));
        goto out;
    }
    res = malloc(r->ds.n * sizeof *res);
    if (res == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    struct stat st;
    if (stat(r->o->out, &st) == 0)
        printf("\nwrote %s (%lld bytes)\n", r->o->out, (long long)st.st_size);
    for (int k = 0; k < r->kinds; k++) {
        struct confusion conf = {0};
        rc = classify_rows(r, c, k, all, r->ds.n, res);
        if (rc < 0)
            goto out;
        for (size_t i = 0; i < r->ds.n; i++)
            confusion_add(&conf, r->labels[i], res[i].intent);
        printf("  %s head on its training rows: accuracy %.4f macro-F1 "
               "%.4f\n",
            k ? "hybrid" : "n-gram", confusion_accuracy(&conf),
            confusion_macro_f1(&conf));
    }
out:
    classifier_free(c);
    free(res);
    free(all);
    return rc;
}

/*
 * Score the written model on a small file of messages that no fold and no
 * training step sees, with each head, through classifier_load() as the
 * daemon does.
 */
static int
probe_eval(const char *path, const char *model, const struct encoder *enc)
{
    struct dataset ds = {0};
    const char **texts = NULL;
    struct classify_result *res = NULL;
    int rc = dataset_read(&ds, path);

    if (rc < 0) {
        fprintf(stderr, "train-intent: %s: %s\n", path, strerror(-rc));
        return rc;
    }
    texts = malloc((ds.n ? ds.n : 1) * sizeof *texts);
    res = malloc((ds.n ? ds.n : 1) * sizeof *res);
    if (texts == NULL || res == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ds.n; i++)
        texts[i] = ds.rows[i].text;
    printf("\nprobe %s (%zu hand-written messages, never trained on):\n", path,
        ds.n);
    for (int k = 0; k < (enc != NULL ? 2 : 1) && rc == 0; k++) {
        struct classifier *c = NULL;
        struct confusion conf = {0};
        rc = classifier_load(&c, model, k ? enc : NULL);
        for (size_t b = 0; rc == 0 && b < ds.n; b += BATCH) {
            size_t m = ds.n - b < BATCH ? ds.n - b : BATCH;
            rc = classifier_classify(c, texts + b, m, NULL, 0, res + b);
        }
        for (size_t i = 0; rc == 0 && i < ds.n; i++)
            confusion_add(&conf, ds.rows[i].intent, res[i].intent);
        if (rc == 0)
            printf("  %s head: accuracy %.4f macro-F1 %.4f\n",
                k ? "hybrid" : "n-gram", confusion_accuracy(&conf),
                confusion_macro_f1(&conf));
        classifier_free(c);
    }
out:
    free(texts);
    free(res);
    dataset_free(&ds);
    return rc;
}

int
main(int argc, char **argv)
{
    struct opts o;
    struct run r;
    struct encoder *enc = NULL;
    struct fold_result fr[MAX_FOLDS];
    double temp[HEAD_KINDS] = {1, 1}, skip = 2.0;
    int rc = 0, nf = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        usage();
        return rc < 0 ? 2 : 0;
    }
    memset(&r, 0, sizeof r);
    r.o = &o;
    for (int d = 0; d < o.ndata; d++) {
        rc = dataset_read(&r.ds, o.data[d]);
        if (rc < 0) {
            fprintf(stderr, "train-intent: %s: %s\n", o.data[d], strerror(-rc));
            return 1;
        }
    }
    fprintf(
        stderr, "data: %zu rows (%zu lines skipped)\n", r.ds.n, r.ds.skipped);
    r.feats = calloc(r.ds.n, sizeof *r.feats);
    r.labels = malloc(r.ds.n * sizeof *r.labels);
    r.oof_has = calloc(r.ds.n, sizeof *r.oof_has);
    for (int k = 0; k < HEAD_KINDS; k++)
        r.oof_logp[k] = calloc(r.ds.n * INTENT_COUNT, sizeof(double));
    if (r.feats == NULL || r.labels == NULL || r.oof_has == NULL
        || r.oof_logp[0] == NULL || r.oof_logp[1] == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r.ds.n; i++) {
        r.labels[i] = r.ds.rows[i].intent;
        rc = features_extract(&o.fp, r.ds.rows[i].text, &r.feats[i]);
        if (rc < 0)
            goto out;
    }
    r.kinds = 1;
    if (o.encoder != NULL) {
        const char **texts = malloc(r.ds.n * sizeof *texts);
        r.emb = malloc(r.ds.n * ENCODER_DIM * sizeof *r.emb);
        if (texts == NULL || r.emb == NULL) {
            free(texts);
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < r.ds.n; i++)
            texts[i] = r.ds.rows[i].text;
        rc = encoder_load(&enc, o.encoder);
        if (rc < 0) {
            fprintf(stderr, "train-intent: encoder %s: %s\n", o.encoder,
                strerror(-rc));
            free(texts);
            goto out;
        }
        fprintf(stderr, "encoder: %s (ENCODER_PRECISION)\n",
            encoder_precision_name(encoder_get_precision(enc)));
        rc = embcache_embed(enc, o.cache, texts, r.ds.n, r.emb);
        free(texts);
        if (rc < 0) {
            fprintf(stderr, "train-intent: embedding: %s\n", strerror(-rc));
            goto out;
        }
        r.kinds = 2;
    }
    printf("features: %u buckets, word 1..%u-grams, char %u..%u-grams; "
           "solver %d, C %g (n-gram head %g), class-weight power %g, "
           "other shift %g%s\n",
        1u << o.fp.hash_bits, o.fp.word_max, o.fp.char_min, o.fp.char_max,
        o.fit.solver, o.fit.C, o.ngram_C, o.fit.cw_power, o.other_shift,
        r.kinds > 1 ? "; + MiniLM embedding" : "");
    if (r.kinds > 1)
        printf("embedding scale %g\n", (double)o.fit.emb_scale);

    if (o.validate) {
        for (int f = 0; f < o.nfolds; f++) {
            rc = run_fold(&r, o.folds[f], &fr[nf]);
            nf++;
            if (rc < 0) {
                fprintf(stderr, "train-intent: fold %s: %s\n", o.folds[f],
                    strerror(-rc));
                goto out;
            }
        }
        print_table(&r, fr, nf);
        printf("\n");
        rc = calibrate(&r, temp, &skip);
        if (rc < 0)
            goto out;
        if (o.splits != NULL) {
            rc = write_fold_models(&r, fr, nf, temp, skip);
            if (rc < 0) {
                fprintf(
                    stderr, "train-intent: fold models: %s\n", strerror(-rc));
                goto out;
            }
        }
    }
    if (o.out != NULL)
        rc = final_model(&r, temp, skip);
    if (rc == 0 && o.out != NULL && o.probe != NULL)
        rc = probe_eval(o.probe, o.out, enc);
out:
    for (int f = 0; f < nf; f++)
        intent_model_free(&fr[f].m);
    if (r.feats != NULL)
        for (size_t i = 0; i < r.ds.n; i++)
            feature_vec_free(&r.feats[i]);
    free(r.feats);
    free(r.labels);
    free(r.oof_has);
    free(r.oof_logp[0]);
    free(r.oof_logp[1]);
    free(r.emb);
    encoder_free(enc);
    dataset_free(&r.ds);
    fflush(stdout);
    return rc < 0 ? 1 : 0;
}
