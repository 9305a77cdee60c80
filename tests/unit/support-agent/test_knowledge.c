/*
 * The knowledge base the support agent answers from: the project's file
 * (data/knowledge/kb.json, or KB_FILE) is well formed and covers every
 * intent; malformed files are refused; entries survive the trip to BSON
 * (the `knowledge` collection) and back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "compose.h"
#include "intent.h"
#include "knowledge.h"

static const char *
kb_path(void)
{
    const char *p = getenv("KB_FILE");
    return p != NULL ? p : "data/knowledge/kb.json";
}

static void
test_the_shipped_base(void **state)
{
    struct kb kb;
    char err[256];
    int per_intent[INTENT_COUNT] = {0};

    (void)state;
    if (kb_load_file(&kb, kb_path(), err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(kb.n >= 50 && kb.n <= 200);
    for (size_t i = 0; i < kb.n; i++) {
        const struct kb_entry *e = &kb.entries[i];
        /* Stable ids: lower-case words and dashes. */
        assert_true(strlen(e->id) > 0
            && strspn(e->id, "abcdefghijklmnopqrstuvwxyz0123456789-")
                == strlen(e->id));
        for (size_t j = 0; j < i; j++)
            if (strcmp(kb.entries[j].id, e->id) == 0)
                fail_msg("duplicate id %s", e->id);
        assert_true(strlen(e->title) > 0);
        if (strlen(e->answer) < 20 || strlen(e->answer) > 600)
            fail_msg("%s: answer of %zu bytes", e->id, strlen(e->answer));
        if (e->nquestions < 3)
            fail_msg("%s: %d questions", e->id, e->nquestions);
        assert_true(e->ntags >= 1);
        assert_true(e->intents != 0);
        assert_false(e->curated);
        for (int k = 0; k < INTENT_COUNT; k++)
            per_intent[k] += (e->intents >> k) & 1;
        /* A hand-over names its reason; nothing else has a policy. */
        if (e->needs_human) {
            if (compose_policy_reason(e->policy) == COMPOSE_POLICY)
                fail_msg("%s: policy \"%s\" names no reason", e->id,
                    e->policy ? e->policy : "");
        } else {
            assert_true(e->policy == NULL || e->policy[0] == '\0');
        }
    }
    for (int k = 0; k < INTENT_COUNT; k++)
        if (per_intent[k] < 3)
            fail_msg("intent %s: %d entries", intent_name(k), per_intent[k]);
    kb_release(&kb);
    assert_int_equal(kb.n, 0);
    assert_null(kb.entries);
}

