/* test_explain.c: the lecture-style tables print every name and expression
 * whole, however long (a name set by ad_set_name of any length, an adjoint
 * summed over any number of consumers), and ad_explain_name/_expr write into
 * a caller's buffer whole or not at all, saying so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_capture.h"
#include "autodidact.h"

enum { LONG_NAME = 300, CONSUMERS = 40 };

/* (not inlined: GCC 12 at -O3 then takes a pointer into the captured text
 * for one into this function's local `text`, and warns -Wdangling-pointer) */
static __attribute__((noinline)) char *capture_reverse(ad_context *ctx, ad_node *root, ad_backward_variant variant)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(ad_explain_reverse(f, ctx, root, variant), AD_OK);
    fclose(f);
    return text;
}

/* "aaa...a" of n letters, in buf (n + 1 bytes). */
static char *long_name(char *buf, int n)
{
    memset(buf, 'a', (size_t)n);
    buf[n] = '\0';
    return buf;
}

/* A node named by 300 characters: every table prints the whole name, in
 * its own row and in the expression of the node that uses it. */
static void test_long_name_whole(void **state)
{
    (void)state;
    char name[LONG_NAME + 1], line[2 * LONG_NAME + 64];
    long_name(name, LONG_NAME);
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 2.0), name);
    ad_node *y = ad_set_name(ad_sin(ctx, x), "y");
    char *nodes = ad_test_capture(ad_explain_nodes, ctx, y);
    snprintf(line, sizeof line, "   0.  %s = 2\n", name);
    ad_test_assert_contains(nodes, line);
    snprintf(line, sizeof line, " = sin(%s) = ", name);
    ad_test_assert_contains(nodes, line);
    free(nodes);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    const char *dir[] = {name};
    ad_context *fwd = ad_context_new();
    assert_int_equal(ad_forward_dirs(fwd, 1), AD_OK);
    ad_node *fx = ad_set_name(ad_scalar(fwd, 2.0), name);
    ad_set_tangent(fx, 0, NULL, 0);
    ad_node *fy = ad_set_name(ad_sin(fwd, fx), "y");
    assert_int_equal(ad_explain_forward(f, fwd, fy, dir), AD_OK);
    fclose(f);
    snprintf(line, sizeof line, "∂·/∂%s\n", name);
    ad_test_assert_contains(text, line);
    snprintf(line, sizeof line, "y = sin(%s) ", name);
    ad_test_assert_contains(text, line);
    free(text);
    ad_context_free(fwd);
    for (int v = 0; v < 2; v++) {
        ad_backward_variant variant = v ? AD_BACKWARD_PUSH : AD_BACKWARD_PULL;
        char *rev = capture_reverse(ctx, y, variant);
        snprintf(line, sizeof line, "∂y/∂%s = ∂y/∂y·∂y/∂%s\n", name, name);
        if (variant == AD_BACKWARD_PUSH) snprintf(line, sizeof line, "∂y/∂%s += ∂y/∂y · ∂y/∂%s = ", name, name);
        ad_test_assert_contains(rev, line);
        free(rev);
    }
    ad_context_free(ctx);
}

/* A sum of 40 terms: the adjoint of x is the sum over its 40 consumers,
 * every term and every value printed (Version A). */
static void test_many_consumers_whole(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 1.5), "x");
    ad_node *sum = NULL;
    for (int i = 0; i < CONSUMERS; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "t%d", i);
        ad_node *t = ad_set_name(ad_scale(ctx, x, i + 1), nm);
        sum = sum ? ad_add(ctx, sum, t) : t;
    }
    ad_set_name(sum, "f");
    char *rev = capture_reverse(ctx, sum, AD_BACKWARD_PULL);
    const char *row = strstr(rev, "∂f/∂x = ");
    assert_non_null(row);
    char term[64];
    for (int i = 0; i < CONSUMERS; i++) {
        snprintf(term, sizeof term, "%s∂f/∂t%d·∂t%d/∂x", i ? " + " : "= ", i, i);
        ad_test_assert_contains(row, term);
        snprintf(term, sizeof term, "1×%d%s", i + 1, i + 1 < CONSUMERS ? " + " : " = 820\n");
        ad_test_assert_contains(row, term);
    }
    free(rev);
    ad_context_free(ctx);
}

/* Into a caller's buffer: the whole text, or NULL with "" and the message
 * "output exceeds N characters"; the _alloc forms hold any length. */
static void test_buffer_whole_or_nothing(void **state)
{
    (void)state;
    char name[LONG_NAME + 1];
    long_name(name, LONG_NAME);
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 2.0), name);
    ad_node *y = ad_sin(ctx, x);
    char small[64], exact[LONG_NAME + 6];   /* "sin(" name ")" and its NUL */
    assert_null(ad_explain_name(x, small, sizeof small));
    assert_string_equal(small, "");
    assert_string_equal(ad_last_error(), "explain_name: output exceeds 63 characters (the text has 300)");
    ad_clear_error();
    assert_null(ad_explain_expr(y, small, sizeof small));
    assert_string_equal(small, "");
    assert_string_equal(ad_last_error(), "explain_expr: output exceeds 63 characters (the text has 305)");
    ad_clear_error();
    assert_null(ad_explain_expr(y, exact, sizeof exact - 1));   /* one byte short: the NUL */
    assert_string_equal(exact, "");
    ad_clear_error();
    const char *e = ad_explain_expr(y, exact, sizeof exact);
    assert_ptr_equal(e, exact);
    assert_int_equal(strlen(e), LONG_NAME + 5);
    assert_int_equal(strncmp(e, "sin(", 4), 0);
    assert_null(ad_explain_name(x, NULL, 0));
    ad_clear_error();
    char *n = ad_explain_name_alloc(x), *ex = ad_explain_expr_alloc(y);
    assert_string_equal(n, name);
    assert_string_equal(ex, exact);
    free(n);
    free(ex);
    ad_context_free(ctx);
}

