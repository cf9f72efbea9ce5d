/* test_engine.c: the graph itself: values, reverse mode in both variants,
 * forward mode, fan-out, repeated backward, a 10^6-deep chain, no-grad,
 * marks, DOT export, and every error path of the engine's public calls. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"

/* f(x, y) = y log x + sqrt(y log x), the chain_rule lesson's function. */
static ad_node *chain_f(ad_context *ctx, ad_node *x, ad_node *y)
{
    ad_node *a = ad_log(ctx, x);
    ad_node *b = ad_mul(ctx, y, a);
    ad_node *c = ad_sqrt(ctx, b);
    return ad_add(ctx, c, b);
}

static void test_chain_rule_reverse(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3), *y = ad_scalar(ctx, 2);
    ad_node *f = chain_f(ctx, x, y);
    assert_non_null(f);
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    /* Reference values from lessons.md (exact arithmetic). */
    assert_close(ad_value_scalar(f), 3.67952838470373, 1e-12);
    assert_close(ad_grad_scalar(x), 0.891541845207370, 1e-12);
    assert_close(ad_grad_scalar(y), 1.46918824050999, 1e-12);
    ad_context_free(ctx);
}

static void test_pull_equals_push(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        ad_context *ctx = ad_context_new();
        /* nodes below the graph and between its leaves, which no sweep may touch */
        ad_node *z = ad_scalar(ctx, 5), *zz = ad_mul(ctx, z, z);
        ad_node *x = ad_scalar(ctx, 3), *u = ad_sin(ctx, z), *y = ad_scalar(ctx, 2);
        ad_node *f = chain_f(ctx, x, y);
        ad_backward_opts o = {.variant = variant ? AD_BACKWARD_PULL : AD_BACKWARD_PUSH};
        assert_int_equal(ad_backward_ex(ctx, f, &o), AD_OK);
        assert_close(ad_grad_scalar(x), 0.891541845207370, 1e-12);
        assert_close(ad_grad_scalar(y), 1.46918824050999, 1e-12);
        assert_true(ad_grad_scalar(z) == 0 && ad_grad_scalar(zz) == 0 && ad_grad_scalar(u) == 0);
        ad_context_free(ctx);
    }
}

static void test_forward_mode_two_dirs(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    ad_node *x = ad_scalar(ctx, 3), *y = ad_scalar(ctx, 2);
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_OK);
    assert_int_equal(ad_set_tangent(y, 1, NULL, 0), AD_OK);
    ad_node *f = chain_f(ctx, x, y);
    assert_close(ad_tangent_at(f, 0, 0), 0.891541845207370, 1e-12);
    assert_close(ad_tangent_at(f, 1, 0), 1.46918824050999, 1e-12);
    ad_context_free(ctx);
}

/* A tangent set on a node after an op that uses it was made cannot reach
 * that op (tangents are computed as ops are made): an error naming both
 * nodes, never a silent tangent of 0. Compact scalars, full tensors, and
 * results made with grad off (inputs not recorded) alike. */
static void expect_too_late(ad_node *x, const char *user)
{
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_ERR_STATE);
    const char *e = ad_last_error();
    if (!strstr(e, "set_tangent: too late for node #0") || !strstr(e, user) || !strstr(e, "before making the ops"))
        fail_msg("not the message wanted (node #0, %s): %s", user, e);
}

static void test_tangent_set_too_late(void **state)
{
    (void)state;
    int64_t n3[] = {3};
    const double v3[] = {0.5, 1, 2};
    for (int kind = 0; kind < 3; kind++) {
        ad_context *ctx = ad_context_new();
        if (kind == 2) ad_set_grad_enabled(ctx, false);
        ad_node *x = kind == 0 ? ad_scalar(ctx, 3) : ad_variable(ctx, AD_FLOAT64, 1, n3, v3);
        ad_node *y = ad_sin(ctx, x);   /* made while x has no tangent */
        assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
        expect_too_late(x, kind == 2 ? "did not record its inputs" : "node #1 (sin) was made after it and takes it as an input");
        assert_false(ad_has_tangent(x));
        assert_false(ad_has_tangent(y));
        ad_context_free(ctx);
    }
    /* through a chain: y = sin x, then forward mode, then z = y * y: z would read 0 */
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3), *y = ad_sin(ctx, x);
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *z = ad_mul(ctx, y, y);
    expect_too_late(x, "takes it as an input");
    assert_close(ad_tangent_at(z, 0, 0), 0, 0);   /* nothing set, nothing claimed */
    ad_context_free(ctx);

    /* in time: a leaf made later, an op that does not use x, a rewind past the user */
    ctx = ad_context_new();
    x = ad_scalar(ctx, 3);
    ad_node *a = ad_scalar(ctx, 2), *b = ad_sin(ctx, a);   /* b does not use x */
    ad_mark m = ad_context_mark(ctx);
    y = ad_sin(ctx, x);
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    assert_int_equal(ad_set_tangent(a, 1, NULL, 0), AD_ERR_STATE);   /* b uses a */
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);   /* drops y */
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_OK);
    y = ad_mul(ctx, ad_sin(ctx, x), b);
    assert_close(ad_tangent_at(y, 0, 0), cos(3.0) * sin(2.0), 1e-15);
    assert_close(ad_tangent_at(y, 1, 0), 0, 0);
    ad_context_free(ctx);
}

