/* Compact scalar nodes (engine/ad_internal.h: scalar_rec). The scalar path
 * makes a 32-byte record for an op with scalar kernels on 0-d CPU inputs,
 * and writes the full node only when something asks for it. Everything a
 * user can see must be what full nodes give: values and grads bit for bit,
 * handles (equal before and after a node is written out), ids, names,
 * refusals of dropped nodes, explain and DOT text. The reference is the same
 * graph made with check-finite mode on, which takes the general path and
 * makes full nodes only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "ad_kernel.h"   /* white box: ad_node_addr (which memory), the op struct copied */

enum { N_LEAVES = 6, N_OPS = 400 };

/* A random scalar graph over N_LEAVES leaves: N_OPS unary and binary ops
 * (all with scalar kernels, inputs kept in a safe range), then the sum of
 * the last 8 results. Every node's handle in out[] (leaves first). */
static ad_node *random_graph(ad_context *ctx, ad_dtype dt, unsigned seed, ad_node **out)
{
    srand(seed);
    int n = 0;
    for (int i = 0; i < N_LEAVES; i++) {
        double v = 0.25 + 0.125 * i;
        out[n++] = dt == AD_FLOAT64 ? (i == 5 ? ad_scalar_const(ctx, v) : ad_scalar(ctx, v))
                                    : ad_variable(ctx, AD_FLOAT32, 0, NULL, &v);
    }
    for (int k = 0; k < N_OPS; k++) {
        ad_node *a = out[rand() % n], *b = out[rand() % n], *y;
        switch (rand() % 9) {
        case 0: y = ad_add(ctx, a, b); break;
        case 1: y = ad_mul(ctx, a, b); break;
        case 2: y = ad_sub(ctx, a, b); break;
        case 3: y = ad_sin(ctx, a); break;
        case 4: y = ad_tanh(ctx, a); break;
        case 5: y = ad_sigmoid(ctx, a); break;
        case 6: y = ad_relu(ctx, ad_sub(ctx, a, b)); break;
        case 7: y = ad_max(ctx, a, b); break;
        default: y = ad_cos(ctx, a); break;
        }
        assert_non_null(y);
        /* keep values bounded: a squashing op every few steps */
        out[n++] = (k % 4 == 3) ? ad_tanh(ctx, y) : y;
    }
    ad_node *acc = out[n - 1];
    for (int i = 2; i <= 8; i++) acc = ad_add(ctx, acc, out[n - i]);
    return acc;
}

static void check_same_graph(ad_dtype dt, unsigned seed)
{
    ad_context *fast = ad_context_new(), *full = ad_context_new();
    ad_set_check_finite(full, true);   /* the general path: full nodes only */
    static ad_node *nf[N_LEAVES + N_OPS], *nr[N_LEAVES + N_OPS];
    ad_node *yf = random_graph(fast, dt, seed, nf), *yr = random_graph(full, dt, seed, nr);
    assert_int_equal(ad_context_node_count(fast), ad_context_node_count(full));
    assert_int_equal(ad_backward(fast, yf), AD_OK);
    assert_int_equal(ad_backward(full, yr), AD_OK);
    for (int i = 0; i < N_LEAVES + N_OPS; i++) {
        double vf = ad_value_scalar(nf[i]), vr = ad_value_scalar(nr[i]);
        double gf = ad_grad_scalar(nf[i]), gr = ad_grad_scalar(nr[i]);
        if (memcmp(&vf, &vr, sizeof vf) || memcmp(&gf, &gr, sizeof gf)) {
            print_error("node %d (#%u %s): value %.17g vs %.17g, grad %.17g vs %.17g\n", i, ad_node_id(nf[i]),
                        ad_node_op_name(nf[i]), vf, vr, gf, gr);
            fail();
        }
        assert_int_equal(ad_node_id(nf[i]), ad_node_id(nr[i]));
        assert_string_equal(ad_node_op_name(nf[i]), ad_node_op_name(nr[i]));
        assert_int_equal(ad_requires_grad(nf[i]), ad_requires_grad(nr[i]));
        assert_int_equal(ad_node_is_leaf(nf[i]), ad_node_is_leaf(nr[i]));
        assert_ptr_equal(ad_node_op(nf[i]), ad_node_op(nr[i]));
    }
    /* a second pass: leaves accumulate, intermediates are recomputed */
    assert_int_equal(ad_backward(fast, yf), AD_OK);
    assert_int_equal(ad_backward(full, yr), AD_OK);
    for (int i = 0; i < N_LEAVES + N_OPS; i++) {
        double gf = ad_grad_scalar(nf[i]), gr = ad_grad_scalar(nr[i]);
        assert_memory_equal(&gf, &gr, sizeof gf);
    }
    ad_zero_grad(fast);
    ad_zero_grad(full);
    for (int i = 0; i < N_LEAVES + N_OPS; i++) {
        assert_true(ad_grad_scalar(nf[i]) == 0.0);
        assert_true(ad_grad_scalar(nr[i]) == 0.0);
    }
    ad_context_free(fast);
    ad_context_free(full);
}

