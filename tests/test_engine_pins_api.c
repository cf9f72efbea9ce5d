/* test_engine_pins_api.c: the engine core's public calls (ad_graph.h,
 * ad_tensor.h), pinned before a refactoring: exact messages with their
 * numbers (dropped handles, indices out of range, stale and foreign marks),
 * boundaries (node 0, the last node, the chunk end at ids 1023/1024, empty
 * and freed contexts), what a rewind keeps and drops, and the tensor
 * helpers (fill, the shape and index strings at every buffer size). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"

/* The last error is exactly `want` (a printf format), with status st. */
static void assert_error_is(ad_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void assert_error_is(ad_status st, const char *fmt, ...)
{
    char want[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    assert_string_equal(ad_last_error(), want);
    assert_int_equal(ad_last_status(), st);
    ad_clear_error();
}

/* ad_tensor_fill writes every element, the first and the last included,
 * in both dtypes; NULL is refused by name. */
static void test_tensor_fill_every_element(void **state)
{
    (void)state;
    for (int dt = AD_FLOAT64; dt <= AD_FLOAT32; dt++) {
        ad_tensor *t = ad_tensor_from((ad_dtype)dt, 2, (const int64_t[]){2, 3}, (const double[]){1, 2, 3, 4, 5, 6});
        assert_non_null(t);
        ad_tensor_fill(t, -2.5);
        for (int64_t i = 0; i < 6; i++) assert_true(ad_tensor_get(t, i) == -2.5);
        ad_tensor_free(t);
        t = ad_tensor_new((ad_dtype)dt, 0, NULL);   /* a scalar: element 0 is the last */
        ad_tensor_fill(t, 4);
        assert_true(ad_tensor_get(t, 0) == 4.0);
        ad_tensor_free(t);
    }
    ad_clear_error();
    ad_tensor_fill(NULL, 1);
    assert_error_is(AD_ERR_ARG, "tensor_fill: the tensor is NULL");
}

/* ad_shape_str_n, ad_shape_str and ad_index_str at every buffer size from 0
 * to past the text: never a byte past len (canary), and the text cut to
 * len - 1 characters (nothing written at all for len 0). */
static void check_truncation(const char *full, char *(*write)(char *buf, size_t len, const void *arg), const void *arg)
{
    size_t n = strlen(full);
    for (size_t len = 0; len <= n + 2; len++) {
        char buf[64];
        memset(buf, '#', sizeof buf);
        assert_ptr_equal(write(buf, len, arg), buf);
        for (size_t i = len; i < sizeof buf; i++)
            if (buf[i] != '#') {
                print_error("\"%s\" into %zu bytes: byte %zu written\n", full, len, i);
                fail();
            }
        if (len == 0) continue;
        size_t keep = len - 1 < n ? len - 1 : n;
        if (strlen(buf) != keep || memcmp(buf, full, keep) != 0) {
            print_error("\"%s\" into %zu bytes gave \"%s\"\n", full, len, buf);
            fail();
        }
    }
}
typedef struct shape_arg {
    int ndim;
    int64_t shape[4];
    int64_t flat;
} shape_arg;
static char *write_shape_n(char *buf, size_t len, const void *arg)
{
    const shape_arg *a = arg;
    return ad_shape_str_n(a->ndim, a->shape, buf, len);
}
static char *write_shape(char *buf, size_t len, const void *arg)
{
    const shape_arg *a = arg;
    ad_tensor t = {NULL, 1, {1, 1, 1, 1}, (uint8_t)a->ndim, AD_FLOAT64, AD_CPU, 0};
    for (int i = 0; i < a->ndim; i++) t.shape[i] = a->shape[i];
    return ad_shape_str(&t, buf, len);
}
static char *write_index(char *buf, size_t len, const void *arg)
{
    const shape_arg *a = arg;
    ad_tensor t = {NULL, 1, {1, 1, 1, 1}, (uint8_t)a->ndim, AD_FLOAT64, AD_CPU, 0};
    for (int i = 0; i < a->ndim; i++) t.shape[i] = a->shape[i];
    return ad_index_str(&t, a->flat, buf, len);
}
static void test_shape_and_index_strings(void **state)
{
    (void)state;
    const shape_arg s4 = {4, {2, 3, 8, 8}, ((1 * 3 + 2) * 8 + 7) * 8 + 5};   /* [1,2,7,5] */
    const shape_arg s1 = {1, {1234567890123}, 1234567890122};
    const shape_arg s0 = {0, {0}, 0};
    check_truncation("(2,3,8,8)", write_shape_n, &s4);
    check_truncation("(2,3,8,8)", write_shape, &s4);
    check_truncation("[1,2,7,5]", write_index, &s4);
    check_truncation("(1234567890123)", write_shape_n, &s1);
    check_truncation("[1234567890122]", write_index, &s1);
    check_truncation("()", write_shape_n, &s0);
    check_truncation("[]", write_index, &s0);
}

/* Handles kept past a rewind: every accessor refuses them with the node's
 * id and the context's count now, or what took the node's place; compact
 * handles (ad_scalar's) and full ones (a tensor's) alike. */
static void test_dropped_handle_messages(void **state)
{
    (void)state;
    static const char tail[] = "make it again after the rewind, or take the mark before making it";
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 0.5);   /* #0, kept */
    ad_mark m = ad_context_mark(ctx);
    ad_node *a = ad_sin(ctx, x);        /* #1, compact */
    ad_node *t = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, 2});   /* #2, full */
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    /* nothing in their place yet */
    assert_true(isnan(ad_value_at(a, 0)));
    assert_error_is(AD_ERR_STATE, "value_at: node #1 was dropped by a rewind of its context (the context has 1 nodes "
                                  "now); %s", tail);
    assert_true(isnan(ad_value_at(t, 1)));
    assert_error_is(AD_ERR_STATE, "value_at: node #2 was dropped by a rewind of its context (the context has 1 nodes "
                                  "now); %s", tail);
    assert_int_equal(ad_set_value_at(t, 0, 3.0), AD_ERR_STATE);
    assert_error_is(AD_ERR_STATE, "set_value_at: node #2 was dropped by a rewind of its context (the context has 1 "
                                  "nodes now); %s", tail);
    /* new nodes in their place: a cos, then a variable */
    assert_non_null(ad_cos(ctx, x));
    assert_non_null(ad_scalar(ctx, 1.0));
    assert_true(isnan(ad_grad_at(a, 0)));
    assert_error_is(AD_ERR_STATE, "grad_at: node #1 was dropped by a rewind of its context, and a node made since has "
                                  "taken its place (now a cos); %s", tail);
    assert_true(isnan(ad_grad_at(t, 0)));
    assert_error_is(AD_ERR_STATE, "grad_at: node #2 was dropped by a rewind of its context, and a node made since has "
                                  "taken its place (now a variable); %s", tail);
    assert_true(isnan(ad_tangent_at(t, 0, 0)));
    assert_error_is(AD_ERR_STATE, "tangent_at: node #2 was dropped by a rewind of its context, and a node made since "
                                  "has taken its place (now a variable); %s", tail);
    assert_null(ad_node_input(a, 0));
    assert_error_is(AD_ERR_STATE, "node_input: node #1 was dropped by a rewind of its context, and a node made since "
                                  "has taken its place (now a cos); %s", tail);
    /* the kept node is untouched */
    assert_true(ad_value_scalar(x) == 0.5);
    assert_int_equal(ad_node_id(x), 0);
    ad_context_free(ctx);
}