static void test_fan_out(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar(ctx, 1.5);
    ad_node *b = ad_add(ctx, a, a);
    ad_node *c = ad_add(ctx, b, b);
    assert_int_equal(ad_backward(ctx, c), AD_OK);
    assert_close(ad_grad_scalar(a), 4.0, 0);
    /* mul fan-out: d(a*a)/da = 2a */
    ad_node *d = ad_mul(ctx, a, a);
    ad_zero_grad(ctx);
    assert_int_equal(ad_backward(ctx, d), AD_OK);
    assert_close(ad_grad_scalar(a), 3.0, 0);
    ad_context_free(ctx);
}

static void test_backward_twice(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3), *y = ad_scalar(ctx, 2);
    ad_node *f = chain_f(ctx, x, y);
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    double gx = ad_grad_scalar(x), gy = ad_grad_scalar(y);
    ad_zero_grad(ctx);
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    assert_close(ad_grad_scalar(x), gx, 0);
    assert_close(ad_grad_scalar(y), gy, 0);
    /* Without zeroing, leaves accumulate: exactly twice. */
    assert_int_equal(ad_backward(ctx, f), AD_OK);
    assert_close(ad_grad_scalar(x), 2 * gx, 1e-15);
    ad_context_free(ctx);
}

static void test_deep_chain(void **state)
{
    (void)state;
    /* x -> x*1.000001 ... 10^6 times: no recursion anywhere. */
    const int n = 1000000;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 1.0);
    ad_node *h = x;
    for (int i = 0; i < n; i++) h = ad_scale(ctx, h, 1.000001);
    assert_non_null(h);
    assert_int_equal(ad_backward(ctx, h), AD_OK);
    assert_close(ad_grad_scalar(x), pow(1.000001, n), 1e-9);
    ad_backward_opts o = {.variant = AD_BACKWARD_PULL};
    ad_zero_grad(ctx);
    assert_int_equal(ad_backward_ex(ctx, h, &o), AD_OK);
    assert_close(ad_grad_scalar(x), pow(1.000001, n), 1e-9);
    ad_context_free(ctx);
}

static void test_no_grad(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2);
    bool was = ad_set_grad_enabled(ctx, false);
    assert_true(was);
    ad_node *y = ad_mul(ctx, x, x);
    assert_close(ad_value_scalar(y), 4.0, 0);
    assert_null(ad_node_op(y));
    assert_int_equal(ad_node_input_count(y), 0);
    assert_false(ad_requires_grad(y));
    assert_int_equal(ad_backward(ctx, y), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "does not require grad"));
    ad_set_grad_enabled(ctx, true);
    ad_context_free(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3}, s4[] = {4};
    ad_node *a = ad_variable(ctx, AD_FLOAT64, 2, s23, NULL);
    ad_node *b = ad_variable(ctx, AD_FLOAT64, 1, s4, NULL);
    ad_clear_error();
    assert_null(ad_add(ctx, a, b));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_non_null(strstr(ad_last_error(), "add: shapes (2,3) and (4) do not broadcast"));
    /* Sticky: a NULL input keeps the first message. */
    assert_null(ad_exp(ctx, ad_add(ctx, a, b)));
    assert_non_null(strstr(ad_last_error(), "add: shapes"));
    /* dtype mismatch */
    ad_node *f = ad_variable(ctx, AD_FLOAT32, 2, s23, NULL);
    assert_null(ad_mul(ctx, a, f));
    assert_int_equal(ad_last_status(), AD_ERR_DTYPE);
    assert_non_null(strstr(ad_last_error(), "mul: inputs have different dtypes"));
    /* backward from a non-scalar without a cotangent */
    ad_node *e = ad_exp(ctx, a);
    assert_int_equal(ad_backward(ctx, e), AD_ERR_SHAPE);
    assert_non_null(strstr(ad_last_error(), "(2,3), not a scalar"));
    /* bad shapes */
    int64_t bad[] = {2, 0};
    assert_null(ad_variable(ctx, AD_FLOAT64, 2, bad, NULL));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    assert_null(ad_variable(ctx, AD_FLOAT64, 5, s23, NULL));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    /* node from another context */
    ad_context *other = ad_context_new();
    ad_node *o = ad_scalar(other, 1);
    assert_null(ad_neg(ctx, o));
    assert_non_null(strstr(ad_last_error(), "neg: input 0 does not belong to this context"));
    ad_context_free(other);
    ad_context_free(ctx);
    /* ops on a freed context */
    assert_null(ad_scalar(ctx, 1));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "not live"));
    assert_int_equal(ad_backward(ctx, NULL), AD_ERR_STATE);
    ad_context_free(ctx);   /* a second free is harmless */
}

