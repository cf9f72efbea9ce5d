/* test_engine_pins.c: the engine core's graph behaviour, pinned before a
 * refactoring: zero_grad and clear_tangents over every node (the first and
 * the newest), unit tangents, the pull sweep at a node-chunk boundary, a
 * backward_block with many requested nodes, the finite check's blame, the
 * wrap of the backward-pass counter, and the scalar fast path engaging.
 * Expected numbers come from the math (small integers: exact in float64).
 * White box where it must be: ad_internal.h and fast/fast_internal.h for ctx->epoch and the chunk
 * sizes, ad_kernel.h for what a compact handle is. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "engine/fast/fast_internal.h"

/* The kinds of node a test runs on: compact scalars (the fast path), full
 * scalars (check-finite mode makes full nodes only), and 1-d tensors. */
enum { KIND_COMPACT, KIND_FULL, KIND_TENSOR, N_KINDS };
static const char *const kind_name[N_KINDS] = {"compact", "full", "tensor"};

static ad_context *context_for(int kind)
{
    ad_context *ctx = ad_context_new();
    if (kind == KIND_FULL) ad_set_check_finite(ctx, true);
    return ctx;
}
static ad_node *leaf(ad_context *ctx, int kind, double v)
{
    if (kind != KIND_TENSOR) return ad_scalar(ctx, v);
    double vs[3] = {v, v, v};
    return ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, vs);
}
/* The loss of a leaf-shaped node: itself for a scalar, its sum for a tensor. */
static ad_node *loss_of(ad_context *ctx, int kind, ad_node *y)
{
    return kind == KIND_TENSOR ? ad_sum(ctx, y, AD_ALL_AXES, false) : y;
}
static void assert_grad_all(ad_node *n, int kind, double want)
{
    for (int64_t i = 0; i < (kind == KIND_TENSOR ? 3 : 1); i++) {
        if (ad_grad_at(n, i) != want) {
            print_error("%s node #%u element %lld: grad %.17g, expected %.17g\n", kind_name[kind], ad_node_id(n),
                        (long long)i, ad_grad_at(n, i), want);
            fail();
        }
    }
}

/* 1. ad_zero_grad reaches every node, the newest included. A training loop's
 * shape: parameters x (node 0) and w (the newest node once the loop rewinds
 * to its mark), loss x*w + x, three steps. d/dx = w + 1, d/dw = x, the same
 * each step: a node that zero_grad skips doubles, then triples. */
static void test_zero_grad_reaches_newest(void **state)
{
    (void)state;
    for (int kind = 0; kind < N_KINDS; kind++) {
        ad_context *ctx = context_for(kind);
        ad_node *x = leaf(ctx, kind, 3), *w = leaf(ctx, kind, 5);
        ad_mark m = ad_context_mark(ctx);
        for (int step = 0; step < 3; step++) {
            ad_zero_grad(ctx);
            ad_node *y = loss_of(ctx, kind, ad_add(ctx, ad_mul(ctx, x, w), x));
            assert_int_equal(ad_backward(ctx, y), AD_OK);
            assert_grad_all(x, kind, 6.0);
            assert_grad_all(w, kind, 3.0);
            assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        }
        /* and the newest node of a graph: its own grad (the seed) is zeroed */
        ad_node *y = loss_of(ctx, kind, ad_mul(ctx, x, w));
        assert_int_equal(ad_backward(ctx, y), AD_OK);
        assert_true(ad_grad_scalar(y) == 1.0);
        ad_zero_grad(ctx);
        assert_true(ad_grad_scalar(y) == 0.0);
        assert_grad_all(x, kind, 0.0);
        assert_grad_all(w, kind, 0.0);
        ad_context_free(ctx);
    }
}

/* 2. ad_clear_tangents drops every node's tangent, node 0's and the last
 * one's included. (Forward mode makes full nodes.) */
