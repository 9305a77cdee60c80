/*
 * metrics.h - accuracy and macro-F1 of intent predictions, computed the way
 * /work/shared/tools/eval-intent does (macro over the true classes).
 */
#ifndef TRAIN_METRICS_H
#define TRAIN_METRICS_H

#include <stddef.h>
#include <stdio.h>

#include "intent.h"

struct confusion {
    size_t m[INTENT_COUNT][INTENT_COUNT]; /* [truth][predicted] */
};

/* Count one prediction. */
void confusion_add(struct confusion *c, int truth, int pred);

/* Accuracy, 0 when empty. */
double confusion_accuracy(const struct confusion *c);

/* Mean F1 over the classes that occur as truth, 0 when empty. */
double confusion_macro_f1(const struct confusion *c);

/* Print per-class precision / recall / F1 and the matrix to f. */
void confusion_print(const struct confusion *c, FILE *f);

#endif
