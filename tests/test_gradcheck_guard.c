/* test_gradcheck_guard.c: guard zones. Ops whose kernels write one element
 * past (or before) the buffer they are given: the forward past its output,
 * the jvp one row of directions too many (past the output's tangent), the
 * vjp past or before input 0's gradient. Their values are right, so
 * without the zones the stray write lands in the arena's next buffer and
 * no comparison sees it; with them each fails, naming the op, the dtype,
 * the mode and the buffer. A correct op passes every check in every mode
 * (no zone is disturbed by the engine itself).
 *
 * Under AddressSanitizer the zones are poisoned as well, so the stray write
 * stops the child process with ASan's report: the record then says the
 * check crashed, and in which mode. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"
#include "ad_test_op.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* y = 2x, then one element past the end written too (the planted bug: a
 * loop bound one too far) */
static ad_status fwd_past(ad_node *o)
{
    ad_test_twice_fwd(o);
    AD_DISPATCH(o->value.dtype, { ((T *)o->value.data)[o->value.size] = 2; });
    return AD_OK;
}

/* right, then one more element: past the last row of a block, or before the first */
static void vjp_past(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    ad_test_twice_vjp(o, s, rows, g, gi);
    AD_DISPATCH(o->value.dtype, { ((T *)gi)[(int64_t)rows * o->value.size] += 1; });
}
/* the same in the float32 kernel alone */
static void vjp_past_f32(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    if (o->value.dtype == AD_FLOAT32) vjp_past(o, s, rows, g, gi);
    else ad_test_twice_vjp(o, s, rows, g, gi);
}
static void vjp_before(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    ad_test_twice_vjp(o, s, rows, g, gi);
    AD_DISPATCH(o->value.dtype, { ((T *)gi)[-1] += 1; });
}

/* the directions' loop one too far: row k (past the tangent's k rows) set to 0 */
static void jvp_row_past(ad_node *o, int k)
{
    ad_test_twice_jvp(o, k);
    AD_DISPATCH(o->value.dtype, {
        T *ty = ad_tangent_row(o, k);
        for (int64_t i = 0; i < o->value.size; i++) ty[i] = 0;
    });
}

static void jvp_row_past_f32(ad_node *o, int k)
{
    if (o->value.dtype == AD_FLOAT32) jvp_row_past(o, k);
    else ad_test_twice_jvp(o, k);
}

static const ad_op_case vec_case[] = {{"vector (6)", 1, {1}, {{6, 1, 1, 1}}, {.c = 0}}};
#define OP(NAME, FWD, VJP, JVP)                                                                                        \
    {.name = NAME, .summary = "2x", .n_in = 1, .n_in_min = 1, .infer = ad_test_same_shape, .cpu = {FWD, VJP, JVP},             \
     .domain = {{-2, 2}}, .cases = vec_case, .n_cases = 1}
static const ad_op good = OP("twice", ad_test_twice_fwd, ad_test_twice_vjp, ad_test_twice_jvp);
static const ad_op bad_fwd = OP("fwd_past", fwd_past, ad_test_twice_vjp, ad_test_twice_jvp);
static const ad_op bad_jvp = OP("jvp_row_past", ad_test_twice_fwd, ad_test_twice_vjp, jvp_row_past);
static const ad_op bad_vjp = OP("vjp_past", ad_test_twice_fwd, vjp_past, ad_test_twice_jvp);
static const ad_op bad_jvp32 = OP("jvp_row_past_f32", ad_test_twice_fwd, ad_test_twice_vjp, jvp_row_past_f32);
static const ad_op bad_vjp32 = OP("vjp_past_f32", ad_test_twice_fwd, vjp_past_f32, ad_test_twice_jvp);
static const ad_op bad_vjp_before = OP("vjp_before", ad_test_twice_fwd, vjp_before, ad_test_twice_jvp);

/* The op checked in a child (the stray write may be ASan's finding), both dtypes. */
static ad_gc_report check(const ad_op *op, bool fast, int threads)
{
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.dtypes = AD_GC_ALL_DTYPES;
    o.fast = fast;
    o.threads = threads;
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op_isolated(op, NULL, &o, 60, &r), AD_OK);
    return r;
}

/* Does a failed record of dtype dt hold `text`? (In an ASan build: does one
 * say the check crashed, in dt or in float64, which stops the case before
 * its float32 checks run?) */
static bool failed_with(const ad_gc_report *r, int dt, const char *text)
{
    for (int i = 0; i < r->n; i++) {
        if (r->rec[i].pass) continue;
        if (UNDER_ASAN && r->rec[i].check == AD_GC_CRASH && (r->rec[i].dtype == dt || r->rec[i].dtype == AD_FLOAT64))
            return true;
        if (r->rec[i].dtype == dt && strstr(r->rec[i].message, text)) return true;
    }
    return false;
}

static void test_correct_op_disturbs_no_zone(void **state)
{
    (void)state;
    for (int fast = 0; fast < 2; fast++) {
        ad_gc_report r = check(&good, fast, fast ? 1 : 2);
        assert_true(r.n >= 5);
        assert_int_equal(r.n_fail, 0);
        ad_gc_report_free(&r);
    }
}