static void test_check_finite(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    ad_node *x = ad_scalar(ctx, 0);
    ad_clear_error();
    assert_null(ad_log(ctx, x));
    assert_int_equal(ad_last_status(), AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "log: produced -inf"));
    ad_set_check_finite(ctx, false);
    ad_node *l = ad_log(ctx, x);
    ad_node *y = ad_exp(ctx, l);
    assert_non_null(y);
    assert_ptr_equal(ad_find_nonfinite(ctx), l);
    /* backward: sqrt'(0) is infinite */
    ad_node *z = ad_scalar(ctx, 0);
    ad_node *s = ad_sqrt(ctx, z);
    ad_set_check_finite(ctx, true);
    assert_int_equal(ad_backward(ctx, s), AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "sqrt: its vjp for input 0 made"));
    /* a NaN given (a leaf): the first op to pass it on is named */
    ad_node *n = ad_set_name(ad_scalar(ctx, NAN), "n");
    ad_node *e = ad_exp(ctx, ad_scalar(ctx, 1));
    assert_non_null(e);
    ad_clear_error();
    assert_null(ad_mul(ctx, e, n));
    assert_int_equal(ad_last_status(), AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "mul: produced nan at"));
    assert_non_null(strstr(ad_last_error(), "passing on the non-finite values of its input 1 (node #"));
    assert_non_null(strstr(ad_last_error(), " variable n)"));
    /* backward: a NaN cotangent is passed on by the first vjp */
    ad_set_check_finite(ctx, false);
    int64_t s2[] = {2};
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 1, s2, (double[]){1, 2});
    ad_node *w = ad_scale(ctx, v, 3);
    ad_set_check_finite(ctx, true);
    ad_tensor *cot = ad_tensor_new(AD_FLOAT64, 1, s2);
    ad_tensor_set(cot, 1, NAN);
    ad_backward_opts o = {AD_BACKWARD_PUSH, cot, NULL, NULL};
    assert_int_equal(ad_backward_ex(ctx, w, &o), AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "scale: its vjp for input 0 passed on a non-finite gradient"));
    ad_tensor_free(cot);
    ad_context_free(ctx);
}

/* The cotangent's shape, not just its size: a (3,2) for a (2,3) output is refused. */
static void test_cotangent_shape(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s23[] = {2, 3}, s32[] = {3, 2};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, s23, (double[]){1, 2, 3, 4, 5, 6});
    ad_node *y = ad_scale(ctx, x, 2);
    ad_tensor *bad = ad_tensor_new(AD_FLOAT64, 2, s32), *good = ad_tensor_new(AD_FLOAT64, 2, s23);
    ad_backward_opts o = {AD_BACKWARD_PUSH, bad, NULL, NULL};
    assert_int_equal(ad_backward_ex(ctx, y, &o), AD_ERR_SHAPE);
    assert_string_equal(ad_last_error(), "backward: cotangent (3,2) float64 does not match the output (2,3) float64");
    for (int i = 0; i < 6; i++) ad_tensor_set(good, i, i);
    o.cotangent = good;
    assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
    assert_close(ad_grad_at(x, 4), 8, 0);
    ad_tensor_free(bad);
    ad_tensor_free(good);
    ad_context_free(ctx);
}