/* f = x·y + sin(x)/y at x = 2, y = 4: the whole node table (every row ends
 * in its value) and the whole Version A table, where the leaves x and y
 * share one step number, after the ops' steps. */
static void test_tables_exact(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 2), "x"), *y = ad_set_name(ad_scalar(ctx, 4), "y");
    ad_node *a = ad_mul(ctx, x, y), *b = ad_sin(ctx, x), *c = ad_div(ctx, b, y);
    ad_node *f = ad_set_name(ad_add(ctx, a, c), "f");
    char *nodes = ad_test_capture(ad_explain_nodes, ctx, f);
    assert_string_equal(nodes, "   0.  x    = 2\n"
                               "   0.  y    = 4\n"
                               "   1.  n2   = x·y          = 8\n"
                               "   2.  n3   = sin x        = 0.909297426825682\n"
                               "   3.  n4   = n3 / y       = 0.22732435670642\n"
                               "   4.  f    = n2 + n4      = 8.22732435670642\n");
    free(nodes);
    char *rev = capture_reverse(ctx, f, AD_BACKWARD_PULL);
    assert_string_equal(rev, "  0'.   ∂f/∂f = 1\n"
                             "  1'.   ∂f/∂n4 = ∂f/∂f·∂f/∂n4\n"
                             "        = 1×1 = 1\n"
                             "  2'.   ∂f/∂n3 = ∂f/∂n4·∂n4/∂n3\n"
                             "        = 1×0.25 = 0.25\n"
                             "  3'.   ∂f/∂n2 = ∂f/∂f·∂f/∂n2\n"
                             "        = 1×1 = 1\n"
                             "  4'.   ∂f/∂y = ∂f/∂n2·∂n2/∂y + ∂f/∂n4·∂n4/∂y\n"
                             "        = 1×2 + 1×-0.0568311 = 1.94316891082339\n"
                             "  4'.   ∂f/∂x = ∂f/∂n2·∂n2/∂x + ∂f/∂n3·∂n3/∂x\n"
                             "        = 1×4 + 0.25×-0.416147 = 3.89596329086321\n");
    free(rev);
    ad_context_free(ctx);
}

/* Forward mode in two directions, x = 2 along dx and y = 4 along dy: the
 * whole table, its header's direction names right-aligned over their
 * columns, each op numbered 1, 2, 3 and its "name = expr" padded to 20
 * columns. sin x's tangent along dy is cos(2)·0 = -0 in IEEE arithmetic:
 * printed 0 (equal to it), with no sign for a student to read into. */
static void test_forward_table_exact(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    ad_node *x = ad_set_name(ad_scalar(ctx, 2), "x"), *y = ad_set_name(ad_scalar(ctx, 4), "y");
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_OK);
    assert_int_equal(ad_set_tangent(y, 1, NULL, 0), AD_OK);
    ad_node *a = ad_mul(ctx, x, y), *b = ad_sin(ctx, x);
    ad_node *f = ad_set_name(ad_add(ctx, a, b), "f");
    const char *dir[] = {"dx", "dy"};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(ad_explain_forward(out, ctx, f, dir), AD_OK);
    fclose(out);
    assert_string_equal(text, "  step  node                                value                ∂·/∂dx                ∂·/∂dy\n"
                              "    0.  x                                       2                     1                     0\n"
                              "    0.  y                                       4                     0                     1\n"
                              "    1.  n2 = x·y                                8                     4                     2\n"
                              "    2.  n3 = sin x              0.909297426825682    -0.416146836547142                     0\n"
                              "    3.  f = n2 + n3              8.90929742682568      3.58385316345286                     2\n");
    free(text);
    ad_context_free(ctx);
}

/* ad_local_partial is the op's own derivative at the recorded point, in
 * float64 and in float32: ∂(x·y)/∂x = y, ∂(x·y)/∂y = x, ∂sin(x)/∂x =
 * cos(x), ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = -a/b². */
static void test_local_partial_exact(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3), *y = ad_scalar(ctx, 4);
    ad_node *m = ad_mul(ctx, x, y), *s = ad_sin(ctx, x), *d = ad_div(ctx, x, y);
    assert_true(ad_local_partial(m, 0) == 4);
    assert_true(ad_local_partial(m, 1) == 3);
    assert_true(ad_local_partial(s, 0) == cos(3.0));
    assert_true(ad_local_partial(d, 0) == 0.25);
    assert_true(ad_local_partial(d, 1) == -0.1875);
    ad_node *xf = ad_variable(ctx, AD_FLOAT32, 0, NULL, (double[]){1.5});
    ad_node *yf = ad_variable(ctx, AD_FLOAT32, 0, NULL, (double[]){-2});
    ad_node *mf = ad_mul(ctx, xf, yf);
    assert_true(ad_local_partial(mf, 0) == -2);
    assert_true(ad_local_partial(mf, 1) == 1.5);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_name_whole),
        cmocka_unit_test(test_many_consumers_whole),
        cmocka_unit_test(test_buffer_whole_or_nothing),
        cmocka_unit_test(test_tables_exact),
        cmocka_unit_test(test_local_partial_exact),
        cmocka_unit_test(test_forward_table_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
