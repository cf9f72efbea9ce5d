/* test_engine_pins_core.c: the engine core pinned where the sweep of every
 * core and fast-path site (tests/mutation/README.md) found that the other
 * tests let a change through (its checks and refusals:
 * test_engine_pins_checks.c). Marks and rewinds: the mark of no context, a
 * rewind to a mark in a later arena chunk, the arena's eighth chunk
 * replaced. Backward: the pass counter's wrap with the nodes ending at a
 * chunk's end, a pass touching only the nodes on its way. Nodes: a name
 * that fills an arena block, ad_node_id refused, requires-grad turned off,
 * the shape past ndim, leaves made without values, a stray pointer into a
 * record chunk. Forward mode: ad_set_tangent's look at the nodes after one,
 * and the run of newest leaves that spares it that look. The thread count's
 * bound (meson runs this program again with OMP_NUM_THREADS=257). Expected
 * numbers come from the math (small integers: exact in float64). White box
 * where it must be: ad_internal.h and fast/fast_internal.h for the epoch,
 * the chunks and the records. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"
#include "engine/fast/fast_internal.h"

/* The pass counter wraps (2^32 passes) when the context holds exactly
 * NODE_CHUNK0 nodes, the first chunk full and the next not made: the wrap
 * clears the marks of nodes 0..1023 and touches no memory past them.
 * x = 3, y = x·x with 1022 constants between: dy/dx = 2x = 6, and 6 again
 * after the wrap (12 in all: grads accumulate). */
/* The mark of no context (ad_context_mark(NULL): an error, and a mark of
 * no context) is refused by every context, the first one the process made
 * too (its serial is 1: this test runs first): nothing is dropped. */
static void test_mark_of_no_context_fits_none(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ctx->serial, 1);
    assert_non_null(ad_scalar(ctx, 1.0));
    ad_clear_error();
    ad_mark m = ad_context_mark(NULL);
    assert_int_not_equal(ad_last_status(), AD_OK);
    ad_clear_error();
    assert_int_equal(ad_context_rewind(ctx, m), AD_ERR_STATE);
    assert_error(AD_ERR_STATE, "context_rewind: the mark was not taken in this context (it is not a mark from "
                               "ad_context_mark)");
    assert_int_equal(ad_context_node_count(ctx), 1);
    ad_context_free(ctx);
}

static void test_epoch_wrap_at_a_chunk_end(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    for (int i = 1; i < NODE_CHUNK0 - 1; i++)
        assert_non_null(ad_constant(ctx, AD_FLOAT64, 0, NULL, (const double[]){1}));
    ad_node *y = ad_mul(ctx, x, x);
    assert_int_equal(ad_context_node_count(ctx), NODE_CHUNK0);
    assert_int_equal(ctx->n_node_chunks, 1);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    ctx->epoch = UINT32_MAX;   /* the next pass wraps */
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_int_equal(ctx->epoch, 1);
    assert_true(ad_grad_scalar(x) == 12.0);
    ad_context_free(ctx);
}

/* A name is copied with its terminating 0 into the context's arena, in
 * blocks of 32 bytes: a name of 32 characters takes two blocks, so that the
 * name set right after it does not run on from it. */
static void test_name_of_a_whole_arena_block(void **state)
{
    (void)state;
    const char *long_name = "abcdefghijklmnopqrstuvwxyz012345";
    assert_int_equal(strlen(long_name), 32);
    ad_context *ctx = ad_context_new();
    ad_node *y = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){1});
    ad_node *z = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2});
    assert_non_null(ad_set_name(y, long_name));
    assert_non_null(ad_set_name(z, "z"));
    assert_string_equal(ad_node_name(y), long_name);
    assert_string_equal(ad_node_name(z), "z");
    ad_context_free(ctx);
}

