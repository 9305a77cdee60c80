#include "metrics.h"

void
confusion_add(struct confusion *c, int truth, int pred)
{
    if (truth >= 0 && truth < INTENT_COUNT && pred >= 0 && pred < INTENT_COUNT)
        c->m[truth][pred]++;
}

double
confusion_accuracy(const struct confusion *c)
{
    size_t ok = 0, all = 0;
    for (int t = 0; t < INTENT_COUNT; t++)
        for (int p = 0; p < INTENT_COUNT; p++) {
            all += c->m[t][p];
            if (t == p)
                ok += c->m[t][p];
        }
    return all ? (double)ok / (double)all : 0;
}

static void
prf(const struct confusion *c, int k, double *pr, double *rc, double *f1,
    size_t *n)
{
    size_t tp = c->m[k][k], fp = 0, fn = 0;
    for (int i = 0; i < INTENT_COUNT; i++) {
        if (i == k)
            continue;
        fp += c->m[i][k];
        fn += c->m[k][i];
    }
    *pr = tp + fp ? (double)tp / (double)(tp + fp) : 0;
    *rc = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    *f1 = *pr + *rc > 0 ? 2 * *pr * *rc / (*pr + *rc) : 0;
    *n = tp + fn;
}

double
confusion_macro_f1(const struct confusion *c)
{
    double s = 0;
    int k = 0;
    for (int i = 0; i < INTENT_COUNT; i++) {
        double pr, rc, f1;
        size_t n;
        prf(c, i, &pr, &rc, &f1, &n);
        if (n == 0)
            continue;
        s += f1;
        k++;
    }
    return k ? s / k : 0;
}

void
confusion_print(const struct confusion *c, FILE *f)
{
    fprintf(f, "    %-10s %6s %6s %6s %6s   confusion (truth x predicted)\n",
        "intent", "prec", "recall", "f1", "n");
    for (int i = 0; i < INTENT_COUNT; i++) {
        double pr, rc, f1;
        size_t n;
        prf(c, i, &pr, &rc, &f1, &n);
        fprintf(f, "    %-10s %6.3f %6.3f %6.3f %6zu  ", intent_name(i), pr, rc,
            f1, n);
        for (int j = 0; j < INTENT_COUNT; j++)
            fprintf(f, " %5zu", c->m[i][j]);
        fputc('\n', f);
    }
}
