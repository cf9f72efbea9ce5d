/* test_fast_pins.c: engine/fast's scalar path, pinned where the other tests
 * let a change through: the per-context cache of an op's scalar index, which
 * must still refuse a wrong number of inputs on its second (cached) look,
 * the ready range of a record chunk whose first compact node is made in the
 * upper half of a populate window, and a written-out record dropped by a
 * rewind. Expected numbers come from the math
 * (small binary fractions: exact in float64). White box where it must be:
 * fast/fast_internal.h for the record chunk's geometry. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"
#include "ad_test_op.h"
#include "engine/fast/fast_internal.h"

/* A binary op given one input is refused with the general path's message,
 * the first time (the op's scalar index looked up and cached) and the second
 * (read from the cache, whose bounds on n_in are the op's own, not a
 * neighbouring slot's: in a fresh context the neighbours are empty, with
 * bounds 0..0). Each op in its own context, so that every one meets empty
 * neighbours wherever its address puts it. */
static void test_cached_op_index_checks_its_own_input_count(void **state)
{
    (void)state;
    const char *const names[] = {"add", "sub", "mul", "div", "max", "min"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const ad_op *op = ad_op_find(names[i]);
        assert_non_null(op);
        assert_int_equal(op->n_in_min, 2);
        char want[64];
        snprintf(want, sizeof want, "%s: takes 2 to 2 inputs, 1 given", names[i]);
        ad_context *ctx = ad_context_new();
        ad_node *x = ad_scalar(ctx, 2.0);
        assert_true(ad_is_fast_handle(x));
        for (int look = 0; look < 3; look++) {
            ad_clear_error();
            assert_null(ad_apply(ctx, op, (ad_node *[]){x}, 1, NULL));
            assert_error(AD_ERR_ARG, want);
        }
        /* and with two it makes its compact node, from the same cache entry */
        ad_node *y = ad_apply(ctx, op, (ad_node *[]){x, x}, 2, NULL);
        assert_non_null(y);
        assert_true(ad_is_fast_handle(y));
        ad_context_free(ctx);
    }
}

/* The first compact node of a record chunk that is mmap'd (chunk 6: 65536
 * records of 32 bytes, 2 MiB) made at offset 32768, the start of the second
 * REC_POPULATE window: ids 0..97279 are full nodes (made while checking
 * finiteness, which the scalar path leaves to the general one). The window
 * made ready must be the one that holds the record, so that the record is
 * inside the range a handle is resolved by: its value, a node made from it
 * and the gradient back to it are read from it. */
static void test_first_record_in_the_upper_window_is_ready(void **state)
{
    (void)state;
    assert_int_equal(sizeof(scalar_rec), 32);
    assert_int_equal(REC_POPULATE, 1 << 20);
    const uint32_t chunk6 = NODE_CHUNK0 * ((1u << 6) - 1), first = chunk6 + (REC_POPULATE / 32);
    assert_true(((size_t)NODE_CHUNK0 << 6) * sizeof(scalar_rec) >= NODE_MAP_MIN);   /* an mmap'd record chunk */
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    for (uint32_t i = 0; i < first; i++) assert_false(ad_is_fast_handle(ad_scalar(ctx, 1.0)));
    ad_set_check_finite(ctx, false);
    ad_clear_error();
    ad_node *z = ad_scalar(ctx, 3.5);
    assert_true(ad_is_fast_handle(z));
    assert_int_equal(ad_node_id(z), first);
    assert_int_equal(fast_of(ctx)->rec_map_len[6], 2 << 20);   /* NODE_MAP_MIN bytes: mmap'd */
    assert_true(ad_value_scalar(z) == 3.5);
    assert_int_equal(ad_last_status(), AD_OK);
    ad_node *y = ad_mul(ctx, z, z);
    assert_true(ad_is_fast_handle(y));
    assert_int_equal(ad_node_id(y), first + 1);
    assert_true(ad_value_scalar(y) == 12.25);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_true(ad_grad_scalar(z) == 7.0);
    ad_context_free(ctx);
}

/* A record written out as a full node (a name set on it) while it is the
 * newest node, then dropped by a rewind: its handle is refused like any
 * dropped node's, before and after a new record takes its id. */
