/* test_engine_pins_more.c: more pins of the engine core, each for a change
 * the other tests let through: the data arena reusing its chunks after a
 * rewind and the byte count of a context, the record lookup across several
 * live contexts, a constant turned into a variable, the scalar path of the
 * backward sweep on full 0-d nodes (observed by counting which kernels
 * ran), a cotangent seeded twice, backward's and backward_block's messages,
 * ad_clear_error, ad_set_threads at its bound, the stale-gen clearing
 * that ends at a chunk's end, a compact input found in an older chunk, an
 * elementwise op without scalar kernels, and contexts made on several
 * threads at once. Expected numbers come
 * from the math and from the arena's rule (chunks of 64 KiB and up, each
 * at least twice the one before it; 32-byte rounding). White box where it
 * must be: ad_internal.h and fast/fast_internal.h for the node, record and data chunks. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"
#include "engine/fast/fast_internal.h"

enum { KIB = 1024 };

/* A float64 constant of n elements, element i = base + i. */
static ad_node *ramp(ad_context *ctx, int64_t n, double base)
{
    double *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = base + (double)i;
    ad_node *c = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){n}, v);
    free(v);
    assert_non_null(c);
    return c;
}
static void assert_ramp(const ad_node *c, int64_t n, double base)
{
    ad_tensor t = ad_value(c);
    assert_int_equal(t.size, n);
    const double *d = t.data;
    for (int64_t i = 0; i < n; i++)
        if (d[i] != base + (double)i) fail_msg("element %lld is %g, not %g", (long long)i, d[i], base + (double)i);
}

/* The bytes of the context's node and record chunks (the data chunks are
 * what the tests below count). */
static size_t node_bytes(const ad_context *ctx)
{
    size_t b = 0;
    for (int k = 0; k < ctx->n_node_chunks; k++) {
        b += ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node);
        if (fast_of(ctx)->rec_chunk[k]) b += ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
    }
    return b;
}

/* Data that spans several arena chunks, a rewind, then bigger data: every
 * value exact, and ad_context_bytes the exact sum of node chunks (1024 << k
 * nodes each, with their records), record chunks and data chunks. Pins the
 * arena's rounding to 32 bytes (two 32 KiB tensors fill the first 64 KiB
 * chunk exactly; two node chunks), its reuse of a big enough chunk after a rewind (a 512 KiB
 * chunk kept, not replaced by a 128 KiB one), its replacement of a chunk
 * too small (freed, then a new one), and every term of the byte count. */
static void test_arena_chunks_after_rewind(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *s = NULL;
    for (int i = 0; i < 1100; i++) s = ad_scalar(ctx, 3.0);   /* compact scalars: records, no data */
    assert_non_null(s);
    assert_int_equal(ctx->n_node_chunks, 2);   /* nodes 0..1023, then 1024..3071 */
    assert_non_null(fast_of(ctx)->rec_chunk[0]);
    assert_non_null(fast_of(ctx)->rec_chunk[1]);
    size_t nodes = node_bytes(ctx);
    assert_int_equal(nodes, (1024 + 2048) * (sizeof(ad_node) + sizeof(scalar_rec)));
    assert_int_equal(ad_context_bytes(ctx), nodes);   /* no data chunk yet */
    ad_mark m = ad_context_mark(ctx);
    /* chunk 0 (64 KiB): two 32 KiB tensors fill it; chunk 1: 512 KiB, bigger than twice 64 KiB */
    ad_node *a = ramp(ctx, 4 * KIB, 1), *b = ramp(ctx, 4 * KIB, 1e6), *c = ramp(ctx, 64 * KIB, 2e6);
    assert_int_equal(ctx->n_chunks, 2);
    assert_int_equal(ad_context_bytes(ctx), nodes + 64 * KIB + 512 * KIB);
    assert_ramp(a, 4 * KIB, 1);
    assert_ramp(b, 4 * KIB, 1e6);
    assert_ramp(c, 64 * KIB, 2e6);

    /* Rewind: 32 KiB in chunk 0, then 64 KiB: to chunk 1, kept (512 KiB >= 64 KiB); then
     * 1 MiB: chunk 2 (new, 1 MiB = twice chunk 1). */
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    a = ramp(ctx, 4 * KIB, 5);
    b = ramp(ctx, 8 * KIB, 7e6);
    c = ramp(ctx, 128 * KIB, 9e6);
    assert_int_equal(ctx->n_chunks, 3);
    assert_int_equal(ad_context_bytes(ctx), nodes + 64 * KIB + 512 * KIB + 1024 * KIB);
    assert_ramp(a, 4 * KIB, 5);
    assert_ramp(b, 8 * KIB, 7e6);
    assert_ramp(c, 128 * KIB, 9e6);

    /* Rewind again: 128 KiB does not fit chunk 0 (64 KiB); chunk 1 takes it; then 2 MiB: chunk 2
     * (1 MiB) is too small, freed and replaced by one of 2 MiB. */
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    a = ramp(ctx, 16 * KIB, -3);
    b = ramp(ctx, 256 * KIB, -4e6);
    assert_int_equal(ctx->n_chunks, 3);
    assert_int_equal(ad_context_bytes(ctx), nodes + 64 * KIB + 512 * KIB + 2048 * KIB);
    assert_ramp(a, 16 * KIB, -3);
    assert_ramp(b, 256 * KIB, -4e6);
    assert_true(ad_value_scalar(s) == 3.0);
    ad_context_free(ctx);
}