/* Indices and directions out of range: refused with the numbers, at -1 and
 * at the size (one past the last), on full and compact nodes. */
static void test_range_messages(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *s = ad_scalar(ctx, 2.0);   /* #0, compact */
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 2, (const int64_t[]){2, 2}, (const double[]){1, 2, 3, 4});   /* #1 */
    const int64_t bad[2] = {-1, 4};
    for (int b = 0; b < 2; b++) {
        long long i = (long long)bad[b];
        assert_true(isnan(ad_value_at(v, bad[b])));
        assert_error_is(AD_ERR_ARG, "value_at: index %lld is outside node #1's 4 elements", i);
        assert_true(isnan(ad_grad_at(v, bad[b])));
        assert_error_is(AD_ERR_ARG, "grad_at: index %lld is outside node #1's 4 elements", i);
        assert_true(isnan(ad_tangent_at(v, 0, bad[b])));
        assert_error_is(AD_ERR_ARG, "tangent_at: index %lld is outside node #1's 4 elements", i);
        assert_int_equal(ad_set_value_at(v, bad[b], 9.0), AD_ERR_ARG);
        assert_error_is(AD_ERR_ARG, "set_value_at: index %lld is outside node #1's 4 elements", i);
    }
    for (int64_t i = 0; i < 4; i++) assert_true(ad_value_at(v, i) == 1.0 + (double)i);   /* nothing written */
    /* the last element is in range, and writable */
    assert_int_equal(ad_set_value_at(v, 3, 9.0), AD_OK);
    assert_true(ad_value_at(v, 3) == 9.0);
    assert_true(ad_grad_at(v, 3) == 0.0);   /* no grad yet: 0 */
    assert_true(isnan(ad_value_at(s, 1)));
    assert_error_is(AD_ERR_ARG, "value_at: index 1 is outside node #0's 1 elements");
    assert_true(isnan(ad_grad_at(s, -1)));
    assert_error_is(AD_ERR_ARG, "grad_at: index -1 is outside node #0's 1 elements");
    /* ad_node_input's slot */
    ad_node *p = ad_mul(ctx, v, v);   /* #2 */
    assert_null(ad_node_input(p, 2));
    assert_error_is(AD_ERR_ARG, "node_input: node #2 (mul) has 2 recorded inputs, slot 2 asked");
    assert_null(ad_node_input(p, -1));
    assert_error_is(AD_ERR_ARG, "node_input: node #2 (mul) has 2 recorded inputs, slot -1 asked");
    assert_null(ad_node_input(v, 0));
    assert_error_is(AD_ERR_ARG, "node_input: node #1 (variable) has 0 recorded inputs, slot 0 asked");
    assert_ptr_equal(ad_node_input(p, 1), v);
    /* tangents: directions and indices */
    assert_true(isnan(ad_tangent_at(v, 0, 0)));
    assert_error_is(AD_ERR_ARG, "tangent_at: direction 0 is outside the context's 0");
    assert_int_equal(ad_set_tangent(v, 0, NULL, 0), AD_ERR_STATE);
    assert_error_is(AD_ERR_STATE, "set_tangent: forward mode is off; call ad_forward_dirs(ctx, k) first");
    assert_int_equal(ad_forward_dirs(ctx, 65), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "forward_dirs: 65 directions asked; 0 to 64 are supported");
    assert_int_equal(ad_forward_dirs(ctx, -1), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "forward_dirs: -1 directions asked; 0 to 64 are supported");
    assert_int_equal(ad_forward_dirs(ctx, 64), AD_OK);
    assert_int_equal(ad_forward_dir_count(ctx), 64);
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    ad_node *w = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 2, 3});   /* #3 */
    assert_true(isnan(ad_tangent_at(w, 2, 0)));
    assert_error_is(AD_ERR_ARG, "tangent_at: direction 2 is outside the context's 2");
    assert_true(isnan(ad_tangent_at(w, -1, 0)));
    assert_error_is(AD_ERR_ARG, "tangent_at: direction -1 is outside the context's 2");
    assert_int_equal(ad_set_tangent(w, 2, NULL, 0), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "set_tangent: direction 2 out of range 0..1");
    assert_int_equal(ad_set_tangent(w, 1, NULL, 3), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "set_tangent: index 3 out of range for 3 elements");
    assert_int_equal(ad_set_tangent(w, 1, NULL, -1), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "set_tangent: index -1 out of range for 3 elements");
    assert_true(ad_tangent_at(w, 1, 2) == 0.0);   /* no tangent: 0 */
    ad_context_free(ctx);
}

