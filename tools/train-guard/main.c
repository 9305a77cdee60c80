/*
 * train-guard - train the gateway's prompt-injection detector
 * (models/guard/injection.bin) and tune its threshold on held-out data.
 *
 *   train-guard --data FILE [--benign FILE] [--extra FILE] [--probe FILE]
 *               [--out FILE] [--splits DIR] [--folds K] [--C X]
 *               [--bits N] [--attack-weight X] [--extra-repeat N]
 *               [--max-customer X] [--max-hard X] [--max-chars N] [--loso]
 *               [--encoder DIR [--emb-customers N] [--emb-scale X]]
 *
 * --data: JSON lines {"source", "text", "label": "attack"|"benign"}
 * (the public injection sets); --benign: customer messages (JSON lines with
 * "text" and "source", every row benign: the intent data); --extra:
 * hand-written rows in --data's shape, trained on (hard negatives such as
 * "please ignore my last message"); --probe: hand-written rows never
 * trained on, scored last.
 *
 * Validation: K folds. Injection and extra rows go to a fold by a hash of
 * their text; customer rows by their source (a fold's model has never seen
 * that source of customer messages). Out-of-fold probabilities pick the
 * threshold: the lowest one that blocks at most --max-customer of customer
 * messages and at most --max-hard of the benign extra rows ("ignore"-style
 * hard negatives), which maximises attack recall. Messages longer than
 * --max-chars are counted as blocked (the gateway refuses them before the
 * model runs). --loso also holds out each injection source whole. With
 * --splits, fold 0's held-out rows and its model are written there for
 * /work/shared/tools/eval-guard-style checks. Then the model is trained on
 * every row and written to --out with the threshold. --encoder runs an
 * experiment first (is the MiniLM sentence embedding worth its cost?) and
 * prints it; the written model stays n-grams only.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "encoder.h"
#include "guard.h"
#include "hash.h"
#include "injection.h"
#include "text_features.h"
#include "utf8.h"

#define MAX_LINE (1 << 20)
#define MAX_FOLDS 10
#define MAX_SOURCES 64

enum group { G_INJ, G_CUSTOMER, G_EXTRA, G_PROBE, G_COUNT };
static const char *const group_names[G_COUNT]
    = {"injection", "customer", "extra", "probe"};

struct row {
    char *source;
    char *text; /* cleaned as the gateway cleans it */
    int attack;
    int group;
    int fold; /* -1: never held out (probe rows: never trained) */
    int too_long;
};

struct opts {
    const char *data, *benign, *extra, *probe, *out, *splits, *encoder;
    int emb_customers;
    double emb_scale;
    int folds, extra_repeat, max_chars, loso;
    double C, attack_weight, max_customer, max_hard;
    struct feature_params fp;
};

struct set {
    struct row *rows;
    size_t n, cap;
    struct feature_vec *feats;
    double *oof; /* out-of-fold p(attack), or the probe's */
};

/*
 * The encoder experiment: rows with an embedding (`has`), and for the
 * hybrid variant the embedding's weights (scale > 0).
 */
