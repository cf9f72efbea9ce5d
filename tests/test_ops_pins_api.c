/* test_ops_pins_api.c: ops/ behaviour that gradcheck does not reach, pinned
 * for the mutants of ops/registry.c, ops/shape.c and ops/reduce.c that
 * `gradcheck --all` let through (tests/mutation/README.md): taking an op out
 * of the middle of the run-time registry, reshape's own arguments (0 dims,
 * the dims past ndim, which the shape rule must ignore), the keepdim sum of
 * every axis, and the cases `gradcheck --op reshape|transpose --shape ...`
 * builds from a shape (complete_case); and (seed 6502's survivors) mse's 0-d
 * output, cross_entropy's weight sum, linear's 2-d weight. Expected values are
 * the definitions. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"

static void assert_shape(const ad_node *n, int ndim, const int64_t *shape)
{
    ad_tensor v = ad_value(n);
    assert_int_equal(v.ndim, ndim);
    for (int d = 0; d < ndim; d++) assert_int_equal(v.shape[d], shape[d]);
}

/* Three ops registered, the middle one taken out: the other two keep their
 * order, the count drops by one, its name is free again, and a second
 * unregister of it is refused by name. Then the last, then the first. */
static void test_unregister_from_the_middle(void **state)
{
    (void)state;
    const ad_op *neg = ad_op_find("neg");
    assert_non_null(neg);
    ad_op a = *neg, b = *neg, c = *neg;
    a.name = "pin_a";
    b.name = "pin_b";
    c.name = "pin_c";
    int base = ad_op_count();
    assert_int_equal(ad_op_register(&a), AD_OK);
    assert_int_equal(ad_op_register(&b), AD_OK);
    assert_int_equal(ad_op_register(&c), AD_OK);
    assert_int_equal(ad_op_count(), base + 3);

    assert_int_equal(ad_op_unregister(&b), AD_OK);
    assert_int_equal(ad_op_count(), base + 2);
    assert_ptr_equal(ad_op_at(base), &a);
    assert_ptr_equal(ad_op_at(base + 1), &c);
    assert_null(ad_op_find("pin_b"));
    assert_ptr_equal(ad_op_find("pin_c"), &c);
    assert_int_equal(ad_op_unregister(&b), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_unregister: pin_b is not a registered op");
    assert_int_equal(ad_op_unregister(NULL), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_unregister: (null) is not a registered op");

    assert_int_equal(ad_op_unregister(&c), AD_OK);
    assert_int_equal(ad_op_count(), base + 1);
    assert_ptr_equal(ad_op_at(base), &a);
    /* the last one out leaves its old slot past the count: a second
     * unregister must not find it there */
    assert_int_equal(ad_op_unregister(&c), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_unregister: pin_c is not a registered op");
    assert_int_equal(ad_op_count(), base + 1);
    assert_int_equal(ad_op_unregister(&a), AD_OK);
    assert_int_equal(ad_op_count(), base);
    assert_null(ad_op_find("pin_a"));
    assert_int_equal(ad_op_register(&b), AD_OK);   /* its name is free: it registers again */
    assert_ptr_equal(ad_op_at(base), &b);
    assert_int_equal(ad_op_unregister(&b), AD_OK);
    /* out of range either side: no op */
    assert_null(ad_op_at(-1));
    assert_null(ad_op_at(base));
    assert_non_null(ad_op_at(base - 1));
}

/* A name of one character is a name; an empty one, or none, is refused; so
 * are input counts outside 1..AD_MAX_INPUTS (3 itself allowed), and an op
 * without a shape rule or without a forward. */
static void test_register_names(void **state)
{
    (void)state;
    ad_op q = *ad_op_find("neg"), empty = q, none = q;
    q.name = "q";
    empty.name = "";
    none.name = NULL;
    int base = ad_op_count();
    assert_int_equal(ad_op_register(&q), AD_OK);
    assert_ptr_equal(ad_op_find("q"), &q);
    assert_int_equal(ad_op_register(&empty), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_register: the op has no name");
    assert_int_equal(ad_op_register(&none), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_register: the op has no name");
    assert_int_equal(ad_op_count(), base + 1);
    assert_int_equal(ad_op_unregister(&q), AD_OK);
    /* inputs: at least 1, at most AD_MAX_INPUTS, n_in_min <= n_in */
    ad_op zero_min = *ad_op_find("neg");
    zero_min.name = "zero_min";
    zero_min.n_in_min = 0;
    assert_int_equal(ad_op_register(&zero_min), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_register: op zero_min has 0..1 inputs; 1..3 are allowed");
    ad_op four = *ad_op_find("neg");
    four.name = "four";
    four.n_in = 4;
    assert_int_equal(ad_op_register(&four), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_register: op four has 1..4 inputs; 1..3 are allowed");
    ad_op three = *ad_op_find("conv2d");   /* 2..3 inputs (the bias optional): the most there may be */
    three.name = "three";
    assert_int_equal(ad_op_register(&three), AD_OK);
    assert_int_equal(ad_op_unregister(&three), AD_OK);
    /* a shape rule and a forward, each of them */
    ad_op no_forward = *ad_op_find("neg"), no_infer = no_forward;
    no_forward.name = "no_forward";
    no_forward.cpu.forward = NULL;
    no_infer.name = "no_infer";
    no_infer.infer = NULL;
    assert_int_equal(ad_op_register(&no_forward), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_register: op no_forward needs a shape rule (infer) and a forward");
    assert_int_equal(ad_op_register(&no_infer), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "op_register: op no_infer needs a shape rule (infer) and a forward");
    assert_int_equal(ad_op_count(), base);
}

/* The registry full, its first op taken out: the rest move up one, the
 * count drops by one and a new op fits again (the move stays inside the
 * table: a move one too long would write past its end). */
static void test_unregister_from_a_full_registry(void **state)
{
    (void)state;
    enum { ROOM = 512 };
    static ad_op ops[ROOM];
    static char names[ROOM][16];
    int base = ad_op_count(), n = 0;
    for (; n < ROOM; n++) {
        ops[n] = *ad_op_find("neg");
        snprintf(names[n], sizeof names[n], "full_%d", n);
        ops[n].name = names[n];
        if (ad_op_register(&ops[n]) != AD_OK) break;
    }
    assert_true(n < ROOM);   /* it filled up */
    int full = ad_op_count();
    assert_int_equal(full, base + n);
    char want[64];
    snprintf(want, sizeof want, "op_register: %d ops are registered already", n);   /* (besides the built-in ones) */
    assert_error(AD_ERR_ARG, want);
    assert_int_equal(ad_op_unregister(&ops[0]), AD_OK);
    assert_int_equal(ad_op_count(), full - 1);
    for (int i = 1; i < n; i++) assert_ptr_equal(ad_op_at(base + i - 1), &ops[i]);
    assert_int_equal(ad_op_register(&ops[0]), AD_OK);
    assert_ptr_equal(ad_op_at(full - 1), &ops[0]);
    for (int i = 0; i < n; i++) assert_int_equal(ad_op_unregister(&ops[i]), AD_OK);
    assert_int_equal(ad_op_count(), base);
}

/* reshape to 0 dims: a one-element tensor becomes a scalar (NULL shape is
 * fine for 0 dims, refused for 1); the node's params hold the dims past
 * ndim as 1, as the API documents a shape's padding. */
static void test_reshape_arguments(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t one[2] = {1, 1};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, one, (double[]){2.5});
    ad_node *s = ad_reshape(ctx, x, 0, NULL);
    assert_non_null(s);
    assert_shape(s, 0, NULL);
    assert_close(ad_value_scalar(s), 2.5, 0);

    assert_null(ad_reshape(ctx, x, 1, NULL));
    assert_error(AD_ERR_SHAPE, "reshape: 1 dimensions asked; 0 to 4 are allowed");
    assert_null(ad_reshape(ctx, x, -1, one));
    assert_error(AD_ERR_SHAPE, "reshape: -1 dimensions asked; 0 to 4 are allowed");

    int64_t six[1] = {6}, two_three[2] = {2, 3};
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 1, six, (double[]){1, 2, 3, 4, 5, 6});
    ad_node *r = ad_reshape(ctx, v, 2, two_three);
    assert_non_null(r);
    assert_shape(r, 2, two_three);
    const ad_params *p = ad_node_params(r);
    assert_int_equal(p->ndim, 2);
    assert_int_equal(p->shape[0], 2);
    assert_int_equal(p->shape[1], 3);
    assert_int_equal(p->shape[2], 1);
    assert_int_equal(p->shape[3], 1);
    /* four dims, the most there are: allowed */
    int64_t four[4] = {1, 2, 3, 1};
    ad_node *r4 = ad_reshape(ctx, v, 4, four);
    if (!r4) fail_msg("%s", ad_last_error());
    assert_shape(r4, 4, four);
    for (int i = 0; i < 6; i++) assert_close(ad_value_at(r4, i), i + 1, 0);
    ad_context_free(ctx);
}

/* The shape rule reads p->shape[0 .. ndim-1] only: a -1 left past ndim (a
 * program filling ad_params by hand) is not a second dimension to infer. */
static void test_reshape_ignores_dims_past_ndim(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t two_six[2] = {2, 6}, three_four[2] = {3, 4};
    double vals[12];
    for (int i = 0; i < 12; i++) vals[i] = i;
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, two_six, vals);
    ad_params p = {.ndim = 2, .shape = {-1, 4, -1, -1}};
    ad_node *in[1] = {x};
    ad_node *r = ad_apply(ctx, ad_op_find("reshape"), in, 1, &p);
    assert_non_null(r);
    assert_shape(r, 2, three_four);
    for (int i = 0; i < 12; i++) assert_close(ad_value_at(r, i), i, 0);
    ad_context_free(ctx);
}

/* ...and never past AD_MAX_DIMS: params filled by hand with ndim 5 are
 * refused by the shape check, naming the 5 dims. In memory, shape[4] would
 * be perm[0..1], here both -1, which as one int64 reads as -1: a rule that
 * looked there would report a second -1 (or infer it, writing one past the
 * caller's 4-entry shape) instead. */
static void test_reshape_reads_no_dim_past_the_max(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t six[1] = {6};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, six, (double[]){1, 2, 3, 4, 5, 6});
    ad_params p = {.ndim = 5, .shape = {-1, 3, 1, 1}, .perm = {-1, -1, 0, 0}};
    ad_node *in[1] = {x};
    assert_null(ad_apply(ctx, ad_op_find("reshape"), in, 1, &p));
    assert_error(AD_ERR_SHAPE, "reshape: 5 dimensions given; tensors have 0 to 4");
    ad_context_free(ctx);
}

/* flatten keeps the batch axis and folds the rest: (2,3,4) -> (2,12), the
 * elements in their order; (5) -> (5,1). */
static void test_flatten(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    double v[24];
    for (int i = 0; i < 24; i++) v[i] = i;
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 3, (const int64_t[]){2, 3, 4}, v);
    ad_node *f = ad_flatten(ctx, x);
    assert_non_null(f);
    assert_shape(f, 2, (const int64_t[]){2, 12});
    for (int i = 0; i < 24; i++) assert_close(ad_value_at(f, i), i, 0);
    ad_node *y = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){5}, v);
    assert_shape(ad_flatten(ctx, y), 2, (const int64_t[]){5, 1});
    ad_context_free(ctx);
}

/* transpose: a perm entry equal to x's ndim is no axis of x (refused, as
 * any out of range); the node's params hold the user's perm for x's axes
 * and the identity past them (0-d: all identity). flatten of a scalar is
 * refused with its message. */
static void test_transpose_perm_and_flatten_scalar(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 3}, NULL);
    assert_null(ad_transpose(ctx, x, (const int[]){0, 2}));
    assert_error(AD_ERR_SHAPE, "transpose: (0,2,2,3) is not a permutation of the 2 axes of x (2,3) (each axis once, "
                               "-2..1, negative from the end)");
    ad_node *t = ad_transpose(ctx, x, (const int[]){1, 0});
    assert_non_null(t);
    const int want2[4] = {1, 0, 2, 3}, want0[4] = {0, 1, 2, 3};
    for (int d = 0; d < 4; d++) assert_int_equal(ad_node_params(t)->perm[d], want2[d]);
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, NULL);
    ad_node *tv = ad_transpose(ctx, v, (const int[]){0});
    assert_non_null(tv);
    for (int d = 0; d < 4; d++) assert_int_equal(ad_node_params(tv)->perm[d], want0[d]);
    ad_node *s = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2});
    ad_node *ts = ad_transpose(ctx, s, (const int[]){0});
    assert_non_null(ts);
    for (int d = 0; d < 4; d++) assert_int_equal(ad_node_params(ts)->perm[d], want0[d]);
    assert_null(ad_flatten(ctx, s));
    assert_error(AD_ERR_SHAPE, "flatten: needs at least a batch axis; x is a scalar");
    assert_null(ad_transpose(ctx, x, NULL));
    assert_error(AD_ERR_ARG, "transpose: perm is NULL");
    ad_context_free(ctx);
}