static void test_broadcast_grad(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t s[] = {2, 3};
    double v[] = {1, 2, 3, 4, 5, 6};
    ad_node *a = ad_variable(ctx, AD_FLOAT64, 2, s, v);
    ad_node *c = ad_scalar(ctx, 10);
    ad_node *y = ad_mul(ctx, a, c);           /* (2,3) */
    ad_node *w = ad_variable(ctx, AD_FLOAT64, 2, s, (double[]){1, 1, 1, 2, 2, 2});
    ad_node *l = ad_mul(ctx, y, w);
    ad_tensor cot = ad_value(l);
    double ones[6] = {1, 1, 1, 1, 1, 1};
    cot.data = ones;
    ad_backward_opts o = {.cotangent = &cot};
    assert_int_equal(ad_backward_ex(ctx, l, &o), AD_OK);
    /* dl/dc = sum a*w = 1+2+3 + 2*(4+5+6) = 36 */
    assert_close(ad_grad_scalar(c), 36, 1e-12);
    assert_close(ad_grad_at(a, 4), 20, 1e-12);
    ad_context_free(ctx);
}

static void test_marks(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *w = ad_scalar(ctx, 3);
    ad_mark m = ad_context_mark(ctx);
    for (int step = 0; step < 3; step++) {
        ad_node *l = ad_mul(ctx, w, w);
        assert_int_equal(ad_backward(ctx, l), AD_OK);
        assert_close(ad_grad_scalar(w), 6.0 * (step + 1), 0);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        assert_int_equal(ad_context_node_count(ctx), 1);
    }
    ad_context_free(ctx);
}

/* A rewind refuses marks it cannot honour, and leaves the context as it was:
 * the issue's reproducers (stale, foreign and forged marks) overwrote live nodes. */
static void test_bad_marks(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new(), *other = ad_context_new();
    ad_node *w = ad_scalar(ctx, 3);
    ad_mark a = ad_context_mark(ctx);
    ad_node *keep = ad_mul(ctx, w, w);   /* w^2 = 9 */
    ad_mark b = ad_context_mark(ctx);
    assert_int_equal(ad_context_mark(ctx).seq, b.seq);   /* the same place: the same mark */
    ad_node *later = ad_add(ctx, keep, w);
    assert_non_null(later);
    /* b, then a: fine; now b is stale (its nodes were dropped by the rewind to a) */
    assert_int_equal(ad_context_rewind(ctx, b), AD_OK);
    assert_int_equal(ad_context_node_count(ctx), 2);
    assert_int_equal(ad_context_rewind(ctx, a), AD_OK);
    ad_node *x = ad_mul(ctx, w, ad_scalar_const(ctx, 5));   /* 15, in keep's old slot and after */
    x = ad_mul(ctx, x, w);                                   /* 45 */
    uint32_t before = ad_context_node_count(ctx);
    ad_clear_error();
    assert_int_equal(ad_context_rewind(ctx, b), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "stale"));
    assert_int_equal(ad_context_node_count(ctx), before);   /* untouched */
    assert_close(ad_value_scalar(x), 45, 0);
    /* foreign: a mark of another context, even at the same node count */
    ad_scalar(other, 1);
    ad_mark o = ad_context_mark(other);
    assert_int_equal(ad_context_rewind(ctx, o), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "another one"));
    assert_int_equal(ad_context_rewind(other, a), AD_ERR_STATE);
    /* forged: made up, or a real mark with its position altered */
    ad_mark zero = {0};
    assert_int_equal(ad_context_rewind(ctx, zero), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "not a mark from ad_context_mark"));
    ad_mark forged = a;
    forged.nodes = 0;
    assert_int_equal(ad_context_rewind(ctx, forged), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "altered"));
    forged = a;
    forged.seq += 100;
    assert_int_equal(ad_context_rewind(ctx, forged), AD_ERR_STATE);
    assert_int_equal(ad_context_node_count(ctx), before);
    assert_close(ad_value_scalar(x), 45, 0);
    /* the genuine mark still works, again and again */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ad_context_rewind(ctx, a), AD_OK);
        assert_int_equal(ad_context_node_count(ctx), 1);
        assert_close(ad_value_scalar(ad_mul(ctx, w, w)), 9, 0);
    }
    /* a node dropped by a rewind (slot not yet reused) is refused as an input */
    assert_int_equal(ad_context_rewind(ctx, a), AD_OK);
    ad_clear_error();
    assert_null(ad_add(ctx, x, w));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_context_free(other);
    ad_context_free(ctx);
}

/* Element access out of range, on NULL, past a node's size: a message and
 * NaN (or nothing written), never a stray read or write. */