static void test_forward_past_its_output(void **state)
{
    (void)state;
    ad_gc_report r = check(&bad_fwd, false, 1);
    assert_true(r.n_fail > 0);
    assert_true(failed_with(&r, AD_FLOAT64, "fwd_past [float64] forward wrote past its output (element 6 of 6)"));
    assert_true(failed_with(&r, AD_FLOAT32, "fwd_past [float32] forward wrote past its output (element 6 of 6)"));
    ad_gc_report_free(&r);
}

/* One row of directions too many: the forward-mode Jacobian's jvp takes 6
 * directions (6 rows of 6), the dot-product check's one. */
static void test_jvp_row_past_its_tangent(void **state)
{
    (void)state;
    ad_gc_report r = check(&bad_jvp, false, 1);
    assert_true(r.n_fail > 0);
    assert_true(failed_with(&r, AD_FLOAT64,
                            "jvp_row_past [float64] jvp wrote past its output's tangent (element 36 of 36, 6 rows of 6)"));
    assert_true(failed_with(&r, AD_FLOAT64, "jvp_row_past [float64] jvp wrote past its output's tangent (element 6 of 6)"));
    ad_gc_report_free(&r);
    r = check(&bad_jvp32, false, 1);   /* float32's jvp alone: 6 directions, against float64's */
    assert_true(failed_with(&r, AD_FLOAT32,
                            "jvp_row_past_f32 [float32] jvp wrote past its output's tangent (element 36 of 36, 6 rows of 6)"));
    assert_false(failed_with(&r, AD_FLOAT64, ""));
    ad_gc_report_free(&r);
    r = check(&bad_jvp, true, 1);   /* fast mode: one direction */
    assert_true(failed_with(&r, AD_FLOAT64, "jvp_row_past [float64] jvp wrote past its output's tangent (element 6 of 6)"));
    ad_gc_report_free(&r);
}

/* Past the last row of a block (the Jacobian's 6 rows in one sweep), past
 * one cotangent's gradient (the path training takes), and before it. */
static void test_vjp_past_and_before_its_gradient(void **state)
{
    (void)state;
    ad_gc_report r = check(&bad_vjp, false, 2);
    assert_true(failed_with(&r, AD_FLOAT64, "vjp_past [float64] vjp wrote past input 0's gradient (element 36 of 36, 6 rows of 6)"));
    assert_true(failed_with(&r, AD_FLOAT64, "vjp_past [float64] vjp wrote past input 0's gradient (element 6 of 6)"));
    ad_gc_report_free(&r);
    r = check(&bad_vjp32, false, 1);   /* float32's vjp alone: a backward pass per row */
    assert_true(failed_with(&r, AD_FLOAT32, "vjp_past_f32 [float32] vjp wrote past input 0's gradient (element 6 of 6)"));
    assert_false(failed_with(&r, AD_FLOAT64, ""));
    ad_gc_report_free(&r);
    r = check(&bad_vjp_before, false, 1);
    assert_true(failed_with(&r, AD_FLOAT64, "vjp_before [float64] vjp wrote before input 0's gradient (element -1 of 6)"));
    ad_gc_report_free(&r);
}

/* The engine's side: with guards on, a buffer's zones find a stray byte on
 * either side, and say where; off, buffers are packed as before. */
static void test_engine_zones(void **state)
{
    (void)state;
    ad_context *ctx = ad_context_new();
    assert_false(ad_set_guard_zones(ctx, true));
    int64_t shape[1] = {5}, where = 0;
    ad_node *x = ad_variable(ctx, AD_FLOAT32, 1, shape, NULL);
    float *v = ad_node_of(x)->value.data;
    assert_true(ad_guard_intact(v, 5 * sizeof(float), &where));
    if (!UNDER_ASAN) {   /* (there the stray write would be ASan's finding) */
        v[5] = 1;   /* in the arena's round-up: guarded too */
        assert_false(ad_guard_intact(v, 5 * sizeof(float), &where));
        /* the first of 1.0f's bytes that differs from the zone's there (the
         * zone's bytes are a hash of the address: one may equal 1.0f's) */
        int64_t first = 20;
        while (first < 24 && ((unsigned char *)v)[first] == ad_guard_byte((unsigned char *)v + first)) first++;
        assert_true(first < 24);
        assert_int_equal(where, first);
        for (int j = 0; j < 4; j++) ((unsigned char *)&v[5])[j] = ad_guard_byte((unsigned char *)&v[5] + j);
        assert_true(ad_guard_intact(v, 5 * sizeof(float), &where));
        v[-1] = 1;   /* 1.0f's last byte (0x3F) is the one just before v */
        assert_false(ad_guard_intact(v, 5 * sizeof(float), &where));
        assert_int_equal(where, -1);
    }
    ad_context_free(ctx);
    void *p = ad_guarded_alloc(24);
    assert_non_null(p);
    assert_true(ad_guard_intact(p, 24, NULL));
    ad_guarded_free(p, 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_correct_op_disturbs_no_zone),
        cmocka_unit_test(test_forward_past_its_output),
        cmocka_unit_test(test_jvp_row_past_its_tangent),
        cmocka_unit_test(test_vjp_past_and_before_its_gradient),
        cmocka_unit_test(test_engine_zones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
