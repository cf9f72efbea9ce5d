/* test_teach_pins.c: engine/teach, pinned where the other tests let a change
 * through: ad_dot_save's file and its failed write, the source text a
 * domain error quotes for a subexpression that does not start the formula,
 * the tie rule of folded max and min on signed zeros, the message of a call
 * whose arguments are not separated, and ad_sym_ctx_free(NULL). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ad_test.h"
#include "ad_test_capture.h"
#include "autodidact.h"

static void assert_error(ad_status st, const char *want)
{
    assert_string_equal(ad_last_error(), want);
    assert_int_equal(ad_last_status(), st);
    ad_clear_error();
}

/* ad_dot_save writes what ad_dot_write writes, and says AD_OK; a write that
 * fails only when the file is closed (/dev/full takes the buffered text at
 * fwrite and refuses it at the flush) is an I/O error naming the file. */
static void test_dot_save(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, 2}), "x");
    ad_node *s = ad_set_name(ad_sum(ctx, ad_scale(ctx, x, 3), AD_ALL_AXES, false), "s");
    assert_non_null(s);
    char *want = ad_test_capture(ad_test_dot, ctx, s);
    char path[] = "test_teach_pins_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ad_clear_error();
    assert_int_equal(ad_dot_save(ctx, s, path), AD_OK);
    assert_int_equal(ad_last_status(), AD_OK);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char got[4096];
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    fclose(f);
    remove(path);
    assert_string_equal(got, want);
    free(want);
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(ad_dot_save(ctx, s, "/dev/full"), AD_ERR_IO);
        assert_error(AD_ERR_IO, "dot_save: cannot write /dev/full");
    }
    ad_context_free(ctx);
}

/* f at x = t must fail to build with exactly msg (AD_ERR_DOMAIN). */
static void expect_build_error(const char *formula, double t, const char *msg)
{
    ad_expr *e = ad_expr_parse(formula, NULL);
    assert_non_null(e);
    ad_context *ctx = ad_context_new();
    ad_node *v[1] = {ad_scalar(ctx, t)};
    ad_clear_error();
    assert_null(ad_expr_build(e, ctx, v));
    assert_error(AD_ERR_DOMAIN, msg);
    ad_context_free(ctx);
    ad_expr_free(e);
}

/* A variable exponent at a base <= 0, in a subexpression that starts at
 * column 5: the message quotes that subexpression's own text. */
static void test_domain_error_quotes_its_subexpression(void **state)
{
    (void)state;
    expect_build_error("1 + (x-1)^x", 1,
                       "'(x-1)^x': the base is 0 and the exponent 1 at this point (a variable exponent needs a base > 0: "
                       "the derivative in the exponent, a^b·log a, is undefined for a <= 0)");
    expect_build_error("1 + (x-3)^x", 2.5,
                       "'(x-3)^x': the base is -0.5 and the exponent 2.5 at this point (a base <= 0 to a non-integer "
                       "power is undefined)");
}

/* f must fail to parse with exactly msg at column col. */
static void expect_parse_error(const char *formula, const char *msg, int col)
{
    int c = 0;
    ad_clear_error();
    assert_null(ad_expr_parse(formula, &c));
    assert_string_equal(ad_last_error(), msg);
    assert_int_equal(c, col);
    ad_clear_error();
}

/* max and min fold a tie to their first argument, as the ops do
 * (ad_conventions: "tie-first"); 0 and -0 tie, and %g tells them apart in
 * the message of the log that then has no argument > 0. */
static void test_folded_ties_take_the_first(void **state)
{
    (void)state;
    expect_parse_error("log(min(0, -0))", "'log(min(0, -0))': its argument is 0 (log needs > 0) at column 1", 1);
    expect_parse_error("log(min(-0, 0))", "'log(min(-0, 0))': its argument is -0 (log needs > 0) at column 1", 1);
    expect_parse_error("log(max(0, -0))", "'log(max(0, -0))': its argument is 0 (log needs > 0) at column 1", 1);
    expect_parse_error("log(max(-0, 0))", "'log(max(-0, 0))': its argument is -0 (log needs > 0) at column 1", 1);
}

/* A call's arguments and a bracket's contents end at ',' or ')': anything
 * else is named, the character found at the column given. */
static void test_unseparated_arguments(void **state)
{
    (void)state;
    expect_parse_error("max(x y)", "expected ',' or ')', found 'y' at column 7", 7);
    expect_parse_error("(x y)", "expected ')', found 'y' at column 4", 4);
}

/* Freeing no symbolic context does nothing, as free(NULL). */
static void test_sym_ctx_free_null(void **state)
{
    (void)state;
    ad_sym_ctx_free(NULL);
    ad_sym_ctx *s = ad_sym_ctx_new();
    assert_non_null(s);
    ad_sym_ctx_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_save),
        cmocka_unit_test(test_domain_error_quotes_its_subexpression),
        cmocka_unit_test(test_folded_ties_take_the_first),
        cmocka_unit_test(test_unseparated_arguments),
        cmocka_unit_test(test_sym_ctx_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