/* ad_node_id of NULL or of a dropped node: 0, with the error. */
static void test_node_id_refused(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){1});
    ad_mark m = ad_context_mark(ctx);
    ad_node *y = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2});
    assert_int_equal(ad_node_id(y), 1);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_clear_error();
    assert_int_equal(ad_node_id(y), 0);
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_clear_error();
    assert_int_equal(ad_node_id(NULL), 0);
    assert_int_equal(ad_last_status(), AD_ERR_ARG);
    ad_clear_error();
    assert_int_equal(ad_node_id(x), 0);
    assert_int_equal(ad_last_status(), AD_OK);
    ad_context_free(ctx);
}

/* ad_set_requires_grad(x, false) on a variable, full or a record: x then
 * wants no grad, and y = x·c made after it records nothing (a constant). */
static void test_requires_grad_turned_off(void **state)
{
    (void)state;
    for (int record = 0; record < 2; record++) {
        ad_context *ctx = ad_context_new();
        ad_node *x = record ? ad_scalar(ctx, 3.0) : ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
        assert_true(ad_requires_grad(x));
        ad_set_requires_grad(x, false);
        assert_int_equal(ad_last_status(), AD_OK);
        assert_false(ad_requires_grad(x));
        ad_node *y = ad_mul(ctx, x, ad_scalar_const(ctx, 2.0));
        assert_true(ad_value_scalar(y) == 6.0);
        assert_false(ad_requires_grad(y));
        ad_set_requires_grad(x, true);
        assert_true(ad_requires_grad(x));
        ad_context_free(ctx);
    }
}

/* A handle that points inside a record but not at its start (a record's
 * handle moved by 16 bytes: what a stray pointer looks like) is refused,
 * not read as the record it lands in. The worst case: the bytes such a
 * pointer would read as a record's generation are the handle's own tag
 * (records' value's bytes 6-7: a value of tag·2^48 in its bits), so only
 * the alignment tells it from a record. Where the scalar path finds it by
 * the newest records (ready range) and by searching the record chunks (an
 * older chunk, not the one it last found an input in). Records 0..3099
 * fill chunks 0 and 1 (1024 and 2048 records) and start chunk 2. */
static void test_misaligned_record_handle_refused(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    enum { N = 3100 };
    ad_node **x = malloc(N * sizeof *x);
    unsigned tag = ad_handle_tag(ad_scalar(ctx, 0.0));
    uint64_t bits = (uint64_t)tag << 48;
    double v;
    memcpy(&v, &bits, sizeof v);
    for (int i = 1; i < N; i++) x[i] = ad_scalar(ctx, i == 5 || i == N - 1 ? v : (double)i);
    assert_true(ad_is_fast_handle(x[5]) && ad_is_fast_handle(x[2000]) && ad_is_fast_handle(x[N - 1]));
    assert_int_equal(ad_handle_tag(x[5]), tag);
    ad_node *y = ad_mul(ctx, x[2000], x[2000]);   /* chunk 1: the one the search last found */
    assert_true(ad_is_fast_handle(y) && ad_value_scalar(y) == 4e6);
    const int in_chunk[2] = {5, N - 1};   /* an old chunk's record; one of the newest */
    for (int k = 0; k < 2; k++) {
        ad_node *stray = (ad_node *)((uintptr_t)x[in_chunk[k]] + 16);
        ad_clear_error();
        assert_null(ad_mul(ctx, stray, x[1]));
        assert_error(AD_ERR_STATE, "mul: input 0 does not belong to this context (made in another context, or dropped "
                                   "by a rewind)");
    }
    free(x);
    ad_context_free(ctx);
}

/* A tensor's shape past its ndim reads 1 (ad_tensor.h), for a leaf and for
 * an op's result: (2, 3) + (2, 3) is (2, 3, 1, 1...). */
