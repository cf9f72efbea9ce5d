/* test_gradcheck_dtype.c: the float32 check sees a mistake in an op's
 * float32 branch that the float64 checks cannot, reports it as float32's
 * (and float64's records pass), and leaves correct float32 kernels passing;
 * and the command's --dtype, --in-process and --time-limit. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "ad_test.h"
#include "ad_gradcheck.h"
#include "ad_kernel_util.h"
#include "ad_test_op.h"

/* y = x³ in either dtype; each rule below is right in float64, and some
 * are wrong in float32 alone: the bug a float32 branch of its own can hold. */

static ad_status cube_fwd(ad_node *o)
{
    AD_DISPATCH(o->value.dtype, {
        const T *x = o->in[0]->value.data;
        T *y = o->value.data;
        for (int64_t i = 0; i < o->value.size; i++) y[i] = x[i] * x[i] * x[i];
    });
    return AD_OK;
}

/* float32: x³ + x/2, a wrong forward value */
static ad_status cube_fwd_f32_wrong(ad_node *o)
{
    cube_fwd(o);
    if (o->value.dtype == AD_FLOAT32)
        for (int64_t i = 0; i < o->value.size; i++)
            ((float *)o->value.data)[i] += ((const float *)o->in[0]->value.data)[i] / 2;
    return AD_OK;
}

static void cube_vjp1(const ad_node *o, int s, const void *g, void *gi)
{
    (void)s;
    AD_DISPATCH(o->value.dtype, {
        const T *x = o->in[0]->value.data, *gy = g;
        T *gx = gi;
        for (int64_t i = 0; i < o->value.size; i++) gx[i] += 3 * x[i] * x[i] * gy[i];
    });
}
AD_VJP_BY_ROWS(cube_vjp, cube_vjp1)

/* float32 reads the output y = x³ where the rule needs x: 3·y²·g */
static void cube_vjp_f32_wrong1(const ad_node *o, int s, const void *g, void *gi)
{
    if (o->value.dtype != AD_FLOAT32) {
        cube_vjp1(o, s, g, gi);
        return;
    }
    const float *y = o->value.data, *gy = g;
    float *gx = gi;
    for (int64_t i = 0; i < o->value.size; i++) gx[i] += 3 * y[i] * y[i] * gy[i];
}
AD_VJP_BY_ROWS(cube_vjp_f32_wrong, cube_vjp_f32_wrong1)

static void cube_jvp(ad_node *o, int k)
{
    AD_DISPATCH(o->value.dtype, {
        const T *x = o->in[0]->value.data;
        for (int d = 0; d < k; d++) {
            const T *t = ad_tangent_row(o->in[0], d);
            T *ty = ad_tangent_row(o, d);
            for (int64_t i = 0; i < o->value.size; i++) ty[i] = t ? 3 * x[i] * x[i] * t[i] : 0;
        }
    });
}

static const ad_op_case vec_case[] = {{"vector (6)", 1, {1}, {{6, 1, 1, 1}}, {.c = 0}}};
#define CUBE_OP(NAME, FWD, VJP)                                                                                         \
    {.name = NAME, .summary = "x^3", .n_in = 1, .n_in_min = 1, .infer = ad_test_same_shape, .cpu = {FWD, VJP, cube_jvp},        \
     .domain = {{-2, 2}}, .cases = vec_case, .n_cases = 1}
static const ad_op cube_right = CUBE_OP("cube_right", cube_fwd, cube_vjp);
static const ad_op cube_vjp_f32 = CUBE_OP("cube_vjp_f32_wrong", cube_fwd, cube_vjp_f32_wrong);
static const ad_op cube_value_f32 = CUBE_OP("cube_value_f32_wrong", cube_fwd_f32_wrong, cube_vjp);

static ad_gc_report run(const ad_op *op, int dtypes, bool fast, unsigned long seed)
{
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.dtypes = dtypes;
    o.fast = fast;
    o.seed = seed;
    ad_gc_report r = {0};
    assert_int_equal(ad_gradcheck_op(op, &o, &r), AD_OK);
    return r;
}

static int count(const ad_gc_report *r, int dtype)
{
    int n = 0;
    for (int i = 0; i < r->n; i++) n += r->rec[i].dtype == dtype;
    return n;
}

/* The record of (dtype, check); fails the test where there is none. */
static const ad_gc_record *find(const ad_gc_report *r, int dtype, ad_gc_check check)
{
    for (int i = 0; i < r->n; i++)
        if (r->rec[i].dtype == dtype && r->rec[i].check == check) return &r->rec[i];
    fail_msg("no %s record for %s", ad_gc_check_name(check), dtype == AD_FLOAT32 ? "float32" : "float64");
    return NULL;
}

