/* test_engine_pins_edges.c: the engine core at its edges, each pinned for a
 * change the other tests let through: the process's first context (serial
 * 0 is no context's), the context's table of scalar ops full, the process's
 * generation counter come round to 1, an op whose inputs are both
 * non-finite, leaf_to_device given a node that is not a leaf, a
 * backward_block too big for memory, the live set under four threads, the
 * byte a guard zone names, ad_zero_grad over records, BLAS left one
 * thread, once, ad_forward_dirs resetting tangents, and a GPU tensor given
 * to ad_from_tensor. Expected numbers come from the math
 * (small integers: exact in float64). White box where it must be:
 * ad_internal.h for ctx->gen and for what a compact handle is. */
#define _GNU_SOURCE   /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "ad_test.h"
#include "ad_test_error.h"
#include "autodidact.h"
#include "engine/fast/fast_internal.h"

/* The first two contexts this process makes (this test runs first: main
 * lists it first, and nothing before it makes a context). Serials count
 * from 1, so that a mark's context_serial of 0 means "not a mark from
 * ad_context_mark" in every context, the first ones included: a zeroed
 * mark is refused as made up, not looked up as one of the context's own.
 * (A count from 0, or one taking 1 off, gives the first or the second
 * context serial 0.) */
static void test_first_context_refuses_a_zeroed_mark(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        ad_context *ctx = ad_context_new();
        ad_mark m = ad_context_mark(ctx);
        assert_true(m.context_serial != 0);
        ad_mark zeroed;
        memset(&zeroed, 0, sizeof zeroed);
        assert_int_equal(ad_context_rewind(ctx, zeroed), AD_ERR_STATE);
        assert_error(AD_ERR_STATE,
                     "context_rewind: the mark was not taken in this context (it is not a mark from ad_context_mark)");
        assert_non_null(ad_scalar(ctx, 1.0));
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);   /* its own mark still works */
        assert_int_equal(ad_context_node_count(ctx), 0);
        ad_context_free(ctx);
    }
}

/* A context's table of scalar ops (the ops its compact nodes refer to, by
 * number) holds MAX_SCALAR_OPS = 255. Ops 1..255: copies of add, each its
 * own op (ops are told apart by address), each making a compact node; the
 * 256th, a copy of mul, finds the table full and makes a full node, whose
 * backward is mul's own: d(a·b)/da = b = 5, d(a·b)/db = a = 3 (add's
 * derivatives would give 1 and 1). */
static void test_scalar_op_table_full(void **state)
{
    (void)state;
    enum { N_OPS = MAX_SCALAR_OPS + 1 };
    static ad_op ops[N_OPS];
    for (int i = 0; i < N_OPS - 1; i++) ops[i] = ad_op_add;
    ops[N_OPS - 1] = ad_op_mul;
    ad_context *ctx = ad_context_new();
    ad_node *a = ad_scalar(ctx, 3.0), *b = ad_scalar(ctx, 5.0);
    for (int i = 0; i < N_OPS - 1; i++) {
        ad_node *s = ad_apply(ctx, &ops[i], (ad_node *const[]){a, b}, 2, NULL);
        assert_non_null(s);
        assert_true(ad_is_fast_handle(s));
        assert_true(ad_value_scalar(s) == 8.0);
    }
    assert_int_equal(fast_of(ctx)->n_scalar_ops, MAX_SCALAR_OPS);
    ad_node *y = ad_apply(ctx, &ops[N_OPS - 1], (ad_node *const[]){a, b}, 2, NULL);
    assert_non_null(y);
    assert_false(ad_is_fast_handle(y));   /* the table is full: a full node */
    assert_true(ad_value_scalar(y) == 15.0);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_true(ad_grad_scalar(a) == 5.0);
    assert_true(ad_grad_scalar(b) == 3.0);
    ad_context_free(ctx);
}

/* Generations are one counter for the process, 1..65535 (0: an untagged
 * address), and a rewind that drops nodes takes the next. Rewinds until the
 * context's generation is 1, then a full 0-d variable x made in it (its
 * handle's tag 1), dropped by a rewind, and a new variable z made at its
 * place (generation 2): the fast path, too, refuses x's handle, whose tag 1
 * is a generation like any other, and the general path names it. */