static void test_dropped_written_out_record_is_refused(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2.0);
    ad_mark m = ad_context_mark(ctx);
    ad_node *y = ad_mul(ctx, x, x);
    assert_true(ad_is_fast_handle(y));
    assert_non_null(ad_set_name(y, "y"));   /* written out */
    assert_true(ad_value_scalar(y) == 4.0);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(y)));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_node *y2 = ad_mul(ctx, x, ad_scalar_const(ctx, 3.0));
    assert_true(ad_value_scalar(y2) == 6.0);
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(y)));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_context_free(ctx);
}

/* A record written out as a full node (a name set on it: x is now a full
 * node behind a record's handle; the records after it stay records) is
 * still an input the scalar path takes:
 * y = x·x is a record again, read from x's full node. y = 1.5² = 2.25,
 * dy/dx = 2x = 3. */
static void test_written_out_record_is_a_scalar_input(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 1.5), *later = ad_scalar(ctx, 4.0);
    assert_true(ad_is_fast_handle(x));
    assert_non_null(ad_set_name(x, "x"));   /* written out, and only x: the later record stays one */
    assert_true(compact_rec(ctx, ad_node_id(x)) == NULL);
    assert_true(compact_rec(ctx, ad_node_id(later)) != NULL);
    ad_node *y = ad_mul(ctx, x, x);
    assert_true(ad_is_fast_handle(y));
    assert_true(ad_value_scalar(y) == 2.25);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_true(ad_grad_scalar(x) == 3.0);
    ad_context_free(ctx);
}

/* An elementwise op of three inputs with (two-input) scalar kernels: the
 * scalar path makes its 0-d node a full one, through the op's forward, in
 * the inputs' dtype (float32 here: 2·5 + 0.25 = 10.25, exact in float32).
 * It never takes a place in the context's table of scalar ops (which holds
 * 255, ops that make records): after it, 255 other ops each still make a
 * record; a 256th makes a full node, in float32 too. */
static void test_three_input_op_float32_and_the_op_table(void **state)
{
    (void)state;
    const ad_op abc = {.name = "abc", .summary = "a·b + c", .n_in = 3, .n_in_min = 3, .flags = AD_OP_ELEMENTWISE,
                       .infer = ad_test_0d_infer, .cpu = {ad_test_ab_plus_c_fwd, NULL, NULL},
                       .scalar = &ad_test_ab_scalar};
    ad_context *ctx = ad_context_new();
    ad_node *in[3];
    const double v[3] = {2.0, 5.0, 0.25};
    for (int s = 0; s < 3; s++) in[s] = ad_constant(ctx, AD_FLOAT32, 0, NULL, &v[s]);
    ad_node *y = ad_apply(ctx, &abc, in, 3, NULL);
    assert_non_null(y);
    assert_false(ad_is_fast_handle(y));
    assert_int_equal(ad_value(y).dtype, AD_FLOAT32);
    assert_true(ad_value_scalar(y) == 10.25);
    assert_false(ad_requires_grad(y));   /* constants in: a constant out */
    assert_null(ad_node_op(y));
    /* the caller's array longer than the call: its fourth node is not an
     * input (2·5 + 0.25, not 2·5 + 100) */
    ad_node *four[4] = {in[0], in[1], in[2], ad_constant(ctx, AD_FLOAT32, 0, NULL, (const double[]){100})};
    ad_node *y4 = ad_apply(ctx, &abc, four, 3, NULL);
    assert_non_null(y4);
    assert_true(ad_value_scalar(y4) == 10.25);
    enum { N_OPS = MAX_SCALAR_OPS };
    static ad_op ops[N_OPS];
    ad_node *a = ad_scalar(ctx, 3.0), *b = ad_scalar(ctx, 5.0);
    for (int i = 0; i < N_OPS; i++) {
        ops[i] = ad_op_add;
        ad_node *s = ad_apply(ctx, &ops[i], (ad_node *const[]){a, b}, 2, NULL);
        assert_non_null(s);
        if (!ad_is_fast_handle(s)) fail_msg("op %d of %d made a full node", i + 1, N_OPS);
        assert_true(ad_value_scalar(s) == 8.0);
    }
    /* the table full: one more op, on the float32 inputs, makes a full node
     * through its scalar kernel, in float32: 2·5 = 10 */
    ad_op one_more = ad_op_mul;
    ad_node *p = ad_apply(ctx, &one_more, in, 2, NULL);
    assert_non_null(p);
    assert_false(ad_is_fast_handle(p));
    assert_int_equal(ad_value(p).dtype, AD_FLOAT32);
    assert_true(ad_value_scalar(p) == 10.0);
    ad_context_free(ctx);
}