static void test_clear_tangents_reaches_all(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *x = ad_scalar(ctx, 2.0);   /* node 0 */
    assert_int_equal(ad_node_id(x), 0);
    assert_int_equal(ad_set_tangent(x, 0, NULL, 0), AD_OK);
    ad_node *y = ad_mul(ctx, x, x);     /* the last node: tangent 2x = 4 */
    assert_true(ad_tangent_at(y, 0, 0) == 4.0);
    assert_true(ad_has_tangent(x) && ad_has_tangent(y));
    ad_clear_tangents(ctx);
    assert_false(ad_has_tangent(x));
    assert_false(ad_has_tangent(y));
    assert_true(ad_tangent_at(x, 0, 0) == 0.0);
    assert_true(ad_tangent_at(y, 0, 0) == 0.0);
    /* later ops see no tangent on x: theirs is 0 too */
    ad_node *z = ad_add(ctx, x, x);
    assert_false(ad_has_tangent(z));
    assert_true(ad_tangent_at(z, 0, 0) == 0.0);
    assert_int_equal(ad_forward_dir_count(ctx), 1);   /* still on, just cleared */
    ad_context_free(ctx);
}

/* 3. A unit tangent (values NULL, index i) is the whole row e_i: the row's
 * other elements are 0 whatever was there, and other directions' rows are
 * left alone. */
static void test_unit_tangent_clears_its_row(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, (const double[]){1, 2, 3, 4});
    assert_int_equal(ad_set_tangent(x, 0, (const double[]){5, 6, 7, 8}, -1), AD_OK);
    assert_int_equal(ad_set_tangent(x, 1, (const double[]){9, 10, 11, 12}, -1), AD_OK);
    assert_int_equal(ad_set_tangent(x, 0, NULL, 2), AD_OK);
    for (int i = 0; i < 4; i++) {
        assert_true(ad_tangent_at(x, 0, i) == (i == 2 ? 1.0 : 0.0));
        assert_true(ad_tangent_at(x, 1, i) == 9.0 + i);
    }
    /* and the last element, on a fresh row */
    assert_int_equal(ad_set_tangent(x, 1, NULL, 3), AD_OK);
    for (int i = 0; i < 4; i++) assert_true(ad_tangent_at(x, 1, i) == (i == 3 ? 1.0 : 0.0));
    ad_context_free(ctx);
}

/* 4. The pull sweep (Version A) and the push sweep with the output at the
 * last id of a node chunk (chunk k holds NODE_CHUNK0 << k nodes: ids 1023,
 * 3071 end chunks 0 and 1): first with no node after it (the next chunk not
 * there at all), then with the next id made, in a new chunk, consuming the
 * output. Full nodes (check-finite on), so that pull runs on them as made.
 * y = x*w + m*x: dy/dx = w + m, dy/dw = x. */
static void check_both_variants(ad_context *ctx, ad_node *y, ad_node *x, ad_node *w, double gx, double gw)
{
    for (int variant = 0; variant < 2; variant++) {
        ad_zero_grad(ctx);
        ad_backward_opts o = {.variant = variant ? AD_BACKWARD_PULL : AD_BACKWARD_PUSH};
        assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
        assert_true(ad_grad_scalar(x) == gx);
        assert_true(ad_grad_scalar(w) == gw);
    }
}
static void test_sweeps_at_chunk_boundary(void **state)
{
    (void)state;
    const uint32_t ends[] = {NODE_CHUNK0 - 1, 3 * NODE_CHUNK0 - 1};
    for (int e = 0; e < 2; e++) {
        ad_context *ctx = ad_context_new();
        ad_set_check_finite(ctx, true);
        ad_node *x = ad_scalar(ctx, 3), *w = ad_scalar(ctx, 5);
        ad_node *y = ad_mul(ctx, x, w);
        while (ad_context_node_count(ctx) < ends[e] + 1) y = ad_add(ctx, y, x);
        double m = ends[e] - 2;   /* the adds */
        assert_int_equal(ad_node_id(y), ends[e]);
        check_both_variants(ctx, y, x, w, 5 + m, 3);
        /* the next id, in the next chunk, uses y: z = y*w */
        ad_node *z = ad_mul(ctx, y, w);
        assert_int_equal(ad_node_id(z), ends[e] + 1);
        check_both_variants(ctx, y, x, w, 5 + m, 3);
        check_both_variants(ctx, z, x, w, 5 * (5 + m), 3 * 5 + 15 + 3 * m);   /* dz/dw = y + w*x */
        ad_context_free(ctx);
    }
}