/* Marks: the refusals with their numbers, and a rewind that drops no node
 * keeps every handle (no new generation). */
static void test_mark_messages(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new(), *other = ad_context_new();
    ad_node *x = ad_scalar(ctx, 1.0);
    ad_mark m1 = ad_context_mark(ctx);
    assert_int_equal(m1.nodes, 1);
    ad_node *y = ad_scalar(ctx, 2.0);
    ad_mark m2 = ad_context_mark(ctx);
    assert_int_equal(m2.nodes, 2);
    assert_true(m2.seq > m1.seq);
    ad_mark again = ad_context_mark(ctx);   /* the same place: the same mark */
    assert_true(again.seq == m2.seq);
    assert_non_null(ad_scalar(ctx, 3.0));
    /* back to m2: y survives; then to m1, which makes m2 stale */
    assert_int_equal(ad_context_rewind(ctx, m2), AD_OK);
    assert_int_equal(ad_context_node_count(ctx), 2);
    assert_true(ad_value_scalar(y) == 2.0);
    assert_int_equal(ad_context_rewind(ctx, m2), AD_OK);   /* nothing dropped: y still valid */
    assert_true(ad_value_scalar(y) == 2.0);
    assert_int_equal(ad_context_rewind(ctx, m1), AD_OK);
    assert_int_equal(ad_context_rewind(ctx, m2), AD_ERR_STATE);
    assert_error_is(AD_ERR_STATE, "context_rewind: the mark is stale: a rewind to an earlier mark dropped the nodes "
                                  "after it (1 nodes now, mark at 2)");
    ad_mark altered = m1;
    altered.nodes = 7;
    assert_int_equal(ad_context_rewind(ctx, altered), AD_ERR_STATE);
    assert_error_is(AD_ERR_STATE, "context_rewind: the mark was altered (it says 7 nodes; the context's mark %llu is "
                                  "at 1)", (unsigned long long)m1.seq);
    assert_int_equal(ad_context_rewind(other, m1), AD_ERR_STATE);
    assert_error_is(AD_ERR_STATE, "context_rewind: the mark was not taken in this context (it belongs to another one)");
    ad_mark zero = {0, 0, 0, 0, 0, 0};
    assert_int_equal(ad_context_rewind(ctx, zero), AD_ERR_STATE);
    assert_error_is(AD_ERR_STATE, "context_rewind: the mark was not taken in this context (it is not a mark from "
                                  "ad_context_mark)");
    /* the refusals left the context as it was; m1 is still good, and x */
    assert_int_equal(ad_context_node_count(ctx), 1);
    assert_int_equal(ad_context_rewind(ctx, m1), AD_OK);
    assert_true(ad_value_scalar(x) == 1.0);
    /* a mark of an empty context rewinds it to empty */
    ad_mark e = ad_context_mark(other);
    assert_int_equal(e.nodes, 0);
    assert_non_null(ad_scalar(other, 1.0));
    assert_int_equal(ad_context_rewind(other, e), AD_OK);
    assert_int_equal(ad_context_node_count(other), 0);
    assert_null(ad_node_by_id(other, 0));
    ad_context_free(ctx);
    ad_context_free(other);
}