struct emb {
    const float *v; /* ENCODER_DIM per row */
    const bool *has;
    float scale; /* 0: n-grams only, on the same rows */
    float we[ENCODER_DIM];
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
quiet(const char *s)
{
    (void)s;
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

/* ---- reading -------------------------------------------------------------
 */

/* The fold of a customer row: one source family per fold. */
static int
customer_fold(const char *source, const char *text, int k)
{
    static const char *const fam[] = {"bitext", "b77", "clinc_train", "clinc_"};
    for (int i = 0; i < 4 && i < k; i++)
        if (strncmp(source, fam[i], strlen(fam[i])) == 0)
            return i;
    return (int)(hash_fnv32(text, strlen(text)) % (uint32_t)k);
}

static int
add_row(struct set *s, const struct opts *o, const char *source,
    const char *text, int attack, int group)
{
    size_t len = strlen(text), chars;
    struct guard_text gt;

    if (!utf8_valid(text, len, &chars))
        return 0;
    if (guard_clean(text, len, &gt) != 0)
        return -ENOMEM;
    if (gt.len == 0) {
        guard_text_release(&gt);
        return 0;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 4096;
        struct row *nr = realloc(s->rows, ncap * sizeof *nr);
        if (nr == NULL)
            return -ENOMEM;
        s->rows = nr;
        s->cap = ncap;
    }
    struct row *r = &s->rows[s->n++];
    r->source = strdup(source);
    r->text = gt.text;
    r->attack = attack;
    r->group = group;
    r->too_long = gt.chars > (size_t)o->max_chars;
    if (group == G_PROBE)
        r->fold = -1;
    else if (group == G_CUSTOMER)
        r->fold = customer_fold(source, r->text, o->folds);
    else
        r->fold = (int)(hash_fnv32(r->text, gt.len) % (uint32_t)o->folds);
    return r->source ? 0 : -ENOMEM;
}

/* Read JSON lines; rows without a label get `def_attack`. */
static int
read_jsonl(struct set *s, const struct opts *o, const char *path, int group,
    int def_attack)
{
    FILE *f = fopen(path, "r");
    char *line = malloc(MAX_LINE);
    size_t before = s->n, bad = 0;
    int rc = 0;

    if (f == NULL || line == NULL) {
        fprintf(stderr, "train-guard: cannot read %s\n", path);
        if (f)
            fclose(f);
        free(line);
        return -1;
    }
    while (rc == 0 && fgets(line, MAX_LINE, f) != NULL) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(j, "label");
        if (!cJSON_IsString(t)) {
            bad += line[0] != '\n' && line[0] != '\0';
            cJSON_Delete(j);
            continue;
        }
        int attack = def_attack;
        if (cJSON_IsString(lab))
            attack = strcmp(lab->valuestring, "attack") == 0;
        rc = add_row(s, o, cJSON_IsString(src) ? src->valuestring : "-",
            t->valuestring, attack, group);
        cJSON_Delete(j);
    }
    fclose(f);
    free(line);
    fprintf(stderr, "train-guard: %s: %zu rows (%zu skipped)\n", path,
        s->n - before, bad);
    return rc;
}

/* ---- fitting -------------------------------------------------------------
 */

static bool
in_train(const struct row *r, int held_fold, const char *held_source)
{
    if (r->group == G_PROBE || (held_fold >= 0 && r->fold == held_fold))
        return false;
    return held_source == NULL || r->group != G_INJ
        || strcmp(r->source, held_source) != 0;
}

/* Train m (fp set) on the rows in_train() keeps. 0 or -errno. */
static int
fit(const struct set *s, const struct opts *o, int held_fold,
    const char *held_source, struct injection_model *m, struct emb *e)
{
    size_t nb = injection_model_buckets(m), n = 0, nodes = 0;
    size_t ne = e != NULL && e->scale > 0 ? ENCODER_DIM : 0;
    struct problem prob = {0};
    struct parameter par = {0};
    struct feature_node *space = NULL;
    struct model *lm = NULL;
    int wl[2] = {0, 1};
    double wv[2] = {1.0, o->attack_weight};
    int rc = 0;

    for (size_t i = 0; i < s->n; i++) {
        const struct row *r = &s->rows[i];
        if (!in_train(r, held_fold, held_source) || (e && !e->has[i]))
            continue;
        int rep = r->group == G_EXTRA ? o->extra_repeat : 1;
        n += (size_t)rep;
        nodes += (size_t)rep * (s->feats[i].n + ne + 2);
    }
    prob.l = (int)n;
    prob.n = (int)(nb + ne) + 1;
    prob.bias = 1.0;
    prob.y = malloc(n * sizeof *prob.y);
    prob.x = malloc(n * sizeof *prob.x);
    space = malloc(nodes * sizeof *space);
    if (prob.y == NULL || prob.x == NULL || space == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    struct feature_node *p = space;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct row *r = &s->rows[i];
        if (!in_train(r, held_fold, held_source) || (e && !e->has[i]))
            continue;
        int rep = r->group == G_EXTRA ? o->extra_repeat : 1;
        for (int t = 0; t < rep; t++) {
            const struct feature_vec *v = &s->feats[i];
            prob.x[k] = p;
            prob.y[k] = r->attack;
            k++;
            for (size_t j = 0; j < v->n; j++) {
                p->index = (int)v->idx[j] + 1;
                p->value = v->val[j];
                p++;
            }
            for (size_t d = 0; d < ne; d++) {
                p->index = (int)(nb + d) + 1;
                p->value = (double)e->scale * e->v[i * ENCODER_DIM + d];
                p++;
            }
            p->index = (int)(nb + ne) + 1;
            p->value = 1.0;
            p++;
            p->index = -1;
            p++;
        }
    }
    par.solver_type = L2R_LR;
    par.C = o->C;
    par.eps = 0.001;
    par.nr_weight = 2;
    par.weight_label = wl;
    par.weight = wv;
    if (check_parameter(&prob, &par) != NULL) {
        rc = -EINVAL;
        goto out;
    }
    set_print_string_function(quiet);
    srand(1);
    if ((lm = train(&prob, &par)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    /* liblinear's first label is the positive side of w. */
    int labels[2] = {0, 0};
    get_labels(lm, labels);
    double sign = get_nr_class(lm) == 2 && labels[0] == 1 ? 1.0 : -1.0;
    if ((rc = injection_model_alloc(m)) != 0)
        goto out;
    for (size_t j = 0; j < nb; j++)
        m->w[j] = (float)(sign * get_decfun_coef(lm, (int)j + 1, 0));
    m->bias = (float)(sign * get_decfun_coef(lm, (int)(nb + ne) + 1, 0));
    for (size_t d = 0; d < ne; d++)
        e->we[d] = (float)(sign * get_decfun_coef(lm, (int)(nb + d) + 1, 0));
out:
    free_and_destroy_model(&lm);
    free(prob.y);
    free(prob.x);
    free(space);
    return rc;
}

/* ---- thresholds and reports ----------------------------------------------
 */

static bool
blocked(const struct set *s, size_t i, double t)
{
    return s->rows[i].too_long || s->oof[i] >= t;
}

/* Block rate of the rows of group g (label attack) at t; *n the count. */
static double
rate(const struct set *s, int g, int attack, double t, size_t *n)
{
    size_t b = 0, c = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct row *r = &s->rows[i];
        if (r->group != g || r->attack != attack || s->oof[i] < 0)
            continue;
        c++;
        b += blocked(s, i, t);
    }
    if (n)
        *n = c;
    return c ? (double)b / (double)c : 0.0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * The lowest threshold at which customer and hard-negative block rates
 * stay within the limits (rates only fall as t rises).
 */
static double
pick_threshold(const struct set *s, const struct opts *o)
{
    double *c = malloc(s->n * sizeof *c);
    size_t n = 0;
    double best = 0.999999;

    if (c == NULL)
        return best;
    for (size_t i = 0; i < s->n; i++)
        if (s->oof[i] >= 0 && !s->rows[i].attack)
            c[n++] = s->oof[i];
    qsort(c, n, sizeof *c, cmp_double);
    /* candidates: just above each benign score, from the top down */
    for (size_t k = n; k-- > 0;) {
        double t = nextafter(c[k], 2.0);
        if (t > 0.999999)
            continue;
        if (rate(s, G_CUSTOMER, 0, t, NULL) > o->max_customer
            || rate(s, G_EXTRA, 0, t, NULL) > o->max_hard)
            break;
        best = t;
    }
    free(c);
    return best < 0.05 ? 0.05 : best;
}

static void
report(const struct set *s, double t, const char *title)
{
    const char *srcs[MAX_SOURCES];
    int ns = 0;

    printf("%s (threshold %.4f)\n  %-9s %-8s %-22s %8s %6s\n", title, t,
        "group", "label", "source", "blocked", "n");
    for (size_t i = 0; i < s->n; i++) {
        int seen = 0;
        for (int k = 0; k < ns; k++)
            seen |= strcmp(srcs[k], s->rows[i].source) == 0;
        if (!seen && ns < MAX_SOURCES)
            srcs[ns++] = s->rows[i].source;
    }
    for (int g = 0; g < G_COUNT; g++) {
        for (int a = 1; a >= 0; a--) {
            for (int k = 0; k < ns; k++) {
                size_t b = 0, c = 0;
                for (size_t i = 0; i < s->n; i++) {
                    const struct row *r = &s->rows[i];
                    if (r->group != g || r->attack != a || s->oof[i] < 0
                        || strcmp(r->source, srcs[k]) != 0)
                        continue;
                    c++;
                    b += blocked(s, i, t);
                }
                if (c)
                    printf("  %-9s %-8s %-22s %8.4f %6zu\n", group_names[g],
                        a ? "attack" : "benign", srcs[k], (double)b / (double)c,
                        c);
            }
        }
    }
    size_t na, nc, nh;
    double rec = 0;
    size_t all_a = 0, all_b = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->oof[i] < 0 || !s->rows[i].attack || s->rows[i].group == G_PROBE)
            continue;
        all_a++;
        all_b += blocked(s, i, t);
    }
    rec = all_a ? (double)all_b / (double)all_a : 0;
    double inj_b = rate(s, G_INJ, 0, t, &na);
    double cust = rate(s, G_CUSTOMER, 0, t, &nc);
    double hard = rate(s, G_EXTRA, 0, t, &nh);
    printf("  attack_recall=%.4f (n=%zu) customer_block=%.4f (n=%zu) "
           "hard_benign_block=%.4f (n=%zu) public_benign_block=%.4f "
           "(n=%zu)\n\n",
        rec, all_a, cust, nc, hard, nh, inj_b, na);
}

static void
score_rows(struct set *s, const struct injection_model *m, int fold,
    const char *source, int group)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct row *r = &s->rows[i];
        bool pick = group >= 0 ? r->group == group
                               : (source != NULL ? r->group == G_INJ
                                           && strcmp(r->source, source) == 0
                                                 : r->fold == fold);
        if (pick)
            s->oof[i] = injection_score(m, r->text);
    }
}

