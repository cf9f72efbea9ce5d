/* test_gradcheck_crash.c: a crash is a result. Ops whose vjp raises
 * SIGSEGV, calls abort() or never returns, checked one after another with
 * correct ops as `gradcheck --all` checks them (ad_gradcheck_op_isolated):
 * each is one failed record saying what crashed and how, in every report
 * format, and the correct ops' records are all there and pass.
 *
 * Under AddressSanitizer a SIGSEGV is caught by ASan's handler, which
 * prints its report and exits with status 1: the record then says the
 * process exited before it finished, which this test accepts only in an
 * ASan build. abort() and the time limit are the same in every build. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"
#include "ad_test_op.h"

static void segv_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    (void)o, (void)s, (void)rows, (void)g, (void)gi;
    raise(SIGSEGV);   /* what a NULL dereference does, without the undefined behaviour */
}
static void abort_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    (void)o, (void)s, (void)rows, (void)g, (void)gi;
    abort();
}
static void hang_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    (void)o, (void)s, (void)rows, (void)g, (void)gi;
    for (;;) pause();
}
/* right in float64; float32's vjp aborts */
static void abort_f32_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    if (o->value.dtype == AD_FLOAT32) abort();
    ad_test_twice_vjp(o, s, rows, g, gi);
}

static const ad_op_case vec_case[] = {{"vector (6)", 1, {1}, {{6, 1, 1, 1}}, {.c = 0}}};
/* three cases, the second of which crashes the op below */
static const ad_op_case three_cases[] = {{"vector (4)", 1, {1}, {{4, 1, 1, 1}}, {.c = 0}},
                                         {"vector (9)", 1, {1}, {{9, 1, 1, 1}}, {.c = 0}},
                                         {"vector (5)", 1, {1}, {{5, 1, 1, 1}}, {.c = 0}}};
static void segv_at_9_vjp(const ad_node *o, int s, int rows, const void *g, void *gi)
{
    if (o->value.size == 9) raise(SIGSEGV);
    ad_test_twice_vjp(o, s, rows, g, gi);
}

#define OP(NAME, VJP, CASES, N)                                                                                         \
    {.name = NAME, .summary = "2x", .n_in = 1, .n_in_min = 1, .infer = ad_test_same_shape, .cpu = {ad_test_twice_fwd, VJP, ad_test_twice_jvp}, \
     .domain = {{-2, 2}}, .cases = CASES, .n_cases = N}
static const ad_op good_a = OP("good_a", ad_test_twice_vjp, vec_case, 1);
static const ad_op crash_segv = OP("crash_segv", segv_vjp, vec_case, 1);
static const ad_op crash_abort = OP("crash_abort", abort_vjp, vec_case, 1);
static const ad_op crash_hang = OP("crash_hang", hang_vjp, vec_case, 1);
static const ad_op crash_f32 = OP("crash_abort_float32", abort_f32_vjp, vec_case, 1);
static const ad_op crash_second = OP("crash_second_case", segv_at_9_vjp, three_cases, 3);
static const ad_op good_b = OP("good_b", ad_test_twice_vjp, vec_case, 1);

/* The records of op, and the one crash record among them (NULL: none). */
static const ad_gc_record *crash_of(const ad_gc_report *r, const char *op, int *n_records, int *n_failed)
{
    const ad_gc_record *c = NULL;
    *n_records = *n_failed = 0;
    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->rec[i].op, op) != 0) continue;
        ++*n_records;
        *n_failed += !r->rec[i].pass;
        if (r->rec[i].check == AD_GC_CRASH) c = &r->rec[i];
    }
    return c;
}

static ad_gc_report report;   /* the --all-style run, made once */

