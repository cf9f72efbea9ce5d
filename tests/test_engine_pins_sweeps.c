/* test_engine_pins_sweeps.c: the backward sweeps and the memory under them,
 * pinned where the engine's mutation run of seed 6174 found the other tests
 * silent: a non-finite gradient with the finite check off (Version A and the
 * block sweep must pass it on, as Version B does, not fail), Version A's
 * `done` flags in a context holding nodes below the graph, a block sweep
 * whose output is a leaf that is not node 0, leaf_to_device of a CPU leaf,
 * ad_threads_for and its count, element access refused on the GPU, a fill
 * of no elements, a no-grad result of the fast path's full scalar nodes,
 * views owning nothing, arity on the fast path's full-node route, an op to
 * the GPU without CUDA kernels, a rewind at
 * a full node chunk, the arena's 32-byte alignment,
 * and guard zones around buffers of every size modulo 4. Expected numbers
 * come from the math: d√x/dx = 1/(2√x), +Inf at 0. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"
#include "ad_kernel.h"   /* ad_node_alloc, the guard zones */
#include "ad_parallel.h"

/* A context with the finite check on or off, and in it y = Σ √x at
 * x = (0, 4): dy/dx = (+Inf, 1/4). */
static ad_context *sum_sqrt(bool check, ad_node **x, ad_node **y)
{
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, check);
    *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){0.0, 4.0});
    *y = ad_sum(ctx, ad_sqrt(ctx, *x), AD_ALL_AXES, false);
    assert_non_null(*y);
    return ctx;
}

/* The finite check's verdict there: sqrt's vjp made the +Inf. */
static void assert_sqrt_blamed(ad_status st)
{
    assert_int_equal(st, AD_ERR_NONFINITE);
    assert_non_null(strstr(ad_last_error(), "sqrt: its vjp for input 0 made a non-finite gradient"));
    ad_clear_error();
}

/* With the finite check off (the default), an infinite derivative is a
 * number like any other: every backward variant returns AD_OK and leaves
 * +Inf in the grad; with it on, each fails, naming sqrt. */
static void test_infinite_gradient_without_the_check(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        for (int check = 0; check < 2; check++) {
            ad_node *x, *y;
            ad_context *ctx = sum_sqrt(check, &x, &y);
            ad_backward_opts o = {variant ? AD_BACKWARD_PULL : AD_BACKWARD_PUSH, NULL, NULL, NULL};
            ad_status st = ad_backward_ex(ctx, y, &o);
            if (check) {
                assert_sqrt_blamed(st);
            } else {
                assert_int_equal(st, AD_OK);
                assert_true(isinf(ad_grad_at(x, 0)) && ad_grad_at(x, 0) > 0);
                assert_true(ad_grad_at(x, 1) == 0.25);
            }
            ad_context_free(ctx);
        }
    }
}

/* The same through ad_backward_block: two cotangents, 1 and 3. */
static void test_infinite_gradient_in_a_block(void **state)
{
    (void)state;
    for (int check = 0; check < 2; check++) {
        ad_node *x, *y;
        ad_context *ctx = sum_sqrt(check, &x, &y);
        double cot[2] = {1.0, 3.0}, g[4] = {0};
        void *grads[1] = {g};
        ad_status st = ad_backward_block(ctx, y, 2, cot, 1, &x, grads);
        if (check) {
            assert_sqrt_blamed(st);
        } else {
            assert_int_equal(st, AD_OK);
            assert_true(isinf(g[0]) && g[0] > 0 && g[1] == 0.25);
            assert_true(isinf(g[2]) && g[2] > 0 && g[3] == 0.75);
        }
        ad_context_free(ctx);
    }
}

/* Version A's hook: `done` is set on the last contribution to each input,
 * and only there. The context holds 5 nodes below the graph, so the sweep's
 * lists start at an id above 0 (list index = id - lowest id). z = x·w + x:
 * x gets two contributions (through mul and through add), w one. */
enum { MAX_STEPS = 16 };
typedef struct steps {
    int n;
    const ad_node *input[MAX_STEPS];
    bool done[MAX_STEPS];
} steps;

static void record(const ad_backward_step *s, void *user)
{
    steps *t = user;
    assert_true(t->n < MAX_STEPS);
    t->input[t->n] = s->input;
    t->done[t->n++] = s->done;
}

