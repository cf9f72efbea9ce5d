/* Node handles: a node kept past the rewind that dropped it is refused by
 * every call that takes it, by name, even once a new node has taken its
 * memory; handles of live nodes work across any number of rewinds.
 * (The reproducer of issue 17: before handles, `a` below was accepted as the
 * cos node that took its place, and its value read as cos's.) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "ad_kernel.h"   /* white box: ad_node_addr, to show the memory is the same */

/* The last call failed with AD_ERR_STATE, saying the node was dropped. */
#define assert_refused_as_dropped()                                                                                    \
    do {                                                                                                               \
        assert_int_equal(ad_last_status(), AD_ERR_STATE);                                                              \
        if (!strstr(ad_last_error(), "dropped by a rewind")) {                                                         \
            print_error("message: %s\n", ad_last_error());                                                             \
            fail();                                                                                                    \
        }                                                                                                              \
        ad_clear_error();                                                                                              \
    } while (0)

typedef struct world {
    ad_context *ctx;
    ad_node *x;      /* a variable made before the mark: lives on */
    ad_node *a;      /* sin(x), made after the mark: dropped by the rewind */
    ad_node *b;      /* cos(x), made after the rewind: in a's memory */
} world;

/* x = 0.5; mark; a = sin x; rewind; b = cos x. */
static world make_world(int64_t n)
{
    world w;
    w.ctx = ad_context_new();
    double v[6] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    w.x = n == 0 ? ad_scalar(w.ctx, 0.5) : ad_variable(w.ctx, AD_FLOAT64, 1, &n, v);
    ad_mark m = ad_context_mark(w.ctx);
    w.a = ad_sin(w.ctx, w.x);
    assert_int_equal(ad_context_rewind(w.ctx, m), AD_OK);
    w.b = ad_cos(w.ctx, w.x);
    assert_non_null(w.a);
    assert_non_null(w.b);
    return w;
}

/* The reproducer, on the scalar path (0-d) and the general one (a vector). */
static void test_reused_slot_refused_as_input(void **state)
{
    (void)state;
    for (int64_t n = 0; n <= 6; n += 6) {
        world w = make_world(n);
        assert_ptr_equal(ad_node_addr(w.a), ad_node_addr(w.b));   /* the same memory... */
        assert_ptr_not_equal(w.a, w.b);                       /* ...not the same handle */
        ad_clear_error();
        assert_null(ad_add(w.ctx, w.a, w.x));
        assert_refused_as_dropped();
        assert_null(ad_mul(w.ctx, w.x, w.a));   /* any input slot */
        assert_int_equal(ad_last_status(), AD_ERR_STATE);
        assert_non_null(strstr(ad_last_error(), "input 1"));
        ad_clear_error();
        /* the node in its place and the survivor work */
        ad_node *y = ad_add(w.ctx, w.b, w.x);
        assert_non_null(y);
        assert_close(ad_value_at(y, 0), cos(0.5) + 0.5, 1e-15);
        ad_context_free(w.ctx);
    }
}

/* Every call that takes a node refuses the dropped one: none reads cos's
 * numbers as sin's. */