static void test_right_kernels_pass_both(void **state)
{
    (void)state;
    for (unsigned long seed = 1; seed <= 50; seed++) {
        ad_gc_report r = run(&cube_right, AD_GC_ALL_DTYPES, false, seed);
        assert_int_equal(r.n_fail, 0);
        assert_int_equal(count(&r, AD_FLOAT64), 5);   /* rev, fwd, dot-product, determinism, block-vs-one */
        assert_int_equal(count(&r, AD_FLOAT32), 3);   /* forward-value, reverse- and forward-jacobian */
        ad_gc_report_free(&r);
    }
}

/* The library's default is float64 alone; float32 alone gives float32's records alone. */
static void test_dtypes_option(void **state)
{
    (void)state;
    ad_gc_options o;
    ad_gc_default_options(&o);
    assert_int_equal(o.dtypes, AD_GC_FLOAT64);
    ad_gc_report r = run(&cube_vjp_f32, AD_GC_FLOAT64, false, 1);
    assert_int_equal(r.n_fail, 0);   /* float64 alone cannot see it */
    assert_int_equal(count(&r, AD_FLOAT32), 0);
    ad_gc_report_free(&r);
    r = run(&cube_vjp_f32, AD_GC_FLOAT32, false, 1);
    assert_int_equal(count(&r, AD_FLOAT64), 0);
    assert_int_equal(count(&r, AD_FLOAT32), 3);
    assert_int_equal(r.n_fail, 1);
    ad_gc_report_free(&r);
    o.dtypes = 4;
    ad_gc_report bad = {0};
    assert_int_equal(ad_gradcheck_op(&cube_right, &o, &bad), AD_ERR_ARG);
    assert_non_null(strstr(ad_last_error(), "dtypes 4"));
    ad_gc_report_free(&bad);
}

/* A wrong float32 vjp: float32's reverse-mode record fails, naming the
 * element, in full and fast mode; its forward-mode and value records and
 * every float64 record pass. */
static void test_wrong_float32_vjp(void **state)
{
    (void)state;
    for (int fast = 0; fast < 2; fast++) {
        ad_gc_report r = run(&cube_vjp_f32, AD_GC_ALL_DTYPES, fast, 1);
        for (int i = 0; i < r.n; i++)
            if (r.rec[i].dtype == AD_FLOAT64 && !r.rec[i].pass)
                fail_msg("float64 %s failed: %s", ad_gc_check_name(r.rec[i].check), r.rec[i].message);
        const ad_gc_record *rev = find(&r, AD_FLOAT32, fast ? AD_GC_FAST_REV : AD_GC_JACOBIAN_REV);
        assert_false(rev->pass);
        assert_true(rev->max_abs_err > 0.1);
        assert_non_null(strstr(rev->worst, fast ? "dx0[" : "dy["));
        assert_true(find(&r, AD_FLOAT32, fast ? AD_GC_FAST_FWD : AD_GC_JACOBIAN_FWD)->pass);
        assert_true(find(&r, AD_FLOAT32, AD_GC_VALUE)->pass);
        assert_int_equal(r.n_fail, 1);
        ad_gc_report_free(&r);
    }
}

static void test_wrong_float32_value(void **state)
{
    (void)state;
    ad_gc_report r = run(&cube_value_f32, AD_GC_ALL_DTYPES, false, 1);
    const ad_gc_record *v = find(&r, AD_FLOAT32, AD_GC_VALUE);
    assert_false(v->pass);
    assert_non_null(strstr(v->worst, "y["));
    assert_true(fabs(v->forward - v->numerical) > 0.05);   /* float32's x³ + x/2 against x³: the worst of 6 |x/2| */
    assert_true(isnan(v->reverse));
    for (int i = 0; i < r.n; i++)
        if (r.rec[i].dtype == AD_FLOAT64) assert_true(r.rec[i].pass);
    ad_gc_report_free(&r);
}

