/* Compact scalar nodes (engine/fast/fast_internal.h: scalar_rec). The scalar path
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
#include "ad_test_capture.h"
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
    ad_node *x = ad_scalar(a, 1.0), *y = ad_sin(a, x), *old = ad_cos(a, x);
    ad_node *u = ad_scalar(b, 1.0);
    ad_clear_error();
    assert_null(ad_add(b, u, y));
    assert_non_null(strstr(ad_last_error(), "does not belong to this context"));
    assert_int_equal(ad_backward(b, y), AD_ERR_STATE);
    assert_false(ad_node_in_context(b, y));
    /* a forged compact handle: inside a record, not at its start; one of the
     * newest and one in an older record chunk (found another way) */
    ad_node *mid = NULL;
    for (int i = 0; i < 3000; i++) {
        y = ad_sin(a, y);
        if (i == 1500) mid = y;   /* in the second record chunk */
    }
    assert_true(((uintptr_t)y & 1) && ((uintptr_t)old & 1));   /* (white box: compact handles) */
    assert_non_null(ad_add(a, mid, x));   /* the scalar path now looks in mid's chunk first */
    ad_node *forged[2] = {(ad_node *)((uintptr_t)y + 16), (ad_node *)((uintptr_t)old + 16)};
    for (int f = 0; f < 2; f++) {
        ad_clear_error();
        assert_null(ad_add(a, forged[f], x));
        assert_int_not_equal(ad_last_status(), AD_OK);
        assert_null(ad_add(a, x, forged[f]));
        assert_false(ad_node_in_context(a, forged[f]));
        assert_true(isnan(ad_value_scalar(forged[f])));
    }
    ad_context_free(a);
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(y)));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    assert_null(ad_node_context(y));
    ad_clear_error();
    ad_context_free(b);
}

/* explain and DOT print what they print for full nodes. */
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
        d0[c] = ad_test_capture(ad_test_dot, ctxs[c], NULL);   /* every node: the whole context written out */
        e[c] = ad_test_capture(ad_explain_nodes, ctxs[c], ys[c]);
        d[c] = ad_test_capture(ad_test_dot, ctxs[c], ys[c]);
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

/* ad_scalar and ad_scalar_const make compact leaves: what a full leaf is,
 * a variable's grad from the start and across rewinds, and a backward from
 * one of them. */
static void test_compact_leaves(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 1.5), *k = ad_scalar_const(ctx, 2.0);
    assert_true((uintptr_t)x & 1);   /* (white box: a compact handle) */
    assert_true(ad_node_is_leaf(x) && ad_node_is_leaf(k));
    assert_true(ad_requires_grad(x));
    assert_false(ad_requires_grad(k));
    assert_string_equal(ad_node_op_name(x), "variable");
    assert_string_equal(ad_node_op_name(k), "constant");
    assert_int_equal(ad_node_input_count(x), 0);
    assert_true(ad_grad_scalar(x) == 0.0);
    ad_mark m = ad_context_mark(ctx);
    for (int pass = 1; pass <= 3; pass++) {   /* leaves add up across passes and rewinds */
        ad_node *y = ad_mul(ctx, ad_mul(ctx, x, x), k);
        assert_int_equal(ad_backward(ctx, y), AD_OK);
        assert_close(ad_grad_scalar(x), pass * 2 * 1.5 * 2.0, 0);
        assert_true(ad_grad_scalar(k) == 0.0);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    }
    ad_zero_grad(ctx);
    assert_true(ad_grad_scalar(x) == 0.0);
    assert_int_equal(ad_backward(ctx, x), AD_OK);   /* from a leaf: its grad += 1 */
    assert_close(ad_grad_scalar(x), 1.0, 0);
    ad_clear_error();
    assert_int_equal(ad_backward(ctx, k), AD_ERR_STATE);   /* a constant wants none */
    ad_set_requires_grad(k, true);                         /* written out, then a variable */
    ad_node *z = ad_add(ctx, k, x);
    assert_int_equal(ad_backward(ctx, z), AD_OK);
    assert_close(ad_grad_scalar(k), 1.0, 0);
    assert_close(ad_grad_scalar(x), 2.0, 0);
    ad_clear_error();
    ad_context_free(ctx);
}

/* A random walk over the API, on a context that makes compact nodes and on
 * one that makes full nodes only, compared after every step: new leaves,
 * compact ops, general ops (which write compact inputs out), reads that
 * write nodes out and reads that do not, marks, rewinds, backward passes,
 * zero_grad, names, handles by id and through inputs, and the handles of
 * dropped nodes, which both must refuse. */