/* 5. ad_backward_block with many requested nodes (4, 8, 20; leaves and
 * intermediates mixed): y = sum_i (i+1) x_i, built as a chain of adds, two
 * cotangent rows 1 and 3. Row r of x_i's grad is (i+1)*cot_r; of partial
 * sum p_k (the chain's k-th node), cot_r. */
static void test_block_many_requests(void **state)
{
    (void)state;
    const int counts[] = {4, 8, 20};
    for (int c = 0; c < 3; c++) {
        int n = counts[c];
        ad_context *ctx = ad_context_new();
        ad_node *x[20] = {NULL}, *wrt[20];
        double g[20][2];
        void *grads[20];
        for (int i = 0; i < n; i++) x[i] = ad_scalar(ctx, 1.0 + i);
        ad_node *y = ad_scale(ctx, x[0], 1.0);
        ad_node *partial[20];
        partial[0] = y;
        for (int i = 1; i < n; i++) partial[i] = y = ad_add(ctx, y, ad_scale(ctx, x[i], i + 1.0));
        /* ask for the leaves in reverse order, and every 4th a partial sum instead */
        for (int i = 0; i < n; i++) {
            wrt[i] = (i % 4 == 3) ? partial[i] : x[n - 1 - i];
            g[i][0] = g[i][1] = 100;   /* grads are added into: start from 100 */
            grads[i] = g[i];
        }
        const double cot[2] = {1, 3};
        assert_int_equal(ad_backward_block(ctx, y, 2, cot, n, wrt, grads), AD_OK);
        for (int i = 0; i < n; i++) {
            double scale = (i % 4 == 3) ? 1.0 : (double)(n - i);
            for (int r = 0; r < 2; r++)
                if (g[i][r] != 100 + scale * cot[r]) {
                    print_error("%d requested, request %d row %d: %.17g, expected %.17g\n", n, i, r, g[i][r],
                                100 + scale * cot[r]);
                    fail();
                }
        }
        /* node grads are not touched */
        for (int i = 0; i < n; i++) assert_true(ad_grad_scalar(x[i]) == 0.0);
        ad_context_free(ctx);
    }
}

/* 6. The finite check names the op, the node, the element and, in a block,
 * the cotangent row, exactly. */