/* Three live contexts, a compact node from each read through its handle
 * in turn: the record lookup finds each one's context, not only the first
 * of the live set (the thread's cached context is the last one used, so
 * the others are looked up in the live set). */
static void test_records_of_three_contexts(void **state)
{
    (void)state;
    ad_context *ctx[3];
    ad_node *x[3], *y[3];
    for (int c = 0; c < 3; c++) {
        ctx[c] = ad_context_new();
        x[c] = ad_scalar(ctx[c], 2.0 + c);
        y[c] = ad_mul(ctx[c], x[c], x[c]);
        assert_non_null(y[c]);
    }
    for (int round = 0; round < 2; round++)
        for (int k = 0; k < 3; k++) {
            int c = round ? 2 - k : k;
            assert_true(ad_value_scalar(x[c]) == 2.0 + c);
            assert_true(ad_value_scalar(y[c]) == (2.0 + c) * (2.0 + c));
            assert_int_equal(ad_backward(ctx[c], y[c]), AD_OK);
            assert_true(ad_grad_scalar(x[c]) == (round + 1) * 2 * (2.0 + c));
        }
    assert_int_equal(ad_last_status(), AD_OK);
    for (int c = 0; c < 3; c++) ad_context_free(ctx[c]);
}

/* A constant leaf made to require grad takes its grad buffer then, as a
 * variable has one from the start: zeros before any backward pass, and in
 * memory from before a mark taken next, so a rewind to that mark keeps it.
 * Two passes, with a rewind and other data between them, give exactly
 * twice d(sum x*x)/dx = 2x. */
static void test_constant_made_variable(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1.5, -2, 3});
    assert_false(ad_requires_grad(x));
    ad_set_requires_grad(x, true);
    assert_true(ad_requires_grad(x));
    ad_tensor g = ad_grad(x);
    assert_non_null(g.data);
    for (int64_t i = 0; i < 3; i++) assert_true(ad_tensor_get(&g, i) == 0.0);
    ad_mark m = ad_context_mark(ctx);
    const double want[3] = {3.0, -4.0, 6.0};
    for (int pass = 1; pass <= 2; pass++) {
        ad_node *loss = ad_sum(ctx, ad_mul(ctx, x, x), AD_ALL_AXES, false);
        assert_int_equal(ad_backward(ctx, loss), AD_OK);
        g = ad_grad(x);
        assert_non_null(g.data);
        for (int64_t i = 0; i < 3; i++) assert_true(ad_tensor_get(&g, i) == pass * want[i]);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        /* new data where the pass's nodes were */
        assert_non_null(ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){8}, (const double[]){9, 9, 9, 9, 9, 9, 9, 9}));
    }
    ad_context_free(ctx);
}

/* A copy of mul whose scalar derivative and vjp count their calls: which
 * path of the backward sweep ran. */
static int n_scalar_d, n_vjp;
static ad_scalar_kernels counting_scalar;
static double counting_d(double a, double b, double y, int slot)
{
    n_scalar_d++;
    return ad_op_mul.scalar->d(a, b, y, slot);
}
static void counting_vjp(const ad_node *out, int slot, int rows, const void *gout, void *gin)
{
    n_vjp++;
    ad_op_mul.cpu.vjp(out, slot, rows, gout, gin);
}

static void count_step(const ad_backward_step *st, void *user)
{
    (void)st;
    ++*(int *)user;
}

/* Full 0-d nodes through an op with scalar kernels (a backward pass with a
 * hook writes the compact results out as full nodes; check-finite mode
 * makes full nodes from the start): with the fast path on, the sweep passes
 * the adjoint by the scalar derivative, once per input (both inputs of a
 * binary op), and never calls the vjp; with it off, by the vjp. The hook
 * sees 4 steps either way. Grads exact: y = a*b*a, dy/da = 2ab, dy/db = a². */
