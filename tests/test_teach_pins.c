/* test_teach_pins.c: engine/teach, pinned where the other tests let a change
 * through: ad_dot_save's file and its failed write, the source text a
 * domain error quotes for a subexpression that does not start the formula,
 * the tie rule of folded max and min on signed zeros, the message of a call
 * whose arguments are not separated, ad_sym_ctx_free(NULL), the scalar
 * check of the explain tables from node 0 on, the "?" of a direction with no
 * name, the label of an unnamed variable and of a constant made by an op, the
 * folded value of sigmoid, the second derivative of the piecewise-linear
 * functions, and the constant pulled out of a product's right factor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "ad_test_capture.h"
#include "autodidact.h"

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

/* The explain tables take scalar graphs only, and check every node up to the
 * root, node 0 included: here the only one that is not a scalar. */
static void test_explain_checks_node_0(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_non_null(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, 2}));
    ad_node *x = ad_set_name(ad_scalar(ctx, 3), "x");
    ad_node *y = ad_set_name(ad_mul(ctx, x, x), "y");
    FILE *f = fopen("/dev/null", "w");
    assert_non_null(f);
    ad_clear_error();
    assert_int_equal(ad_explain_nodes(f, ctx, y), AD_ERR_SHAPE);
    assert_error(AD_ERR_SHAPE, "explain_nodes: node #0 has shape (2); only scalar graphs are explained");
    fclose(f);
    ad_context_free(ctx);
}

/* ad_explain_forward with no names for the directions, or a NULL among them,
 * heads each such column "∂·/∂?". */
static void test_forward_directions_without_names(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    ad_node *x = ad_set_name(ad_scalar(ctx, 2), "x");
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_OK);
    ad_node *y = ad_set_name(ad_mul(ctx, x, x), "y");
    const char *const one_named[] = {"dx", NULL};
    for (int named = 0; named < 2; named++) {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        assert_non_null(out);
        assert_int_equal(ad_explain_forward(out, ctx, y, named ? one_named : NULL), AD_OK);
        fclose(out);
        char want[512];
        snprintf(want, sizeof want,
                 "  step  node                                value                %s                 ∂·/∂?\n"
                 "    0.  x                                       2                     1                     0\n"
                 "    1.  y = x·x                                 4                     4                     0\n",
                 named ? "∂·/∂dx" : " ∂·/∂?");
        assert_string_equal(text, want);
        free(text);
    }
    ad_context_free(ctx);
}

/* An unnamed node is "n<id>", but for a constant leaf, which is its value: a
 * variable is not a constant, nor is the constant an op makes of constants
 * (not a leaf). */
static void test_labels_of_unnamed_nodes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *u = ad_scalar(ctx, 2.5), *c = ad_scalar_const(ctx, 4);
    ad_node *k = ad_mul(ctx, ad_scalar_const(ctx, 2), ad_scalar_const(ctx, 3));
    ad_node *w = ad_add(ctx, ad_mul(ctx, u, c), k);
    char buf[32];
    assert_string_equal(ad_explain_name(u, buf, sizeof buf), "n0");
    assert_string_equal(ad_explain_name(c, buf, sizeof buf), "4");
    assert_string_equal(ad_explain_name(k, buf, sizeof buf), "n4");
    assert_string_equal(ad_explain_name(w, buf, sizeof buf), "n6");
    assert_string_equal(ad_explain_expr(w, buf, sizeof buf), "n5 + n4");
    char *nodes = ad_test_capture(ad_explain_nodes, ctx, w);
    assert_string_equal(nodes, "   1.  n5   = n0·4         = 10\n"
                               "   2.  n6   = n5 + n4      = 16\n");
    free(nodes);
    ad_context_free(ctx);
}

/* sigmoid of a constant folds to 1/(1 + e^-c): at x = 1, x + sigmoid(0) is
 * 1.5, and sigmoid(2)·x and sigmoid(-1)·x are sigmoid's own values. */