static void test_pull_done_above_other_nodes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    for (int i = 0; i < 5; i++) assert_non_null(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, NULL));
    const int64_t three[1] = {3};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, three, (const double[]){1, 2, 3});
    ad_node *w = ad_variable(ctx, AD_FLOAT64, 1, three, (const double[]){4, 5, 6});
    ad_node *xw = ad_mul(ctx, x, w);
    ad_node *z = ad_sum(ctx, ad_add(ctx, xw, x), AD_ALL_AXES, false);
    assert_non_null(z);
    steps t = {0};
    ad_backward_opts o = {AD_BACKWARD_PULL, NULL, record, &t};
    assert_int_equal(ad_backward_ex(ctx, z, &o), AD_OK);
    int x_steps = 0, w_steps = 0;
    for (int i = 0; i < t.n; i++) {
        bool last = true;   /* no later step into the same input */
        for (int j = i + 1; j < t.n; j++) last = last && t.input[j] != t.input[i];
        assert_int_equal(t.done[i], last);
        x_steps += t.input[i] == x;
        w_steps += t.input[i] == w;
    }
    assert_int_equal(x_steps, 2);
    assert_int_equal(w_steps, 1);
    for (int i = 0; i < 3; i++) {   /* dz/dx = w + 1, dz/dw = x */
        assert_true(ad_grad_at(x, i) == (double)(i + 4) + 1.0);
        assert_true(ad_grad_at(w, i) == (double)(i + 1));
    }
    ad_context_free(ctx);
}

/* ad_backward_block with y itself asked for, y a leaf that is not node 0:
 * its rows are the cotangents. (The sweep's lists then hold y alone, at
 * index 0; one node below y puts a list read at any other index in
 * the allocation's redzone, where AddressSanitizer sees it.) */
static void test_block_of_a_leaf_above_other_nodes(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_non_null(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){4}, NULL));
    ad_node *y = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){7, 8});
    double cot[6] = {1, 2, 3, 4, 5, 6}, g[6] = {0};
    void *grads[1] = {g};
    assert_int_equal(ad_backward_block(ctx, y, 3, cot, 1, &y, grads), AD_OK);
    for (int i = 0; i < 6; i++) assert_true(g[i] == cot[i]);
    ad_context_free(ctx);
}

/* leaf_to_device of a leaf on the CPU: refused only where there is no GPU
 * (every "no GPU found" message of the gpu module), and then with nothing
 * made; with the emulator or a GPU, a copy that keeps the leaf's name, its
 * requires-grad and its numbers. */
static void test_leaf_to_device_of_a_cpu_leaf(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_set_name(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1.5, -2}), "x");
    ad_clear_error();
    ad_node *d = ad_leaf_to_device(ctx, x);
    if (!d) {
        assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
        assert_true(strncmp(ad_last_error(), "no GPU found: ", 14) == 0);
        assert_int_equal(ad_context_node_count(ctx), 1);
    } else {
        assert_string_equal(ad_node_name(d), "x");
        assert_true(ad_requires_grad(d));
        ad_node *back = ad_to_host(ctx, d);
        assert_non_null(back);
        assert_true(ad_value_at(back, 0) == 1.5 && ad_value_at(back, 1) == -2);
    }
    ad_clear_error();
    ad_context_free(ctx);
}

/* ad_threads_for: one thread below AD_PAR_MIN_ELEMENTS or for one piece,
 * never more threads than pieces; each split (more than one thread) counts
 * once in ad_threads_split_count, on this thread; one thread is no split. */
static void test_threads_for_and_its_count(void **state)
{
    (void)state;
    int before = ad_threads();
    if (ad_set_threads(4) != AD_OK) {   /* a build without OpenMP */
        ad_clear_error();
        skip();
    }
    uint64_t c0 = ad_threads_split_count();
    assert_int_equal(ad_threads_for(8, AD_PAR_MIN_ELEMENTS - 1), 1);
    assert_int_equal(ad_threads_for(1, AD_PAR_MIN_ELEMENTS), 1);
    assert_true(ad_threads_split_count() == c0);
    assert_int_equal(ad_threads_for(8, AD_PAR_MIN_ELEMENTS), 4);
    assert_true(ad_threads_split_count() == c0 + 1);
    assert_int_equal(ad_threads_for(3, AD_PAR_MIN_ELEMENTS), 3);
    assert_true(ad_threads_split_count() == c0 + 2);
    /* on one thread nothing is split, however large: no count */
    assert_int_equal(ad_set_threads(1), AD_OK);
    assert_int_equal(ad_threads_for(8, AD_PAR_MIN_ELEMENTS), 1);
    assert_true(ad_threads_split_count() == c0 + 2);
    assert_int_equal(ad_set_threads(before), AD_OK);
}