static void assert_error(ad_status st, const char *want)
{
    assert_int_equal(st, AD_ERR_NONFINITE);
    assert_int_equal(ad_last_status(), AD_ERR_NONFINITE);
    assert_string_equal(ad_last_error(), want);
}
static void test_finite_check_blames_exactly(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    const int64_t sh[2] = {2, 3};
    /* forward, made from finite inputs: log(0) at [1,1] (flat 4) */
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 2, sh, (const double[]){1, 2, 3, 4, 0, 5});   /* #0 */
    ad_clear_error();
    assert_null(ad_log(ctx, x));
    assert_error(ad_last_status(), "log: produced -inf at [1,1] of its output (2,3) (node #1) from finite inputs");
    /* forward, passed on: a named leaf with NaN at [0,2] into exp (the failed
     * log was dropped: b takes its id) */
    ad_node *b = ad_set_name(ad_variable(ctx, AD_FLOAT64, 2, sh, (const double[]){1, 2, NAN, 4, 5, 6}), "b");
    assert_int_equal(ad_node_id(b), 1);
    ad_clear_error();
    assert_null(ad_exp(ctx, b));
    assert_error(ad_last_status(), "exp: produced nan at [0,2] of its output (2,3) (node #2), passing on the "
                                   "non-finite values of its input 0 (node #1 variable b)");
    /* a vjp in backward (push and pull): sqrt at 0, element [2] of node #2 */
    ad_node *v = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, (const double[]){1, 4, 0, 9});
    assert_int_equal(ad_node_id(v), 2);
    ad_node *s = ad_sum(ctx, ad_sqrt(ctx, v), AD_ALL_AXES, false);
    for (int variant = 0; variant < 2; variant++) {
        ad_backward_opts o = {.variant = variant ? AD_BACKWARD_PULL : AD_BACKWARD_PUSH};
        assert_error(ad_backward_ex(ctx, s, &o), "sqrt: its vjp for input 0 made a non-finite gradient inf at [2] "
                                                 "of input (4) (node #2) from a finite output gradient");
    }
    /* the scalar sweep's check: sqrt(0) on full scalars, node #5 */
    ad_node *z = ad_scalar(ctx, 0.0);
    assert_int_equal(ad_node_id(z), 5);
    assert_error(ad_backward(ctx, ad_sqrt(ctx, z)), "sqrt: its vjp for input 0 made a non-finite gradient inf at [] "
                                                    "of input () (node #5) from a finite output gradient");
    /* a block: y = u*c, c = (1,1,1e300) a constant, rows (1,1,1), (1,1,1e10),
     * (1,1,1): row 1's element [2] overflows; rows 0 and 2 do not (a bad row
     * in the middle, so that neither the first nor the last row is blamed by
     * mistake) */
    ad_node *u = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 1, 1});   /* #7 */
    ad_node *c = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 1, 1e300});
    ad_node *y = ad_mul(ctx, u, c);
    assert_int_equal(ad_node_id(u), 7);
    double gu[12] = {0};
    const double rows3[9] = {1, 1, 1, 1, 1, 1e10, 1, 1, 1};
    assert_error(ad_backward_block(ctx, y, 3, rows3, 1, &u, (void *const[]){gu}),
                 "mul: its vjp for input 0 made a non-finite gradient inf at [2] of input (3) (node #7, cotangent 1 "
                 "of the block) from a finite output gradient");
    /* ... and a non-finite cotangent in row 2 of 4, at [0]: passed on */
    const double rows4[12] = {1, 1, 1, 2, 2, 2, -INFINITY, 3, 3, 4, 4, 4};
    memset(gu, 0, sizeof gu);   /* (the failed block left its inf in row 1: grads are added into) */
    assert_error(ad_backward_block(ctx, y, 4, rows4, 1, &u, (void *const[]){gu}),
                 "mul: its vjp for input 0 passed on a non-finite gradient -inf at [0] of input (3) (node #7, "
                 "cotangent 2 of the block) from its output's non-finite gradient");
    ad_context_free(ctx);
}

/* 7. The backward-pass counter (ctx->epoch, which marks the nodes a pass
 * touched) wraps: next_epoch then clears every mark, compact and full, the
 * newest node's included, so that no node touched by an old pass numbered 1
 * (or never touched: mark 0) looks touched by this one. Graph: x2 -> a2 =
 * x2*x2, then G1 (x1 -> y1 = x1*x1 + x1), then y2 = a2*a2 and t = y2 + y1
 * (the newest), all touched by pass 1 from t. The pass that wraps starts
 * from y2 (a stale mark on y1, between y2 and a2, would be taken for one of
 * its own and stop the sweep early) or from t (a stale mark would keep an
 * old adjoint instead of starting from 0). No zero_grad in between: leaves
 * accumulate (d/dx1 = 7 from y1, d/dx2 = 4 x2^3 = 32 from y2), and an
 * output's own grad is its seed, 1, whatever came before. */