/* An op of two or three inputs (n_in_min 2, n_in 3: a·b, plus c where
 * given) with two-input scalar kernels: called with two inputs it makes a
 * record, with three a full node through its forward, which adds c: the
 * cached input bounds say 2 to 2 for records, whatever the op's n_in.
 * 2·5 = 10; 2·5 + 7 = 17. */
static void test_op_of_two_or_three_inputs(void **state)
{
    (void)state;
    const ad_op ab_opt_c = {.name = "ab_opt_c", .summary = "a·b (+ c)", .n_in = 3, .n_in_min = 2,
                            .flags = AD_OP_ELEMENTWISE, .infer = ad_test_0d_infer,
                            .cpu = {ad_test_ab_plus_c_fwd, NULL, NULL}, .scalar = &ad_test_ab_scalar};
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar_const(ctx, 2.0), *b = ad_scalar_const(ctx, 5.0), *c = ad_scalar_const(ctx, 7.0);
    for (int look = 0; look < 2; look++) {   /* the op's bounds looked up, then read from the cache */
        ad_node *two = ad_apply(ctx, &ab_opt_c, (ad_node *const[]){a, b}, 2, NULL);
        assert_true(ad_is_fast_handle(two));
        assert_true(ad_value_scalar(two) == 10.0);
        ad_node *three = ad_apply(ctx, &ab_opt_c, (ad_node *const[]){a, b, c}, 3, NULL);
        assert_non_null(three);
        assert_false(ad_is_fast_handle(three));
        assert_true(ad_value_scalar(three) == 17.0);
    }
    ad_context_free(ctx);
}

/* An elementwise op without scalar kernels whose forward fails (here: a
 * number it refuses) on full 0-d inputs: the scalar path makes the node,
 * runs the forward, and on its failure gives NULL with the forward's
 * error, the half-made node dropped. */
static ad_status refuse_forward(ad_node *o)
{
    (void)o;
    return ad_fail(AD_ERR_DOMAIN, "refuse: no number is good enough");
}
static void test_failing_forward_on_the_scalar_path(void **state)
{
    (void)state;
    const ad_op refuse = {.name = "refuse", .summary = "fails", .n_in = 1, .n_in_min = 1, .flags = AD_OP_ELEMENTWISE,
                          .infer = ad_test_0d_infer, .cpu = {refuse_forward, NULL, NULL}};
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2.0});
    for (int i = 0; i < 3; i++) {
        ad_clear_error();
        assert_null(ad_apply(ctx, &refuse, (ad_node *const[]){x}, 1, NULL));
        assert_error(AD_ERR_DOMAIN, "refuse: no number is good enough");
        assert_int_equal(ad_context_node_count(ctx), 1);
    }
    ad_context_free(ctx);
}

/* A record made where a dropped one was (a rewind gives its memory out
 * again) starts with no grad, whatever the old one had: y = x·x took
 * dy/dy = 1, then z = x·x in its place reads 0, written out or not, and
 * w = 3z gives dz = 3 (not 3 + 1). */