/* The slow element paths refuse a tensor on the GPU by name (a header that
 * says AD_CUDA, here over host memory: reading device memory would crash). */
static void test_tensor_elements_on_the_gpu(void **state)
{
    (void)state;
    double buf[2] = {1, 2};
    ad_tensor t = {.data = buf, .size = 2, .shape = {2, 1, 1, 1}, .ndim = 1, .dtype = AD_FLOAT64, .device = AD_CUDA};
    ad_clear_error();
    assert_true(isnan(ad_tensor_get(&t, 0)));
    assert_string_equal(ad_last_error(), "tensor_get: the tensor is on the GPU; copy it to the host first");
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    ad_clear_error();
    ad_tensor_set(&t, 1, 5.0);
    assert_string_equal(ad_last_error(), "tensor_set: the tensor is on the GPU; copy it to the host first");
    ad_clear_error();
    assert_true(buf[0] == 1 && buf[1] == 2);
}

/* Filling a tensor of no elements (a header made by hand: the engine makes
 * none) does nothing and is no error, on the CPU or the GPU. */
static void test_fill_of_no_elements(void **state)
{
    (void)state;
    for (int dev = 0; dev < 2; dev++) {
        ad_tensor t = {.data = NULL, .size = 0, .shape = {0, 1, 1, 1}, .ndim = 1, .dtype = AD_FLOAT64,
                       .device = dev ? AD_CUDA : AD_CPU};
        ad_clear_error();
        ad_tensor_fill(&t, 3.0);
        assert_int_equal(ad_last_status(), AD_OK);
    }
}

/* mul as an op without scalar kernels: 0-d calls of it take the fast path's
 * full-node route (no compact records), or the general path. */
static const ad_op *mul_without_scalar_kernels(void)
{
    static ad_op op;
    op = ad_op_mul;
    op.scalar = NULL;
    return &op;
}

/* With grad mode off an op's result is a plain constant, whichever path
 * made it: no op, no inputs, no requires-grad. Here the fast path's full
 * scalar nodes (0-d full-node inputs, an elementwise op without scalar
 * kernels, so no compact record), and the general path (AD_FAST off) for
 * the same call. */
static void test_no_grad_scalar_is_a_constant(void **state)
{
    (void)state;
    const ad_op *mul_plain = mul_without_scalar_kernels();
    for (int fast = 0; fast < 2; fast++) {
        ad_context *ctx = ad_context_new();
        ad_set_fast_path(ctx, fast);
        ad_node *a = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
        ad_node *b = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){5});
        ad_set_grad_enabled(ctx, false);
        ad_node *y = ad_apply(ctx, mul_plain, (ad_node *const[]){a, b}, 2, NULL);
        assert_non_null(y);
        assert_true(ad_value_scalar(y) == 15.0);
        assert_null(ad_node_op(y));
        assert_string_equal(ad_node_op_name(y), "constant");
        assert_int_equal(ad_node_input_count(y), 0);
        assert_false(ad_requires_grad(y));
        ad_context_free(ctx);
    }
}

/* ad_value and ad_grad are views: the node's header with its data, owning
 * nothing (the context does), so a program that frees what it owns frees
 * neither; a NULL node gives an empty header. */
static void test_views_own_nothing(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, (const double[]){1, 2, 3});
    ad_tensor v = ad_value(x), g = ad_grad(x);
    assert_int_equal(v.owns_data, 0);
    assert_int_equal(g.owns_data, 0);
    assert_true(v.size == 3 && v.ndim == 1 && v.data != NULL && g.data != NULL && g.data != v.data);
    ad_tensor none = ad_value(NULL);
    assert_true(none.data == NULL && none.size == 0 && none.owns_data == 0);
    ad_context_free(ctx);
}

/* An op's arity is checked on every route: here an elementwise op without
 * scalar kernels, given three 0-d full nodes where it takes two (the fast
 * path's full-node route), and the same with the fast path off. */
static void test_arity_on_the_fast_route(void **state)
{
    (void)state;
    const ad_op *mul_plain = mul_without_scalar_kernels();
    for (int fast = 0; fast < 2; fast++) {
        ad_context *ctx = ad_context_new();
        ad_set_fast_path(ctx, fast);
        ad_node *in[3];
        for (int i = 0; i < 3; i++) in[i] = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2.0 + i});
        ad_clear_error();
        assert_null(ad_apply(ctx, mul_plain, in, 3, NULL));
        assert_string_equal(ad_last_error(), "mul: takes 2 to 2 inputs, 3 given");
        assert_int_equal(ad_context_node_count(ctx), 3);
        ad_clear_error();
        ad_context_free(ctx);
    }
}