static void test_epoch_wrap(void **state)
{
    (void)state;
    for (int kind = KIND_COMPACT; kind <= KIND_FULL; kind++)
        for (int wrap_at_t = 0; wrap_at_t < 2; wrap_at_t++) {
            ad_context *ctx = context_for(kind);
            ad_node *x2 = ad_scalar(ctx, 2), *a2 = ad_mul(ctx, x2, x2);
            ad_node *x1 = ad_scalar(ctx, 3), *y1 = ad_add(ctx, ad_mul(ctx, x1, x1), x1);
            ad_node *y2 = ad_mul(ctx, a2, a2), *t = ad_add(ctx, y2, y1);
            assert_int_equal(ad_backward(ctx, t), AD_OK);   /* pass 1 */
            assert_int_equal(ctx->epoch, 1);
            double g1 = 7, g2 = 32;
            ctx->epoch = UINT32_MAX - 2;
            /* passes UINT32_MAX-1 and UINT32_MAX, then 1 again (the wrap), 2, 3 */
            ad_node *outs[] = {y1, y1, wrap_at_t ? t : y2, t, y2};
            for (int p = 0; p < 5; p++) {
                assert_int_equal(ad_backward(ctx, outs[p]), AD_OK);
                if (outs[p] != y2) g1 += 7;
                if (outs[p] != y1) g2 += 32;
                if (ad_grad_scalar(x2) != g2 || ad_grad_scalar(x1) != g1 || ad_grad_scalar(outs[p]) != 1.0) {
                    print_error("%s nodes, pass %d (epoch %u): dx2 %g (expected %g), dx1 %g (expected %g), "
                                "output's grad %g\n", kind_name[kind], p, ctx->epoch, ad_grad_scalar(x2), g2,
                                ad_grad_scalar(x1), g1, ad_grad_scalar(outs[p]));
                    fail();
                }
            }
            assert_int_equal(ctx->epoch, 3);
            ad_context_free(ctx);
        }
}

/* 7b. The same wrap under ad_hvp, whose pass asks each node of its list
 * whether y depends on it by its mark. Node 0, the first leaf x0, is marked
 * by pass 1 (y0 = x0·x0) and y = x1³ does not depend on it: the pass that
 * wraps (epoch back to 1) must see x0's mark cleared, so that H·v and the
 * gradient for x0 are 0 (a stale mark 1 would send it to the adjoints of
 * nodes y's sweep never made). For x1 at 2 along v = 1: 6·x1 = 12, 3·x1² = 12. */
static void test_epoch_wrap_under_hvp(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    ad_node *x0 = ad_scalar(ctx, 3), *x1 = ad_scalar(ctx, 2);
    assert_int_equal(ad_set_tangent(x1, 0, (const double[]){1}, -1), AD_OK);
    assert_int_equal(ad_backward(ctx, ad_mul(ctx, x0, x0)), AD_OK);   /* pass 1 marks x0 */
    ad_node *y = ad_mul(ctx, ad_mul(ctx, x1, x1), x1);
    ctx->epoch = UINT32_MAX;
    double hv[2] = {0, 0}, g[2] = {0, 0};
    void *hvs[2] = {&hv[0], &hv[1]}, *grads[2] = {&g[0], &g[1]};
    assert_int_equal(ad_hvp(ctx, y, NULL, 0, 2, (ad_node *const[]){x0, x1}, grads, hvs), AD_OK);
    assert_int_equal(ctx->epoch, 1);
    assert_true(hv[0] == 0 && g[0] == 0);
    assert_true(hv[1] == 12 && g[1] == 12);
    ad_context_free(ctx);
}

/* 7c. The wrap where compact nodes come after the pass's output: records
 * later than the output are not on its way, yet their marks must be
 * cleared too (the wrap writes every record out), or a later pass numbered
 * like an old one takes them as touched. x = 2, a = x², b = a², c = b + a:
 * dc/dx = 2a·2x + 2x = 36, da/dx = 2x = 4. Passes 1 and 2 from c mark b
 * and c with 1 and 2; the pass from a wraps (only x and a are on its way);
 * the next from c is numbered 2 again: b's stale mark 2 would keep b's old
 * adjoint, counted twice. x's grad accumulates: 36, 72, 76, 112. */
static void test_epoch_wrap_past_the_output(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2), *a = ad_mul(ctx, x, x), *b = ad_mul(ctx, a, a), *c = ad_add(ctx, b, a);
    assert_true(((uintptr_t)b & 1) && ((uintptr_t)c & 1));   /* compact nodes (ad_kernel.h: handle bit 0) */
    assert_int_equal(ad_backward(ctx, c), AD_OK);
    assert_int_equal(ad_backward(ctx, c), AD_OK);
    assert_true(ad_grad_scalar(x) == 72);
    ctx->epoch = UINT32_MAX;   /* the next pass wraps */
    assert_int_equal(ad_backward(ctx, a), AD_OK);
    assert_int_equal(ctx->epoch, 1);
    assert_true(ad_grad_scalar(x) == 76);
    assert_int_equal(ad_backward(ctx, c), AD_OK);   /* pass 2 again */
    assert_int_equal(ctx->epoch, 2);
    if (ad_grad_scalar(x) != 112) fail_msg("dx after the wrap: %g, expected 112", ad_grad_scalar(x));
    ad_context_free(ctx);
}