static void test_every_call_refuses_a_dropped_node(void **state)
{
    (void)state;
    world w = make_world(0);
    ad_context *ctx = w.ctx;
    ad_node *a = w.a;
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(a)));
    assert_refused_as_dropped();
    assert_true(isnan(ad_value_at(a, 0)));
    assert_refused_as_dropped();
    assert_true(isnan(ad_grad_at(a, 0)));
    assert_refused_as_dropped();
    assert_true(isnan(ad_grad_scalar(a)));
    assert_refused_as_dropped();
    assert_null(ad_value(a).data);
    assert_refused_as_dropped();
    assert_null(ad_grad(a).data);
    assert_refused_as_dropped();
    double out[1] = {42};
    assert_int_equal(ad_value_copy_out(a, out, 1), AD_ERR_STATE);
    assert_close(out[0], 42, 0);
    assert_refused_as_dropped();
    assert_int_equal(ad_grad_copy_out(a, out, 1), AD_ERR_STATE);
    assert_refused_as_dropped();
    assert_false(ad_has_tangent(a));
    assert_refused_as_dropped();
    assert_int_equal(ad_node_id(a), 0);
    assert_refused_as_dropped();
    assert_null(ad_node_context(a));
    assert_refused_as_dropped();
    assert_int_equal(ad_node_input_count(a), 0);
    assert_refused_as_dropped();
    assert_null(ad_node_input(a, 0));
    assert_refused_as_dropped();
    assert_null(ad_node_op(a));
    assert_refused_as_dropped();
    assert_null(ad_node_name(a));
    assert_refused_as_dropped();
    assert_false(ad_node_is_leaf(a));
    assert_refused_as_dropped();
    assert_string_equal(ad_node_op_name(a), "dropped");
    assert_refused_as_dropped();
    assert_false(ad_requires_grad(a));
    assert_refused_as_dropped();
    assert_false(ad_node_in_context(ctx, a));
    /* writes: nothing reaches cos's node */
    assert_null(ad_set_name(a, "sin"));
    assert_refused_as_dropped();
    assert_null(ad_node_name(w.b));
    ad_set_requires_grad(a, false);
    assert_refused_as_dropped();
    assert_true(ad_requires_grad(w.b));
    ad_node_zero_grad(a);
    assert_refused_as_dropped();
    /* passes */
    assert_int_equal(ad_backward(ctx, a), AD_ERR_STATE);
    assert_refused_as_dropped();
    ad_node *wrt[1] = {a};
    double cot = 1, g = 0;
    void *grads[1] = {&g};
    assert_int_equal(ad_backward_block(ctx, w.b, 1, &cot, 1, wrt, grads), AD_ERR_STATE);
    assert_refused_as_dropped();
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    assert_int_equal(ad_set_tangent(a, 0, NULL, 0), AD_ERR_STATE);
    assert_refused_as_dropped();
    assert_int_equal(ad_forward_dirs(ctx, 0), AD_OK);
    /* ops that read their input before ad_apply */
    assert_null(ad_flatten(ctx, a));
    assert_refused_as_dropped();
    int perm[1] = {0};
    assert_null(ad_transpose(ctx, a, perm));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_clear_error();
    /* the tables, DOT, the symbolic view, the optimizer */
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    assert_int_equal(ad_dot_write(ctx, a, devnull), AD_ERR_STATE);
    assert_refused_as_dropped();
    assert_int_equal(ad_explain_nodes(devnull, ctx, a), AD_ERR_STATE);
    assert_refused_as_dropped();
    assert_int_equal(ad_explain_reverse(devnull, ctx, a, AD_BACKWARD_PUSH), AD_ERR_STATE);
    assert_refused_as_dropped();
    fclose(devnull);
    char buf[32];
    assert_string_equal(ad_explain_name(a, buf, sizeof buf), "(dropped)");
    ad_clear_error();
    assert_true(isnan(ad_local_partial(a, 0)));
    assert_refused_as_dropped();
    devnull = fopen("/dev/null", "w");
    assert_int_equal(ad_explain_forward(devnull, ctx, a, NULL), AD_ERR_STATE);
    assert_refused_as_dropped();
    fclose(devnull);
    assert_string_equal(ad_explain_expr(a, buf, sizeof buf), "(dropped)");
    ad_clear_error();
    assert_true(isnan(ad_tangent_at(a, 0, 0)));
    assert_refused_as_dropped();
    /* the GPU copies and the general entry (before any device check) */
    assert_null(ad_leaf_to_device(ctx, a));
    assert_refused_as_dropped();
    assert_null(ad_to_host(ctx, a));   /* a build without CUDA says so before it looks at a */
    assert_true(ad_last_status() == AD_ERR_STATE || ad_last_status() == AD_ERR_DEVICE);
    ad_clear_error();
    ad_node *in[1] = {a};
    assert_null(ad_apply(ctx, ad_op_find("exp"), in, 1, NULL));
    assert_refused_as_dropped();
    /* a formula over a dropped variable */
    ad_expr *e = ad_expr_parse("t + 1", NULL);
    assert_non_null(e);
    assert_null(ad_expr_build(e, ctx, in));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_clear_error();
    ad_expr_free(e);
    ad_sym_ctx *sc = ad_sym_ctx_new();
    assert_null(ad_sym_from_graph(sc, ctx, a));
    assert_refused_as_dropped();
    ad_sym_ctx_free(sc);
    ad_context_free(ctx);
}

/* A dropped node whose memory no node has taken yet: refused too, saying
 * how many nodes the context has now. */
static void test_dropped_not_yet_reused(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2);
    ad_mark m = ad_context_mark(ctx);
    ad_node *a = ad_mul(ctx, x, x);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(a)));
    assert_refused_as_dropped();
    assert_null(ad_exp(ctx, a));
    assert_int_equal(ad_last_status(), AD_ERR_STATE);
    ad_clear_error();
    assert_close(ad_value_scalar(x), 2, 0);
    ad_context_free(ctx);
}

/* An optimizer holds handles: a step refuses a parameter a rewind dropped
 * (made after the mark by mistake) instead of updating whatever took its
 * memory. */