static void test_shape_past_ndim_is_one(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 3}, (const double[]){1, 2, 3, 4, 5, 6});
    ad_node *y = ad_add(ctx, x, x);
    const ad_node *nodes[2] = {x, y};
    for (int k = 0; k < 2; k++) {
        ad_tensor v = ad_value(nodes[k]);
        assert_int_equal(v.ndim, 2);
        assert_int_equal(v.shape[0], 2);
        assert_int_equal(v.shape[1], 3);
        for (int d = 2; d < AD_MAX_DIMS; d++) assert_int_equal(v.shape[d], 1);
    }
    ad_context_free(ctx);
}

/* ad_set_tangent on a full leaf made after a record (forward mode turned on
 * in between: its leaves are full nodes): only leaves follow it, which the
 * context's run of newest leaves says without writing the records out. */
static void test_tangent_on_the_newest_leaves_keeps_records(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar(ctx, 2.0);
    assert_true(ad_is_fast_handle(a));
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    ad_node *w = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){4});
    assert_false(ad_is_fast_handle(x));
    assert_int_equal(ad_set_tangent(x, 0, (const double[]){1}, -1), AD_OK);
    assert_int_equal(ad_set_tangent(w, 0, (const double[]){1}, -1), AD_OK);
    assert_non_null(compact_rec(ctx, ad_node_id(a)));   /* still a record */
    ad_node *y = ad_mul(ctx, x, w);
    assert_true(ad_value_scalar(y) == 12.0);
    assert_true(ad_tangent_at(y, 0, 0) == 7.0);   /* d(xw) along (1, 1): w + x */
    ad_context_free(ctx);

    /* and after a rewind that drops the newest leaf: the run ends where the
     * nodes now end, so a tangent on the leaf before it is still known to
     * reach every use */
    ctx = ad_context_new();
    a = ad_scalar(ctx, 2.0);
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    ad_mark m = ad_context_mark(ctx);
    assert_non_null(ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){4}));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    assert_int_equal(ad_set_tangent(x, 0, (const double[]){1}, -1), AD_OK);
    assert_non_null(compact_rec(ctx, ad_node_id(a)));   /* still a record */
    ad_context_free(ctx);

    /* a rewind that drops a run of leaves made after an op (the run starts
     * past the mark): the leaf made next at the mark starts the run there */
    ctx = ad_context_new();
    a = ad_scalar(ctx, 2.0);
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    m = ad_context_mark(ctx);
    assert_non_null(ad_mul(ctx, x, x));
    assert_non_null(ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){4}));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    w = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){5});
    assert_int_equal(ad_set_tangent(w, 0, (const double[]){1}, -1), AD_OK);
    assert_non_null(compact_rec(ctx, ad_node_id(a)));   /* still a record */
    ad_context_free(ctx);
}

/* A leaf made without values holds zeros, a 0-d one (its number inline in
 * the node) as a bigger one, in both dtypes; and after a rewind, in memory
 * an earlier node of another value held. */
static void test_leaf_without_values_is_zero(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_mark m = ad_context_mark(ctx);
    for (int round = 0; round < 2; round++) {
        for (int dt = 0; dt < 2; dt++) {
            ad_node *s = ad_variable(ctx, (ad_dtype)dt, 0, NULL, NULL);
            ad_node *c = ad_constant(ctx, (ad_dtype)dt, 0, NULL, NULL);
            ad_node *t = ad_variable(ctx, (ad_dtype)dt, 1, (const int64_t[]){3}, NULL);
            assert_true(ad_value_scalar(s) == 0.0 && ad_value_scalar(c) == 0.0);
            for (int i = 0; i < 3; i++) assert_true(ad_value_at(t, i) == 0.0);
            assert_int_equal(ad_set_value_at(s, 0, 9.0), AD_OK);
            assert_int_equal(ad_set_value_at(c, 0, 9.0), AD_OK);
            for (int i = 0; i < 3; i++) assert_int_equal(ad_set_value_at(t, i, 9.0), AD_OK);
        }
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    }
    ad_context_free(ctx);
}

