/*
 * dataset.h - the labelled rows the intent classifier is trained on.
 *
 * Reads JSON lines {"source": ..., "text": ..., "intent": ...} with intent
 * one of the seven names of common/intent.h. Lines over DATASET_MAX_LINE
 * bytes, malformed lines and unknown intents are counted and skipped. Rows
 * are sorted (source, text, intent) so that training does not depend on the
 * order of the file.
 */
#ifndef TRAIN_DATASET_H
#define TRAIN_DATASET_H

#include <stddef.h>
#include <stdio.h>

#define DATASET_MAX_LINE (64 * 1024)
#define DATASET_MAX_ROWS 10000000

struct row {
    char *source;
    char *text;
    int intent;
};

struct dataset {
    struct row *rows;
    size_t n, cap;
    size_t skipped; /* malformed, oversize or unknown-intent lines */
};

/*
 * Add the rows of path to ds (zeroed before the first call) and sort all
 * rows. Returns 0, or a negative errno (then ds is freed).
 */
int dataset_read(struct dataset *ds, const char *path);

/* Free the rows of ds and zero it. */
void dataset_free(struct dataset *ds);

/*
 * 1 when source matches spec: spec is a '+'-separated list of names, and a
 * name matches a source equal to it.
 */
int dataset_source_in(const char *source, const char *spec);

/*
 * Write rows sel (indices, n of them) to path as JSON lines
 * {"source", "text", "intent"} for tools that score a classifier.
 */
int dataset_write_jsonl(
    const struct dataset *ds, const size_t *sel, size_t n, const char *path);

#endif