static void test_generation_one_is_checked(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_mark m = ad_context_mark(ctx);
    for (int i = 0; i < 70000 && ctx->gen != 1; i++) {
        assert_non_null(ad_scalar(ctx, 0.0));
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    }
    assert_int_equal(ctx->gen, 1);
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){3});
    assert_non_null(x);
    assert_false(ad_is_fast_handle(x));
    assert_int_equal(ad_handle_tag(x), 1);
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    assert_int_equal(ctx->gen, 2);
    ad_node *z = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){5});
    assert_ptr_equal(ad_node_addr(z), ad_node_addr(x));   /* x's memory, a new generation */
    assert_false(ad_node_in_context(ctx, x));   /* tag 1: checked like any other */
    assert_true(ad_node_in_context(ctx, z));
    ad_clear_error();
    assert_null(ad_mul(ctx, x, x));
    assert_error(AD_ERR_STATE, "mul: input 0: node #0 was dropped by a rewind of its context, and a node made since has taken "
                               "its place (now a variable); make it again after the rewind, or take the mark before "
                               "making it");
    ad_context_free(ctx);
}

/* An op whose two inputs are both non-finite (check-finite mode): the
 * first of them, input 0, is the one named as passed on. a = (NaN, 1),
 * b = (1, Inf): a + b = (NaN, Inf), first bad element [0]. */
static void test_nonfinite_blames_the_first_input(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_check_finite(ctx, true);
    const int64_t shape[1] = {2};
    ad_node *a = ad_set_name(ad_variable(ctx, AD_FLOAT64, 1, shape, (const double[]){NAN, 1}), "a");
    ad_node *b = ad_set_name(ad_variable(ctx, AD_FLOAT64, 1, shape, (const double[]){1, INFINITY}), "b");
    ad_clear_error();
    assert_null(ad_add(ctx, a, b));
    assert_error(AD_ERR_NONFINITE, "add: produced nan at [0] of its output (2) (node #2), passing on the non-finite "
                                   "values of its input 0 (node #0 variable a)");
    ad_context_free(ctx);
}

/* leaf_to_device takes a leaf on the CPU: anything else is refused by name
 * (checked before whether there is a GPU at all, so in every build). */
static void test_leaf_to_device_refuses_a_non_leaf(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){2}, (const double[]){1, 2});
    ad_node *y = ad_scale(ctx, x, 2);
    assert_int_equal(ad_node_id(y), 1);
    ad_clear_error();
    assert_null(ad_leaf_to_device(ctx, y));
    assert_error(AD_ERR_ARG, "leaf_to_device: node #1 is not a leaf on the CPU");
    ad_context_free(ctx);
}

/* A block whose scratch for an intermediate node cannot be allocated:
 * u = x·c broadcasts a 0-d variable over 2^22 numbers (32 MiB), and 2^24
 * rows of it are 2^22 · 8 · 2^24 = 2^49 bytes, more than any machine
 * gives calloc (its product does not overflow, so it is asked for). The
 * block fails with out-of-memory before it reads a cotangent or writes a
 * grad (both mapped, never touched: 2^24 numbers each). (Skipped under
 * AddressSanitizer, whose allocator aborts on such a size.) */
static void test_block_out_of_memory(void **state)
{
    (void)state;
    if (AD_TEST_UNDER_ASAN) skip();
    enum { N = 1 << 22, ROWS = 1 << 24 };
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 0, NULL, (const double[]){2});
    ad_node *c = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){N}, NULL);
    ad_node *u = ad_mul(ctx, x, c);
    ad_node *y = ad_sum(ctx, u, AD_ALL_AXES, false);
    assert_non_null(y);
    assert_int_equal(ad_node_id(u), 2);
    size_t bytes = (size_t)ROWS * sizeof(double);
    void *cot = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *gx = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(cot != MAP_FAILED && gx != MAP_FAILED);
    ad_clear_error();
    assert_int_equal(ad_backward_block(ctx, y, ROWS, cot, 1, &x, (void *const[]){gx}), AD_ERR_NOMEM);
    assert_error(AD_ERR_NOMEM, "backward_block: out of memory for a block of 562949953421312 bytes (node #2)");
    munmap(cot, bytes);
    munmap(gx, bytes);
    ad_context_free(ctx);
}

/* ad_guard_intact names the changed byte nearest the buffer: past the end,
 * its offset from p (>= bytes); before the start, a negative one. A 24-byte
 * buffer (its zone after starts at 24, the arena's round-up to 32 in it):
 * a byte changed at 24 + 40, then at 24 + 3 (in the round-up), then 3
 * before the start, then the zone's first byte, AD_GUARD_BYTES before. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define ZONE_WRITABLE(p) ASAN_UNPOISON_MEMORY_REGION((p), 1)   /* the zones are poisoned too under ASan */
#else
#define ZONE_WRITABLE(p) ((void)(p))
#endif