/* Values and grads bit for bit against full nodes, float64 and float32. */
static void test_same_numbers_as_full_nodes(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 4; seed++) {
        check_same_graph(AD_FLOAT64, seed);
        check_same_graph(AD_FLOAT32, seed);
    }
}

/* Every way of running backward on a compact output gives the push sweep's
 * grads: hooks, the pull variant and a cotangent write the nodes out first. */
static int hook_calls;
static void count_hook(const ad_backward_step *step, void *user)
{
    (void)step;
    (void)user;
    hook_calls++;
}
static void test_backward_variants_agree(void **state)
{
    (void)state;
    static ad_node *n[N_LEAVES + N_OPS];
    double want[N_LEAVES];
    for (int variant = 0; variant < 4; variant++) {
        ad_context *ctx = ad_context_new();
        ad_node *y = random_graph(ctx, AD_FLOAT64, 7, n);
        ad_backward_opts o = {AD_BACKWARD_PUSH, NULL, NULL, NULL};
        double one = 1.0;
        ad_tensor cot = {&one, 1, {1, 1, 1, 1}, 0, AD_FLOAT64, AD_CPU, 0};
        if (variant == 1) o.variant = AD_BACKWARD_PULL;
        if (variant == 2) o.hook = count_hook;
        if (variant == 3) o.cotangent = &cot;
        hook_calls = 0;
        assert_int_equal(ad_backward_ex(ctx, y, &o), AD_OK);
        if (variant == 2) {   /* as many steps as over full nodes */
            int compact_calls = hook_calls;
            ad_context *full = ad_context_new();
            ad_set_check_finite(full, true);
            static ad_node *nr[N_LEAVES + N_OPS];
            hook_calls = 0;
            assert_int_equal(ad_backward_ex(full, random_graph(full, AD_FLOAT64, 7, nr), &o), AD_OK);
            assert_true(hook_calls > 8);
            assert_int_equal(compact_calls, hook_calls);
            ad_context_free(full);
        }
        for (int i = 0; i < N_LEAVES; i++) {
            if (variant == 0) want[i] = ad_grad_scalar(n[i]);
            else assert_memory_equal(&want[i], &(double){ad_grad_scalar(n[i])}, sizeof(double));
        }
        ad_context_free(ctx);
    }
}

/* A handle stays the same when its node is written out: the handle an op
 * returned, ad_node_input's and ad_node_by_id's are equal, before and after. */
static void test_handles_survive_materialization(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 0.5), *y = ad_scalar(ctx, 2.0);
    ad_node *a = ad_mul(ctx, x, y);        /* compact */
    ad_node *b = ad_sin(ctx, a);           /* compact, input a */
    assert_ptr_equal(ad_node_by_id(ctx, ad_node_id(a)), a);
    assert_ptr_equal(ad_node_by_id(ctx, ad_node_id(b)), b);
    ad_node *p = ad_pow(ctx, b, 3.0);      /* params: the general path writes a and b out */
    assert_non_null(p);
    assert_ptr_equal(ad_node_input(p, 0), b);
    assert_ptr_equal(ad_node_input(b, 0), a);
    assert_ptr_equal(ad_node_by_id(ctx, ad_node_id(a)), a);
    assert_ptr_equal(ad_node_input(a, 1), y);
    assert_true(ad_node_in_context(ctx, a));
    /* a compact op on a written-out node, and backward through the mix */
    ad_node *c = ad_add(ctx, p, a);
    assert_int_equal(ad_backward(ctx, c), AD_OK);
    double s = sin(1.0);
    assert_close(ad_value_scalar(c), s * s * s + 1.0, 1e-15);
    /* dc/dx = (3 sin^2(xy) cos(xy) + 1) y */
    assert_close(ad_grad_scalar(x), (3 * s * s * cos(1.0) + 1.0) * 2.0, 1e-14);
    /* ad_node_of writes the node out; its fields are a full node's */
    const ad_node *bn = ad_node_of(b);
    assert_non_null(bn);
    assert_int_equal(bn->value.ndim, 0);
    assert_ptr_equal(ad_handle_of(bn), b);
    assert_ptr_equal(ad_handle_of(bn->in[0]), a);
    ad_context_free(ctx);
}