static int
write_split(const struct set *s, int fold, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    for (size_t i = 0; i < s->n; i++) {
        const struct row *r = &s->rows[i];
        if (r->fold != fold)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "source", r->source);
        cJSON_AddStringToObject(o, "text", r->text);
        cJSON_AddStringToObject(o, "label", r->attack ? "attack" : "benign");
        char *line = cJSON_PrintUnformatted(o);
        if (line)
            fprintf(f, "%s\n", line);
        cJSON_free(line);
        cJSON_Delete(o);
    }
    return fclose(f) == 0 ? 0 : -EIO;
}

/* ---- the encoder experiment ----------------------------------------------
 */

/* p(attack) of row i from its precomputed features (and embedding). */
static double
score_row(const struct set *s, size_t i, const struct injection_model *m,
    const struct emb *e)
{
    const struct feature_vec *v = &s->feats[i];
    double z = m->bias;
    for (size_t j = 0; j < v->n; j++)
        z += (double)v->val[j] * m->w[v->idx[j]];
    if (e != NULL && e->scale > 0)
        for (size_t d = 0; d < ENCODER_DIM; d++)
            z += (double)e->scale * e->v[i * ENCODER_DIM + d] * e->we[d];
    return 1.0 / (1.0 + exp(-z));
}

/*
 * Is the MiniLM sentence embedding worth its cost here? Embed every
 * injection, hand-written and probe row and a sample of customer rows,
 * then run the same folds and threshold rule twice on exactly those rows:
 * n-grams only, and n-grams plus the embedding. Prints both reports and
 * the encoder's cost per message. The written model is not affected.
 */