/* What a rewind keeps: leaves' grads (they accumulate across steps) and 0-d
 * nodes' (inline in the node); what it drops: tensor intermediates' grads
 * and every tangent. ad_node_in_context of no context or no node: false. */
static void test_rewind_keeps_and_drops(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){3, 4});
    assert_int_equal(ad_set_tangent(x, 0, NULL, 1), AD_OK);
    ad_node *sq = ad_mul(ctx, x, x);   /* before the mark: not a leaf */
    ad_mark m = ad_context_mark(ctx);
    assert_int_equal(ad_backward(ctx, ad_sum(ctx, sq, AD_ALL_AXES, false)), AD_OK);
    assert_true(ad_grad_at(x, 0) == 6.0 && ad_grad_at(x, 1) == 8.0);
    assert_true(ad_grad_at(sq, 0) == 1.0);
    assert_true(ad_has_tangent(x) && ad_has_tangent(sq));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    assert_true(ad_grad_at(x, 0) == 6.0 && ad_grad_at(x, 1) == 8.0);
    assert_null(ad_grad(sq).data);
    assert_true(ad_grad_at(sq, 1) == 0.0);
    assert_false(ad_has_tangent(x));
    assert_false(ad_has_tangent(sq));
    double out[2] = {-1, -1};
    assert_int_equal(ad_grad_copy_out(sq, out, 2), AD_OK);   /* no grad: zeros */
    assert_true(out[0] == 0.0 && out[1] == 0.0);
    /* a 0-d node's grad lives in the node (inline_grad), not in the arena:
     * a kept intermediate scalar keeps it across the rewind */
    ad_node *s0 = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    ad_node *s1 = ad_mul(ctx, s0, s0);   /* not a leaf */
    ad_mark m2 = ad_context_mark(ctx);
    assert_int_equal(ad_backward(ctx, ad_mul(ctx, s1, s1)), AD_OK);   /* d(s1²)/ds1 = 2·9 */
    assert_true(ad_grad_scalar(s1) == 18.0);
    assert_int_equal(ad_context_rewind(ctx, m2), AD_OK);
    assert_true(ad_grad_scalar(s1) == 18.0);
    assert_true(ad_grad_scalar(s0) == 108.0);   /* 18·2·3 */
    /* a rewind hands the arena's chunks out again; one too small for what
     * is asked next is replaced by a bigger one (64 KiB, then 1.6 MB, then
     * after the rewind 8 MB: chunk 1 is too small, freed, made again) */
    ad_context *big = ad_context_new();
    ad_mark m0 = ad_context_mark(big);
    assert_non_null(ad_variable(big, AD_FLOAT64, 1, (const int64_t[]){1000}, NULL));
    assert_non_null(ad_variable(big, AD_FLOAT64, 1, (const int64_t[]){200000}, NULL));
    assert_int_equal(ad_context_rewind(big, m0), AD_OK);
    ad_node *large = ad_variable(big, AD_FLOAT64, 1, (const int64_t[]){1000}, NULL);
    ad_node *larger = ad_constant(big, AD_FLOAT64, 1, (const int64_t[]){1000000}, NULL);
    assert_non_null(large);
    assert_non_null(larger);
    assert_true(ad_value_at(larger, 0) == 0 && ad_value_at(larger, 999999) == 0);
    ad_context_free(big);
    /* no context or no node: not in one */
    assert_false(ad_node_in_context(NULL, s0));
    assert_false(ad_node_in_context(ctx, NULL));
    assert_true(ad_node_in_context(ctx, s0));
    ad_context_free(ctx);
}

