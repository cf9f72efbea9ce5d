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
#include "ad_test.h"
#include "autodidact.h"
#include "engine/fast/fast_internal.h"

static void assert_error(ad_status st, const char *want)
{
    assert_string_equal(ad_last_error(), want);
    assert_int_equal(ad_last_status(), st);
    ad_clear_error();
}

static bool is_compact(const ad_node *h) { return ((uintptr_t)h & 1) != 0; }

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
        assert_true(is_compact(x));
        for (int look = 0; look < 3; look++) {
            ad_clear_error();
            assert_null(ad_apply(ctx, op, (ad_node *[]){x}, 1, NULL));
            assert_error(AD_ERR_ARG, want);
        }
        /* and with two it makes its compact node, from the same cache entry */
        ad_node *y = ad_apply(ctx, op, (ad_node *[]){x, x}, 2, NULL);
        assert_non_null(y);
        assert_true(is_compact(y));
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
    for (uint32_t i = 0; i < first; i++) assert_false(is_compact(ad_scalar(ctx, 1.0)));
    ad_set_check_finite(ctx, false);
    ad_clear_error();
    ad_node *z = ad_scalar(ctx, 3.5);
    assert_true(is_compact(z));
    assert_int_equal(ad_node_id(z), first);
    assert_true(ad_value_scalar(z) == 3.5);
    assert_int_equal(ad_last_status(), AD_OK);
    ad_node *y = ad_mul(ctx, z, z);
    assert_true(is_compact(y));
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
    assert_true(is_compact(y));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_op_index_checks_its_own_input_count),
        cmocka_unit_test(test_first_record_in_the_upper_window_is_ready),
        cmocka_unit_test(test_dropped_written_out_record_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
