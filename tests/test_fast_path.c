/* The fast path against the plain one (ad_set_fast_path, ad_graph.h).
 *
 * The same random program runs on two contexts: one with the fast path on
 * (compact 32-byte records for scalar ops, the scalar kernels in backward)
 * and one with it off (every op through ad_apply's general path, every
 * gradient through the op's vjp). Everything a program can read is recorded
 * as it goes (every node's value after each build, every grad after each
 * backward, every tangent in forward mode, the rows of ad_backward_block)
 * and the two records must be equal bit for bit. The programs mix scalars
 * and tensors (broadcast against each other), reuse nodes (fan-out), take
 * a mark and rewind to it between rounds, run both backward versions, let
 * grads accumulate across passes or zero them, and carry 1 to 3 tangent
 * directions. 1,200 programs, float64 and float32.
 *
 * A differential test is only as good as the code it runs: each program
 * also counts the compact handles it got (bit 0 of the pointer, ad_kernel.h)
 * and the test requires many on the fast context and none on the plain one,
 * so the comparison cannot quietly become plain against plain. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "autodidact.h"

enum { N_PROGRAMS = 1200, MAX_POOL = 160 };

/* What a program read, in order: numbers and the place each came from. */
typedef struct record {
    double *v;
    const char **what;
    size_t n, cap;
    long compact_handles;   /* handles with bit 0 set: compact nodes */
} record;

static void put(record *r, double x, const char *what)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4096;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        r->what = realloc(r->what, r->cap * sizeof *r->what);
        assert_non_null(r->v);
        assert_non_null(r->what);
    }
    r->v[r->n] = x;
    r->what[r->n++] = what;
}

/* A small deterministic generator (xorshift64*), one per program, so both
 * contexts see the same draws. */
static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}
static int pick(uint64_t *s, int n) { return (int)(next(s) >> 33) % n; }
static double uniform(uint64_t *s, double lo, double hi) { return lo + (hi - lo) * (double)(next(s) >> 11) / 9007199254740992.0; }

static void count_handle(record *r, const ad_node *h)
{
    if ((uintptr_t)h & 1) r->compact_handles++;
}

/* A leaf: a 0-d scalar (ad_scalar makes a compact one on the fast path), a
 * 0-d constant, or a tensor of shape (3) or (2, 3); a variable if asked. */
static ad_node *random_leaf(ad_context *ctx, ad_dtype dt, bool tensors, bool variable, uint64_t *s)
{
    double v[6];
    for (int i = 0; i < 6; i++) v[i] = uniform(s, -1.5, 1.5);
    int kind = pick(s, tensors ? 5 : 3);
    if (variable && kind == 1) kind = 0;
    if (kind == 0) return dt == AD_FLOAT64 ? ad_scalar(ctx, v[0]) : ad_variable(ctx, dt, 0, NULL, v);
    if (kind == 1) return dt == AD_FLOAT64 ? ad_scalar_const(ctx, v[0]) : ad_constant(ctx, dt, 0, NULL, v);
    if (kind == 2) return ad_variable(ctx, dt, 0, NULL, v);
    if (kind == 3) return ad_variable(ctx, dt, 1, (const int64_t[]){3}, v);
    return ad_variable(ctx, dt, 2, (const int64_t[]){2, 3}, v);
}

/* One random op on nodes of the pool; inputs of log, sqrt and div's
 * denominator pass through sigmoid first, so every value stays finite. */
static ad_node *random_op(ad_context *ctx, ad_node *const *pool, int n, uint64_t *s)
{
    ad_node *a = pool[pick(s, n)], *b = pool[pick(s, n)];
    switch (pick(s, 20)) {
    case 0: return ad_add(ctx, a, b);
    case 1: return ad_sub(ctx, a, b);
    case 2: return ad_mul(ctx, a, b);
    case 3: return ad_div(ctx, a, ad_sigmoid(ctx, b));
    case 4: return ad_max(ctx, a, b);
    case 5: return ad_min(ctx, a, b);
    case 6: return ad_neg(ctx, a);
    case 7: return ad_scale(ctx, a, uniform(s, -2, 2));
    case 8: return ad_pow(ctx, ad_sigmoid(ctx, a), (double[]){2, 3, 0.5, -1.5, 1}[pick(s, 5)]);
    case 9: return ad_exp(ctx, ad_tanh(ctx, a));
    case 10: return ad_log(ctx, ad_sigmoid(ctx, a));
    case 11: return ad_sqrt(ctx, ad_sigmoid(ctx, a));
    case 12: return ad_sin(ctx, a);
    case 13: return ad_cos(ctx, a);
    case 14: return ad_tanh(ctx, a);
    case 15: return ad_sigmoid(ctx, a);
    case 16: return ad_relu(ctx, a);
    case 17: return ad_abs(ctx, a);
    case 18: return ad_mul(ctx, a, a);   /* fan-out: both slots the same node */
    default: return ad_sum(ctx, a, AD_ALL_AXES, false);
    }
}

