/* test_gradcheck_paths.c: gradcheck checks every path an op lists
 * (ad_op.paths), and a wrong path fails by name while the right one passes.
 *
 * Two test ops compute y = 2x, each with a path that is wrong:
 *   - "sized": paths by size, threshold SIZED_MIN = 4 (tiny, so both sides are
 *     cheap): small (n < 4) right; big (n >= 4) adds 3·g instead of 2·g in its
 *     vjp. Probes: small n = 3 and big n = 5 (full Jacobians), big n = 2000
 *     (too large for them: random directions <u, J v>);
 *   - "split": a threaded path wrong on 2+ threads alone (the last element's
 *     vjp 3·g there): serial right at n = 3; split (n = 5000, 2+ threads,
 *     reference serial) fails the bit-for-bit check against one thread, while
 *     its directions (on one thread) pass. In a build without OpenMP the
 *     split path cannot run, and its one record says so and passes.
 * And two right ones with a threaded path (probe n = 20000), to see that the
 * probe must reach it: "reached" asks ad_threads_for for its threads, as the
 * ops' kernels do, and passes; "unreached" never does (its path is one thread
 * whatever the count), and its path check fails saying the probe does not
 * reach the path.
 * Each is run as `gradcheck --all` runs it (ad_gradcheck_op_isolated). */
#include <string.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"
#include "ad_test_op.h"
#include "ad_test_report.h"

enum { SIZED_MIN = 4, SPLIT_N = 5000 };

/* dx += 2·dy, but 3·dy on the big path (n >= SIZED_MIN) */
static void sized_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    int64_t n = o->value.size;
    AD_DISPATCH(o->value.dtype, {
        const T *gy = g;
        T *gx = gi;
        for (int64_t i = 0; i < n; i++) gx[i] += (n < SIZED_MIN ? 2 : 3) * gy[i];
    });
}
AD_VJP_BY_ROWS(sized_vjp, sized_vjp1)

/* dx += 2·dy, but the last element gets 3·dy on 2+ threads */
static void split_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    int64_t n = o->value.size;
    bool split = ad_threads() > 1 && n >= 64;
    AD_DISPATCH(o->value.dtype, {
        const T *gy = g;
        T *gx = gi;
        for (int64_t i = 0; i < n; i++) gx[i] += (split && i == n - 1 ? 3 : 2) * gy[i];
    });
}
AD_VJP_BY_ROWS(split_vjp, split_vjp1)

/* dx += 2·dy; "reached" takes its thread count from ad_threads_for (in
 * blocks of 4096) first, as a real kernel would, "unreached" does not */
static void reached_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)ad_threads_for(o->value.size / 4096 + 1, o->value.size);
    ad_test_twice_vjp1(o, s, g, gi);
}
AD_VJP_BY_ROWS(reached_vjp, reached_vjp1)

#define VEC(LABEL, N) {LABEL, 1, {1}, {{N, 1, 1, 1}}, {.c = 0}}
static const ad_op_case one_case[] = {VEC("vector (3)", 3)};
static const ad_op_path sized_paths[] = {
    {"small", "n < 4", 0, 1, NULL, VEC("n = 3", 3)},
    {"big", "n >= 4", SIZED_MIN, 1, NULL, VEC("n = 5", 5)},
    {"big-large", "n >= 4, probe too large for full Jacobians", SIZED_MIN, 1, NULL, VEC("n = 2000", 2000)},
};
static const ad_op_path split_paths[] = {
    {"serial", "1 thread", 0, 1, NULL, VEC("n = 3", 3)},
    {"split", "n >= 64 on 2+ threads", 64, 2, "serial", VEC("n = 5000", SPLIT_N)},
};
static const ad_op_path threaded_paths[] = {
    {"serial", "1 thread", 0, 1, NULL, VEC("n = 3", 3)},
    {"threaded", "n >= 16384 on 2+ threads", 16384, 2, "serial", VEC("n = 20000", 20000)},
};
#define OP(NAME, VJP, PATHS)                                                                                           \
    {.name = NAME, .summary = "2x", .n_in = 1, .n_in_min = 1, .infer = ad_test_same_shape, .cpu = {ad_test_twice_fwd, VJP, ad_test_twice_jvp}, \
     .domain = {{-2, 2}}, .cases = one_case, .n_cases = 1, .paths = PATHS,                                             \
     .n_paths = sizeof PATHS / sizeof PATHS[0]}