/* 7d. A cotangent seeds a compact scalar output as it seeds a full one:
 * ad_backward_ex with dL/dy = 3 on y = x·x (x = 5) gives dx = 3·2x = 30,
 * through the fast path's sweep or not. */
static void test_cotangent_on_a_compact_output(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 5), *y = ad_mul(ctx, x, x);
    assert_true((uintptr_t)y & 1);
    double three = 3;
    ad_tensor cot = {.dtype = AD_FLOAT64, .ndim = 0, .shape = {1, 1, 1, 1}, .size = 1, .data = &three};
    ad_backward_opts o = {.variant = AD_BACKWARD_PUSH, .cotangent = &cot};
    assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
    assert_true(ad_grad_scalar(x) == 30);
    ad_context_free(ctx);
}

/* 8. The scalar fast path engages: ops on 0-d CPU nodes outside check-finite
 * and forward mode make compact nodes (handle bit 0, ad_kernel.h), whose
 * node memory is never written. A chain of 2^20 of them touches 32 bytes
 * of record per node (a full node is 168); measured as the node and record
 * memory populated so far (the context's own accounting, ad_internal.h).
 * Compact: about 33 bytes a node; full: about 200. */
static size_t populated_bytes(const ad_context *ctx)
{
    size_t b = 0;
    for (int k = 0; k < ctx->n_node_chunks; k++) {
        b += fast_of(ctx)->chunk_mem[k].map ? fast_of(ctx)->chunk_mem[k].populated
                                   : ctx->node_chunk[k] ? ((size_t)NODE_CHUNK0 << k) * sizeof(ad_node) : 0;
        if (fast_of(ctx)->rec_chunk[k])
            b += fast_of(ctx)->rec_map_len[k] ? fast_of(ctx)->rec_populated[k] : ((size_t)NODE_CHUNK0 << k) * sizeof(scalar_rec);
    }
    return b;
}
static void test_fast_path_engages(void **state)
{
    (void)state;
    const uint32_t n = 1u << 20;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 0.5), *c = ad_scalar_const(ctx, 1.0);
    assert_true(ad_is_fast_handle(x) && ad_is_fast_handle(c));
    ad_node *h = x;
    for (uint32_t i = 2; i < n; i++) {
        h = (i & 1) ? ad_mul(ctx, h, c) : ad_add(ctx, h, c);
        if (!ad_is_fast_handle(h)) {
            print_error("node %u is a full node\n", i);
            fail();
        }
    }
    assert_int_equal(ad_context_node_count(ctx), n);
    assert_int_equal(ad_node_id(h), n - 1);
    double per_node = (double)populated_bytes(ctx) / n;
    print_message("compact chain: %.1f bytes a node populated\n", per_node);
    assert_true(per_node <= 64);
    /* (n-2)/2 adds of 1 to 0.5: exact; dh/dx = 1 */
    assert_int_equal(ad_backward(ctx, h), AD_OK);
    assert_true(ad_value_scalar(h) == 0.5 + (n - 2) / 2);
    assert_true(ad_grad_scalar(x) == 1.0);
    assert_true(ad_is_fast_handle(h));   /* the push sweep left it compact */
    ad_context_free(ctx);

    /* where the path does not apply: full nodes */
    ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    x = ad_scalar(ctx, 0.5);
    assert_false(ad_is_fast_handle(x));
    h = x;
    for (uint32_t i = 1; i < n / 4; i++) h = ad_add(ctx, h, x);
    assert_false(ad_is_fast_handle(h));
    per_node = (double)populated_bytes(ctx) / ad_context_node_count(ctx);
    print_message("full chain: %.1f bytes a node populated\n", per_node);
    assert_true(per_node >= 160);
    ad_set_check_finite(ctx, false);
    assert_true(ad_is_fast_handle(ad_scalar(ctx, 1.0)));   /* compact again once the mode is off */
    assert_true(ad_is_fast_handle(ad_add(ctx, h, x)));     /* an op on full inputs: compact (its record says so) */
    ad_context_free(ctx);

    ctx = ad_context_new();   /* forward mode: full */
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    x = ad_scalar(ctx, 0.5);
    assert_false(ad_is_fast_handle(x));
    assert_false(ad_is_fast_handle(ad_sin(ctx, x)));
    ad_context_free(ctx);

    ctx = ad_context_new();   /* tensors, and a 1-element 1-d tensor: full */
    ad_node *t = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){1}, (const double[]){2});
    assert_false(ad_is_fast_handle(t));
    assert_false(ad_is_fast_handle(ad_add(ctx, t, t)));
    x = ad_scalar(ctx, 0.5);
    assert_true(ad_is_fast_handle(ad_sin(ctx, x)));
    assert_false(ad_is_fast_handle(ad_pow(ctx, x, 2.0)));   /* an op with params */
    ad_context_free(ctx);
}