static void test_optimizer_refuses_dropped_parameter(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_mark m = ad_context_mark(ctx);
    ad_node *w = ad_scalar(ctx, 1);
    ad_node *p[1] = {w};
    ad_optimizer *o = ad_sgd_new(p, 1, 0.1, 0);
    assert_non_null(o);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_node *other = ad_scalar(ctx, 7);   /* takes w's memory */
    assert_int_equal(ad_backward(ctx, ad_mul(ctx, other, other)), AD_OK);
    ad_clear_error();
    assert_int_equal(ad_optimizer_step(o), AD_ERR_STATE);
    assert_refused_as_dropped();
    assert_close(ad_value_scalar(other), 7, 0);   /* untouched */
    ad_optimizer_free(o);
    /* and one cannot be made from a dropped node */
    assert_null(ad_sgd_new(p, 1, 0.1, 0));
    assert_refused_as_dropped();
    ad_context_free(ctx);
}

/* Live nodes: a handle is the same value whichever call gives it, and works
 * after any number of rewinds (past the 16-bit generation's wrap too). */
static void test_live_handles_stay_valid(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_scalar(ctx, 3), "x");
    ad_node *c = ad_scalar_const(ctx, 2);
    ad_node *y = ad_mul(ctx, x, c);
    assert_ptr_equal(ad_node_by_id(ctx, ad_node_id(x)), x);
    assert_ptr_equal(ad_node_input(y, 0), x);
    assert_ptr_equal(ad_node_input(y, 1), c);
    assert_true(ad_node_in_context(ctx, y));
    /* the accessors on live nodes */
    assert_int_equal(ad_node_input_count(y), 2);
    assert_int_equal(ad_node_input_count(x), 0);
    ad_clear_error();
    assert_null(ad_node_input(y, 2));
    assert_non_null(strstr(ad_last_error(), "node_input: node #2 (mul) has 2 recorded inputs, slot 2 asked"));
    assert_null(ad_node_input(x, 0));
    assert_null(ad_node_input(NULL, 0));
    assert_non_null(strstr(ad_last_error(), "node_input: the node is NULL"));
    ad_clear_error();
    assert_true(ad_node_is_leaf(x));
    assert_false(ad_node_is_leaf(y));
    assert_null(ad_node_op(x));
    assert_ptr_equal(ad_node_op(y), ad_op_find("mul"));
    assert_ptr_equal(ad_node_context(y), ctx);
    assert_null(ad_node_params(y));
    ad_node *p = ad_pow(ctx, x, 2.5);
    assert_non_null(ad_node_params(p));
    assert_close(ad_node_params(p)->c, 2.5, 0);
    assert_string_equal(ad_node_op_name(p), "pow");
    assert_string_equal(ad_node_op_name(x), "variable");
    assert_string_equal(ad_node_op_name(c), "constant");
    assert_int_equal(ad_last_status(), AD_OK);
    ad_mark m = ad_context_mark(ctx);
    ad_node *last = NULL;
    for (int i = 0; i < 70000; i++) {   /* 65,535 generations, and on */
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
        last = ad_add(ctx, y, x);
        assert_non_null(last);
    }
    assert_close(ad_value_scalar(last), 9, 0);
    assert_close(ad_value_scalar(y), 6, 0);
    assert_string_equal(ad_node_name(x), "x");
    assert_int_equal(ad_backward(ctx, last), AD_OK);
    assert_close(ad_grad_scalar(x), 3, 0);   /* d(x·2 + x)/dx */
    /* a rewind that drops nothing keeps the generation: handles made just
     * before it stay good */
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_mark m2 = ad_context_mark(ctx);
    ad_node *z = ad_neg(ctx, x);
    ad_mark m3 = ad_context_mark(ctx);
    assert_int_equal(ad_context_rewind(ctx, m3), AD_OK);
    assert_close(ad_value_scalar(z), -3, 0);
    assert_int_equal(ad_context_rewind(ctx, m2), AD_OK);
    ad_clear_error();
    assert_true(isnan(ad_value_scalar(z)));
    assert_refused_as_dropped();
    ad_context_free(ctx);
}

/* Backward hooks see handles: the step's nodes read through the accessors. */
typedef struct hook_log {
    int steps;
    double grads_sum;
} hook_log;

static void hook(const ad_backward_step *s, void *user)
{
    hook_log *log = user;
    log->steps++;
    log->grads_sum += ad_grad_scalar(s->input);
    assert_true(ad_node_id(s->consumer) > ad_node_id(s->input));
    assert_ptr_equal(ad_node_input(s->consumer, s->slot), s->input);
}