/* Empty, freed and NULL contexts: counts of 0, calls that do nothing, and
 * refusals by name. */
static void test_empty_and_freed_contexts(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_true(ad_context_alive(ctx));
    assert_int_equal(ad_context_node_count(ctx), 0);
    assert_null(ad_node_by_id(ctx, 0));
    ad_zero_grad(ctx);
    ad_clear_tangents(ctx);
    assert_null(ad_find_nonfinite(ctx));
    assert_true(ad_grad_enabled(ctx));
    assert_int_equal(ad_forward_dir_count(ctx), 0);
    ad_clear_error();
    assert_int_equal(ad_backward(ctx, NULL), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "backward: output is NULL");
    ad_context_free(ctx);
    /* freed (no context made since, so the address is not reused) */
    assert_false(ad_context_alive(ctx));
    assert_int_equal(ad_context_node_count(ctx), 0);
    assert_int_equal(ad_context_bytes(ctx), 0);
    assert_false(ad_grad_enabled(ctx));
    assert_int_equal(ad_forward_dir_count(ctx), 0);
    ad_zero_grad(ctx);
    assert_error_is(AD_ERR_STATE, "zero_grad: the context is not live (already freed, or not made by ad_context_new)");
    ad_clear_tangents(ctx);
    assert_error_is(AD_ERR_STATE,
                    "clear_tangents: the context is not live (already freed, or not made by ad_context_new)");
    assert_null(ad_scalar(ctx, 1.0));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_clear_error();
    ad_zero_grad(NULL);
    assert_error_is(AD_ERR_ARG, "zero_grad: context is NULL");
    assert_false(ad_context_alive(NULL));
    assert_int_equal(ad_context_bytes(NULL), 0);
}

/* ad_node_by_id and ad_node_id agree at node 0, at the chunk end (ids 1023
 * and 1024), at the last node, and not past it; compact and full nodes. */