static void test_guard_names_the_byte(void **state)
{
    (void)state;
    unsigned char *p = ad_guarded_alloc(24);
    assert_non_null(p);
    int64_t where = 12345;
    assert_true(ad_guard_intact(p, 24, &where));
    assert_int_equal(where, 12345);   /* untouched when intact */
    const int64_t at[4] = {64, 27, -3, -AD_GUARD_BYTES};   /* (the last: the zone's first byte) */
    for (int k = 0; k < 4; k++) {
        ZONE_WRITABLE(&p[at[k]]);
        p[at[k]] ^= 0x5a;
        assert_false(ad_guard_intact(p, 24, &where));
        assert_int_equal(where, at[k]);
        ZONE_WRITABLE(&p[at[k]]);   /* (ad_guard_intact poisoned the zone again) */
        p[at[k]] ^= 0x5a;
        assert_true(ad_guard_intact(p, 24, NULL));
    }
    ad_guarded_free(p, 24);
}

/* Guard zones across a rewind: arena memory that held zones (poisoned, in
 * an AddressSanitizer build) is handed out again as a buffer, so it is
 * unpoisoned before it is zeroed (under ASan, zeroing poisoned memory
 * stops the program), and the new buffer is guarded anew. */
static void test_guard_zones_after_a_rewind(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_set_guard_zones(ctx, true);
    ad_mark m = ad_context_mark(ctx);
    for (int i = 0; i < 4; i++) assert_non_null(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){5}, NULL));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    ad_node *b = ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){300}, NULL);   /* over the old zones */
    assert_non_null(b);
    ad_tensor v = ad_value(b);
    for (int64_t i = 0; i < 300; i++) assert_true(ad_tensor_get(&v, i) == 0.0);
    for (int64_t i = 0; i < 300; i++) ad_tensor_set(&v, i, (double)i);
    assert_true(ad_guard_intact(v.data, 300 * sizeof(double), NULL));
    ad_context_free(ctx);
}

/* ad_zero_grad over a context whose scalar graph the fast path holds as
 * records, made after a rewind dropped full nodes at the same ids: the
 * records' grads are 0 after it, and nothing else is touched. The dropped
 * nodes' memory still holds their old grad pointers, into arena memory a
 * tensor made after the rewind now uses: a sweep that visited the records'
 * ids as full nodes would zero part of that tensor. */
static void test_zero_grad_over_records(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    ad_mark m = ad_context_mark(ctx);
    const double ones[3] = {1, 1, 1};
    for (int i = 0; i < 8; i++) assert_non_null(ad_variable(ctx, AD_FLOAT64, 1, (const int64_t[]){3}, ones));
    assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    double tv[64];
    for (int i = 0; i < 64; i++) tv[i] = i + 1;
    ad_node *t = ad_constant(ctx, AD_FLOAT64, 1, (const int64_t[]){64}, tv);   /* over the old buffers */
    ad_node *x = ad_scalar(ctx, 1.5), *w = ad_scalar(ctx, -2.0);
    assert_true(ad_is_fast_handle(x) && ad_is_fast_handle(w));
    ad_node *y = x;
    for (int i = 0; i < 20; i++) y = ad_add(ctx, ad_mul(ctx, y, w), x);
    assert_int_equal(ad_backward(ctx, y), AD_OK);
    assert_true(ad_grad_scalar(x) != 0 && ad_grad_scalar(w) != 0);
    ad_clear_error();
    ad_zero_grad(ctx);
    assert_int_equal(ad_last_status(), AD_OK);
    assert_true(ad_grad_scalar(x) == 0 && ad_grad_scalar(w) == 0);
    for (int i = 0; i < 64; i++)
        if (ad_value_at(t, i) != i + 1) fail_msg("t[%d] = %g after zero_grad, expected %d", i, ad_value_at(t, i), i + 1);
    ad_context_free(ctx);
}

/* The engine's first ad_threads (no ad_set_threads before it) leaves BLAS
 * one thread: the engine's own threads call it, and BLAS threads beside
 * them would oversubscribe the cores (parallel.c). Runs first, before
 * anything sets the count. */
int openblas_get_num_threads(void) __attribute__((weak));
static void test_blas_one_thread(void **state)
{
    (void)state;
    if (!openblas_get_num_threads) skip();   /* a BLAS that is not OpenBLAS */
    assert_true(ad_threads() >= 1);
    assert_int_equal(openblas_get_num_threads(), 1);
}

/* ...once: BLAS's thread count is the program's from then on. A program
 * that sets its own (openblas_set_num_threads) keeps it through the
 * engine's later ad_set_threads. */