static void test_element_access_bounds(void **state)
{
    (void)state;
    int64_t shape[1] = {3};
    ad_tensor *t = ad_tensor_from(AD_FLOAT64, 1, shape, (double[]){1, 2, 3});
    ad_clear_error();
    assert_true(isnan(ad_tensor_get(t, 3)));
    assert_non_null(strstr(ad_last_error(), "tensor_get: index 3 is outside the tensor's 3 elements"));
    assert_true(isnan(ad_tensor_get(t, -1)));
    ad_tensor_set(t, 3, 99);
    assert_non_null(strstr(ad_last_error(), "tensor_set: index 3"));
    ad_tensor_set(t, INT64_MIN, 99);
    for (int i = 0; i < 3; i++) assert_close(ad_tensor_get(t, i), i + 1, 0);
    ad_clear_error();
    assert_true(isnan(ad_tensor_get(NULL, 0)));
    assert_non_null(strstr(ad_last_error(), "tensor_get: the tensor is NULL"));
    ad_tensor_set(NULL, 0, 1);
    ad_tensor_fill(NULL, 1);
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    ad_tensor_free(t);
    ad_context *ctx = ad_context_new();
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 1, shape, (double[]){1, 2, 3});
    ad_clear_error();
    assert_true(isnan(ad_value_at(v, 3)));
    assert_non_null(strstr(ad_last_error(), "value_at: index 3 is outside node #0's 3 elements"));
    ad_clear_error();
    assert_true(isnan(ad_grad_at(v, -2)));
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    ad_clear_error();
    assert_true(isnan(ad_value_at(NULL, 0)));
    assert_non_null(strstr(ad_last_error(), "the node is NULL"));
    ad_clear_error();
    assert_true(isnan(ad_tangent_at(v, 0, 0)));   /* no forward directions */
    assert_non_null(strstr(ad_last_error(), "direction 0"));
    /* writing an element: in range it lands (rounded to float32 in a float32
     * node), out of range nothing is written */
    assert_int_equal(ad_set_value_at(v, 2, -7.5), AD_OK);
    assert_close(ad_value_at(v, 2), -7.5, 0);
    ad_clear_error();
    assert_int_equal(ad_set_value_at(v, 3, 99), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "set_value_at: index 3 is outside node #0's 3 elements"));
    assert_int_equal(ad_set_value_at(v, -1, 99), AD_ERR_ARG);
    assert_int_equal(ad_set_value_at(NULL, 0, 99), AD_ERR_ARG);
    for (int i = 0; i < 2; i++) assert_close(ad_value_at(v, i), i + 1, 0);
    ad_node *f = ad_variable(ctx, AD_FLOAT32, 1, shape, NULL);
    assert_int_equal(ad_set_value_at(f, 1, 0.1), AD_OK);
    assert_close(ad_value_at(f, 1), (double)0.1f, 0);
    double out[3];
    assert_int_equal(ad_value_copy_out(f, out, 3), AD_OK);
    assert_close(out[0], 0, 0);
    assert_close(out[1], (double)0.1f, 0);
    ad_clear_error();
    assert_int_equal(ad_value_copy_out(f, out, 2), AD_ERR_ARG);   /* no room: nothing written past 2 */
    assert_non_null(strstr(ad_last_error(), "value_copy_out: room for 2 values, node #1 has 3"));
    ad_context_free(ctx);
}

static void test_dot(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 3), "x"), *y = ad_set_name(ad_scalar(ctx, 2), "y");
    ad_node *f = chain_f(ctx, x, y);
    ad_backward(ctx, f);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    assert_int_equal(ad_dot_write(ctx, f, mem), AD_OK);
    fclose(mem);
    assert_non_null(strstr(buf, "digraph"));
    assert_non_null(strstr(buf, "x = variable"));
    assert_non_null(strstr(buf, "sqrt"));
    assert_non_null(strstr(buf, "n0 -> n2"));
    free(buf);
    ad_context_free(ctx);
}

/* The scalar path (ad_apply's shortcut for elementwise ops on 0-d CPU inputs,
 * node chunks in huge pages past 2 MiB): bench_scalar's workload at a size
 * whose nodes fill several mmap'd chunks, three times over a mark, against the
 * sum and gradients computed here; float32 scalars keep their dtype; pointers
 * the shortcut must refuse (another context's node, one rewound away, one not
 * on a node boundary) still get the general path's errors. */