static void test_folded_sigmoid(void **state)
{
    (void)state;
    const char *const formulas[] = {"x + sigmoid(0)", "sigmoid(2)*x", "sigmoid(-1)*x"};
    const double want[] = {1.5, 1 / (1 + exp(-2.0)), 1 / (1 + exp(1.0))};
    for (int i = 0; i < 3; i++) {
        ad_expr *e = ad_expr_parse(formulas[i], NULL);
        assert_non_null(e);
        ad_context *ctx = ad_context_new();
        ad_node *v[1] = {ad_scalar(ctx, 1)};
        ad_node *f = ad_expr_build(e, ctx, v);
        assert_non_null(f);
        assert_true(ad_value_scalar(f) == want[i]);
        ad_context_free(ctx);
        ad_expr_free(e);
    }
}

/* The derivatives of relu, abs, max and min are piecewise constant (step,
 * sign, ge, le), so their second derivatives are 0. */
static void test_second_derivatives_of_kinks(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 0.7), "x"), *y = ad_set_name(ad_scalar(ctx, 0.3), "y");
    ad_node *roots[] = {ad_relu(ctx, x), ad_abs(ctx, x), ad_max(ctx, x, y), ad_min(ctx, x, y)};
    const char *const first[] = {"step(x)", "sign(x)", "ge(x, y)", "le(x, y)"};
    for (int i = 0; i < 4; i++) {
        ad_sym_ctx *s = ad_sym_ctx_new();
        ad_sym *f = ad_sym_from_graph(s, ctx, roots[i]);
        ad_sym *d = ad_sym_diff(s, f, 0);
        char text[64];
        ad_sym_print(s, d, text, sizeof text);
        assert_string_equal(text, first[i]);
        for (int var = 0; var < ad_sym_var_count(s); var++) {
            ad_sym *d2 = ad_sym_diff(s, d, var);
            ad_sym_print(s, d2, text, sizeof text);
            assert_string_equal(text, "0");
            assert_true(ad_sym_eval(s, d2, (const double[]){0.7, 0.3}, ad_sym_var_count(s)) == 0);
        }
        ad_sym_ctx_free(s);
    }
    ad_context_free(ctx);
}

/* u·(c·v) is written c·(u·v), the constant first, as (c·u)·v is. */
static void test_constant_out_of_the_right_factor(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 0.7), "x"), *y = ad_set_name(ad_scalar(ctx, 0.3), "y");
    ad_node *f = ad_mul(ctx, ad_sin(ctx, x), ad_scale(ctx, y, 3));
    ad_sym_ctx *s = ad_sym_ctx_new();
    ad_sym *fs = ad_sym_from_graph(s, ctx, f);
    char text[64];
    ad_sym_print(s, fs, text, sizeof text);
    assert_string_equal(text, "3*sin(x)*y");
    ad_sym_print(s, ad_sym_diff(s, fs, 0), text, sizeof text);
    assert_string_equal(text, "3*cos(x)*y");
    ad_sym_print(s, ad_sym_diff(s, fs, 1), text, sizeof text);
    assert_string_equal(text, "3*sin(x)");
    ad_sym_ctx_free(s);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_save),
        cmocka_unit_test(test_domain_error_quotes_its_subexpression),
        cmocka_unit_test(test_folded_ties_take_the_first),
        cmocka_unit_test(test_unseparated_arguments),
        cmocka_unit_test(test_sym_ctx_free_null),
        cmocka_unit_test(test_explain_checks_node_0),
        cmocka_unit_test(test_forward_directions_without_names),
        cmocka_unit_test(test_labels_of_unnamed_nodes),
        cmocka_unit_test(test_folded_sigmoid),
        cmocka_unit_test(test_second_derivatives_of_kinks),
        cmocka_unit_test(test_constant_out_of_the_right_factor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