static void test_record_in_a_dropped_ones_place_has_no_grad(void **state)
{
    (void)state;
    for (int written_out = 0; written_out < 2; written_out++) {
        ad_context *ctx = ad_context_new();
        ad_node *x = ad_scalar(ctx, 2.0);
        ad_mark m = ad_context_mark(ctx);
        ad_node *y = ad_mul(ctx, x, x);
        assert_int_equal(ad_backward(ctx, y), AD_OK);
        assert_true(ad_grad_scalar(y) == 1.0);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        ad_node *z = ad_mul(ctx, x, x);
        assert_true(ad_is_fast_handle(z));
        assert_int_equal(ad_node_id(z), 1);
        if (written_out) assert_non_null(ad_set_name(z, "z"));
        assert_true(ad_grad_scalar(z) == 0.0);
        ad_node *w = ad_mul(ctx, z, ad_scalar_const(ctx, 3.0));
        assert_int_equal(ad_backward(ctx, w), AD_OK);
        if (ad_grad_scalar(z) != 3.0) fail_msg("dw/dz = %g, expected 3", ad_grad_scalar(z));
        ad_context_free(ctx);
    }
}

/* Records only in node chunk 2 (ids 3072 on: the ids before are full
 * nodes, made while checking finiteness), then a rewind to the start and
 * full nodes again at ids 0..3071, below the records' bound (rec_hi), in
 * chunks that never had a record chunk: each is made as any full node, and
 * reads its own value. */
static void test_full_nodes_below_the_records_after_a_rewind(void **state)
{
    (void)state;
    const uint32_t chunk2 = NODE_CHUNK0 * 3;
    ad_context *ctx = ad_context_new();
    ad_mark m = ad_context_mark(ctx);
    ad_set_check_finite(ctx, true);
    for (uint32_t i = 0; i < chunk2; i++) assert_non_null(ad_scalar(ctx, 1.0));
    ad_set_check_finite(ctx, false);
    ad_node *r = ad_scalar(ctx, 2.0);
    assert_true(ad_is_fast_handle(r));
    assert_null(fast_of(ctx)->rec_chunk[0]);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_set_check_finite(ctx, true);
    for (uint32_t i = 0; i < chunk2; i += 97) {
        while (ad_context_node_count(ctx) < i) assert_non_null(ad_scalar(ctx, 0.0));
        ad_node *x = ad_scalar(ctx, (double)i);
        assert_false(ad_is_fast_handle(x));
        assert_true(ad_value_scalar(x) == (double)i);
    }
    ad_context_free(ctx);
}

/* A rewind empties the range of newest records (the ready range), which
 * started at record 3072, the first of node chunk 2 (ids 0..3071: full
 * nodes, made while checking finiteness). Record x = 1.5 at id 3072 was
 * made before the mark, so it stays; y = x·x after the rewind must find x
 * by its own id: dy/dx = 2x = 3, and node 0 gets nothing. */
static void test_record_found_by_its_id_after_a_rewind(void **state)
{
    (void)state;
    const uint32_t chunk2 = NODE_CHUNK0 * 3;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    ad_node *first = ad_scalar(ctx, 1.0);
    for (uint32_t i = 1; i < chunk2; i++) assert_non_null(ad_scalar(ctx, 1.0));
    ad_set_check_finite(ctx, false);
    ad_node *x = ad_scalar(ctx, 1.5);
    assert_true(ad_is_fast_handle(x));
    assert_int_equal(ad_node_id(x), chunk2);
    ad_mark m = ad_context_mark(ctx);
    assert_non_null(ad_mul(ctx, x, x));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_node *y = ad_mul(ctx, x, x);
    assert_true(ad_is_fast_handle(y));
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_true(ad_grad_scalar(x) == 3.0);
    assert_true(ad_grad_scalar(first) == 0.0);
    ad_context_free(ctx);
}

/* ad_zero_grad walks the records' range up to the node count, not past it:
 * after a rewind, node memory past the count still holds dropped nodes
 * whose grads point into arena memory that new values now use. t = (1, 2,
 * 3, 4), y = Σ t·t, backward (t·t's grad in the arena), a rewind to before
 * t, then u = (1..64) over that arena memory: zeroing the grads leaves u's
 * values as they were. */
static void test_zero_grad_stops_at_the_node_count(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 1.0);
    assert_true(ad_is_fast_handle(x));
    ad_mark m = ad_context_mark(ctx);
    ad_node *t = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, (const double[]){1, 2, 3, 4});
    ad_node *y = ad_sum(ctx, ad_mul(ctx, t, t), AD_ALL_AXES, false);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_true(ad_grad_at(t, 3) == 8.0);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    double v[64];
    for (int i = 0; i < 64; i++) v[i] = i + 1;
    ad_node *u = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){64}, v);
    ad_zero_grad(ctx);
    for (int i = 0; i < 64; i++)
        if (ad_value_at(u, i) != v[i]) fail_msg("u[%d] = %g after zero_grad, expected %g", i, ad_value_at(u, i), v[i]);
    ad_context_free(ctx);
}