/* An op whose output goes to the GPU (AD_OP_TO_CUDA) but that has no CUDA
 * kernels is refused by name, in every build, before anything is made. */
static void test_to_gpu_without_cuda_kernels(void **state)
{
    (void)state;
    static ad_op op;
    op = ad_op_neg;
    op.name = "neg_to_gpu";
    op.flags |= AD_OP_TO_CUDA;
    op.cuda = NULL;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, 2});
    ad_clear_error();
    assert_null(ad_apply(ctx, &op, &x, 1, NULL));
    assert_string_equal(ad_last_error(), "neg_to_gpu: no CUDA kernel for this op");
    assert_int_equal(ad_last_status(), AD_ERR_DEVICE);
    assert_int_equal(ad_context_node_count(ctx), 1);
    ad_clear_error();
    ad_context_free(ctx);
}

/* A rewind to a mark taken with the first node chunk exactly full (1,024
 * nodes: engine/core/ad_context.h's NODE_CHUNK0), where no node of the next
 * chunk exists: the rewind visits the nodes that remain and no further. */
static void test_rewind_at_a_full_node_chunk(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    for (int i = 0; i < 1024; i++)
        assert_non_null(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){1}, (const double[]){i}));
    assert_int_equal(ad_context_node_count(ctx), 1024);
    ad_mark m = ad_context_mark(ctx);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    assert_int_equal(ad_context_node_count(ctx), 1024);
    ad_node *y = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){5, 6});
    assert_non_null(y);
    assert_int_equal(ad_node_id(y), 1024);
    assert_true(ad_value_at(y, 1) == 6);
    ad_context_free(ctx);
}

/* Arena memory is 32-byte aligned whatever was asked before it (ad_kernel.h:
 * ad_node_alloc), and so is every value buffer: odd sizes first. */
static void test_arena_alignment(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *n = ad_variable(ctx, AD_FLOAT32, 1, (const int64_t[]){3}, NULL);   /* 12 bytes */
    const size_t sizes[] = {1, 3, 7, 12, 33, 1};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *p = ad_node_alloc(n, sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 32, 0);
    }
    ad_node *m = ad_variable(ctx, AD_FLOAT32, 1, (const int64_t[]){5}, NULL);
    assert_int_equal((uintptr_t)ad_value(m).data % 32, 0);
    assert_int_equal((uintptr_t)ad_grad(m).data % 32, 0);
    ad_context_free(ctx);
}

/* A guarded buffer of any byte count: its zone after starts at any address
 * modulo 4, and is armed (intact) right after the allocation. */
static void test_guard_zones_of_every_size(void **state)
{
    (void)state;
    for (size_t bytes = 1; bytes <= 9; bytes++) {
        unsigned char *p = ad_guarded_alloc(bytes);
        assert_non_null(p);
        for (size_t i = 0; i < bytes; i++) assert_int_equal(p[i], 0);
        memset(p, 0xa5, bytes);   /* the buffer itself is the caller's */
        int64_t where = -12345;
        assert_true(ad_guard_intact(p, bytes, &where));
        assert_int_equal(where, -12345);
        ad_guarded_free(p, bytes);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_infinite_gradient_without_the_check),
        cmocka_unit_test(test_infinite_gradient_in_a_block),
        cmocka_unit_test(test_pull_done_above_other_nodes),
        cmocka_unit_test(test_block_of_a_leaf_above_other_nodes),
        cmocka_unit_test(test_leaf_to_device_of_a_cpu_leaf),
        cmocka_unit_test(test_threads_for_and_its_count),
        cmocka_unit_test(test_tensor_elements_on_the_gpu),
        cmocka_unit_test(test_fill_of_no_elements),
        cmocka_unit_test(test_no_grad_scalar_is_a_constant),
        cmocka_unit_test(test_views_own_nothing),
        cmocka_unit_test(test_arity_on_the_fast_route),
        cmocka_unit_test(test_to_gpu_without_cuda_kernels),
        cmocka_unit_test(test_rewind_at_a_full_node_chunk),
        cmocka_unit_test(test_arena_alignment),
        cmocka_unit_test(test_guard_zones_of_every_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