/* sum over every axis with keepdim: all ones, as many as x has, up to 4
 * (under ASan a write past the shape shows here). */
static void test_sum_all_axes_keepdim(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t sh4[4] = {2, 1, 3, 2}, ones[4] = {1, 1, 1, 1};
    double vals[12];
    for (int i = 0; i < 12; i++) vals[i] = i + 1;
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 4, sh4, vals);
    ad_node *s = ad_sum(ctx, x, AD_ALL_AXES, true);
    assert_non_null(s);
    assert_shape(s, 4, ones);
    assert_close(ad_value_scalar(s), 78, 0);   /* 1 + ... + 12 */
    ad_node *t = ad_sum(ctx, x, AD_ALL_AXES, false);
    assert_shape(t, 0, NULL);
    ad_context_free(ctx);
}

/* gradcheck --op reshape --shape 2x3x4: x reshaped to a column (24, 1);
 * --op transpose: x's axes reversed, the rest left in place. */
static void test_complete_case_shape_ops(void **state)
{
    (void)state;
    const ad_op *reshape = ad_op_find("reshape"), *transpose = ad_op_find("transpose");
    assert_non_null(reshape->complete_case);
    assert_non_null(transpose->complete_case);
    ad_op_case c = {.label = "cli", .n_in = 1, .ndim = {3}, .shape = {{2, 3, 4, 1}}};
    memset(&c.params, 0x55, sizeof c.params);   /* what the completion does not set shows */
    c.params.ndim = 7;
    assert_int_equal(reshape->complete_case(&c), AD_OK);
    assert_int_equal(c.params.ndim, 2);
    assert_int_equal(c.params.shape[0], 24);
    assert_int_equal(c.params.shape[1], 1);

    ad_op_case t = {.label = "cli", .n_in = 1, .ndim = {3}, .shape = {{2, 3, 4, 1}}};
    memset(&t.params, 0x55, sizeof t.params);
    assert_int_equal(transpose->complete_case(&t), AD_OK);
    int want[4] = {2, 1, 0, 3};
    for (int d = 0; d < 4; d++) assert_int_equal(t.params.perm[d], want[d]);
}

