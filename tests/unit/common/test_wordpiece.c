/*
 * WordPiece ids against Hugging Face's tokenizer (reference file written by
 * tools/encoder-reference.py): the embedded texts and tokenizer-only cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reference.h"
#include "wordpiece.h"

/* Every text of one array of the reference file; returns how many. */
static int
check_array(const struct wordpiece *w, const cJSON *array)
{
    static int32_t ids[256];
    const cJSON *row;
    int checked = 0;

    cJSON_ArrayForEach(row, array)
    {
        const char *text = cJSON_GetObjectItem(row, "text")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(row, "ids");
        size_t n = wordpiece_encode(w, text, ids, 256);
        if ((int)n != cJSON_GetArraySize(want))
            fail_msg(
                "'%s': %zu ids, want %d", text, n, cJSON_GetArraySize(want));
        for (size_t i = 0; i < n; i++)
            if (ids[i] != cJSON_GetArrayItem(want, (int)i)->valueint)
                fail_msg("'%s': id %zu is %d, want %d", text, i, ids[i],
                    cJSON_GetArrayItem(want, (int)i)->valueint);
        checked++;
    }
    return checked;
}

static void
test_matches_reference(void **state)
{
    char path[512];
    struct wordpiece *w;

    (void)state;
    snprintf(path, sizeof(path), "%s/vocab.txt", model_dir());
    assert_int_equal(wordpiece_load(&w, path), 0);
    cJSON *doc = load_reference();
    assert_non_null(doc);
    assert_true(check_array(w, cJSON_GetObjectItem(doc, "rows")) >= 20);
    assert_true(check_array(w, cJSON_GetObjectItem(doc, "tokens")) >= 20);
    cJSON_Delete(doc);
    wordpiece_free(w);
}

static void
test_limits(void **state)
{
    char path[512];
    struct wordpiece *w;
    int32_t ids[8];

    (void)state;
    snprintf(path, sizeof(path), "%s/vocab.txt", model_dir());
    assert_int_equal(wordpiece_load(&w, path), 0);
    /* Cut to max, [CLS] first and [SEP] last. */
    size_t n = wordpiece_encode(
        w, "one two three four five six seven eight", ids, 5);
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], wordpiece_id(w, "[CLS]"));
    assert_int_equal(ids[4], wordpiece_id(w, "[SEP]"));
    assert_int_equal(ids[1], wordpiece_id(w, "one"));
    /* Invalid UTF-8 and control bytes never crash. */
    n = wordpiece_encode(w, "\xff\xfe\x01\x80hi\xc3", ids, 8);
    assert_true(n >= 2);
    assert_int_equal(wordpiece_load(&w, "/nonexistent/vocab.txt") < 0, 1);
    wordpiece_free(w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
