/* JSON numbers written digit by digit (http.h json_add_int/json_add_fixed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* The text of {"v": ...} after add, and that it parses back to want. */
static void
check(cJSON *o, const char *text, double want)
{
    char *s = cJSON_PrintUnformatted(o);
    assert_non_null(s);
    assert_string_equal(s, text);
    cJSON *back = cJSON_Parse(s);
    assert_non_null(back);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(back, "v");
    if (isnan(want)) {
        assert_true(cJSON_IsNull(v));
    } else {
        assert_true(cJSON_IsNumber(v));
        assert_true(v->valuedouble == want);
    }
    cJSON_Delete(back);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void
int_case(long long v, const char *text)
{
    cJSON *o = cJSON_CreateObject();
    assert_non_null(json_add_int(o, "v", v));
    check(o, text, (double)v);
}

static void
fixed_case(double v, int places, const char *text, double want)
{
    cJSON *o = cJSON_CreateObject();
    assert_non_null(json_add_fixed(o, "v", v, places));
    check(o, text, want);
}

static void
test_int(void **state)
{
    (void)state;
    int_case(0, "{\"v\":0}");
    int_case(7, "{\"v\":7}");
    int_case(-7, "{\"v\":-7}");
    int_case(1764757200123LL, "{\"v\":1764757200123}");
    int_case(-1764757200123LL, "{\"v\":-1764757200123}");
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "v", LLONG_MIN);
    char *s = cJSON_PrintUnformatted(o);
    assert_string_equal(s, "{\"v\":-9223372036854775808}");
    cJSON_free(s);
    cJSON_Delete(o);
}

static void
test_fixed(void **state)
{
    (void)state;
    fixed_case(0, 2, "{\"v\":0}", 0);
    fixed_case(-0.0, 2, "{\"v\":0}", 0);
    fixed_case(-0.001, 2, "{\"v\":0}", 0);
    fixed_case(1.5, 2, "{\"v\":1.5}", 1.5);
    fixed_case(1.505, 2, "{\"v\":1.51}", 1.51);
    fixed_case(12.04, 2, "{\"v\":12.04}", 12.04);
    fixed_case(12.004, 2, "{\"v\":12}", 12);
    fixed_case(-3.25, 2, "{\"v\":-3.25}", -3.25);
    fixed_case(0.05, 2, "{\"v\":0.05}", 0.05);
    fixed_case(0.912345, 4, "{\"v\":0.9123}", 0.9123);
    fixed_case(1764757200123.4, 0, "{\"v\":1764757200123}", 1764757200123.0);
    fixed_case(2.5, 0, "{\"v\":3}", 3);
    fixed_case(0.1234567, 9, "{\"v\":0.123457}", 0.123457); /* at most 6 */
    fixed_case(NAN, 2, "{\"v\":null}", NAN);
    fixed_case(INFINITY, 2, "{\"v\":null}", NAN);
    /* Too large for exact digits: cJSON's own printing. */
    fixed_case(1e300, 2, "{\"v\":1e+300}", 1e300);
}

/* Whatever the value, the text is what cJSON itself gives for the rounded
 * value, read back. */
static void
test_against_cjson(void **state)
{
    (void)state;
    srand(7);
    for (int i = 0; i < 20000; i++) {
        double v = (rand() - RAND_MAX / 2) / 1000.0 * (i % 7 + 1);
        int places = i % 5;
        double p10 = pow(10, places);
        cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject();
        json_add_fixed(a, "v", v, places);
        cJSON_AddNumberToObject(b, "v", round(v * p10) / p10);
        char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
        cJSON *pa = cJSON_Parse(sa), *pb = cJSON_Parse(sb);
        double da = cJSON_GetObjectItem(pa, "v")->valuedouble;
        double db = cJSON_GetObjectItem(pb, "v")->valuedouble;
        if (da != db)
            fail_msg("%.17g places %d: %s vs %s", v, places, sa, sb);
        cJSON_Delete(pa);
        cJSON_Delete(pb);
        cJSON_free(sa);
        cJSON_free(sb);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_against_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