static void test_scalar_path(void **state)
{
    (void)state;
    enum { N = 60000 };   /* 2N leaves + 3N ops: chunks up to 128K nodes, 21 MB */
    ad_context *ctx = ad_context_new();
    ad_node **x = malloc(N * sizeof *x), **w = malloc(N * sizeof *w);
    assert_non_null(x);
    assert_non_null(w);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        double xi = (i % 17) / 8.0 - 1.0, wi = (i % 13) / 6.0 - 1.0;
        x[i] = ad_scalar(ctx, xi);
        w[i] = ad_scalar(ctx, wi);
        sum += xi * wi > 0 ? xi * wi : 0;
    }
    ad_mark m = ad_context_mark(ctx);
    ad_node *acc = NULL;
    for (int pass = 0; pass < 3; pass++) {
        acc = ad_scalar_const(ctx, 0.0);
        for (int i = 0; i < N; i++) acc = ad_add(ctx, acc, ad_relu(ctx, ad_mul(ctx, x[i], w[i])));
        assert_non_null(acc);
        assert_int_equal(ad_context_node_count(ctx), 2 * N + 1 + 3 * N);
        assert_string_equal(ad_node_op_name(acc), "add");
        assert_int_equal(ad_value(acc).ndim, 0);
        assert_close(ad_value_scalar(acc), sum, 1e-9);
        assert_int_equal(ad_backward(ctx, acc), AD_OK);
        for (int i = 0; i < N; i += 997) {
            double xi = ad_value_scalar(x[i]), wi = ad_value_scalar(w[i]), on = xi * wi > 0 ? 1 : 0;
            assert_close(ad_grad_scalar(x[i]), on * wi, 0);
            assert_close(ad_grad_scalar(w[i]), on * xi, 0);
        }
        ad_zero_grad(ctx);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    }
    /* the last pass's nodes are gone: their memory is the context's, but no node */
    assert_null(ad_relu(ctx, acc));
    assert_non_null(strstr(ad_last_error(), "relu: input 0 does not belong to this context"));
    /* float32 scalars: the result is float32, rounded as float32 */
    ad_node *a = ad_from_tensor(ctx, &(ad_tensor){.data = &(float){1.1f}, .size = 1, .shape = {1, 1, 1, 1},
                                                 .dtype = AD_FLOAT32}, true);
    ad_node *b = ad_from_tensor(ctx, &(ad_tensor){.data = &(float){3.0f}, .size = 1, .shape = {1, 1, 1, 1},
                                                 .dtype = AD_FLOAT32}, true);
    ad_node *p = ad_mul(ctx, a, b);
    assert_non_null(p);
    assert_int_equal(ad_value(p).dtype, AD_FLOAT32);
    assert_true(ad_value_scalar(p) == (double)(1.1f * 3.0f));
    assert_int_equal(ad_backward(ctx, p), AD_OK);
    assert_true(ad_grad_scalar(a) == 3.0 && ad_grad_scalar(b) == (double)1.1f);
    /* refused pointers */
    ad_context *other = ad_context_new();
    ad_node *o = ad_scalar(other, 1);
    assert_null(ad_add(ctx, x[0], o));
    assert_non_null(strstr(ad_last_error(), "add: input 1 does not belong to this context"));
    ad_mark m2 = ad_context_mark(ctx);
    ad_node *gone = ad_mul(ctx, x[0], w[0]);
    assert_int_equal(ad_context_rewind(ctx, m2), AD_OK);
    assert_null(ad_relu(ctx, gone));
    assert_non_null(strstr(ad_last_error(), "relu: input 0 does not belong to this context"));
    assert_null(ad_mul(ctx, x[0], (ad_node *)((char *)x[1] + 8)));
    assert_non_null(strstr(ad_last_error(), "mul: input 1 does not belong to this context"));
    ad_context_free(other);
    free(x);
    free(w);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_rule_reverse), cmocka_unit_test(test_pull_equals_push),
        cmocka_unit_test(test_forward_mode_two_dirs), cmocka_unit_test(test_tangent_set_too_late),
        cmocka_unit_test(test_fan_out),
        cmocka_unit_test(test_backward_twice), cmocka_unit_test(test_deep_chain),
        cmocka_unit_test(test_no_grad), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_check_finite), cmocka_unit_test(test_cotangent_shape), cmocka_unit_test(test_broadcast_grad),
        cmocka_unit_test(test_marks), cmocka_unit_test(test_dot),
        cmocka_unit_test(test_bad_marks), cmocka_unit_test(test_element_access_bounds),
        cmocka_unit_test(test_scalar_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
