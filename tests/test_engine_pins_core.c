/* test_engine_pins_core.c: the engine core pinned where the sweep of every
 * core site (tests/mutation/README.md) found the other tests let a change
 * through: the backward-pass counter's wrap with the node count at a node
 * chunk's end; the thread count's bound where OMP_NUM_THREADS asks for more
 * (meson runs this program a second time with OMP_NUM_THREADS=257).
 * Expected numbers come from the math (small integers: exact in float64).
 * White box where it must be: ad_internal.h and fast/fast_internal.h for
 * ctx->epoch and the chunk sizes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "engine/fast/fast_internal.h"

/* The pass counter wraps (2^32 passes) when the context holds exactly
 * NODE_CHUNK0 nodes, the first chunk full and the next not made: the wrap
 * clears the marks of nodes 0..1023 and touches no memory past them.
 * x = 3, y = x·x with 1022 constants between: dy/dx = 2x = 6, and 6 again
 * after the wrap (12 in all: grads accumulate). */
static void test_epoch_wrap_at_a_chunk_end(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    for (int i = 1; i < NODE_CHUNK0 - 1; i++) assert_non_null(ad_constant(ctx, AD_FLOAT64, 0, NULL, (const double[]){1}));
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
        cmocka_unit_test(test_epoch_wrap_at_a_chunk_end),
        cmocka_unit_test(test_thread_count_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
