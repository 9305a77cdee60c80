/*
 * wordpiece.h - BERT's uncased tokenizer as all-MiniLM-L6-v2 runs it: drop
 * control and format characters, NFD and drop non-spacing marks,
 * lower-case, split on white space, punctuation and CJK ideographs, then
 * greedy longest-match-first WordPiece against vocab.txt (a word over 100
 * characters is [UNK]). The Unicode tables (wordpiece_tables.inc) are read
 * off Hugging Face's tokenizer by tools/gen-wordpiece-tables.py.
 */
#ifndef COMMON_WORDPIECE_H
#define COMMON_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

struct wordpiece;

/* Load vocab.txt (one token per line, id = line number). 0 or -errno. */
int wordpiece_load(struct wordpiece **wp, const char *vocab_path);

/* Free; NULL is a no-op. */
void wordpiece_free(struct wordpiece *w);

/* Bytes of a text read at most: far past what 256 tokens need. */
#define WORDPIECE_TEXT_MAX (1u << 20)

/*
 * Tokenize text (UTF-8; malformed bytes are dropped; only the first
 * WORDPIECE_TEXT_MAX bytes are read) into ids: [CLS] tokens... [SEP], at
 * most max ids in all (tokens beyond are cut). Returns the number of ids
 * written: 0 when max < 2, else at least 2.
 */
size_t wordpiece_encode(
    const struct wordpiece *w, const char *text, int32_t *ids, size_t max);

/* The id of a token, or -1. */
int32_t wordpiece_id(const struct wordpiece *w, const char *token);

#endif