/* 9. The backward hook's steps, in order, for both sweeps: y = x*w + x
 * (#0 x, #1 w, #2 m = x*w, #3 y). Push: each consumer from the top, its
 * slots in order. Pull: each input from the top, its consumers newest first,
 * `done` on the last contribution to it. */
typedef struct step_log {
    int n;
    uint32_t consumer[8], input[8];
    int slot[8];
    bool done[8];
} step_log;
static void log_step(const ad_backward_step *st, void *user)
{
    step_log *l = user;
    if (l->n < 8) {
        l->consumer[l->n] = ad_node_id(st->consumer);
        l->input[l->n] = ad_node_id(st->input);
        l->slot[l->n] = st->slot;
        l->done[l->n] = st->done;
        assert_ptr_equal(ad_node_input(st->consumer, st->slot), st->input);
    }
    l->n++;
}
static void test_hook_steps_in_order(void **state)
{
    (void)state;
    /* consumer, slot, input, done */
    static const int push[4][4] = {{3, 0, 2, 0}, {3, 1, 0, 0}, {2, 0, 0, 0}, {2, 1, 1, 0}};
    static const int pull[4][4] = {{3, 0, 2, 1}, {2, 1, 1, 1}, {3, 1, 0, 0}, {2, 0, 0, 1}};
    for (int variant = 0; variant < 2; variant++) {
        ad_context *ctx = ad_context_new();
        ad_node *x = ad_scalar(ctx, 3), *w = ad_scalar(ctx, 5);
        ad_node *y = ad_add(ctx, ad_mul(ctx, x, w), x);
        step_log l = {0};
        ad_backward_opts o = {variant ? AD_BACKWARD_PULL : AD_BACKWARD_PUSH, NULL, log_step, &l};
        assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
        assert_int_equal(l.n, 4);
        const int(*want)[4] = variant ? pull : push;
        for (int i = 0; i < 4; i++) {
            if ((int)l.consumer[i] != want[i][0] || l.slot[i] != want[i][1] || (int)l.input[i] != want[i][2] ||
                l.done[i] != (want[i][3] != 0)) {
                print_error("%s step %d: #%u slot %d -> #%u done %d\n", variant ? "pull" : "push", i, l.consumer[i],
                            l.slot[i], l.input[i], l.done[i]);
                fail();
            }
        }
        assert_true(ad_grad_scalar(x) == 6.0 && ad_grad_scalar(w) == 3.0);
        ad_context_free(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_grad_reaches_newest),
        cmocka_unit_test(test_clear_tangents_reaches_all),
        cmocka_unit_test(test_unit_tangent_clears_its_row),
        cmocka_unit_test(test_sweeps_at_chunk_boundary),
        cmocka_unit_test(test_block_many_requests),
        cmocka_unit_test(test_finite_check_blames_exactly),
        cmocka_unit_test(test_epoch_wrap),
        cmocka_unit_test(test_epoch_wrap_under_hvp),
        cmocka_unit_test(test_epoch_wrap_past_the_output),
        cmocka_unit_test(test_cotangent_on_a_compact_output),
        cmocka_unit_test(test_fast_path_engages),
        cmocka_unit_test(test_hook_steps_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