/* The generation is 16 bits and never 0: 1..65535, so it comes back to a
 * dropped handle's own after exactly 65,535 rewinds that drop nodes (the
 * limit the README states), and not one sooner. */
static void test_generation_wraps_after_65535(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 2);
    ad_mark m = ad_context_mark(ctx);
    ad_node *old = ad_neg(ctx, x);
    for (int rewinds = 1; rewinds <= 65535; rewinds++) {
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);   /* drops the one node made since */
        ad_node *now = ad_sin(ctx, x);                         /* in old's place */
        assert_non_null(now);
        if (rewinds < 65534) continue;
        ad_clear_error();
        double v = ad_value_scalar(old);
        if (rewinds == 65534) {   /* refused, as every time before */
            assert_int_equal(ad_last_status(), AD_ERR_STATE);
        } else {                  /* the same generation again: passes for the node in its place */
            assert_int_equal(ad_last_status(), AD_OK);
            assert_close(v, sin(2.0), 0);
        }
    }
    ad_context_free(ctx);
}

/* A handle kept from a freed context, once a new context's node lands at the
 * same address, is refused by the new context: generations come from one
 * counter for the whole process (before, every context counted from 1, and
 * the old handle passed for the new node). Compact (0-d) and full nodes. */
static void test_freed_context_handle_refused(void **state)
{
    (void)state;
#if AD_TEST_UNDER_ASAN
    skip();   /* ASan quarantines freed memory: no new context lands where the old one was */
#endif
    for (int64_t n = 0; n <= 3; n += 3) {
        double v[3] = {0.25, 0.25, 0.25};
        ad_context *old_ctx = ad_context_new();
        ad_node *x = n == 0 ? ad_scalar(old_ctx, 0.25) : ad_variable(old_ctx, AD_FLOAT64, 1, &n, v);
        ad_node *old = ad_sin(old_ctx, x);
        assert_non_null(old);
        ad_context_free(old_ctx);
        /* New contexts of the same size until one's node lands where old's was
         * (glibc hands the memory back at once; all are kept alive meanwhile,
         * so each try gets other memory). old is read only then: its memory
         * is a live node's. */
        enum { TRIES = 8 };
        ad_context *tried[TRIES] = {NULL};
        ad_node *now = NULL, *x2 = NULL;
        int t;
        for (t = 0; t < TRIES; t++) {
            tried[t] = ad_context_new();
            x2 = n == 0 ? ad_scalar(tried[t], 0.75) : ad_variable(tried[t], AD_FLOAT64, 1, &n, v);
            now = ad_cos(tried[t], x2);
            assert_non_null(now);
            if (ad_node_addr(now) == ad_node_addr(old)) break;
        }
        if (t == TRIES) {
            print_message("the allocator gave no new context the freed one's memory: nothing to check\n");
            for (int i = 0; i < TRIES; i++) ad_context_free(tried[i]);
            skip();
        }
        ad_context *ctx = tried[t];
        ad_clear_error();
        ad_value_at(old, 0);
        assert_refused_as_dropped();
        assert_null(ad_add(ctx, old, x2));
        assert_refused_as_dropped();
        assert_false(ad_node_in_context(ctx, old));
        assert_close(ad_value_at(now, 0), cos(n == 0 ? 0.75 : 0.25), 0);   /* the new node reads as itself */
        for (int i = 0; i <= t; i++) ad_context_free(tried[i]);
    }
}

static void test_backward_hook_gets_handles(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 1.5), *y = ad_scalar(ctx, -2);
    ad_node *f = ad_mul(ctx, ad_add(ctx, x, y), y);   /* (x + y)·y */
    hook_log log = {0, 0};
    ad_backward_opts o = {.hook = hook, .hook_user = &log};
    assert_int_equal(ad_backward_ex(ctx, f, &o), AD_OK);
    assert_int_equal(log.steps, 4);
    assert_close(ad_grad_scalar(x), -2, 0);        /* y */
    assert_close(ad_grad_scalar(y), 1.5 - 4, 0);   /* x + 2y */
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reused_slot_refused_as_input),
        cmocka_unit_test(test_every_call_refuses_a_dropped_node),
        cmocka_unit_test(test_dropped_not_yet_reused),
        cmocka_unit_test(test_optimizer_refuses_dropped_parameter),
        cmocka_unit_test(test_live_handles_stay_valid),
        cmocka_unit_test(test_backward_hook_gets_handles),
        cmocka_unit_test(test_generation_wraps_after_65535),
        cmocka_unit_test(test_freed_context_handle_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