static const ad_op sized = OP("sized", sized_vjp, sized_paths);
static const ad_op split = OP("split", split_vjp, split_paths);
static const ad_op reached = OP("reached", reached_vjp, threaded_paths);
static const ad_op unreached = OP("unreached", ad_test_twice_vjp, threaded_paths);

static ad_gc_report report;

static int run_all(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.dtypes = AD_GC_ALL_DTYPES;
    const ad_op *ops[] = {&sized, &split, &reached, &unreached};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (ad_gradcheck_op_isolated(ops[k], NULL, &o, 60, &report) != AD_OK) {
            fprintf(stderr, "%s: %s\n", ops[k]->name, ad_last_error());
            return -1;
        }
    return 0;
}

static int free_all(void **state)
{
    (void)state;
    ad_gc_report_free(&report);
    return 0;
}

/* op's records whose case label starts with `label`: how many, how many
 * failed, and how many of the given check (-1: any). */
static void count(const char *op, const char *label, int check, int *n, int *failed, int *of_check)
{
    *n = *failed = *of_check = 0;
    for (int i = 0; i < report.n; i++) {
        const ad_gc_record *r = &report.rec[i];
        if (strcmp(r->op, op) != 0 || strncmp(r->case_label, label, strlen(label)) != 0) continue;
        ++*n;
        *failed += !r->pass;
        *of_check += check < 0 || (int)r->check == check;
    }
}

static void test_the_default_case_passes(void **state)
{
    (void)state;
    int n, failed, c;
    count("sized", "vector (3)", -1, &n, &failed, &c);
    assert_int_equal(n, 8);
    assert_int_equal(failed, 0);
}

static void test_small_path_passes_big_path_fails(void **state)
{
    (void)state;
    int n, failed, rev;
    count("sized", "path small: n = 3", AD_GC_JACOBIAN_REV, &n, &failed, &rev);
    assert_int_equal(n, 8);   /* checked in full, as a case */
    assert_int_equal(failed, 0);
    count("sized", "path big: n = 5", AD_GC_JACOBIAN_REV, &n, &failed, &rev);
    assert_int_equal(n, 8);
    /* float64's reverse-mode Jacobian and dot product; float32's agrees with
     * float64's (both wrong alike), which is what its check asks */
    assert_int_equal(failed, 2);
    for (int i = 0; i < report.n; i++) {
        const ad_gc_record *r = &report.rec[i];
        if (!strcmp(r->op, "sized") && !strcmp(r->case_label, "path big: n = 5") && r->check == AD_GC_JACOBIAN_REV &&
            r->dtype == AD_FLOAT64) {
            assert_false(r->pass);
            assert_close(r->reverse, 3, 1e-12);   /* the wrong path's derivative, against 2 */
            assert_close(r->numerical, 2, 1e-6);
        }
    }
}

/* Too large for full Jacobians: the random-direction check finds it. */
static void test_large_probe_fails_by_directions(void **state)
{
    (void)state;
    int n, failed, dir;
    count("sized", "path big-large: n = 2000", AD_GC_DIRECTION, &n, &failed, &dir);
    assert_int_equal(n, 2);   /* float64 and float32 */
    assert_int_equal(dir, 2);
    assert_int_equal(failed, 2);
    for (int i = 0; i < report.n; i++) {
        const ad_gc_record *r = &report.rec[i];
        if (strcmp(r->op, "sized") || r->check != AD_GC_DIRECTION) continue;
        assert_non_null(strstr(r->message, "path big-large (n >= 4, probe too large for full Jacobians) on 1 thread"));
        if (r->dtype == AD_FLOAT64) {
            /* y = 2x: <u, J v> = 2<u, v>, the vjp's 3<u, v>: 1.5 times forward mode's */
            assert_close(r->reverse / r->forward, 1.5, 1e-9);
            assert_close(r->numerical / r->forward, 1, 1e-6);
        }
    }
}