static void test_full_scalars_take_scalar_vjps(void **state)
{
    (void)state;
    ad_op op = ad_op_mul;
    counting_scalar = *ad_op_mul.scalar;
    counting_scalar.d = counting_d;
    op.scalar = &counting_scalar;
    op.cpu.vjp = counting_vjp;
    for (int run = 0; run < 4; run++) {
        bool fast = run < 2, finite = run % 2;
        ad_context *ctx = ad_context_new();
        ad_set_fast_path(ctx, fast);
        ad_set_check_finite(ctx, finite);
        ad_node *a = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
        ad_node *b = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){5});
        ad_node *ab = ad_apply(ctx, &op, (ad_node *const[]){a, b}, 2, NULL);
        ad_node *y = ad_apply(ctx, &op, (ad_node *const[]){ab, a}, 2, NULL);
        assert_non_null(y);
        assert_true(ad_value_scalar(y) == 45.0);
        n_scalar_d = n_vjp = 0;
        int steps = 0;
        ad_backward_opts o = {.hook = count_step, .hook_user = &steps};
        assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
        assert_int_equal(steps, 4);
        assert_int_equal(n_scalar_d, fast ? 4 : 0);
        assert_int_equal(n_vjp, fast ? 0 : 4);
        assert_true(ad_grad_scalar(a) == 30.0);
        assert_true(ad_grad_scalar(b) == 9.0);
        ad_context_free(ctx);
    }
}

/* A cotangent seeds the output's grad by +=: two passes from a leaf output
 * leave twice the cotangent. */
static void test_cotangent_accumulates(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 2, 3});
    ad_tensor *cot = ad_tensor_from(AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){0.5, -1, 4});
    ad_backward_opts o = {.cotangent = cot};
    assert_int_equal(ad_backward_ex(ctx, x, &o), AD_OK);
    assert_int_equal(ad_backward_ex(ctx, x, &o), AD_OK);
    ad_tensor g = ad_grad(x);
    assert_true(ad_tensor_get(&g, 0) == 1.0);
    assert_true(ad_tensor_get(&g, 1) == -2.0);
    assert_true(ad_tensor_get(&g, 2) == 8.0);
    ad_tensor_free(cot);
    ad_context_free(ctx);
}

/* The messages: backward of NULL with no error before it; backward_block
 * naming the constant in its list by its id and place; ad_clear_error
 * leaving "" exactly. */
static void test_backward_messages(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, 2});
    ad_node *k = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){3, 4});
    ad_node *y = ad_sum(ctx, ad_mul(ctx, x, k), AD_ALL_AXES, false);
    assert_non_null(y);
    ad_clear_error();
    assert_int_equal(ad_backward(ctx, NULL), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "backward: output is NULL");
    double gx[2] = {0, 0}, gk[2] = {0, 0};
    assert_int_equal(ad_backward_block(ctx, y, 1, (const double[]){1}, 2, (ad_node *const[]){x, k},
                                       (void *const[]){gx, gk}),
                     AD_ERR_STATE);
    assert_error(AD_ERR_STATE, "backward_block: node #1 (1 of the list) does not require grad");
    assert_true(gx[0] == 0 && gx[1] == 0);
    /* the message is cleared, not just its status: every byte reads "" */
    ad_backward(ctx, NULL);
    assert_true(strlen(ad_last_error()) > 1);
    ad_clear_error();
    assert_string_equal(ad_last_error(), "");
    assert_int_equal(ad_last_status(), AD_OK);
    ad_context_free(ctx);
}

/* ad_set_threads: 256 is the most, 257 too many; the setting is what
 * ad_threads reads back. (A build without OpenMP takes 1 thread only.) */
static void test_set_threads_bounds(void **state)
{
    (void)state;
    int keep = ad_threads();
    ad_clear_error();
    assert_int_equal(ad_set_threads(257), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "set_threads: 257 threads: need 1 to 256");
    assert_int_equal(ad_set_threads(0), AD_ERR_ARG);
    assert_error(AD_ERR_ARG, "set_threads: 0 threads: need 1 to 256");
    if (ad_set_threads(256) == AD_OK) {   /* a build with OpenMP */
        assert_int_equal(ad_threads(), 256);
        assert_int_equal(ad_set_threads(3), AD_OK);
        assert_int_equal(ad_threads(), 3);
    } else {   /* 256 passes the bound; the build refuses more than 1 thread */
        assert_error(AD_ERR_ARG, "set_threads: 256 threads: this build has no OpenMP, so 1 thread only");
    }
    assert_int_equal(ad_set_threads(1), AD_OK);
    assert_int_equal(ad_threads(), 1);
    assert_int_equal(ad_set_threads(keep), AD_OK);
    assert_int_equal(ad_threads(), keep);
}

/* Full nodes fill chunk 0 exactly (ids 0..1023, node memory written up to
 * 1024, chunk 1 not made), a rewind to 0, then a compact node: the stale
 * gens cleared are those of ids 0..1023 only; id 1024's chunk does not
 * exist, and nothing written may reach it. */