static void test_node_by_id_boundaries(void **state)
{
    (void)state;
    for (int full = 0; full < 2; full++) {
        ad_context *ctx = ad_context_new();
        ad_set_check_finite(ctx, full);
        ad_node *x = ad_scalar(ctx, 1.0), *h = x, *at1023 = NULL, *at1024 = NULL;
        for (uint32_t i = 1; i < 1030; i++) {
            h = ad_add(ctx, h, x);
            if (i == 1023) at1023 = h;
            if (i == 1024) at1024 = h;
        }
        assert_int_equal(ad_context_node_count(ctx), 1030);
        assert_ptr_equal(ad_node_by_id(ctx, 0), x);
        assert_ptr_equal(ad_node_by_id(ctx, 1023), at1023);
        assert_ptr_equal(ad_node_by_id(ctx, 1024), at1024);
        assert_ptr_equal(ad_node_by_id(ctx, 1029), h);
        assert_null(ad_node_by_id(ctx, 1030));
        assert_null(ad_node_by_id(ctx, UINT32_MAX));
        assert_int_equal(ad_node_id(at1023), 1023);
        assert_int_equal(ad_node_id(at1024), 1024);
        assert_true(ad_value_scalar(at1024) == 1025.0);
        assert_ptr_equal(ad_node_input(at1024, 0), at1023);
        assert_true(ad_node_in_context(ctx, at1024));
        assert_ptr_equal(ad_node_context(at1024), ctx);
        /* d(x + x + ... + x)/dx over 1030 nodes: 1030 */
        assert_int_equal(ad_backward(ctx, h), AD_OK);
        assert_true(ad_grad_scalar(x) == 1030.0);
        ad_context_free(ctx);
    }
}

/* Grad mode off: results are plain constants; the setter returns the old
 * setting. One node's grad zeroed alone. Copies out exact. */
static void test_no_grad_and_node_grads(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3.0), *w = ad_scalar(ctx, 4.0);
    assert_true(ad_set_grad_enabled(ctx, false));
    assert_false(ad_set_grad_enabled(ctx, false));
    ad_node *c = ad_mul(ctx, x, w);
    assert_true(ad_set_grad_enabled(ctx, true) == false);
    assert_true(ad_value_scalar(c) == 12.0);
    assert_false(ad_requires_grad(c));
    assert_int_equal(ad_node_input_count(c), 0);
    assert_null(ad_node_op(c));
    assert_string_equal(ad_node_op_name(c), "constant");
    assert_int_equal(ad_backward(ctx, c), AD_ERR_STATE);
    ad_clear_error();
    /* y = x*w + x: dy/dx = w + 1, dy/dw = x; zero w's alone */
    ad_node *y = ad_add(ctx, ad_mul(ctx, x, w), x);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    ad_node_zero_grad(w);
    assert_true(ad_grad_scalar(x) == 5.0);
    assert_true(ad_grad_scalar(w) == 0.0);
    double out[3] = {7, 7, 7};
    assert_int_equal(ad_grad_copy_out(x, out, 3), AD_OK);
    assert_true(out[0] == 5.0 && out[1] == 7.0);   /* the node's size only */
    assert_int_equal(ad_value_copy_out(y, out, 1), AD_OK);
    assert_true(out[0] == 15.0);
    assert_int_equal(ad_value_copy_out(y, out, 0), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "value_copy_out: room for 0 values, node #%u has 1", ad_node_id(y));
    ad_context_free(ctx);
}

