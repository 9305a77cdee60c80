/*
 * knowledge.h - knowledge base entries: parsed from the project's data file
 * (data/knowledge/kb.json), stored in the `knowledge` collection (owned by
 * the escalation daemon, which seeds it at start and adds curated answers),
 * and read back by the support agent.
 */
#ifndef COMMON_KNOWLEDGE_H
#define COMMON_KNOWLEDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "store.h"

#define KB_MAX_ENTRIES 10000
#define KB_MAX_LIST 16   /* questions or tags per entry */
#define KB_MAX_TEXT 4096 /* bytes of one answer or question */
#define KB_FILE_MAX (8u << 20)

struct kb_entry {
    char *id, *title, *answer, *policy; /* owned */
    char *questions[KB_MAX_LIST];
    int nquestions;
    char *tags[KB_MAX_LIST];
    int ntags;
    unsigned intents; /* bit (1 << enum intent) per intent */
    bool needs_human;
    bool curated; /* approved by a human: ranks first */
    int64_t updated_at;
};

struct kb {
    struct kb_entry *entries;
    size_t n;
};

/*
 * Parse a knowledge file {"entries": [...]} into kb (owned; kb_release).
 * Every field is type- and length-checked. Returns 0, or -1 with a reason
 * in err (size errlen).
 */
int kb_load_file(struct kb *kb, const char *path, char *err, size_t errlen);

/* Read every entry of the `knowledge` collection. 0 or a store_err. */
int kb_load_store(struct kb *kb, struct store *s);

/*
 * A cheap change check: the number of documents plus the newest
 * updated_at folded into *stamp (an added, removed or edited entry changes
 * it). 0 or a store_err.
 */
int kb_count(struct store *s, int64_t *stamp);

/*
 * Upsert each entry by _id (the escalation daemon, at start): idempotent;
 * an entry a human curated is never overwritten by the file. 0 or a
 * store_err.
 */
int kb_seed(struct store *s, const struct kb *kb);

/* Insert or replace one entry by its id (curated answers). 0 or a
 * store_err. */
int kb_put(struct store *s, const struct kb_entry *e);

/* The entry as a BSON document; and back (0, or -1 when malformed). */
void kb_entry_to_bson(const struct kb_entry *e, bson_t *doc);
int kb_entry_from_bson(const bson_t *doc, struct kb_entry *e);

/* Free the entries; kb is empty afterwards. */
void kb_release(struct kb *kb);
void kb_entry_release(struct kb_entry *e);

#endif
