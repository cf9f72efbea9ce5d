/* test_formula_hessian.c: the formula command's --hessian. The lecture's
 * f(x, y) = y log x + √(y log x) at (3, 2): each entry of ∇²f against its
 * closed form (to 1e-10), the matrix symmetric, beside differences of the
 * gradient; --symbolic's second derivatives agreeing; a kink's entries shown,
 * not judged; and in JSON. */
#include <math.h>
#include <string.h>
#include <cJSON.h>
#include "ad_test.h"

static int cli(const char *args, char *out, size_t len) { return ad_test_command("AUTODIDACT", args, out, len); }

/* ∇²f of the lecture's f at (x, y), in closed form: u = y log x, f = u + √u. */
static void lecture_hessian(double x, double y, double H[2][2])
{
    double u = y * log(x), fu = 1 + 0.5 / sqrt(u), fuu = -0.25 / (u * sqrt(u));
    double ux = y / x, uy = log(x), uxx = -y / (x * x), uxy = 1 / x;
    H[0][0] = fuu * ux * ux + fu * uxx;
    H[0][1] = H[1][0] = fuu * ux * uy + fu * uxy;
    H[1][1] = fuu * uy * uy;
}

static void test_lecture_hessian_json(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(cli("'y*log(x) + sqrt(y*log(x))' --at x=3,y=2 --hessian --json", out, sizeof out), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    const cJSON *h = cJSON_GetObjectItem(doc, "hessian");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h, "agrees")));
    double H[2][2];
    lecture_hessian(3, 2, H);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double m = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "matrix"), i), j)->valuedouble;
            double d = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(h, "finite_differences"), i), j)->valuedouble;
            assert_close(m, H[i][j], 1e-10);
            assert_close(d, H[i][j], 1e-8);
        }
    assert_true(cJSON_GetObjectItem(h, "largest_asymmetry")->valuedouble <= 1e-15);
    cJSON_Delete(doc);
}

static void test_text_and_symbolic(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(cli("'y*log(x) + sqrt(y*log(x))' --at x=3,y=2 --hessian --symbolic", out, sizeof out), 0);
    assert_non_null(strstr(out, "Hessian ∇²f: column j is one Hessian-vector product H·e_j"));
    assert_non_null(strstr(out, "(agree)"));
    assert_non_null(strstr(out, "(symmetric)"));
    assert_non_null(strstr(out, "∂²f/∂x∂y = 1/x + "));
    assert_null(strstr(out, "DIFFER"));
    /* J = cos(sin(x²) + 3x²), lecture 004: J'' = -cos(s)s'² - sin(s)s'' */
    assert_int_equal(cli("'cos(sin(x^2) + 3*x^2)' --at x=1.5 --hessian --symbolic --json", out, sizeof out), 0);
    cJSON *doc = cJSON_Parse(out);
    assert_non_null(doc);
    double x = 1.5, s = sin(x * x) + 3 * x * x, s1 = 2 * x * cos(x * x) + 6 * x,
           s2 = 2 * cos(x * x) - 4 * x * x * sin(x * x) + 6;
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "hessian"), "matrix");
    assert_close(cJSON_GetArrayItem(cJSON_GetArrayItem(m, 0), 0)->valuedouble, -cos(s) * s1 * s1 - sin(s) * s2, 1e-10);
    const cJSON *xx = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "hessian"), "symbolic"), "x∂x");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(xx, "agrees")));
    cJSON_Delete(doc);
}

static void test_kink_shown_not_judged(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(cli("'relu(x)*y + x*y^2' --at x=0,y=2 --hessian --mode reverse", out, sizeof out), 0);
    assert_non_null(strstr(out, "entries through a kink are shown, not judged"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lecture_hessian_json),
        cmocka_unit_test(test_text_and_symbolic),
        cmocka_unit_test(test_kink_shown_not_judged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