/* The tensor helpers' messages, with their numbers; an unknown dtype's. */
static void test_tensor_messages(void **state)
{
    (void)state;
    ad_tensor *t = ad_tensor_new(AD_FLOAT32, 1, (const int64_t[]){3});
    double out[3];
    assert_int_equal(ad_tensor_copy_in(t, (const double[]){1, 2}, 2), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "tensor_copy_in: 2 values given, tensor has 3");
    assert_int_equal(ad_tensor_copy_out(t, out, 2), AD_ERR_ARG);
    assert_error_is(AD_ERR_ARG, "tensor_copy_out: room for 2 values, tensor has 3");
    assert_int_equal(ad_tensor_copy_in(t, (const double[]){1, 2, 0.1}, 3), AD_OK);
    assert_int_equal(ad_tensor_copy_out(t, out, 3), AD_OK);
    assert_true(out[0] == 1.0 && out[1] == 2.0 && out[2] == (double)0.1f);
    ad_tensor_set(t, -1, 5);
    assert_error_is(AD_ERR_ARG, "tensor_set: index -1 is outside the tensor's 3 elements");
    assert_true(isnan(ad_tensor_get(t, 3)));
    assert_error_is(AD_ERR_ARG, "tensor_get: index 3 is outside the tensor's 3 elements");
    ad_tensor *u = ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){3, 1});
    assert_false(ad_shape_equal(t, u));   /* (3) and (3,1): same size, not the same shape */
    assert_true(ad_shape_equal(t, t));
    ad_tensor_free(u);
    ad_tensor_free(t);
    assert_null(ad_tensor_new(AD_FLOAT64, 5, (const int64_t[]){1, 1, 1, 1, 1}));
    assert_error_is(AD_ERR_SHAPE, "tensor_new: 5 dimensions given; tensors have 0 to 4");
    assert_null(ad_tensor_new(AD_FLOAT64, 2, (const int64_t[]){4, 0}));
    assert_error_is(AD_ERR_SHAPE, "tensor_new: shape (4,0) has a dimension <= 0 (dim 1)");
    assert_null(ad_tensor_new(AD_FLOAT64, 2, NULL));
    assert_error_is(AD_ERR_ARG, "tensor_new: shape is NULL for a 2-d tensor");
    int64_t size = 0;
    assert_int_equal(ad_shape_check("who", 2, (const int64_t[]){1 << 20, 1 << 20}, &size), AD_OK);
    assert_true(size == (int64_t)1 << 40);   /* 2^40 exactly: allowed */
    assert_int_equal(ad_shape_check("who", 2, (const int64_t[]){1 << 20, (1 << 20) + 1}, &size), AD_ERR_SHAPE);
    assert_error_is(AD_ERR_SHAPE, "who: shape (1048576,1048577) has more than 2^40 elements");
    assert_string_equal(ad_dtype_name(AD_FLOAT32), "float32");
    assert_string_equal(ad_dtype_name(AD_FLOAT64), "float64");
    /* a dtype that is neither: refused by name, for a tensor and for a leaf */
    assert_null(ad_tensor_new((ad_dtype)7, 1, (const int64_t[]){3}));
    assert_error_is(AD_ERR_DTYPE, "tensor_new: unknown dtype 7");
    ad_context *ctx = ad_context_new();
    assert_null(ad_variable(ctx, (ad_dtype)7, 1, (const int64_t[]){3}, NULL));
    assert_error_is(AD_ERR_DTYPE, "variable: unknown dtype 7 (use AD_FLOAT64 or AD_FLOAT32)");
    assert_null(ad_constant(ctx, (ad_dtype)-1, 0, NULL, NULL));
    assert_error_is(AD_ERR_DTYPE, "constant: unknown dtype -1 (use AD_FLOAT64 or AD_FLOAT32)");
    ad_context_free(ctx);
}

/* ad_find_nonfinite: the first node whose value is not finite although its
 * inputs are (not a later one passing it on), node 0 included; NULL when
 * every value is finite. */
static void test_find_nonfinite(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 0.0);
    assert_null(ad_find_nonfinite(ctx));
    ad_node *a = ad_log(ctx, x);   /* -inf, made here */
    ad_node *b = ad_mul(ctx, a, a);   /* inf, passed on */
    assert_non_null(b);
    assert_non_null(ad_scalar(ctx, NAN));   /* later: not the first */
    assert_ptr_equal(ad_find_nonfinite(ctx), a);
    ad_context_free(ctx);
    ctx = ad_context_new();
    ad_node *n = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, INFINITY});
    assert_non_null(ad_log(ctx, x = ad_scalar(ctx, 0.0)));
    assert_ptr_equal(ad_find_nonfinite(ctx), n);   /* node 0, a leaf */
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_fill_every_element),
        cmocka_unit_test(test_shape_and_index_strings),
        cmocka_unit_test(test_dropped_handle_messages),
        cmocka_unit_test(test_range_messages),
        cmocka_unit_test(test_mark_messages),
        cmocka_unit_test(test_rewind_keeps_and_drops),
        cmocka_unit_test(test_empty_and_freed_contexts),
        cmocka_unit_test(test_node_by_id_boundaries),
        cmocka_unit_test(test_no_grad_and_node_grads),
        cmocka_unit_test(test_tensor_messages),
        cmocka_unit_test(test_find_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