/* Dropped compact nodes are refused like any dropped node, whatever took
 * their place: a compact node, a full one, or nothing yet. */
static void test_dropped_compact_nodes_refused(void **state)
{
    (void)state;
    for (int then = 0; then < 3; then++) {
        ad_context *ctx = ad_context_new();
        ad_node *x = ad_scalar(ctx, 0.5);
        ad_mark m = ad_context_mark(ctx);
        ad_node *a = ad_sin(ctx, x);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        ad_node *b = then == 0 ? ad_cos(ctx, x) : then == 1 ? ad_pow(ctx, x, 2.0) : NULL;
        ad_clear_error();
        assert_true(isnan(ad_value_scalar(a)));
        assert_int_equal(ad_last_status(), AD_ERR_STATE);
        assert_non_null(strstr(ad_last_error(), "dropped by a rewind"));
        assert_null(ad_add(ctx, a, x));
        assert_int_equal(ad_last_status(), AD_ERR_STATE);
        assert_int_equal(ad_backward(ctx, a), AD_ERR_STATE);
        assert_false(ad_node_in_context(ctx, a));
        assert_null(ad_node_of(a));
        if (b) {   /* the node in its place works, and is not a */
            assert_ptr_not_equal(a, b);
            assert_close(ad_value_scalar(b), then == 0 ? cos(0.5) : 0.25, 1e-15);
            assert_int_equal(ad_backward(ctx, b), AD_OK);
            assert_close(ad_grad_scalar(x), then == 0 ? -sin(0.5) : 1.0, 1e-15);
        }
        ad_clear_error();
        ad_context_free(ctx);
    }
    /* a full node dropped and a compact one in its place */
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 0.5);
    ad_mark m = ad_context_mark(ctx);
    ad_node *p = ad_pow(ctx, x, 2.0);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_node *c = ad_cos(ctx, x);
    assert_non_null(c);
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(p)));
    assert_non_null(strstr(ad_last_error(), "dropped by a rewind"));
    assert_null(ad_mul(ctx, p, x));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_clear_error();
    ad_context_free(ctx);
}

/* A compact node of a freed context, or of another context, is refused
 * without reading freed memory (ASan watches this test). */
static void test_foreign_and_freed(void **state)
{
    (void)state;
    ad_context *a = ad_context_new(), *b = ad_context_new();
    ad_node *x = ad_scalar(a, 1.0), *y = ad_sin(a, x);
    ad_node *u = ad_scalar(b, 1.0);
    ad_clear_error();
    assert_null(ad_add(b, u, y));
    assert_non_null(strstr(ad_last_error(), "does not belong to this context"));
    assert_int_equal(ad_backward(b, y), AD_ERR_STATE);
    assert_false(ad_node_in_context(b, y));
    ad_context_free(a);
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(y)));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    assert_null(ad_node_context(y));
    ad_clear_error();
    ad_context_free(b);
}

/* explain and DOT print what they print for full nodes. */
static char *capture(ad_status (*write)(FILE *, const ad_context *, const ad_node *), const ad_context *ctx,
                     const ad_node *root)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(write(f, ctx, root), AD_OK);
    fclose(f);
    return buf;
}
static ad_status dot(FILE *f, const ad_context *ctx, const ad_node *root) { return ad_dot_write(ctx, root, f); }
static void test_explain_and_dot_unchanged(void **state)
{
    (void)state;
    ad_context *fast = ad_context_new(), *full = ad_context_new();
    ad_set_check_finite(full, true);
    ad_node *ys[2];
    ad_context *ctxs[2] = {fast, full};
    for (int c = 0; c < 2; c++) {
        ad_node *x1 = ad_set_name(ad_scalar(ctxs[c], 2.0), "x1"), *x2 = ad_set_name(ad_scalar(ctxs[c], 5.0), "x2");
        ys[c] = ad_sub(ctxs[c], ad_add(ctxs[c], ad_log(ctxs[c], x1), ad_mul(ctxs[c], x1, x2)), ad_sin(ctxs[c], x2));
    }
    char *e[2], *d[2], *d0[2];
    for (int c = 0; c < 2; c++) {
        d0[c] = capture(dot, ctxs[c], NULL);   /* every node: the whole context written out */
        e[c] = capture(ad_explain_nodes, ctxs[c], ys[c]);
        d[c] = capture(dot, ctxs[c], ys[c]);
    }
    assert_string_equal(e[0], e[1]);
    assert_string_equal(d[0], d[1]);
    assert_string_equal(d0[0], d0[1]);
    assert_non_null(strstr(e[0], "sin"));
    for (int c = 0; c < 2; c++) {
        free(e[c]);
        free(d[c]);
        free(d0[c]);
    }
    ad_context_free(fast);
    ad_context_free(full);
}