static void put_node(record *r, const ad_node *n, bool grads, int dirs)
{
    ad_tensor v = ad_value(n);
    for (int64_t i = 0; i < v.size; i++) put(r, ad_value_at(n, i), "value");
    if (grads)
        for (int64_t i = 0; i < v.size; i++) put(r, ad_grad_at(n, i), "grad");
    for (int d = 0; d < dirs; d++)
        for (int64_t i = 0; i < v.size; i++) put(r, ad_tangent_at(n, d, i), "tangent");
}

/* Build a graph on the pool, reduce it to a scalar y (the sum over the
 * last few nodes and the first leaf, each summed to 0-d). Returns y; the
 * pool grows. */
static ad_node *build(ad_context *ctx, ad_node **pool, int *n, int ops, record *r, uint64_t *s)
{
    for (int k = 0; k < ops && *n < MAX_POOL - 8; k++) {
        ad_node *y = random_op(ctx, pool, *n, s);
        assert_non_null(y);
        count_handle(r, y);
        pool[(*n)++] = y;
    }
    ad_node *y = ad_sum(ctx, pool[*n - 1], AD_ALL_AXES, false);
    for (int i = 2; i <= 4 && i <= *n; i++) y = ad_add(ctx, y, ad_sum(ctx, pool[*n - i], AD_ALL_AXES, false));
    y = ad_add(ctx, y, ad_sum(ctx, pool[0], AD_ALL_AXES, false));   /* pool[0], a variable, always feeds y */
    assert_non_null(y);
    return y;
}

/* One program; everything it reads goes into r. */
static void run_program(bool fast, uint64_t seed, record *r)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    ad_context *ctx = ad_context_new();
    assert_non_null(ctx);
    ad_set_fast_path(ctx, fast);
    assert_int_equal(ad_fast_path(ctx), fast);
    ad_dtype dt = pick(&s, 4) == 0 ? AD_FLOAT32 : AD_FLOAT64;
    bool tensors = pick(&s, 3) == 0;
    int dirs = pick(&s, 4) == 0 ? 1 + pick(&s, 3) : 0;   /* forward mode in a quarter of them */
    if (dirs) assert_int_equal(ad_forward_dirs(ctx, dirs), AD_OK);

    static ad_node *pool[MAX_POOL];
    int n_leaves = 2 + pick(&s, 5), n = 0;
    for (int i = 0; i < n_leaves; i++) {
        pool[n] = random_leaf(ctx, dt, tensors, i == 0, &s);   /* the first a variable: y needs one */
        assert_non_null(pool[n]);
        count_handle(r, pool[n]);
        for (int d = 0; d < dirs; d++) {
            ad_tensor v = ad_value(pool[n]);
            double t[6];
            for (int64_t e = 0; e < v.size; e++) t[e] = uniform(&s, -1, 1);
            /* a constant has no tangent to set; the call's status is part of what is compared */
            put(r, (double)ad_set_tangent(pool[n], d, t, -1), "set_tangent status");
        }
        n++;
    }
    ad_mark m = ad_context_mark(ctx);
    int rounds = 1 + pick(&s, 3);
    for (int round = 0; round < rounds; round++) {
        int n_round = n_leaves;
        ad_node *y = build(ctx, pool, &n_round, 5 + pick(&s, 60), r, &s);
        ad_backward_opts o = {.variant = pick(&s, 2) ? AD_BACKWARD_PULL : AD_BACKWARD_PUSH};
        int passes = 1 + pick(&s, 2);   /* two: grads accumulate */
        for (int p = 0; p < passes; p++)
            if (ad_backward_ex(ctx, y, &o) != AD_OK) fail_msg("program %llu: %s", (unsigned long long)seed, ad_last_error());
        for (int i = 0; i < n_round; i++) put_node(r, pool[i], true, dirs);
        put_node(r, y, true, dirs);
        if (pick(&s, 3) == 0) {   /* many cotangents in one sweep, into every leaf */
            double cot[3] = {1, -0.5, 2};
            double grads[8][3 * 6];
            void *gp[8];
            ad_node *wrt[8];
            int n_wrt = 0;
            for (int i = 0; i < n_leaves; i++)
                if (ad_requires_grad(pool[i])) {
                    memset(grads[n_wrt], 0, sizeof grads[n_wrt]);
                    gp[n_wrt] = grads[n_wrt];
                    wrt[n_wrt++] = pool[i];
                }
            if (dt == AD_FLOAT64 && n_wrt > 0) {
                if (ad_backward_block(ctx, y, 3, cot, n_wrt, wrt, gp) != AD_OK) fail_msg("%s", ad_last_error());
                for (int i = 0; i < n_wrt; i++)
                    for (int64_t e = 0; e < 3 * ad_value(wrt[i]).size; e++) put(r, grads[i][e], "block row");
            }
        }
        if (pick(&s, 2)) ad_zero_grad(ctx);
        assert_int_equal(ad_context_rewind(ctx, m), AD_OK);
    }
    /* After the rewinds: the leaves' values and grads as a training loop would read them. */
    for (int i = 0; i < n_leaves; i++) put_node(r, pool[i], true, 0);
    put(r, (double)ad_context_node_count(ctx), "node count");
    ad_context_free(ctx);
}