static void test_stale_gens_end_at_the_chunk(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_fast_path(ctx, false);
    ad_mark m = ad_context_mark(ctx);
    for (int i = 0; i < 1024; i++) assert_non_null(ad_scalar(ctx, (double)i));
    assert_int_equal(ctx->n_nodes, 1024);
    assert_int_equal(ctx->n_node_chunks, 1);
    assert_int_equal(ctx->node_written_hi, 1024);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_set_fast_path(ctx, true);
    ad_node *s = ad_scalar(ctx, 2.5);
    assert_non_null(s);
    assert_true(((uintptr_t)s & 1) != 0);   /* compact */
    assert_int_equal(ctx->node_written_hi, 0);
    assert_int_equal(ctx->n_node_chunks, 1);
    assert_true(ad_value_scalar(s) == 2.5);
    ad_context_free(ctx);
}

/* A compact input in chunk 1 while the records made are in chunk 2 and the
 * record hint still names chunk 0: the lookup searches the chunks, finds
 * chunk 1 (the hint then names it), and the product is compact, exact. */
static void test_compact_input_in_an_older_chunk(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    for (int i = 0; i < 1024; i++) assert_non_null(ad_scalar(ctx, 1.0));   /* ids 0..1023: chunk 0 */
    ad_node *x = ad_scalar(ctx, 3.0);                                          /* id 1024: chunk 1 */
    for (int i = 0; i < 2048; i++) assert_non_null(ad_scalar(ctx, 1.0));   /* to id 3072: chunk 2 */
    assert_int_equal(ctx->n_node_chunks, 3);
    assert_int_equal(fast_of(ctx)->rec_hint, 0);
    ad_node *y = ad_mul(ctx, x, x);
    assert_non_null(y);
    assert_true(((uintptr_t)y & 1) != 0);   /* compact, as its input */
    assert_int_equal(fast_of(ctx)->rec_hint, 1);
    assert_true(ad_value_scalar(y) == 9.0);
    ad_context_free(ctx);
}

/* An elementwise op without scalar kernels (mul's forward and vjp only)
 * on compact inputs: it cannot make compact nodes; the general path makes
 * a full node by its forward, and backward by its vjp. */
static void test_elementwise_op_without_scalar_kernels(void **state)
{
    (void)state;
    ad_op op = ad_op_mul;
    op.scalar = NULL;
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar(ctx, 3.0), *b = ad_scalar(ctx, 5.0);
    ad_node *y = ad_apply(ctx, &op, (ad_node *const[]){a, b}, 2, NULL);
    assert_non_null(y);
    assert_true(((uintptr_t)y & 1) == 0);   /* a full node */
    assert_true(ad_value_scalar(y) == 15.0);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_true(ad_grad_scalar(a) == 5.0);
    assert_true(ad_grad_scalar(b) == 3.0);
    ad_context_free(ctx);
}

/* Contexts made, used and freed on four threads at once: each one is in
 * the live set when used (a context missing from it fails as freed). */
enum { LIVE_THREADS = 4, LIVE_ROUNDS = 4000 };
static void *contexts_in_a_loop(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < LIVE_ROUNDS; i++) {
        ad_context *ctx[3];
        for (int c = 0; c < 3; c++) ctx[c] = ad_context_new();
        for (int c = 0; c < 3; c++) {
            ad_node *s = ctx[c] ? ad_scalar(ctx[c], (double)i) : NULL;
            if (!s || ad_value_scalar(s) != (double)i) ++*bad;
        }
        for (int c = 0; c < 3; c++) ad_context_free(ctx[c]);
    }
    return NULL;
}
static void test_contexts_on_threads(void **state)
{
    (void)state;
    pthread_t t[LIVE_THREADS];
    int bad[LIVE_THREADS] = {0};
    for (int i = 0; i < LIVE_THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, contexts_in_a_loop, &bad[i]), 0);
    for (int i = 0; i < LIVE_THREADS; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < LIVE_THREADS; i++) assert_int_equal(bad[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_chunks_after_rewind),
        cmocka_unit_test(test_records_of_three_contexts),
        cmocka_unit_test(test_constant_made_variable),
        cmocka_unit_test(test_full_scalars_take_scalar_vjps),
        cmocka_unit_test(test_cotangent_accumulates),
        cmocka_unit_test(test_backward_messages),
        cmocka_unit_test(test_set_threads_bounds),
        cmocka_unit_test(test_stale_gens_end_at_the_chunk),
        cmocka_unit_test(test_compact_input_in_an_older_chunk),
        cmocka_unit_test(test_elementwise_op_without_scalar_kernels),
        cmocka_unit_test(test_contexts_on_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