/* The arena after a rewind hands its chunks out again, replacing one too
 * small for a request: here the eighth (index 7, the last of the room the
 * chunk list first has), with the list's bookkeeping kept inside it
 * (AddressSanitizer in .ci/run sees a step past it), guard zones used once.
 * Chunks of 64 KiB doubling: constants of exactly those sizes fill chunks
 * 0..7; after a rewind the same again, then 16 MiB where chunk 7 has 8. */
static void test_arena_replaces_its_eighth_chunk(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_mark m = ad_context_mark(ctx);
    for (int round = 0; round < 2; round++) {
        /* guard zones (guard.c) turned on and off: none is made, but
         * arena memory is then unpoisoned for ASan as it is handed out */
        if (round == 1) {
            assert_false(ad_set_guard_zones(ctx, true));   /* (returns the old setting) */
            assert_true(ad_set_guard_zones(ctx, false));
        }
        for (int k = 0; k < 8; k++) {
            int64_t n = (int64_t)(8192 << k) * (round == 1 && k == 7 ? 2 : 1);   /* 64 KiB << k of float64 */
            double *v = calloc((size_t)n, sizeof *v);
            v[n - 1] = k + 1;
            ad_node *c = ad_constant(ctx, AD_FLOAT64, 1, &n, v);
            free(v);
            assert_non_null(c);
            assert_true(ad_value_at(c, n - 1) == k + 1);
        }
        assert_int_equal(ctx->n_chunks, 8);
        if (round == 0) assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    }
    ad_context_free(ctx);
}

/* A backward pass touches only the nodes on the way to its output: an
 * intermediate off that way keeps the adjoint an earlier pass gave it, also
 * when an op that uses it lies between the pass's lowest node and its
 * output. x = 2, a = x², b = 3a, y = 5x: the pass from b gives a's adjoint
 * 3 (db/da); the pass from y (ids 0..3, b among them, off y's way) leaves
 * it 3; x's grad adds up: 3·2x = 12, then + 5 = 17. Both variants. */
static void test_pass_touches_only_its_way(void **state)
{
    (void)state;
    const ad_backward_variant variants[2] = {AD_BACKWARD_PULL, AD_BACKWARD_PUSH};
    for (int v = 0; v < 2; v++) {
        ad_context *ctx = ad_context_new();
        ad_set_check_finite(ctx, true);   /* full nodes: the core's own sweeps */
        ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2});
        ad_node *a = ad_mul(ctx, x, x), *b = ad_scale(ctx, a, 3), *y = ad_scale(ctx, x, 5);
        ad_backward_opts o = {.variant = variants[v]};
        assert_int_equal(ad_backward_ex(ctx, b, &o), AD_OK);
        assert_true(ad_grad_scalar(a) == 3.0 && ad_grad_scalar(x) == 12.0);
        assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
        if (ad_grad_scalar(a) != 3.0 || ad_grad_scalar(x) != 17.0)
            fail_msg("variant %d: a's adjoint %g (expected 3), x's grad %g (expected 17)", v, ad_grad_scalar(a),
                     ad_grad_scalar(x));
        ad_context_free(ctx);
    }
}

/* A mark taken with the arena past its first chunk, then a rewind to it:
 * what is made after takes the memory from the mark's place on, never the
 * memory of what was made before it. t1: 10,000 numbers (chunk 0, 80,000
 * bytes), t2: 100 (chunk 1), the mark, t3, the rewind, then t4: 20,000
 * numbers, which fit in chunk 1 after t2. */