static int run_all(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.dtypes = AD_GC_ALL_DTYPES;
    const ad_op *ops[] = {&good_a, &crash_segv, &crash_abort, &crash_hang, &crash_f32, &crash_second, &good_b};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (ad_gradcheck_op_isolated(ops[k], NULL, &o, 1.0, &report) != AD_OK) {
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

static void test_good_ops_pass_beside_crashes(void **state)
{
    (void)state;
    int n, failed;
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "good_b" : "good_a";
        assert_null(crash_of(&report, name, &n, &failed));
        assert_int_equal(n, 8);   /* float64: rev, fwd, dot, determinism, block; float32: value, rev, fwd */
        assert_int_equal(failed, 0);
    }
    assert_int_equal(report.n_fail, 5);   /* one per crashing op, nothing else */
}

static void test_segv(void **state)
{
    (void)state;
    int n, failed;
    const ad_gc_record *c = crash_of(&report, "crash_segv", &n, &failed);
    assert_non_null(c);
    assert_int_equal(n, 1);
    assert_false(c->pass);
    assert_string_equal(c->case_label, "vector (6)");
    assert_int_equal(c->dtype, AD_FLOAT64);
    if (AD_TEST_UNDER_ASAN && strstr(c->message, "exited with status"))
        assert_non_null(strstr(c->message, "vjp crashed: the check's process exited with status 1"));
    else
        assert_string_equal(c->message, "vjp crashed (SIGSEGV)");
}

static void test_abort_and_time_limit(void **state)
{
    (void)state;
    int n, failed;
    const ad_gc_record *c = crash_of(&report, "crash_abort", &n, &failed);
    assert_non_null(c);
    assert_string_equal(c->message, "vjp crashed (SIGABRT)");
    c = crash_of(&report, "crash_hang", &n, &failed);
    assert_non_null(c);
    assert_int_equal(failed, 1);
    assert_string_equal(c->message, "vjp ran past the time limit (1 s) and was stopped");
    assert_true(c->seconds >= 1.0);
}

/* Where the crash is in float32's vjp alone, the crash record says
 * float32 (the case's float64 records, made in the same child, die with it). */
static void test_crash_in_float32_only(void **state)
{
    (void)state;
    int n, failed;
    const ad_gc_record *c = crash_of(&report, "crash_abort_float32", &n, &failed);
    assert_non_null(c);
    assert_int_equal(c->dtype, AD_FLOAT32);
    assert_string_equal(c->message, "vjp crashed (SIGABRT)");
    assert_int_equal(failed, 1);
    assert_int_equal(n, 1);   /* the case's records die with it: the crash record alone */
}

/* The first case's records come back, the second case's crash is named by
 * its label, and the third case runs in a fresh child. */
static void test_cases_around_the_crash_kept(void **state)
{
    (void)state;
    int n, failed;
    const ad_gc_record *c = crash_of(&report, "crash_second_case", &n, &failed);
    assert_non_null(c);
    assert_string_equal(c->case_label, "vector (9)");
    assert_int_equal(n, 17);   /* 8 of "vector (4)" and 8 of "vector (5)", all passing, and the crash */
    assert_int_equal(failed, 1);
    int before = 0, after = 0;
    for (int i = 0; i < report.n; i++) {
        before += !strcmp(report.rec[i].op, "crash_second_case") && !strcmp(report.rec[i].case_label, "vector (4)");
        after += !strcmp(report.rec[i].op, "crash_second_case") && !strcmp(report.rec[i].case_label, "vector (5)");
    }
    assert_int_equal(before, 8);
    assert_int_equal(after, 8);
}

static void test_every_format_reports_the_crash(void **state)
{
    (void)state;
    static char buf[1 << 18];
    for (int fmt = AD_GC_TEXT; fmt <= AD_GC_TAP; fmt++) {
        FILE *f = fmemopen(buf, sizeof buf, "w");
        assert_int_equal(ad_gc_write(f, &report, (ad_gc_format)fmt), AD_OK);
        fclose(f);
        switch (fmt) {
        case AD_GC_TEXT:
            assert_non_null(strstr(buf, "FAIL  crash_abort [float64] [vector (6)] crashed"));
            assert_non_null(strstr(buf, "      vjp crashed (SIGABRT)\n"));
            assert_non_null(strstr(buf, "PASS  good_b [float32] [vector (6)] input 0 reverse-jacobian"));
            break;
        case AD_GC_JSON: {
            cJSON *doc = cJSON_Parse(buf), *x;
            assert_non_null(doc);
            int crashes = 0;
            cJSON_ArrayForEach(x, cJSON_GetObjectItem(doc, "results"))
            {
                if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(x, "check")), "crashed") != 0) continue;
                crashes++;
                assert_true(cJSON_IsFalse(cJSON_GetObjectItem(x, "pass")));
                assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(x, "message")), "vjp "));
            }
            assert_int_equal(crashes, 5);
            assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "failed")), 5);
            cJSON_Delete(doc);
            break;
        }
        case AD_GC_JUNIT:
            assert_non_null(strstr(buf, "type=\"Crash\""));
            assert_non_null(strstr(buf, "vjp crashed (SIGABRT)"));
            break;
        default:
            assert_non_null(strstr(buf, "not ok"));
            assert_non_null(strstr(buf, "crash_hang [float64] [vector (6)] crashed"));
            assert_non_null(strstr(buf, "vjp ran past the time limit"));
        }
    }
}

/* A check that cannot start (a bad case) is an error carried over from the child, not a crash. */
static void test_errors_come_back(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    ad_op_case bad = vec_case[0];
    bad.n_in = 3;
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op_isolated(&good_a, &bad, &o, 10, &r), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "gradcheck good_a: the case has 3 inputs; the op takes 1 to 1"));
    assert_int_equal(r.n, 0);
    assert_int_equal(ad_gradcheck_op_isolated(&good_a, NULL, &o, -1, &r), AD_ERR_ARG);
    ad_gc_report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_ops_pass_beside_crashes), cmocka_unit_test(test_segv),
        cmocka_unit_test(test_abort_and_time_limit),         cmocka_unit_test(test_crash_in_float32_only),
        cmocka_unit_test(test_cases_around_the_crash_kept),  cmocka_unit_test(test_every_format_reports_the_crash),
        cmocka_unit_test(test_errors_come_back),
    };
    return cmocka_run_group_tests(tests, run_all, free_all);
}