/* An elementwise op with scalar kernels on inputs of two dtypes (a·b, a
 * float32, b float64, the product float64: its shape rule says so, as
 * AD_OP_ELEMENTWISE allows when the dtypes differ): the push sweep's scalar
 * step for full 0-d nodes (check-finite mode makes full nodes) leaves it to
 * the op's vjp, which adds each adjoint in its input's dtype. a = 3, b = 2:
 * d(ab)/da = 2, d(ab)/db = 3. */
static ad_status mixed_infer(ad_node *const *in, int n_in, const ad_params *p, int *nd, int64_t *sh, ad_dtype *dt)
{
    (void)in, (void)n_in, (void)p, (void)sh;
    *nd = 0;
    *dt = AD_FLOAT64;
    return AD_OK;
}
static ad_status mixed_forward(ad_node *o)
{
    ad_tensor_set(&o->value, 0, ad_tensor_get(&o->in[0]->value, 0) * ad_tensor_get(&o->in[1]->value, 0));
    return AD_OK;
}
static void mixed_vjp(const ad_node *o, int slot, int rows, const void *g, void *gin)
{
    (void)rows;
    double other = ad_tensor_get(&o->in[1 - slot]->value, 0), gy = ((const double *)g)[0];
    if (slot == 0) ((float *)gin)[0] += (float)(gy * other);
    else ((double *)gin)[0] += gy * other;
}

static void test_scalar_step_leaves_mixed_dtypes_to_the_vjp(void **state)
{
    (void)state;
    const ad_op mixed = {.name = "mixed", .summary = "a·b, a float32, b float64", .n_in = 2, .n_in_min = 2,
                         .flags = AD_OP_ELEMENTWISE, .infer = mixed_infer, .cpu = {mixed_forward, mixed_vjp, NULL},
                         .scalar = &ad_test_ab_scalar};
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    ad_node *a = ad_variable(ctx, AD_FLOAT32, 0, NULL, (const double[]){3});
    ad_node *b = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2});
    ad_node *y = ad_apply(ctx, &mixed, (ad_node *const[]){a, b}, 2, NULL);
    assert_non_null(y);
    assert_int_equal(ad_value(y).dtype, AD_FLOAT64);
    assert_true(ad_value_scalar(y) == 6.0);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    if (ad_grad_scalar(a) != 2.0 || ad_grad_scalar(b) != 3.0)
        fail_msg("grads %g, %g, expected 2, 3", ad_grad_scalar(a), ad_grad_scalar(b));
    ad_context_free(ctx);
}

/* The cache of scalar op numbers has 64 slots, by address: 130 ops (copies
 * of add and of mul, alternating) must share them, so some lookups miss and
 * find the op in the context's table by a search. Every op, looked up the
 * second time, must get its own number: its node's backward is its own,
 * add's (1, 1) or mul's (b, a) = (5, 3). */
static void test_op_found_again_after_its_cache_slot_is_taken(void **state)
{
    (void)state;
    enum { N_OPS = 130 };
    static ad_op ops[N_OPS];
    for (int i = 0; i < N_OPS; i++) ops[i] = i % 2 ? ad_op_mul : ad_op_add;
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar(ctx, 3.0), *b = ad_scalar(ctx, 5.0);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N_OPS; i++) {
            ad_node *y = ad_apply(ctx, &ops[i], (ad_node *const[]){a, b}, 2, NULL);
            assert_true(ad_is_fast_handle(y));
            assert_true(ad_value_scalar(y) == (i % 2 ? 15.0 : 8.0));
            ad_zero_grad(ctx);
            assert_int_equal(ad_backward(ctx, y), AD_OK);
            if (ad_grad_scalar(a) != (i % 2 ? 5.0 : 1.0) || ad_grad_scalar(b) != (i % 2 ? 3.0 : 1.0))
                fail_msg("pass %d, op %d (%s): grads %g, %g", pass, i, ops[i].name, ad_grad_scalar(a),
                         ad_grad_scalar(b));
        }
    assert_int_equal(fast_of(ctx)->n_scalar_ops, N_OPS);
    ad_context_free(ctx);
}

