/* The safetensors reader: a good file opens, malformed ones are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "safetensors.h"

static char dir[] = "/tmp/st-test-XXXXXX";
static char path[64];

/* Write an 8-byte length, header (space-padded to 8) and data bytes. */
static void
write_file(const char *header, const void *data, size_t ndata)
{
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    unsigned char len[8];
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(padded >> (8 * i));
    assert_int_equal(fwrite(len, 1, 8, f), 8);
    assert_int_equal(fwrite(header, 1, hlen, f), hlen);
    for (size_t i = hlen; i < padded; i++)
        fputc(' ', f);
    if (ndata > 0)
        assert_int_equal(fwrite(data, 1, ndata, f), ndata);
    fclose(f);
}

static int
setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/m.safetensors", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void
test_good_file(void **state)
{
    float data[6] = {1, 2, 3, 4, 5, 6};
    struct safetensors *s;
    struct tensor t;

    (void)state;
    write_file("{\"__metadata__\":{\"format\":\"pt\"},"
               "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],"
               "\"data_offsets\":[0,16]},"
               "\"n\":{\"dtype\":\"I32\",\"shape\":[2],"
               "\"data_offsets\":[16,24]}}",
        data, sizeof(data));
    assert_int_equal(safetensors_open(&s, path), 0);
    assert_int_equal(safetensors_get(s, "w", &t), 0);
    assert_int_equal(t.ndims, 2);
    assert_int_equal(t.shape[0], 2);
    assert_int_equal(t.shape[1], 2);
    assert_int_equal(t.count, 4);
    assert_true(t.data[3] == 4.0f);
    assert_int_equal(safetensors_get(s, "n", &t), -EINVAL); /* not F32 */
    assert_int_equal(safetensors_get(s, "missing", &t), -ENOENT);
    assert_int_equal(safetensors_get(s, "__metadata__", &t), -ENOENT);
    safetensors_close(s);
    safetensors_close(NULL);
}

static void
test_bad_files(void **state)
{
    static const char *const headers[] = {
        "not json",
        "[1,2,3]",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,32]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
        "\"data_offsets\":[0,0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-16,0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[\"0\",16]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}",
        "{\"w\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,16],"
        "\"data_offsets\":[0,16]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}",
        "{\"w\":[1,2]}",
        "{\"__metadata__\":\"x\"}",
    };
    float data[4] = {0};
    struct safetensors *s;

    (void)state;
    assert_true(safetensors_open(&s, "/nonexistent/m.safetensors") < 0);
    assert_true(safetensors_open(&s, dir) < 0); /* a folder */
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        write_file(headers[i], data, sizeof(data));
        if (safetensors_open(&s, path) == 0)
            fail_msg("accepted header %zu: %s", i, headers[i]);
    }
    /* Too short, header length past the end, header length not aligned. */
    static const unsigned char raw[][16] = {
        {0},
        {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'},
        {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'},
    };
    static const size_t rawlen[] = {3, 10, 10};
    for (size_t i = 0; i < 3; i++) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(raw[i], 1, rawlen[i], f), rawlen[i]);
        fclose(f);
        if (safetensors_open(&s, path) == 0)
            fail_msg("accepted raw file %zu", i);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