static void test_rewind_to_a_mark_in_a_later_chunk(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    int64_t n1 = 10000, n2 = 100, n4 = 20000;
    double *v = calloc((size_t)n4, sizeof *v);
    for (int64_t i = 0; i < n4; i++) v[i] = (double)(i % 7) + 1;
    ad_node *t1 = ad_constant(ctx, AD_FLOAT64, 1, &n1, v), *t2 = ad_constant(ctx, AD_FLOAT64, 1, &n2, v);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_int_equal(ctx->cur_chunk, 1);
    ad_mark m = ad_context_mark(ctx);
    assert_non_null(ad_constant(ctx, AD_FLOAT64, 1, &n2, NULL));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_node *t4 = ad_constant(ctx, AD_FLOAT64, 1, &n4, NULL);   /* zeros */
    assert_non_null(t4);
    for (int64_t i = 0; i < n2; i++)
        if (ad_value_at(t2, i) != v[i]) fail_msg("t2[%lld] = %g after the rewind, expected %g", (long long)i,
                                                 ad_value_at(t2, i), v[i]);
    for (int64_t i = 0; i < n1; i += 97) assert_true(ad_value_at(t1, i) == v[i]);
    free(v);
    ad_context_free(ctx);
}

/* ad_set_tangent's check that no node made after n uses it: it looks at
 * the nodes after n, all of them, and at nothing else. On a node made with
 * grad off (its inputs not recorded) that is the newest: nothing after it,
 * so its tangent is taken. On x with a leaf and then y = x·x after it: y
 * (two nodes on) is named. */
static void test_tangent_check_looks_after_the_node(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *c = ad_constant(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    ad_set_grad_enabled(ctx, false);
    ad_node *q = ad_mul(ctx, c, c);   /* grad off: its inputs are not recorded */
    ad_set_grad_enabled(ctx, true);
    assert_null(ad_node_op(q));
    assert_int_equal(ad_set_tangent(q, 0, (const double[]){1}, -1), AD_OK);
    assert_true(ad_tangent_at(q, 0, 0) == 1.0);
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2});
    ad_node *leaf = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){5});
    assert_non_null(leaf);
    ad_node *y = ad_mul(ctx, x, x);
    ad_clear_error();
    assert_int_equal(ad_set_tangent(x, 0, (const double[]){1}, -1), AD_ERR_STATE);
    char want[400];
    snprintf(want, sizeof want,
             "set_tangent: too late for node #%u (unnamed): node #%u (mul) was made after it and takes it as an "
             "input, and took its tangent then, so this one would never reach it; call ad_forward_dirs and "
             "ad_set_tangent before making the ops that use the node (or rewind to a mark taken before them)",
             ad_node_id(x), ad_node_id(y));
    assert_error(AD_ERR_STATE, want);
    ad_context_free(ctx);
}

/* ad_threads: 1 to 256, whatever OMP_NUM_THREADS says; 256 where it says
 * more (as ad_set_threads refuses more). */
static void test_thread_count_bounded(void **state)
{
    (void)state;
    const char *env = getenv("OMP_NUM_THREADS");
    int n = ad_threads();
    if (n < 1 || n > 256) fail_msg("ad_threads() = %d", n);
    if (env && atoi(env) > 256) assert_int_equal(n, 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mark_of_no_context_fits_none),   /* first: its context is the process's first */
        cmocka_unit_test(test_epoch_wrap_at_a_chunk_end),
        cmocka_unit_test(test_thread_count_bounded),
        cmocka_unit_test(test_name_of_a_whole_arena_block),
        cmocka_unit_test(test_node_id_refused),
        cmocka_unit_test(test_requires_grad_turned_off),
        cmocka_unit_test(test_misaligned_record_handle_refused),
        cmocka_unit_test(test_shape_past_ndim_is_one),
        cmocka_unit_test(test_leaf_without_values_is_zero),
        cmocka_unit_test(test_arena_replaces_its_eighth_chunk),
        cmocka_unit_test(test_pass_touches_only_its_way),
        cmocka_unit_test(test_rewind_to_a_mark_in_a_later_chunk),
        cmocka_unit_test(test_tangent_check_looks_after_the_node),
        cmocka_unit_test(test_tangent_on_the_newest_leaves_keeps_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
