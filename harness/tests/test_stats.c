/* test_stats.c: medians and the Mann-Whitney U test against exact values
 * enumerated by hand (all C(10,5) = 252 splits): 1..5 vs 6..10 gives
 * p = 1/252; interleaved 1,3,5,7,9 vs 2,4,6,8,10 gives p = 87/252. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "stats.h"

static void test_median(void **state)
{
    (void)state;
    double a[] = { 3, 1, 2 }, b[] = { 4, 1, 3, 2 }, c[] = { 7 };
    assert_true(stats_median(a, 3) == 2);
    assert_true(stats_median(b, 4) == 2.5);
    assert_true(stats_median(c, 1) == 7);
    assert_true(stats_min(b, 4) == 1);
    assert_true(stats_max(b, 4) == 4);
}

static void test_mwu_exact(void **state)
{
    (void)state;
    double lo[] = { 1, 2, 3, 4, 5 }, hi[] = { 6, 7, 8, 9, 10 };
    double odd[] = { 1, 3, 5, 7, 9 }, even[] = { 2, 4, 6, 8, 10 };
    assert_true(fabs(stats_mwu_p_greater(lo, 5, hi, 5) - 1.0 / 252) < 1e-12);
    assert_true(fabs(stats_mwu_p_greater(hi, 5, lo, 5) - 1.0) < 1e-12);
    assert_true(fabs(stats_mwu_p_greater(odd, 5, even, 5) - 87.0 / 252) < 1e-12);
    double a[] = { 1, 2, 3, 4, 5, 6, 7 }, b[] = { 5.5, 8, 9, 10, 11 };
    assert_true(fabs(stats_mwu_p_greater(a, 7, b, 5) - 0.005050505050505051) < 1e-12);
}

static void test_mwu_ties_and_edges(void **state)
{
    (void)state;
    double same[] = { 1, 1, 1, 1, 1 };
    assert_true(stats_mwu_p_greater(same, 5, same, 5) == 1); /* no variance: no evidence */
    double a[] = { 10, 10, 11, 12, 12, 13 }, b[] = { 14, 15, 15, 16, 17, 18 };
    double p = stats_mwu_p_greater(a, 6, b, 6); /* ties: normal approximation */
    assert_true(p > 0 && p < 0.01);
    assert_true(stats_mwu_p_greater(a, 0, b, 6) == 1);
}

/* Sign-test order statistics: n = 5 -> [v(1), v(5)] (P(Bin <= 0) = 1/32);
 * n = 10 -> [v(2), v(9)] (P(Bin <= 1) = 11/1024, P(Bin <= 2) = 56/1024 > 0.05);
 * n = 4 -> none (1/16 > 0.05). */
static void test_median_interval(void **state)
{
    (void)state;
    double lo, hi;
    double five[] = { 1.3, 0.9, 1.1, 1.0, 1.2 };
    assert_int_equal(stats_median_interval(five, 5, 0.05, &lo, &hi), 1);
    assert_true(lo == 0.9 && hi == 1.3);
    double ten[] = { 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };
    assert_int_equal(stats_median_interval(ten, 10, 0.05, &lo, &hi), 1);
    assert_true(lo == 2 && hi == 9);
    double four[] = { 1, 2, 3, 4 };
    assert_int_equal(stats_median_interval(four, 4, 0.05, &lo, &hi), 0);
    assert_true(isnan(lo) && isnan(hi));
    assert_int_equal(stats_median_interval(four, 0, 0.05, &lo, &hi), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median),
        cmocka_unit_test(test_mwu_exact),
        cmocka_unit_test(test_mwu_ties_and_edges),
        cmocka_unit_test(test_median_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