static int
encoder_experiment(struct set *s, const struct opts *o)
{
    struct encoder *enc = NULL;
    float *v = calloc(s->n * ENCODER_DIM, sizeof *v);
    bool *has = calloc(s->n, sizeof *has);
    size_t ncust = 0, chosen = 0, stride;
    int rc = -1;

    if (v == NULL || has == NULL || encoder_load(&enc, o->encoder) != 0) {
        fprintf(
            stderr, "train-guard: cannot load the encoder in %s\n", o->encoder);
        goto out;
    }
    for (size_t i = 0; i < s->n; i++)
        ncust += s->rows[i].group == G_CUSTOMER;
    stride = ncust / (size_t)(o->emb_customers > 0 ? o->emb_customers : 1);
    stride = stride ? stride : 1;
    for (size_t i = 0, c = 0; i < s->n; i++) {
        if (s->rows[i].group == G_CUSTOMER)
            has[i] = c++ % stride == 0;
        else
            has[i] = true;
        chosen += has[i];
    }
    /* embed in batches of 16 of chosen rows, timed */
    const char *batch[16];
    size_t idx[16], nbatch = 0;
    double t0 = now();
    for (size_t i = 0; i <= s->n; i++) {
        if (i < s->n && has[i]) {
            idx[nbatch] = i;
            batch[nbatch++] = s->rows[i].text;
        }
        if (nbatch == 16 || (i == s->n && nbatch > 0)) {
            float out[16 * ENCODER_DIM];
            if (encoder_embed(enc, batch, nbatch, out) != 0)
                goto out;
            for (size_t k = 0; k < nbatch; k++)
                memcpy(v + idx[k] * ENCODER_DIM, out + k * ENCODER_DIM,
                    sizeof(float) * ENCODER_DIM);
            nbatch = 0;
        }
    }
    double secs = now() - t0;
    printf("encoder experiment: %zu rows embedded (%zu customer) in %.1f s, "
           "%.2f ms per message in batches of 16\n\n",
        chosen, chosen - (s->n - ncust), secs, 1000.0 * secs / (double)chosen);
    static struct emb e;
    e.v = v;
    e.has = has;
    for (int variant = 0; variant < 2; variant++) {
        struct injection_model m = {0};
        m.fp = o->fp;
        e.scale = variant ? (float)o->emb_scale : 0.0f;
        for (size_t i = 0; i < s->n; i++)
            s->oof[i] = -1;
        for (int k = 0; k < o->folds; k++) {
            if (fit(s, o, k, NULL, &m, &e) != 0)
                goto out;
            for (size_t i = 0; i < s->n; i++)
                if (has[i] && s->rows[i].fold == k)
                    s->oof[i] = score_row(s, i, &m, &e);
        }
        double t = pick_threshold(s, o);
        report(s, t,
            variant ? "encoder experiment: n-grams + sentence embedding"
                    : "encoder experiment: n-grams only, same rows");
        injection_model_free(&m);
    }
    rc = 0;
out:
    encoder_free(enc);
    free(v);
    free(has);
    return rc;
}