static void test_blas_threads_set_once(void **state)
{
    (void)state;
    /* (looked up when run: the library links OpenBLAS, the test does not) */
    void (*set_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (!openblas_get_num_threads || !set_threads) skip();
    assert_true(ad_threads() >= 1);   /* the engine's first call: done before, by test_blas_one_thread */
    set_threads(2);
    assert_int_equal(ad_set_threads(1), AD_OK);
    assert_int_equal(openblas_get_num_threads(), 2);
    set_threads(1);
}

/* The live set under four threads at once: each makes and frees contexts
 * in a loop while it keeps 4 of its own, and checks after every step that
 * those are still live. The set's lock keeps one thread's remove from
 * racing another's add (an entry lost to the swap with the last one, or the
 * array moved by realloc under a scan); without it a kept context is soon
 * refused as "not live", or the test crashes. At least 20,000 steps a
 * thread, and on to 0.5 s: a race shows here in most runs, and in every
 * run under ThreadSanitizer, which .ci/run runs this test under. */
enum { CHURN_THREADS = 4, CHURN_KEPT = 4, CHURN_MIN_STEPS = 20000 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *churn(void *arg)
{
    int *lost = arg;
    ad_context *keep[CHURN_KEPT];
    for (int k = 0; k < CHURN_KEPT; k++) keep[k] = ad_context_new();
    double t0 = now();
    for (int i = 0; (i < CHURN_MIN_STEPS || now() - t0 < 0.5) && *lost == 0; i++) {
        ad_context *c = ad_context_new();
        if (!c || ad_check_context(c, "churn") != AD_OK) ++*lost;
        ad_context_free(c);
        for (int k = 0; k < CHURN_KEPT; k++)
            if (ad_check_context(keep[k], "churn") != AD_OK) ++*lost;
    }
    for (int k = 0; k < CHURN_KEPT; k++) ad_context_free(keep[k]);
    return NULL;
}

static void test_live_set_under_threads(void **state)
{
    (void)state;
    pthread_t th[CHURN_THREADS];
    int lost[CHURN_THREADS] = {0};
    for (int t = 0; t < CHURN_THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, churn, &lost[t]), 0);
    for (int t = 0; t < CHURN_THREADS; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < CHURN_THREADS; t++)
        if (lost[t]) fail_msg("thread %d: a live context was refused as not live", t);
}

/* ad_forward_dirs resets every tangent (ad_graph.h): a leaf's tangent set
 * with k = 2 is gone once k is set again, whatever the new k. */
static void test_forward_dirs_resets_tangents(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_int_equal(ad_forward_dirs(ctx, 2), AD_OK);
    int64_t s2[] = {2};
    ad_node *x = ad_variable(ctx, AD_FLOAT64, 1, s2, (double[]){1, 2});
    assert_int_equal(ad_set_tangent(x, 1, NULL, 0), AD_OK);
    assert_true(ad_has_tangent(x));
    assert_true(ad_tangent_at(x, 1, 0) == 1.0);
    assert_int_equal(ad_forward_dirs(ctx, 1), AD_OK);
    assert_false(ad_has_tangent(x));
    assert_true(ad_tangent_at(x, 0, 0) == 0.0);
    ad_context_free(ctx);
}

/* A tensor that says it is on the GPU is refused by ad_from_tensor, with
 * its own message (not the last call's); so is no tensor at all. */
static void test_from_tensor_refuses_a_gpu_tensor(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    double data[2] = {1, 2};
    ad_tensor t = {.dtype = AD_FLOAT64, .ndim = 1, .shape = {2}, .size = 2, .device = AD_CUDA, .data = data};
    ad_clear_error();
    assert_null(ad_from_tensor(ctx, &t, true));
    assert_error(AD_ERR_DEVICE, "from_tensor: the tensor is on the GPU; use the gpu module's copy");
    assert_null(ad_from_tensor(ctx, NULL, true));
    assert_error(AD_ERR_ARG, "from_tensor: tensor is NULL");
    ad_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_one_thread),   /* first: nothing has set the thread count */
        cmocka_unit_test(test_blas_threads_set_once),
        cmocka_unit_test(test_first_context_refuses_a_zeroed_mark),   /* the process's first context */
        cmocka_unit_test(test_scalar_op_table_full),
        cmocka_unit_test(test_generation_one_is_checked),
        cmocka_unit_test(test_nonfinite_blames_the_first_input),
        cmocka_unit_test(test_leaf_to_device_refuses_a_non_leaf),
        cmocka_unit_test(test_block_out_of_memory),
        cmocka_unit_test(test_live_set_under_threads),
        cmocka_unit_test(test_guard_names_the_byte),
        cmocka_unit_test(test_guard_zones_after_a_rewind),
        cmocka_unit_test(test_zero_grad_over_records),
        cmocka_unit_test(test_forward_dirs_resets_tangents),
        cmocka_unit_test(test_from_tensor_refuses_a_gpu_tensor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
