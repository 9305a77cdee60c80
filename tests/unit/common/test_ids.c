/* Random identifiers: shape, uniqueness across calls, threads and fork. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ids.h"

#define N 4096

static int
cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sorts n ids of 17 chars and says whether two are equal. */
static int
any_equal(char (*ids)[17], size_t n)
{
    qsort(ids, n, sizeof(ids[0]), cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            return 1;
    return 0;
}

static void
test_shape(void **state)
{
    char out[129];

    (void)state;
    for (size_t n = 1; n <= 64; n++) {
        memset(out, 'x', sizeof(out));
        assert_int_equal(ids_hex(out, n), 0);
        assert_int_equal(strlen(out), 2 * n);
        assert_int_equal(strspn(out, "0123456789abcdef"), 2 * n);
    }
    assert_int_equal(ids_hex(out, 65), -1);
    assert_true(ids_is_hex("00ff", 4));
    assert_false(ids_is_hex("0000", 4));
    assert_false(ids_is_hex("00FF", 4));
    assert_false(ids_is_hex("00ff", 3));
    assert_false(ids_is_hex(NULL, 0));
}

/* Many ids in a row, more than one pool's worth, never repeat. */
static void
test_unique(void **state)
{
    static char ids[N][17];

    (void)state;
    for (size_t i = 0; i < N; i++)
        assert_int_equal(ids_hex(ids[i], 8), 0);
    assert_false(any_equal(ids, N));
}

static void *
fill(void *arg)
{
    char(*ids)[17] = arg;

    for (size_t i = 0; i < N / 4; i++)
        if (ids_hex(ids[i], 8) != 0)
            return arg;
    return NULL;
}

/* Each thread draws its own bytes: four threads' ids never meet. */
static void
test_threads(void **state)
{
    static char ids[N][17];
    pthread_t t[4];

    (void)state;
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fill, ids[i * N / 4]), 0);
    for (size_t i = 0; i < 4; i++) {
        void *rv;
        assert_int_equal(pthread_join(t[i], &rv), 0);
        assert_null(rv);
    }
    assert_false(any_equal(ids, N));
}

/* A forked child must not hand out the bytes left in its parent's pool. */
static void
test_fork(void **state)
{
    char parent[17], child[17] = "", warm[17];
    int fd[2];

    (void)state;
    assert_int_equal(ids_hex(warm, 8), 0); /* the pool now has bytes left */
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[17];
        int ok = ids_hex(id, 8) == 0 && write(fd[1], id, 17) == 17;
        _exit(ok ? 0 : 1);
    }
    close(fd[1]);
    assert_int_equal(read(fd[0], child, sizeof(child)), 17);
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(ids_hex(parent, 8), 0);
    assert_string_not_equal(parent, child);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