/* ---- main ----------------------------------------------------------------
 */

static void
usage(void)
{
    fprintf(stderr,
        "usage: train-guard --data FILE [--benign FILE] [--extra FILE]\n"
        "         [--probe FILE] [--out FILE] [--splits DIR] [--folds K]\n"
        "         [--C X] [--bits N] [--attack-weight X] [--extra-repeat N]\n"
        "         [--max-customer X] [--max-hard X] [--max-chars N] "
        "[--loso]\n"
        "         [--encoder DIR [--emb-customers N] [--emb-scale X]]\n");
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"data", required_argument, NULL, 'd'},
        {"benign", required_argument, NULL, 'B'},
        {"extra", required_argument, NULL, 'x'},
        {"probe", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"splits", required_argument, NULL, 's'},
        {"folds", required_argument, NULL, 'k'},
        {"C", required_argument, NULL, 'C'},
        {"bits", required_argument, NULL, 'b'},
        {"attack-weight", required_argument, NULL, 'a'},
        {"extra-repeat", required_argument, NULL, 'r'},
        {"max-customer", required_argument, NULL, 'c'},
        {"max-hard", required_argument, NULL, 'H'},
        {"max-chars", required_argument, NULL, 'm'},
        {"char-weight", required_argument, NULL, 'w'},
        {"loso", no_argument, NULL, 'l'},
        {"encoder", required_argument, NULL, 'e'},
        {"emb-customers", required_argument, NULL, 'E'},
        {"emb-scale", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double v;
    int ch;

    memset(o, 0, sizeof *o);
    o->folds = 5;
    o->C = 16;
    o->attack_weight = 1;
    o->extra_repeat = 10;
    o->max_customer = 0.002;
    o->max_hard = 0.05;
    o->max_chars = 2000;
    o->emb_customers = 6000;
    o->emb_scale = 1.0;
    features_default_params(&o->fp);
    o->fp.hash_bits = 18;
    o->fp.char_weight = 0.5f;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->data = optarg;
            break;
        case 'B':
            o->benign = optarg;
            break;
        case 'x':
            o->extra = optarg;
            break;
        case 'p':
            o->probe = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 's':
            o->splits = optarg;
            break;
        case 'l':
            o->loso = 1;
            break;
        case 'e':
            o->encoder = optarg;
            break;
        case 'E':
            if (parse_double(optarg, 1, 1e7, &v) < 0 || v != floor(v))
                return -1;
            o->emb_customers = (int)v;
            break;
        case 'S':
            if (parse_double(optarg, 0.01, 100, &o->emb_scale) < 0)
                return -1;
            break;
        case 'k':
            if (parse_double(optarg, 2, MAX_FOLDS, &v) < 0 || v != floor(v))
                return -1;
            o->folds = (int)v;
            break;
        case 'C':
            if (parse_double(optarg, 1e-4, 1e6, &o->C) < 0)
                return -1;
            break;
        case 'b':
            if (parse_double(optarg, FEATURES_MIN_BITS, FEATURES_MAX_BITS, &v)
                    < 0
                || v != floor(v))
                return -1;
            o->fp.hash_bits = (uint32_t)v;
            break;
        case 'a':
            if (parse_double(optarg, 0.01, 1000, &o->attack_weight) < 0)
                return -1;
            break;
        case 'r':
            if (parse_double(optarg, 1, 100, &v) < 0 || v != floor(v))
                return -1;
            o->extra_repeat = (int)v;
            break;
        case 'c':
            if (parse_double(optarg, 0, 1, &o->max_customer) < 0)
                return -1;
            break;
        case 'H':
            if (parse_double(optarg, 0, 1, &o->max_hard) < 0)
                return -1;
            break;
        case 'm':
            if (parse_double(optarg, 1, 100000, &v) < 0 || v != floor(v))
                return -1;
            o->max_chars = (int)v;
            break;
        case 'w':
            if (parse_double(optarg, 0, 100, &v) < 0)
                return -1;
            o->fp.char_weight = (float)v;
            break;
        case 'h':
            usage();
            exit(0);
        default:
            return -1;
        }
    }
    return o->data != NULL && optind == argc ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct opts o;
    struct set s = {0};
    struct injection_model m = {0};
    char path[4096];
    double t0 = now();
    int rc = 1;

    if (parse_args(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    if (read_jsonl(&s, &o, o.data, G_INJ, 0) != 0
        || (o.benign && read_jsonl(&s, &o, o.benign, G_CUSTOMER, 0) != 0)
        || (o.extra && read_jsonl(&s, &o, o.extra, G_EXTRA, 0) != 0)
        || (o.probe && read_jsonl(&s, &o, o.probe, G_PROBE, 0) != 0))
        goto out;
    s.feats = calloc(s.n, sizeof *s.feats);
    s.oof = malloc(s.n * sizeof *s.oof);
    if (s.feats == NULL || s.oof == NULL)
        goto out;
    for (size_t i = 0; i < s.n; i++) {
        s.oof[i] = -1;
        if (features_extract(&o.fp, s.rows[i].text, &s.feats[i]) != 0)
            goto out;
    }
    m.fp = o.fp;

    /* out-of-fold probabilities */
    for (int k = 0; k < o.folds; k++) {
        if (fit(&s, &o, k, NULL, &m, NULL) != 0)
            goto out;
        score_rows(&s, &m, k, NULL, -1);
        if (o.splits != NULL && k == 0) {
            mkdir(o.splits, 0755);
            snprintf(path, sizeof path, "%s/heldout-0.jsonl", o.splits);
            if (write_split(&s, 0, path) != 0)
                goto out;
        }
        fprintf(stderr, "train-guard: fold %d done (%.1f s)\n", k, now() - t0);
    }
    double t = pick_threshold(&s, &o);
    report(&s, t, "held-out folds (out-of-fold probabilities)");
    if (o.splits != NULL) {
        /* fold 0's model with the chosen threshold, for eval-guard */
        if (fit(&s, &o, 0, NULL, &m, NULL) != 0)
            goto out;
        m.threshold = (float)t;
        snprintf(path, sizeof path, "%s/fold-0.bin", o.splits);
        if (injection_model_save(&m, path) != 0)
            goto out;
        printf("fold 0: held-out rows in %s/heldout-0.jsonl, its model "
               "%s\n\n",
            o.splits, path);
    }
    if (o.loso) {
        const char *srcs[MAX_SOURCES];
        int ns = 0;
        for (size_t i = 0; i < s.n; i++) {
            int seen = 0;
            if (s.rows[i].group != G_INJ)
                continue;
            for (int k = 0; k < ns; k++)
                seen |= strcmp(srcs[k], s.rows[i].source) == 0;
            if (!seen && ns < MAX_SOURCES)
                srcs[ns++] = s.rows[i].source;
        }
        printf("leave one injection source out (threshold %.4f)\n", t);
        for (int k = 0; k < ns; k++) {
            if (fit(&s, &o, -1, srcs[k], &m, NULL) != 0)
                goto out;
            size_t ba = 0, na = 0, bb = 0, nb = 0;
            for (size_t i = 0; i < s.n; i++) {
                const struct row *r = &s.rows[i];
                if (r->group != G_INJ || strcmp(r->source, srcs[k]) != 0)
                    continue;
                bool b = r->too_long || injection_score(&m, r->text) >= t;
                if (r->attack) {
                    na++;
                    ba += b;
                } else {
                    nb++;
                    bb += b;
                }
            }
            printf("  %-22s attack_recall=%.4f (n=%zu) benign_block=%.4f "
                   "(n=%zu)\n",
                srcs[k], na ? (double)ba / (double)na : 0, na,
                nb ? (double)bb / (double)nb : 0, nb);
        }
        printf("\n");
    }

    if (o.encoder != NULL) {
        if (encoder_experiment(&s, &o) != 0)
            goto out;
        for (size_t i = 0; i < s.n; i++)
            s.oof[i] = -1;
    }

    /* the model: every row but the probe */
    if (fit(&s, &o, -1, NULL, &m, NULL) != 0)
        goto out;
    m.threshold = (float)t;
    if (o.probe) {
        score_rows(&s, &m, 0, NULL, G_PROBE);
        size_t n;
        double a = rate(&s, G_PROBE, 1, t, &n);
        printf("probe (never trained on): attack_recall=%.4f (n=%zu) ", a, n);
        a = rate(&s, G_PROBE, 0, t, &n);
        printf("benign_block=%.4f (n=%zu)\n", a, n);
        for (size_t i = 0; i < s.n; i++)
            if (s.rows[i].group == G_PROBE
                && blocked(&s, i, t) != s.rows[i].attack)
                printf("  miss %.3f %s: %.100s\n", s.oof[i],
                    s.rows[i].attack ? "attack" : "benign", s.rows[i].text);
        printf("\n");
    }
    if (o.out != NULL) {
        if (injection_model_save(&m, o.out) != 0) {
            fprintf(stderr, "train-guard: cannot write %s\n", o.out);
            goto out;
        }
        printf("wrote %s (threshold %.4f, %zu rows, %.1f s)\n", o.out, t, s.n,
            now() - t0);
    }
    rc = 0;
out:
    injection_model_free(&m);
    for (size_t i = 0; s.feats && i < s.n; i++)
        feature_vec_free(&s.feats[i]);
    for (size_t i = 0; i < s.n; i++) {
        free(s.rows[i].source);
        free(s.rows[i].text);
    }
    free(s.rows);
    free(s.feats);
    free(s.oof);
    return rc;
}