/* Write text to a temporary file; its path into path. */
static void
temp_file(const char *text, char *path, size_t len)
{
    snprintf(path, len, "/tmp/test_knowledge_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static int
load_text(const char *text, struct kb *kb)
{
    char path[64], err[256];

    temp_file(text, path, sizeof(path));
    int rv = kb_load_file(kb, path, err, sizeof(err));
    unlink(path);
    if (rv != 0)
        assert_true(strlen(err) > 0);
    return rv;
}

#define ENTRY(extra)                                                           \
    "{\"entries\": [{\"id\": \"e1\", \"title\": \"T\", \"answer\": \"A\", "    \
    "\"intents\": [\"question\"]" extra "}]}"

static void
test_malformed_files(void **state)
{
    struct kb kb;
    char err[256];

    (void)state;
    assert_int_equal(load_text(ENTRY(""), &kb), 0);
    assert_int_equal(kb.n, 1);
    assert_string_equal(kb.entries[0].id, "e1");
    kb_release(&kb);
    assert_int_equal(load_text(ENTRY(", \"questions\": [\"q1\", \"q2\"], "
                                     "\"tags\": [\"t\"], \"needs_human\": "
                                     "true, \"policy\": \"refund: x\""),
                         &kb),
        0);
    assert_int_equal(kb.entries[0].nquestions, 2);
    assert_true(kb.entries[0].needs_human);
    kb_release(&kb);

    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"entries\": {}}",
        "{\"entries\": [42]}",
        "{\"entries\": [{\"title\": \"T\", \"answer\": \"A\"}]}",
        "{\"entries\": [{\"id\": \"e1\", \"title\": \"T\"}]}",
        "{\"entries\": [{\"id\": 7, \"title\": \"T\", \"answer\": \"A\"}]}",
        ENTRY(", \"questions\": \"one\""),
        ENTRY(", \"questions\": [1]"),
        ENTRY(", \"tags\": [\"a\", null]"),
        "{\"entries\": [{\"id\": \"e1\", \"title\": \"T\", \"answer\": "
        "\"A\", \"intents\": [\"shopping\"]}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (load_text(bad[i], &kb) != 0)
            assert_int_equal(kb.n, 0);
        else
            fail_msg("accepted: %s", bad[i]);

    /* Too many questions, an over-long answer. */
    char *big = malloc(64 * 1024);
    assert_non_null(big);
    size_t n = (size_t)snprintf(big, 64 * 1024,
        "{\"entries\": [{\"id\": \"e\", \"title\": \"T\", \"answer\": \"A\", "
        "\"questions\": [");
    for (int i = 0; i < KB_MAX_LIST + 1; i++)
        n += (size_t)snprintf(
            big + n, 64 * 1024 - n, "%s\"q%d\"", i ? ", " : "", i);
    snprintf(big + n, 64 * 1024 - n, "]}]}");
    assert_int_not_equal(load_text(big, &kb), 0);
    n = (size_t)snprintf(big, 64 * 1024,
        "{\"entries\": [{\"id\": \"e\", \"title\": \"T\", \"answer\": \"");
    memset(big + n, 'a', KB_MAX_TEXT + 1);
    n += KB_MAX_TEXT + 1;
    snprintf(big + n, 64 * 1024 - n, "\"}]}");
    assert_int_not_equal(load_text(big, &kb), 0);
    free(big);

    assert_int_not_equal(
        kb_load_file(&kb, "/nonexistent/kb.json", err, sizeof(err)), 0);
    assert_non_null(strstr(err, "/nonexistent/kb.json"));
}

static void
test_bson_round_trip(void **state)
{
    struct kb kb;
    struct kb_entry back;
    char err[256];

    (void)state;
    if (kb_load_file(&kb, kb_path(), err, sizeof(err)) != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < kb.n; i++) {
        const struct kb_entry *e = &kb.entries[i];
        bson_t doc = BSON_INITIALIZER;
        kb_entry_to_bson(e, &doc);
        assert_int_equal(kb_entry_from_bson(&doc, &back), 0);
        assert_string_equal(back.id, e->id);
        assert_string_equal(back.title, e->title);
        assert_string_equal(back.answer, e->answer);
        assert_string_equal(
            back.policy ? back.policy : "", e->policy ? e->policy : "");
        assert_int_equal(back.nquestions, e->nquestions);
        for (int q = 0; q < e->nquestions; q++)
            assert_string_equal(back.questions[q], e->questions[q]);
        assert_int_equal(back.ntags, e->ntags);
        for (int t = 0; t < e->ntags; t++)
            assert_string_equal(back.tags[t], e->tags[t]);
        assert_int_equal(back.intents, e->intents);
        assert_int_equal(back.needs_human, e->needs_human);
        assert_int_equal(back.curated, e->curated);
        assert_true(back.updated_at > 0); /* stamped when stored */
        kb_entry_release(&back);
        bson_destroy(&doc);
    }
    kb_release(&kb);
}

static void
test_bson_as_others_write_it(void **state)
{
    struct kb_entry e;

    (void)state;
    /* A curated answer as the escalation daemon may store it: numbers for
     * flags, unknown fields and intents ignored. */
    bson_t *doc = BCON_NEW("_id", BCON_UTF8("curated-123"), "title",
        BCON_UTF8("Parcel lost"), "answer", BCON_UTF8("We resend it."),
        "questions", "[", BCON_UTF8("my parcel never came"), BCON_INT32(5), "]",
        "intents", "[", BCON_UTF8("question"), BCON_UTF8("nonsense"), "]",
        "curated", BCON_INT32(1), "needs_human", BCON_BOOL(false), "updated_at",
        BCON_INT64(1700000000000), "approved_by", BCON_UTF8("agent-7"));
    assert_int_equal(kb_entry_from_bson(doc, &e), 0);
    assert_string_equal(e.id, "curated-123");
    assert_true(e.curated);
    assert_false(e.needs_human);
    assert_int_equal(e.nquestions, 1);
    assert_int_equal(e.intents, 1u << INTENT_QUESTION);
    assert_int_equal(e.updated_at, 1700000000000);
    kb_entry_release(&e);
    bson_destroy(doc);

    /* Required fields missing or of the wrong type: refused. */
    doc = BCON_NEW("_id", BCON_UTF8("x"), "title", BCON_UTF8("T"));
    assert_int_not_equal(kb_entry_from_bson(doc, &e), 0);
    bson_destroy(doc);
    doc = BCON_NEW("_id", BCON_INT32(3), "title", BCON_UTF8("T"), "answer",
        BCON_UTF8("A"));
    assert_int_not_equal(kb_entry_from_bson(doc, &e), 0);
    bson_destroy(doc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_shipped_base),
        cmocka_unit_test(test_malformed_files),
        cmocka_unit_test(test_bson_round_trip),
        cmocka_unit_test(test_bson_as_others_write_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