static void test_threaded_path_fails_against_one_thread(void **state)
{
    (void)state;
    int n, failed, c;
    count("split", "path serial: n = 3", -1, &n, &failed, &c);
    assert_int_equal(n, 8);
    assert_int_equal(failed, 0);
    count("split", "path split, 2+ threads: n = 5000", AD_GC_PATHS, &n, &failed, &c);
    if (ad_set_threads(2) != AD_OK) {   /* no OpenMP: the path cannot run, and its record says so */
        assert_int_equal(n, 1);
        assert_int_equal(failed, 0);
        return;
    }
    ad_set_threads(1);
    assert_int_equal(n, 4);   /* random directions (float64, float32), 1 vs 2 threads (float64, float32) */
    assert_int_equal(c, 2);
    assert_int_equal(failed, 2);
    for (int i = 0; i < report.n; i++) {
        const ad_gc_record *r = &report.rec[i];
        if (strcmp(r->op, "split") || strncmp(r->case_label, "path split", 10) != 0) continue;
        if (r->check == AD_GC_DIRECTION) {
            assert_true(r->pass);   /* on one thread the op is right */
            continue;
        }
        assert_int_equal(r->check, AD_GC_PATHS);
        assert_false(r->pass);
        char want[160];
        snprintf(want, sizeof want,
                 "path split (n >= 64 on 2+ threads): vjp of input 0 on 2 threads differs from path serial on 1 "
                 "thread at element %d", SPLIT_N - 1);
        assert_non_null(strstr(r->message, want));
    }
}

/* A threaded path's probe must reach it: its kernels asked ad_threads_for
 * and were given 2+ threads in the probe's passes, or the check would
 * compare the one-thread path with itself. */
static void test_a_probe_must_reach_its_threaded_path(void **state)
{
    (void)state;
    if (ad_set_threads(2) != AD_OK) skip();   /* no OpenMP: no threaded path to reach */
    ad_set_threads(1);
    int n, failed, c;
    count("reached", "path threaded, 2+ threads: n = 20000", AD_GC_PATHS, &n, &failed, &c);
    assert_int_equal(c, 2);   /* float64, float32 */
    assert_int_equal(failed, 0);
    count("unreached", "path threaded, 2+ threads: n = 20000", AD_GC_PATHS, &n, &failed, &c);
    assert_int_equal(c, 2);
    assert_int_equal(failed, 2);
    for (int i = 0; i < report.n; i++) {
        const ad_gc_record *r = &report.rec[i];
        if (strcmp(r->op, "unreached") || r->check != AD_GC_PATHS) continue;
        assert_false(r->pass);
        assert_non_null(strstr(r->message, "path threaded (n >= 16384 on 2+ threads): no kernel split its work over "
                                           "2 threads in the probe's passes: the probe does not reach the path"));
    }
}

/* The user's own case (gradcheck --op X --shape S) on 1 and 2+ threads: at
 * a size where no kernel splits its work there is nothing to compare, and
 * the record says "not checked", passing (the text report shows it as SKIP);
 * at a size past the threshold the threads' bits are compared. */
static void test_a_users_small_case_is_not_checked_on_threads(void **state)
{
    (void)state;
    if (ad_set_threads(2) != AD_OK) skip();
    ad_set_threads(1);
    ad_gc_options o;
    ad_gc_default_options(&o);
    const ad_op_case small = VEC("small", 3), big = VEC("big", 20000);
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_case_threads(&reached, &small, &o, &r), AD_OK);
    assert_int_equal(ad_gradcheck_case_threads(&reached, &big, &o, &r), AD_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.n_fail, 0);
    assert_string_equal(r.rec[0].message,
                        "not checked: at this size no kernel of reached splits its work over 2 threads (each runs one "
                        "below its threshold), so there is no threaded pass to compare; the case's own checks above are "
                        "the whole check");
    assert_string_equal(r.rec[1].message, "forward, vjp and jvp: the same bits on 1 and 2 threads");
    char *text = ad_test_report_text(&r, AD_GC_TEXT);
    assert_non_null(strstr(text, "SKIP  reached [float64] [small, on 1 and 2+ threads] path-vs-1-thread"));
    assert_non_null(strstr(text, "PASS  reached [float64] [big, on 1 and 2+ threads] path-vs-1-thread"));
    assert_non_null(strstr(text, "1 passed, 0 failed, 1 not checked\n"));
    free(text);
    ad_gc_report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_default_case_passes),
        cmocka_unit_test(test_small_path_passes_big_path_fails),
        cmocka_unit_test(test_large_probe_fails_by_directions),
        cmocka_unit_test(test_threaded_path_fails_against_one_thread),
        cmocka_unit_test(test_a_probe_must_reach_its_threaded_path),
        cmocka_unit_test(test_a_users_small_case_is_not_checked_on_threads),
    };
    return cmocka_run_group_tests(tests, run_all, free_all);
}