/* More distinct ops than a context numbers (255): the rest make full
 * nodes, with the same numbers. The ops are copies of add's. */
static void test_more_ops_than_records_number(void **state)
{
    (void)state;
    enum { N = 300 };
    ad_op *ops = calloc(N, sizeof *ops);
    assert_non_null(ops);
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 1.0), *acc = x;
    for (int i = 0; i < N; i++) {
        ops[i] = ad_op_add;
        ad_node *in[2] = {acc, x};
        acc = ad_apply(ctx, &ops[i], in, 2, NULL);
        assert_non_null(acc);
    }
    assert_close(ad_value_scalar(acc), N + 1.0, 0);
    assert_int_equal(ad_backward(ctx, acc), AD_OK);
    assert_close(ad_grad_scalar(x), N + 1.0, 0);
    ad_context_free(ctx);
    free(ops);
}

/* Grad mode off: compact results record nothing and want no grad. */
static void test_no_grad_results(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 0.5);
    ad_set_grad_enabled(ctx, false);
    ad_node *y = ad_sin(ctx, x);
    ad_set_grad_enabled(ctx, true);
    assert_close(ad_value_scalar(y), sin(0.5), 0);
    assert_false(ad_requires_grad(y));
    assert_int_equal(ad_node_input_count(y), 0);
    assert_string_equal(ad_node_op_name(y), "constant");
    ad_clear_error();
    assert_int_equal(ad_backward(ctx, y), AD_ERR_STATE);
    assert_non_null(strstr(ad_last_error(), "does not require grad"));
    ad_node *z = ad_mul(ctx, y, x);   /* a constant times a variable */
    assert_int_equal(ad_backward(ctx, z), AD_OK);
    assert_close(ad_grad_scalar(x), sin(0.5), 0);
    assert_close(ad_grad_scalar(y), 0, 0);
    ad_clear_error();
    ad_context_free(ctx);
}

/* Rewinding in a loop: the same numbers every time, handles of nodes made
 * before the mark keep working, and memory does not grow. */
static void test_rewind_loop(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *w = ad_scalar(ctx, 0.75);
    ad_node *k = ad_sin(ctx, w);   /* compact, before the mark */
    ad_mark m = ad_context_mark(ctx);
    size_t bytes = 0;
    for (int step = 0; step < 2000; step++) {
        ad_node *y = ad_mul(ctx, ad_tanh(ctx, ad_mul(ctx, w, k)), w);
        assert_int_equal(ad_backward(ctx, y), AD_OK);
        double t = tanh(0.75 * sin(0.75));
        double want = t + 0.75 * (1 - t * t) * (sin(0.75) + 0.75 * cos(0.75));
        assert_close(ad_grad_scalar(w), want, 1e-14);
        ad_zero_grad(ctx);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        if (step == 10) bytes = ad_context_bytes(ctx);
    }
    assert_int_equal(ad_context_bytes(ctx), bytes);
    assert_close(ad_value_scalar(k), sin(0.75), 0);
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_numbers_as_full_nodes),
        cmocka_unit_test(test_backward_variants_agree),
        cmocka_unit_test(test_handles_survive_materialization),
        cmocka_unit_test(test_dropped_compact_nodes_refused),
        cmocka_unit_test(test_foreign_and_freed),
        cmocka_unit_test(test_explain_and_dot_unchanged),
        cmocka_unit_test(test_more_ops_than_records_number),
        cmocka_unit_test(test_no_grad_results),
        cmocka_unit_test(test_rewind_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