/* mse's output is a scalar: 0-d, whatever its inputs' shapes (its values
 * alone cannot tell a (1) from a ()); cross_entropy's likewise. */
static void test_mse_is_0d(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3};
    ad_node *a = ad_variable(ctx, AD_FLOAT64, 2, s23, (double[]){1, 2, 3, 4, 5, 6});
    ad_node *b = ad_constant(ctx, AD_FLOAT64, 2, s23, (double[]){1, 2, 3, 4, 5, 8});
    ad_node *l = ad_mse(ctx, a, b);
    assert_non_null(l);
    assert_shape(l, 0, NULL);
    assert_true(ad_value_scalar(l) == 4.0 / 6.0);
    /* and cross_entropy's, logits (2,3), mean: 0-d too */
    ad_node *t = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (double[]){0, 2});
    ad_node *ce = ad_cross_entropy(ctx, a, t, NULL, AD_REDUCE_MEAN, -1);
    assert_non_null(ce);
    assert_shape(ce, 0, NULL);
    ad_context_free(ctx);
}

/* cross_entropy's mean is defined when any target weighs more than 0: the
 * last target weighing 0 (its class's weight) and the first 1 is fine, and
 * the mean is the first target's loss alone. */
static void test_cross_entropy_last_target_weighs_0(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t sx[] = {2, 2}, st[] = {2}, sw[] = {2};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, sx, (double[]){0, 1, 3, -1});
    ad_node *t = ad_constant(ctx, AD_FLOAT64, 1, st, (double[]){0, 1});
    ad_node *w = ad_constant(ctx, AD_FLOAT64, 1, sw, (double[]){1, 0});
    ad_clear_error();
    ad_node *l = ad_cross_entropy(ctx, x, t, w, AD_REDUCE_MEAN, -1);
    if (!l) fail_msg("%s", ad_last_error());
    assert_close(ad_value_scalar(l), log(1 + exp(1.0)), 1e-15);   /* -log softmax((0,1))[0] */
    ad_context_free(ctx);
}

