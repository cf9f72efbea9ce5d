/* test_engine_pins_checks.c: the engine's checks and refusals, pinned where
 * the sweep of every core and fast-path site (tests/mutation/README.md)
 * found that the other tests let a change through: tensors' helpers at
 * their edges; backward_block without grads, with a node listed twice, and
 * its finite check reading the row it blames; a cotangent of another dtype;
 * a NULL input; a foreign node in a block's list named; a guarded buffer zeroed, and a change at each byte of its
 * zones found where it is. Expected numbers come from the math (small
 * integers: exact in float64); messages are the engine's, word for word. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"
#include "ad_guard.h"
#include "ad_internal.h"   /* ad_guard_unpoison: the zones opened for a test's write under ASan */

/* Tensors' small helpers at their edges: a shape check given no shape for
 * one dimension, shapes that differ only in dimension 0, a copy from no
 * numbers: each refused or told apart, by name. */
static void test_tensor_helpers_at_their_edges(void **state)
{
    (void)state;
    int64_t size = -1;
    ad_clear_error();
    assert_int_equal(ad_shape_check("probe", 1, NULL, &size), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "probe: shape is NULL for a 1-d tensor");
    assert_int_equal(ad_shape_check("probe", 0, NULL, &size), AD_OK);
    assert_int_equal(size, 1);
    ad_tensor *a = ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){2, 3});
    ad_tensor *b = ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){4, 3});
    ad_tensor *c = ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){2, 3});
    assert_false(ad_shape_equal(a, b));
    assert_true(ad_shape_equal(a, c));
    for (int d = 2; d < AD_MAX_DIMS; d++) assert_int_equal(a->shape[d], 1);   /* past ndim: 1 (ad_tensor.h) */
    assert_int_equal(ad_tensor_copy_in(a, NULL, 6), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "tensor_copy_in: NULL argument");
    assert_int_equal(ad_tensor_copy_in(NULL, (const double[]){1}, 1), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "tensor_copy_in: NULL argument");
    double out[6];
    assert_int_equal(ad_tensor_copy_out(a, NULL, 6), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "tensor_copy_out: NULL argument");
    assert_int_equal(ad_tensor_copy_out(NULL, out, 6), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "tensor_copy_out: NULL argument");
    /* ad_tensor_from: without values, zeros and no error; with a shape it
     * refuses, NULL and the shape's error (the values never read) */
    ad_tensor *z = ad_tensor_from(AD_FLOAT64, 1, (const int64_t[]){2}, NULL);
    assert_non_null(z);
    assert_int_equal(ad_last_status(), AD_OK);
    assert_true(ad_tensor_get(z, 0) == 0 && ad_tensor_get(z, 1) == 0);
    ad_tensor_free(z);
    assert_null(ad_tensor_from(AD_FLOAT64, AD_MAX_DIMS + 1, (const int64_t[AD_MAX_DIMS + 1]){0}, out));
    assert_int_equal(ad_last_status(), AD_ERR_SHAPE);
    ad_clear_error();
    ad_tensor_free(a);
    ad_tensor_free(b);
    ad_tensor_free(c);
}

/* ad_backward_block refuses a call without grads (or without the nodes
 * asked for), by name, before anything is done. */
static void test_block_without_grads_refused(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2.0), *y = ad_mul(ctx, x, x);
    double cot = 1, g = 0;
    const char *want = "backward_block: needs rows >= 1 (got 1), the cotangents, and 1 or more nodes with their grads "
                       "(got 1)";
    ad_clear_error();
    assert_int_equal(ad_backward_block(ctx, y, 1, &cot, 1, (ad_node *const[]){x}, NULL), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, want);
    assert_int_equal(ad_backward_block(ctx, y, 1, &cot, 1, NULL, (void *const[]){&g}), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, want);
    assert_true(g == 0);
    ad_context_free(ctx);
}

/* A cotangent of the output's shape but another dtype is refused, named,
 * not read as the output's dtype. */
static void test_cotangent_of_another_dtype_refused(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, 2});
    ad_node *y = ad_mul(ctx, x, x);
    ad_tensor *cot = ad_tensor_from(AD_FLOAT32, 1, (const int64_t[]){2}, (const double[]){1, 1});
    ad_backward_opts o = {.cotangent = cot};
    ad_clear_error();
    assert_int_equal(ad_backward_ex(ctx, y, &o), AD_ERR_SHAPE);
    assert_error(AD_ERR_SHAPE, "backward: cotangent (2) float32 does not match the output (2) float64");
    assert_true(ad_grad_at(x, 0) == 0 && ad_grad_at(x, 1) == 0);
    ad_tensor_free(cot);
    ad_context_free(ctx);
}

/* ad_guarded_alloc's buffer is zeroed (ad_guard.h), also where the heap
 * held other bytes before: blocks filled with 0xA5 and freed first (more
 * than the allocator's per-thread cache keeps, so that its bins, which an
 * aligned allocation takes from, hold dirty memory). */
