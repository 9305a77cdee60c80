/*
 * classify_cli.h - `intent-agent --classify`: classify JSON lines.
 *
 * Reads lines {"text": "..."} and writes for each, in order, one line
 *
 *   {"intent":"refund","confidence":0.97312,"scores":{"greeting":...,...}}
 *
 * or, for a line that cannot be classified, {"error":"..."}: a line over
 * CLASSIFY_CLI_MAX_LINE bytes, malformed JSON, no "text" string. Blank lines
 * are skipped. Lines that are already available are classified together,
 * up to CLASSIFY_CLI_BATCH at a time (in parts on up to CLASSIFY_CLI_THREADS
 * threads, one per core, when there are enough), and each batch's answers are
 * flushed before the reader waits for more input, so the stream works both for
 * interactive use and for throughput.
 */
#ifndef INTENT_CLASSIFY_CLI_H
#define INTENT_CLASSIFY_CLI_H

#include <stdio.h>

#include "classifier.h"

#define CLASSIFY_CLI_MAX_LINE (64 * 1024)
#define CLASSIFY_CLI_BATCH 64
#define CLASSIFY_CLI_THREADS 4

/*
 * Classify the lines of in until its end, writing answers to out. When in
 * has a file descriptor it is read directly (read(2) and poll(2)), so in
 * must not have buffered input of its own. Returns 0 at the end of input, or
 * a negative errno when reading or writing failed.
 */
int classify_cli_run(FILE *in, FILE *out, struct classifier *c);

/* As classify_cli_run(), passing flags (CLASSIFY_SKIP_ENCODER) to
 * classifier_classify(). */
int classify_cli_run_flags(
    FILE *in, FILE *out, struct classifier *c, unsigned flags);

#endif