static void test_fast_and_plain_agree_bit_for_bit(void **state)
{
    (void)state;
    long compact_fast = 0, compact_plain = 0;
    size_t numbers = 0;
    for (uint64_t seed = 1; seed <= N_PROGRAMS; seed++) {
        record fast = {0}, plain = {0};
        run_program(true, seed, &fast);
        run_program(false, seed, &plain);
        assert_int_equal(fast.n, plain.n);
        for (size_t i = 0; i < fast.n; i++)
            if (memcmp(&fast.v[i], &plain.v[i], sizeof(double)) != 0) {
                print_error("program %llu, number %zu (%s): fast path %.17g, plain path %.17g\n",
                            (unsigned long long)seed, i, fast.what[i], fast.v[i], plain.v[i]);
                fail();
            }
        compact_fast += fast.compact_handles;
        compact_plain += plain.compact_handles;
        numbers += fast.n;
        free(fast.v);
        free(fast.what);
        free(plain.v);
        free(plain.what);
    }
    printf("fast path vs plain: %d programs, %zu numbers equal bit for bit; compact handles %ld (fast), %ld (plain)\n",
           N_PROGRAMS, numbers, compact_fast, compact_plain);
    assert_int_equal(compact_plain, 0);
    assert_true(compact_fast > 10000);   /* the fast path really ran */
}

/* AD_FAST=0 in the environment turns it off for new contexts (read once, at
 * the first context: this test's child process sets it first). */
static void test_environment_switch(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    const char *env = getenv("AD_FAST");
    assert_int_equal(ad_fast_path(ctx), !(env && !strcmp(env, "0")));   /* on unless AD_FAST=0 */
    ad_set_fast_path(ctx, true);
    assert_true(ad_set_fast_path(ctx, false));    /* returns the previous setting */
    assert_false(ad_set_fast_path(ctx, true));
    ad_node *x = ad_scalar(ctx, 2), *y = ad_mul(ctx, x, x);
    assert_true((uintptr_t)x & 1);
    assert_true((uintptr_t)y & 1);
    ad_set_fast_path(ctx, false);
    ad_node *z = ad_mul(ctx, y, x);
    assert_false((uintptr_t)z & 1);   /* made after the switch: a full node */
    assert_int_equal(ad_backward(ctx, z), AD_OK);
    assert_close(ad_grad_scalar(x), 12, 0);   /* d(x^3)/dx = 3x^2 */
    ad_context_free(ctx);
    assert_false(ad_fast_path(ctx));   /* freed: no fast path to report */
    assert_false(ad_set_fast_path(NULL, true));
    assert_string_equal(ad_last_error(), "set_fast_path: context is NULL");
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--env-off")) {   /* the child of test_environment_off */
        ad_context *ctx = ad_context_new();
        ad_node *x = ad_scalar(ctx, 3), *y = ad_mul(ctx, x, x);
        int ok = !ad_fast_path(ctx) && !((uintptr_t)x & 1) && !((uintptr_t)y & 1);
        ad_context_free(ctx);
        return ok ? 0 : 1;
    }
    if (!getenv("AD_FAST")) {   /* AD_FAST=0: a child must see every context plain */
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "AD_FAST=0 '%s' --env-off", argv[0]);
        if (system(cmd) != 0) {
            fprintf(stderr, "AD_FAST=0 did not turn the fast path off\n");
            return 1;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_and_plain_agree_bit_for_bit),
        cmocka_unit_test(test_environment_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