static void test_guarded_buffer_is_zeroed(void **state)
{
    (void)state;
    enum { N_DIRTY = 32 };
    void *dirty[N_DIRTY];
    for (int i = 0; i < N_DIRTY; i++) {
        dirty[i] = malloc(700);
        assert_non_null(dirty[i]);
        memset(dirty[i], 0xA5, 700);
    }
    for (int i = 0; i < N_DIRTY; i++) free(dirty[i]);
    for (int round = 0; round < 3; round++) {
        unsigned char *p = ad_guarded_alloc(40);
        assert_non_null(p);
        for (int i = 0; i < 40; i++)
            if (p[i] != 0) fail_msg("round %d: byte %d is %u", round, i, p[i]);
        assert_true(ad_guard_intact(p, 40, NULL));
        ad_guarded_free(p, 40);
    }
    /* and a zone's change is found at every byte: one byte changed at each
     * offset 0..63 of the zone after, and of the zone before (counted back
     * from the buffer), found and named where it is */
    for (int k = 0; k < 64; k++) {
        for (int side = 0; side < 2; side++) {
            unsigned char *p = ad_guarded_alloc(40);
            assert_non_null(p);
            int64_t at = side == 0 ? 40 + k : -(k + 1), where = 0;
            /* (under AddressSanitizer the zones are poisoned: opened for the write) */
            ad_guard_unpoison(p - AD_GUARD_BYTES, AD_GUARD_BYTES + 64 + AD_GUARD_BYTES);
            p[at] ^= 0x5A;
            if (ad_guard_intact(p, 40, &where) || where != at)
                fail_msg("a change at byte %lld: where = %lld", (long long)at, (long long)where);
            ad_guarded_free(p, 40);
        }
    }
}

/* Calls refused by name: an op given a NULL input (which input), and a
 * block asked for the same node twice (which node, at which places). */
static void test_null_input_and_twice_listed_node_named(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2.0), *w = ad_scalar(ctx, 3.0), *y = ad_mul(ctx, x, w);
    ad_clear_error();
    assert_null(ad_mul(ctx, x, NULL));
    assert_error(AD_ERR_ARG, "mul: input 1 is NULL");
    double cot = 1, g[3] = {0, 0, 0};
    assert_int_equal(ad_backward_block(ctx, y, 1, &cot, 3, (ad_node *const[]){x, w, x},
                                       (void *const[]){&g[0], &g[1], &g[2]}),
                     AD_ERR_ARG);
    char want[120];
    snprintf(want, sizeof want, "backward_block: node #%u is listed twice (0 and 2)", ad_node_id(x));
    assert_error(AD_ERR_ARG, want);
    ad_context_free(ctx);
}

/* Finite checking in a block looks at the block's rows and no further, and
 * names row r of the cotangents as made or passed on by looking at row r
 * itself: the block's rows lie in the middle
 * of a larger array, after NaNs, and row 1 (finite) makes an overflow:
 * "made", from a finite output gradient. y = u·c, c = (1, 1, 1e300). */
static void test_block_finite_check_reads_its_own_row(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    ad_node *u = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 1, 1});
    ad_node *c = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 1, 1e300});
    ad_node *y = ad_mul(ctx, u, c);
    double big[18];
    for (int i = 0; i < 12; i++) big[i] = NAN;
    const double rows[6] = {1, 1, 1, 1, 1, 1e10};
    memcpy(big + 12, rows, sizeof rows);
    double gu[6] = {0};
    char want[200];
    snprintf(want, sizeof want,
             "mul: its vjp for input 0 made a non-finite gradient inf at [2] of input (3) (node #%u, cotangent 1 of "
             "the block) from a finite output gradient",
             ad_node_id(u));
    ad_clear_error();
    assert_int_equal(ad_backward_block(ctx, y, 2, big + 12, 1, &u, (void *const[]){gu}), AD_ERR_NONFINITE);
    assert_error(AD_ERR_NONFINITE, want);
    /* and it looks at the block's rows only: one row of grads, in an array
     * whose next row holds NaNs, is finite (d(u·c)/du = c: 1, 1, 1e300) */
    double g2[6] = {0, 0, 0, NAN, NAN, NAN};
    assert_int_equal(ad_backward_block(ctx, y, 1, rows, 1, &u, (void *const[]){g2}), AD_OK);
    assert_true(g2[0] == 1 && g2[1] == 1 && g2[2] == 1e300);
    ad_context_free(ctx);
}

/* A node of another context in a block's list is named as such, the one it
 * is (not its neighbour in the list, which is this context's own). */
static void test_block_names_the_foreign_node(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new(), *other = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2.0), *w = ad_scalar(ctx, 3.0), *y = ad_mul(ctx, x, w);
    ad_node *stranger = ad_scalar(other, 5.0);
    double cot = 1, g[2] = {0, 0};
    ad_clear_error();
    assert_int_equal(
        ad_backward_block(ctx, y, 1, &cot, 2, (ad_node *const[]){stranger, w}, (void *const[]){&g[0], &g[1]}),
        AD_ERR_STATE);
    assert_error(AD_ERR_STATE, "backward_block: node 0 of the list does not belong to this context (made in another "
                               "context, or dropped by a rewind)");
    assert_true(g[0] == 0 && g[1] == 0);
    ad_context_free(other);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_helpers_at_their_edges),
        cmocka_unit_test(test_block_without_grads_refused),
        cmocka_unit_test(test_cotangent_of_another_dtype_refused),
        cmocka_unit_test(test_guarded_buffer_is_zeroed),
        cmocka_unit_test(test_null_input_and_twice_listed_node_named),
        cmocka_unit_test(test_block_finite_check_reads_its_own_row),
        cmocka_unit_test(test_block_names_the_foreign_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