/* linear's weight must be 2-d (O,I): a 3-d one whose dim 1 happens to equal
 * x's last dim is refused, with the shapes; so is a 0-d x. */
static void test_linear_refuses_a_3d_weight(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t sx[] = {2, 3}, sw[] = {4, 3, 1};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, sx, NULL), *w = ad_variable(ctx, AD_FLOAT64, 3, sw, NULL);
    assert_null(ad_linear(ctx, x, w, NULL));
    assert_error(AD_ERR_SHAPE, "linear: x (2,3) and w (4,3,1) do not fit: x is (..., I), w is (O,I)");
    /* and a 0-d x, which has no last dim to read (UBSan's bounds check watches the read) */
    ad_node *x0 = ad_scalar_const(ctx, 2.0), *w2 = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){4, 3}, NULL);
    assert_null(ad_linear(ctx, x0, w2, NULL));
    assert_error(AD_ERR_SHAPE, "linear: x () and w (4,3) do not fit: x is (..., I), w is (O,I)");
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unregister_from_the_middle),
        cmocka_unit_test(test_mse_is_0d),
        cmocka_unit_test(test_cross_entropy_last_target_weighs_0),
        cmocka_unit_test(test_linear_refuses_a_3d_weight),
        cmocka_unit_test(test_register_names),
        cmocka_unit_test(test_unregister_from_a_full_registry),
        cmocka_unit_test(test_reshape_arguments),
        cmocka_unit_test(test_reshape_ignores_dims_past_ndim),
        cmocka_unit_test(test_reshape_reads_no_dim_past_the_max),
        cmocka_unit_test(test_sum_all_axes_keepdim),
        cmocka_unit_test(test_flatten),
        cmocka_unit_test(test_transpose_perm_and_flatten_scalar),
        cmocka_unit_test(test_complete_case_shape_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