/* Every one of the cache's 64 slots taken: 64 copies of add placed an odd
 * number of 64-byte lines apart (the slot is the address's line number mod
 * 64), each looked up twice, each making its record. A slot's entry is
 * written in its own place (the last slot's too: under AddressSanitizer a
 * write one entry past the cache stops the program). */
static void test_every_cache_slot(void **state)
{
    (void)state;
    size_t lines = (sizeof(ad_op) + 63) / 64;
    if (lines % 2 == 0) lines++;
    const size_t stride = lines * 64;
    unsigned char *buf = aligned_alloc(64, 64 * stride);
    assert_non_null(buf);
    bool seen[SCALAR_OP_CACHE] = {false};
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar(ctx, 3.0), *b = ad_scalar(ctx, 5.0);
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < 64; k++) {
            ad_op *op = (ad_op *)(void *)(buf + (size_t)k * stride);
            if (pass == 0) *op = ad_op_add;
            seen[((uintptr_t)op >> 6) % SCALAR_OP_CACHE] = true;
            ad_node *y = ad_apply(ctx, op, (ad_node *const[]){a, b}, 2, NULL);
            assert_true(ad_is_fast_handle(y));
            assert_true(ad_value_scalar(y) == 8.0);
        }
    for (int slot = 0; slot < SCALAR_OP_CACHE; slot++) assert_true(seen[slot]);
    assert_int_equal(fast_of(ctx)->n_scalar_ops, 64);
    ad_context_free(ctx);
    free(buf);
}

/* An op that says it takes 0 to 1 inputs (n_in_min 0: no registered op
 * can, ad_op_register refuses it) called with none is refused by the
 * general path's check, even with a 0-d node at in[0] that the call did
 * not count. */
static ad_status one_forward(ad_node *o)
{
    ad_tensor_set(&o->value, 0, 1.0);
    return AD_OK;
}
static void test_op_of_no_inputs_refused_with_a_node_in_reach(void **state)
{
    (void)state;
    const ad_op none = {.name = "none", .summary = "1", .n_in = 1, .n_in_min = 0, .flags = AD_OP_ELEMENTWISE,
                        .infer = ad_test_0d_infer, .cpu = {one_forward, NULL, NULL}};
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2.0});
    assert_false(ad_is_fast_handle(x));
    ad_clear_error();
    assert_null(ad_apply(ctx, &none, (ad_node *const[]){x}, 0, NULL));
    assert_error(AD_ERR_ARG, "none: an op call takes 1 to 3 inputs, 0 given");
    assert_int_equal(ad_context_node_count(ctx), 1);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_op_index_checks_its_own_input_count),
        cmocka_unit_test(test_first_record_in_the_upper_window_is_ready),
        cmocka_unit_test(test_dropped_written_out_record_is_refused),
        cmocka_unit_test(test_written_out_record_is_a_scalar_input),
        cmocka_unit_test(test_three_input_op_float32_and_the_op_table),
        cmocka_unit_test(test_op_of_two_or_three_inputs),
        cmocka_unit_test(test_failing_forward_on_the_scalar_path),
        cmocka_unit_test(test_record_in_a_dropped_ones_place_has_no_grad),
        cmocka_unit_test(test_full_nodes_below_the_records_after_a_rewind),
        cmocka_unit_test(test_record_found_by_its_id_after_a_rewind),
        cmocka_unit_test(test_zero_grad_stops_at_the_node_count),
        cmocka_unit_test(test_scalar_step_leaves_mixed_dtypes_to_the_vjp),
        cmocka_unit_test(test_op_found_again_after_its_cache_slot_is_taken),
        cmocka_unit_test(test_every_cache_slot),
        cmocka_unit_test(test_op_of_no_inputs_refused_with_a_node_in_reach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