enum { WALK_MAX = 4096, WALK_MARKS = 16 };
typedef struct walk {
    ad_context *ctx[2];          /* 0: compact nodes, 1: full nodes only */
    ad_node *live[2][WALK_MAX];  /* the same nodes in both */
    int n_live;
    ad_node *dead[2][WALK_MAX];  /* dropped by rewinds */
    int n_dead;
    ad_mark mark[2][WALK_MARKS];
    int n_marks;
    ad_dtype dtype;              /* of the leaves */
} walk;

static void walk_same_number(double a, double b, const char *what, int step)
{
    if (memcmp(&a, &b, sizeof a) && !(isnan(a) && isnan(b))) {
        print_error("step %d: %s %.17g (compact) vs %.17g (full)\n", step, what, a, b);
        fail();
    }
}

static void walk_step(walk *w, int step)
{
    /* the actions' shares, out of 100: rewinds rare enough, and bursts of
     * 300 ops, that graphs grow over several node chunks (1024, 2048, 4096
     * nodes...) */
    static const unsigned char act_of[100] = {
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 7, 7, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9, 11,
        11, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 14, 14, 14, 14, 14, 16, 1, 1, 1, 1,
        1, 1, 1, 1, 1};
    int act = step == 40 ? 15 : act_of[rand() % 100];
    int i = w->n_live ? rand() % w->n_live : -1, j = w->n_live ? rand() % w->n_live : -1;
    if (w->n_live < 2 || w->n_live >= WALK_MAX - 4) act = w->n_live < 2 ? 0 : 8;
    ad_node *y[2] = {NULL, NULL};
    switch (act) {
    case 0: {   /* a leaf */
        double v = 0.1 * (rand() % 21) - 1.0;
        int kind = rand() % 3;   /* float64: ad_scalar (compact leaves) twice in three, ad_scalar_const once */
        for (int c = 0; c < 2; c++)
            y[c] = w->dtype == AD_FLOAT32 ? ad_variable(w->ctx[c], AD_FLOAT32, 0, NULL, &v)
                   : kind ? ad_scalar(w->ctx[c], v) : ad_scalar_const(w->ctx[c], v);
        break;
    }
    case 1: case 2: case 3: {   /* a compact op */
        int op = rand() % 6;
        for (int c = 0; c < 2; c++) {
            ad_node *a = w->live[c][i], *b = w->live[c][j];
            ad_context *x = w->ctx[c];
            y[c] = op == 0 ? ad_add(x, a, b) : op == 1 ? ad_mul(x, a, b) : op == 2 ? ad_tanh(x, a)
                 : op == 3 ? ad_sin(x, ad_sub(x, a, b)) : op == 4 ? ad_sigmoid(x, a) : ad_max(x, a, b);
        }
        break;
    }
    case 4:   /* a general op: its inputs are written out */
        for (int c = 0, pow = rand() % 2; c < 2; c++)
            y[c] = pow ? ad_pow(w->ctx[c], ad_tanh(w->ctx[c], w->live[c][i]), 2.0)
                       : ad_scale(w->ctx[c], w->live[c][i], 0.5);
        break;
    case 5: {   /* reads that do not write the node out, and one that does */
        for (int k = 0; k < 2; k++) {
            int t = k ? i : j;
            walk_same_number(ad_value_scalar(w->live[0][t]), ad_value_scalar(w->live[1][t]), "value", step);
            walk_same_number(ad_grad_scalar(w->live[0][t]), ad_grad_scalar(w->live[1][t]), "grad", step);
            assert_int_equal(ad_node_id(w->live[0][t]), ad_node_id(w->live[1][t]));
            assert_int_equal(ad_requires_grad(w->live[0][t]), ad_requires_grad(w->live[1][t]));
            assert_string_equal(ad_node_op_name(w->live[0][t]), ad_node_op_name(w->live[1][t]));
        }
        if (i % 4 == 0) {
            ad_tensor v0 = ad_value(w->live[0][i]), v1 = ad_value(w->live[1][i]);
            assert_int_equal(v0.dtype, v1.dtype);
            assert_memory_equal(v0.data, v1.data, ad_dtype_size((ad_dtype)v0.dtype));
        }
        break;
    }
    case 6:   /* inputs and ids give back the same handles */
        for (int c = 0; c < 2; c++) {
            ad_node *h = w->live[c][i];
            assert_ptr_equal(ad_node_by_id(w->ctx[c], ad_node_id(h)), h);
            if (j % 3 == 0 && ad_node_input_count(h) > 0) {
                ad_node *in = ad_node_input(h, 0);
                assert_ptr_equal(ad_node_by_id(w->ctx[c], ad_node_id(in)), in);
                assert_int_equal(ad_node_id(in), ad_node_id(ad_node_input(w->live[1 - c][i], 0)));
            }
        }
        break;
    case 7:   /* a mark */
        if (w->n_marks < WALK_MARKS) {
            for (int c = 0; c < 2; c++) w->mark[c][w->n_marks] = ad_context_mark(w->ctx[c]);
            w->n_marks++;
        }
        break;
    case 8: {   /* a rewind to a random mark: later marks and nodes are dropped */
        if (!w->n_marks) break;
        int m = rand() % w->n_marks;
        static uint32_t id[WALK_MAX];   /* (read before the rewind: a dropped node has none) */
        for (int t = 0; t < w->n_live; t++) id[t] = ad_node_id(w->live[1][t]);
        for (int c = 0; c < 2; c++) assert_int_equal(ad_context_rewind(w->ctx[c], w->mark[c][m]), AD_OK);
        w->n_marks = m + 1;
        int kept = 0;
        for (int t = 0; t < w->n_live; t++) {
            bool alive = id[t] < w->mark[1][m].nodes;
            for (int c = 0; c < 2; c++) {
                if (alive) w->live[c][kept] = w->live[c][t];
                else if (w->n_dead < WALK_MAX) w->dead[c][w->n_dead] = w->live[c][t];
            }
            if (alive) kept++;
            else if (w->n_dead < WALK_MAX) w->n_dead++;
        }
        w->n_live = kept;
        break;
    }
    case 9: case 10: {   /* backward, then every live node's grad */
        ad_status st[2];
        for (int c = 0; c < 2; c++) st[c] = ad_backward(w->ctx[c], w->live[c][i]);
        assert_int_equal(st[0], st[1]);
        ad_clear_error();
        for (int t = 0; t < w->n_live; t++)
            walk_same_number(ad_grad_scalar(w->live[0][t]), ad_grad_scalar(w->live[1][t]), "grad after backward", step);
        break;
    }
    case 11:
        for (int c = 0; c < 2; c++) ad_zero_grad(w->ctx[c]);
        break;
    case 16:   /* grad mode off and on: what is made meanwhile records nothing */
        for (int c = 0; c < 2; c++) ad_set_grad_enabled(w->ctx[c], !ad_grad_enabled(w->ctx[c]));
        break;
    case 12:   /* a name (writes the node out) */
        for (int c = 0; c < 2; c++) assert_ptr_equal(ad_set_name(w->live[c][i], "n"), w->live[c][i]);
        assert_string_equal(ad_node_name(w->live[0][i]), "n");
        break;
    case 14: case 15:   /* a burst: a chain of 300 compact ops (or 30,000: past the record chunks
                         * that are malloc'd, into mmap'd ones populated by windows), its end kept */
        for (int c = 0; c < 2; c++) {
            ad_node *a = w->live[c][i], *b = w->live[c][j], *v = a;
            for (int k = 0; k < (act == 15 ? 30000 : 300); k++)
                v = ad_tanh(w->ctx[c], ad_add(w->ctx[c], ad_mul(w->ctx[c], v, b), a));
            y[c] = v;
        }
        break;
    default:   /* a dropped node is refused by both, as an input too */
        if (!w->n_dead) break;
        int d = rand() % w->n_dead;
        for (int c = 0; c < 2; c++) {
            ad_clear_error();
            assert_true(isnan(ad_value_scalar(w->dead[c][d])));
            assert_int_equal(ad_last_status(), AD_ERR_STATE);
            assert_null(ad_add(w->ctx[c], w->dead[c][d], w->live[c][i]));
            assert_int_equal(ad_last_status(), AD_ERR_STATE);
            assert_false(ad_node_in_context(w->ctx[c], w->dead[c][d]));
        }
        ad_clear_error();
        break;
    }
    if (y[0] || y[1]) {
        assert_non_null(y[0]);
        assert_non_null(y[1]);
        assert_int_equal(ad_node_id(y[0]), ad_node_id(y[1]));
        walk_same_number(ad_value_scalar(y[0]), ad_value_scalar(y[1]), "new node's value", step);
        w->live[0][w->n_live] = y[0];
        w->live[1][w->n_live] = y[1];
        w->n_live++;
    }
}

static void test_random_walk_against_full_nodes(void **state)
{
    (void)state;
    static walk w;
    for (unsigned seed = 1; seed <= 8; seed++) {
        memset(&w, 0, sizeof w);
        w.dtype = seed > 5 ? AD_FLOAT32 : AD_FLOAT64;
        w.ctx[0] = ad_context_new();
        w.ctx[1] = ad_context_new();
        ad_set_check_finite(w.ctx[1], true);   /* the general path: full nodes only */
        srand(seed);
        for (int step = 0; step < 6000; step++) walk_step(&w, step);
        assert_int_equal(ad_context_node_count(w.ctx[0]), ad_context_node_count(w.ctx[1]));
        ad_context_free(w.ctx[0]);
        ad_context_free(w.ctx[1]);
    }
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
        cmocka_unit_test(test_compact_leaves),
        cmocka_unit_test(test_random_walk_against_full_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
