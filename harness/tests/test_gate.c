/* test_gate.c: what the identity gate compares and how it reports.
 *   complete: whole stdout; one flipped byte -> its offset, both contexts
 *   perplexity: only [k]x.xxxx values and the Final line; log noise ignored
 *   perplexity without values -> error
 *   a prefix -> offset at the shorter end, shown as (end) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gate.h"

static void test_complete_whole(void **state)
{
    (void)state;
    const char a[] = "Once upon a time, there was a cat.\nThe end";
    char b[sizeof a];
    memcpy(b, a, sizeof a);
    b[28] = 'b';
    char *ta, *tb;
    size_t na, nb;
    assert_int_equal(gate_identity_text(SWEEP_WL_COMPLETE, a, strlen(a), &ta, &na, NULL), STATUS_OK);
    assert_int_equal(gate_identity_text(SWEEP_WL_COMPLETE, b, strlen(b), &tb, &nb, NULL), STATUS_OK);
    assert_int_equal(na, strlen(a));
    struct gate_diff d;
    assert_int_equal(gate_compare(ta, na, ta, na, &d), 1);
    assert_int_equal(gate_compare(ta, na, tb, nb, &d), 0);
    assert_int_equal(d.offset, 28);
    assert_non_null(strstr(d.ref_ctx, ">>a<<"));
    assert_non_null(strstr(d.new_ctx, ">>b<<"));
    assert_non_null(strstr(d.ref_ctx, "\\n")); /* newline escaped */
    free(ta);
    free(tb);
}

static void test_ppl_lines(void **state)
{
    (void)state;
    const char a[] = "load: 12 ms\n[1]4.0448,[2]3.6451,[3]3.9000,\nFinal estimate: PPL = 3.8233 +/- 0.09686\n";
    const char b[] = "load: 99 ms (noise)\n[1]4.0448,[2]3.6451,\n[3]3.9000,\n\nFinal estimate: PPL = 3.8233 +/- 0.09686\nbye\n";
    const char c[] = "[1]4.0448,[2]3.6452,[3]3.9000,\nFinal estimate: PPL = 3.8233 +/- 0.09686\n";
    char *ta, *tb, *tc;
    size_t na, nb, nc;
    assert_int_equal(gate_identity_text(SWEEP_WL_PERPLEXITY, a, strlen(a), &ta, &na, NULL), STATUS_OK);
    assert_int_equal(gate_identity_text(SWEEP_WL_PERPLEXITY, b, strlen(b), &tb, &nb, NULL), STATUS_OK);
    assert_int_equal(gate_identity_text(SWEEP_WL_PERPLEXITY, c, strlen(c), &tc, &nc, NULL), STATUS_OK);
    assert_int_equal(gate_compare(ta, na, tb, nb, NULL), 1);
    struct gate_diff d;
    assert_int_equal(gate_compare(ta, na, tc, nc, &d), 0);
    assert_int_equal(d.offset, strlen("[1]4.0448,[2]3.645"));
    ta[na] = '\0';
    assert_true(gate_ppl_final(ta) == 3.8233);
    free(ta);
    free(tb);
    free(tc);
}

static void test_ppl_missing(void **state)
{
    (void)state;
    const char a[] = "error: cannot load model\n[x] not a value\n";
    char *t = NULL;
    size_t n;
    struct err e = { "" };
    assert_int_equal(gate_identity_text(SWEEP_WL_PERPLEXITY, a, strlen(a), &t, &n, &e), STATUS_ERR);
    assert_null(t);
    assert_non_null(strstr(e.msg, "no perplexity values"));
    assert_true(gate_ppl_final("nothing") < 0);
}

static void test_prefix(void **state)
{
    (void)state;
    struct gate_diff d;
    assert_int_equal(gate_compare("abc", 3, "abcdef", 6, &d), 0);
    assert_int_equal(d.offset, 3);
    assert_non_null(strstr(d.ref_ctx, "(end)"));
    assert_non_null(strstr(d.new_ctx, ">>d<<"));
    assert_int_equal(gate_compare("", 0, "", 0, &d), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_whole), cmocka_unit_test(test_ppl_lines),
        cmocka_unit_test(test_ppl_missing),    cmocka_unit_test(test_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