/* Each format names the dtype of each record, the failing one float32's. */
static void test_reports_name_the_dtype(void **state)
{
    (void)state;
    ad_gc_report r = run(&cube_vjp_f32, AD_GC_ALL_DTYPES, false, 1);
    static char buf[1 << 16];
    for (int fmt = AD_GC_TEXT; fmt <= AD_GC_TAP; fmt++) {
        FILE *f = fmemopen(buf, sizeof buf, "w");
        assert_int_equal(ad_gc_write(f, &r, (ad_gc_format)fmt), AD_OK);
        fclose(f);
        if (fmt == AD_GC_TEXT) {
            assert_non_null(strstr(buf, "FAIL  cube_vjp_f32_wrong [float32] [vector (6)] input 0 reverse-jacobian"));
            assert_non_null(strstr(buf, "PASS  cube_vjp_f32_wrong [float64] [vector (6)] input 0 reverse-jacobian"));
            assert_non_null(strstr(buf, "float64 "));   /* the reference named as such, not "numerical" */
        } else if (fmt == AD_GC_JSON) {
            cJSON *doc = cJSON_Parse(buf), *res = cJSON_GetObjectItem(doc, "results"), *x;
            int failed = 0;
            cJSON_ArrayForEach(x, res)
            {
                const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(x, "dtype"));
                assert_non_null(dt);
                if (cJSON_IsFalse(cJSON_GetObjectItem(x, "pass"))) {
                    assert_string_equal(dt, "float32");
                    failed++;
                }
            }
            assert_int_equal(failed, 1);
            cJSON_Delete(doc);
        } else if (fmt == AD_GC_JUNIT) {
            assert_non_null(strstr(buf, "classname=\"gradcheck.cube_vjp_f32_wrong.float32\""));
            assert_non_null(strstr(buf, "<failure"));
        } else {
            assert_non_null(strstr(buf, "not ok"));
            assert_non_null(strstr(buf, "[float32] [vector (6)] input 0 reverse-jacobian"));
            assert_non_null(strstr(buf, "dtype: \"float32\""));
        }
    }
    ad_gc_report_free(&r);
}

static int command(const char *args, char *out, size_t len) { return ad_test_command("GRADCHECK", args, out, len); }

static void test_command_options(void **state)
{
    (void)state;
    static char out[1 << 18];
    if (!getenv("GRADCHECK")) fail_msg("GRADCHECK (the command's path) is not set; run through meson test");
    assert_int_equal(command("--op relu", out, sizeof out), 0);   /* the default: both */
    assert_non_null(strstr(out, "PASS  relu [float32] [vector (7)] input 0 reverse-jacobian"));
    assert_non_null(strstr(out, "PASS  relu [float64] [vector (7)] input 0 reverse-jacobian"));
    assert_int_equal(command("--op relu --dtype float32", out, sizeof out), 0);
    assert_null(strstr(out, "[float64]"));
    assert_int_equal(command("--op relu --dtype float64", out, sizeof out), 0);
    assert_null(strstr(out, "[float32]"));
    assert_int_equal(command("--op relu --dtype float16", out, sizeof out), 2);
    /* the same report in a child process per op (the default) and in this one */
    static char in_process[1 << 18];
    assert_int_equal(command("--op conv2d --format json", out, sizeof out), 0);
    assert_int_equal(command("--op conv2d --format json --in-process", in_process, sizeof in_process), 0);
    cJSON *a = cJSON_Parse(out), *b = cJSON_Parse(in_process);
    assert_non_null(a);
    assert_non_null(b);
    cJSON *ra = cJSON_GetObjectItem(a, "results"), *rb = cJSON_GetObjectItem(b, "results");
    assert_int_equal(cJSON_GetArraySize(ra), cJSON_GetArraySize(rb));
    for (int i = 0; i < cJSON_GetArraySize(ra); i++) {   /* every field but the seconds */
        cJSON_DeleteItemFromObject(cJSON_GetArrayItem(ra, i), "seconds");
        cJSON_DeleteItemFromObject(cJSON_GetArrayItem(rb, i), "seconds");
    }
    assert_true(cJSON_Compare(a, b, true));
    cJSON_Delete(a);
    cJSON_Delete(b);
    assert_int_equal(command("--op relu --time-limit -1", out, sizeof out), 2);
}

int main(void)
{
    if (ad_op_register(&cube_right) != AD_OK || ad_op_register(&cube_vjp_f32) != AD_OK ||
        ad_op_register(&cube_value_f32) != AD_OK) {
        fprintf(stderr, "test_gradcheck_dtype: %s\n", ad_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_kernels_pass_both), cmocka_unit_test(test_dtypes_option),
        cmocka_unit_test(test_wrong_float32_vjp),       cmocka_unit_test(test_wrong_float32_value),
        cmocka_unit_test(test_reports_name_the_dtype),  cmocka_unit_test(test_command_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
