/* test_lesson_slips.c: issue 31, round 3: the slips that were not yet shown
 * by computation, each pinned by its slip line in the text and its numbers
 * recomputed here from the math (the lessons' inputs regenerated or read as
 * data; no result copied from a lesson), at the defaults and at random inputs:
 *   mlp          004-case2-ranges, 000-dLdW-last-row
 *   convolution  000-conv-index-order, 000-conv-limits, 000-conv-index-clash, 003-conv-programmers
 *   sgd_variants 001-shuffled-last-step
 * Program paths come from meson in the environment (NAME in upper case). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "ad_test.h"
#include "ad_test_lesson.h"

enum { OUT_MAX = 1 << 20 };
static char out[OUT_MAX];

/* Run NAME ARGS, stdout into out (stderr dropped); the exit status. */
static int run(const char *name, const char *args) { return ad_test_lesson_run(name, args, out, sizeof out); }
static cJSON *run_json(const char *name, const char *args) { return ad_test_lesson_json(name, args, out, sizeof out); }

/* NaN never passes: both sides finite and within tol·max(1, |want|). */
static bool close_to(double got, double want, double tol)
{
    return isfinite(got) && isfinite(want) && fabs(got - want) <= tol * fmax(1.0, fabs(want));
}

static const cJSON *slip(const cJSON *doc, const char *id)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "slips");
    for (const cJSON *c = arr ? arr->child : NULL; c; c = c->next)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(c, "id")->valuestring, id)) return c;
    fail_msg("slip %s is not in the JSON", id);
    return NULL;
}

/* The array doc[key] as n doubles into v (fails on another length). */
static void numbers(const cJSON *o, const char *key, double *v, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) fail_msg("%s is not an array of %d numbers", key, n);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(e)) fail_msg("%s[%d] is not a number", key, i);
        v[i] = e->valuedouble;
    }
}

/* Slip `id` in doc: its slide, right and reference are want_slide, want_right (each within tol);
 * the reference agrees with the right one; the slide differs from it somewhere (really a slip
 * here); the flags say so. want_slide NULL: the slide's route is undefined (an empty "slide" and
 * a "slide_undefined" reason containing `why`). */
static void pin_slip(const cJSON *doc, const char *id, const double *want_slide, const double *want_right, int n,
                     double tol, const char *why)
{
    const cJSON *s = slip(doc, id);
    double sl[64], rt[64], rf[64];
    assert_true(n <= 64);
    numbers(s, "right", rt, n);
    numbers(s, "reference", rf, n);
    int off = 0;
    for (int i = 0; i < n; i++) {
        if (!close_to(rt[i], want_right[i], tol)) fail_msg("%s: right[%d] = %.17g, the math gives %.17g", id, i, rt[i], want_right[i]);
        if (!close_to(rf[i], want_right[i], 1e-6)) fail_msg("%s: reference[%d] = %.17g, the math gives %.17g", id, i, rf[i], want_right[i]);
    }
    if (want_slide) {
        numbers(s, "slide", sl, n);
        for (int i = 0; i < n; i++) {
            if (!close_to(sl[i], want_slide[i], tol)) fail_msg("%s: slide[%d] = %.17g, the math gives %.17g", id, i, sl[i], want_slide[i]);
            off += !close_to(want_slide[i], want_right[i], 1e-6);
        }
        if (off == 0) fail_msg("%s: the slide's version is right everywhere here (no slip shown)", id);
    } else {
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "slide")), 0);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(s, "slide_undefined");
        if (!cJSON_IsString(w) || !strstr(w->valuestring, why)) fail_msg("%s: the undefined route does not say '%s'", id, why);
    }
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "slide_agrees")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "right_agrees")));
}

/* The slip's line in the text: "  Slip ID [LECTURE]: WHAT-START". */
static void pin_line(const char *id, const char *lecture, const char *what)
{
    char want[512];
    snprintf(want, sizeof want, "  Slip %s [%s]: %s", id, lecture, what);
    if (!strstr(out, want)) fail_msg("no line '%s'", want);
}

static double sigmoid(double t) { return 1 / (1 + exp(-t)); }

/* 1. mlp, Case 2's ranges: x = (1, x₁, x₂) (M = 2), D = 4 hidden units, α (4×3) then β (4) drawn
 * N(0,1) from mt19937 seeded with --seed. dJ/dx_i = Σ_{j=1}^{4} dJ/da_j α_ji; the slide read with
 * Case 1's D (= M = 2) sums j = 1..2 (its j = 0 names no a₀). Also 000's last row of ∂L/∂W. */
static void test_mlp_case2_ranges(void **state)
{
    (void)state;
    srand(3131);
    for (int k = 0; k < 5; k++) {
        double x1 = k ? -2 + 4.0 * rand() / RAND_MAX : 0.5, x2 = k ? -2 + 4.0 * rand() / RAND_MAX : -1.5;
        double ys = k % 2;
        unsigned long seed = k ? (unsigned long)(1 + rand() % 1000) : 3;
        char args[256];
        snprintf(args, sizeof args, "--x1 %.17g --x2 %.17g --ystar %g --seed %lu", x1, x2, ys, seed);
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, seed);
        double al[12], be[4], x[3] = {1, x1, x2};
        for (int i = 0; i < 12; i++) al[i] = gsl_ran_gaussian(rng, 1.0);
        for (int j = 0; j < 4; j++) be[j] = gsl_ran_gaussian(rng, 1.0);
        gsl_rng_free(rng);
        double z[4], bsum = 0;
        for (int j = 0; j < 4; j++) {
            z[j] = sigmoid(al[3 * j] * x[0] + al[3 * j + 1] * x[1] + al[3 * j + 2] * x[2]);
            bsum += be[j] * z[j];
        }
        double y = sigmoid(bsum), dJdb = (ys / y - (1 - ys) / (1 - y)) * y * (1 - y);
        double slide[3] = {0, 0, 0}, right[3] = {0, 0, 0};
        for (int j = 0; j < 4; j++) {
            double dJda = dJdb * be[j] * z[j] * (1 - z[j]);
            for (int i = 0; i < 3; i++) {
                right[i] += dJda * al[3 * j + i];
                if (j < 2) slide[i] += dJda * al[3 * j + i];
            }
        }
        cJSON *doc = run_json("mlp", args);
        pin_slip(doc, "004-case2-ranges", slide, right, 3, 1e-9, NULL);
        /* 000's last row: h¹ = W h⁰, L = Σ t_i tanh(h¹_i), ∂L/∂h¹_i = t_i (1 − tanh² h¹_i) */
        const cJSON *fc = cJSON_GetObjectItemCaseSensitive(doc, "fc000");
        double W[9], h0[3], t[3] = {1, -2, 0.5}, g[3];
        numbers(fc, "W", W, 9);
        numbers(fc, "h0", h0, 3);
        for (int i = 0; i < 3; i++) {
            double h1 = W[3 * i] * h0[0] + W[3 * i + 1] * h0[1] + W[3 * i + 2] * h0[2];
            g[i] = t[i] * (1 - tanh(h1) * tanh(h1));
        }
        double last_slide[3], last_right[3];
        for (int j = 0; j < 3; j++) last_slide[j] = g[1] * h0[j], last_right[j] = g[2] * h0[j];
        pin_slip(doc, "000-dLdW-last-row", last_slide, last_right, 3, 1e-9, NULL);
        cJSON_Delete(doc);
        assert_int_equal(run("mlp", args), 0);
        pin_line("004-case2-ranges", "004, Backpropagation, Case 2: Neural Network (Backward, dJ/dx_i)",
                 "dJ/dx_i = Σ_{j=0}^D dJ/da_j α_ji reuses Case 1's D");
        assert_non_null(strstr(out, "Case 2's index ranges: inputs x₀..x_M (M = 2, x₀ = 1), hidden units z₁..z_D (D = 4)"));
        pin_line("000-dLdW-last-row", "000, Multi-Layer Perceptrons (b), the matrix ∂L/∂W",
                 "the matrix's last row is written ∂L/∂h₂ · h^(l−1)ᵀ");
    }
}

/* 2-3. convolution: lecture 000's index order, limits and index clash, lecture 003's programmer's
 * formula, on the lesson's 7×7 image x and 3×3 kernel w (read from its JSON as data). */
static double px(const double *x, int r, int c) { return r < 0 || r > 6 || c < 0 || c > 6 ? 0 : x[r * 7 + c]; }

static void test_convolution_formulas(void **state)
{
    (void)state;
    const char *argsets[3] = {"", "--W 20 --F 3 --S 2 --P 1", "--K 4 --D 2"};
    for (int k = 0; k < 3; k++) {
        cJSON *doc = run_json("convolution", argsets[k]);
        double x[49], w[9];
        numbers(doc, "image", x, 49);
        numbers(doc, "custom_kernel", w, 9);
        /* index order: slide Σ_{a,b} x[a,b] w[a−r, b−c] = Σ x[r+a, c+b] w[a,b]; right Σ x[a,b] w[r−a, c−b]
         * = Σ x[r−a, c−b] w[a,b]; w centred, indices −1..1 */
        double cor[49], conv[49];
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 7; c++) {
                double s1 = 0, s2 = 0;
                for (int a = 0; a < 7; a++)
                    for (int b = 0; b < 7; b++) {
                        int u = a - r, v = b - c;   /* w[a−r, b−c] */
                        if (abs(u) <= 1 && abs(v) <= 1) s1 += x[a * 7 + b] * w[(u + 1) * 3 + v + 1];
                        if (abs(r - a) <= 1 && abs(c - b) <= 1) s2 += x[a * 7 + b] * w[(r - a + 1) * 3 + c - b + 1];
                    }
                cor[r * 7 + c] = s1, conv[r * 7 + c] = s2;
            }
        pin_slip(doc, "000-conv-index-order", cor, conv, 49, 1e-12, NULL);
        /* limits: −(H+1)/2..(H+1)/2 is H + 2 integers; a centred kernel −(H−1)/2..(H−1)/2 is H */
        double lim_slide[2] = {3 + 2, 3 + 2}, lim_right[2] = {3, 3};
        pin_slip(doc, "000-conv-limits", lim_slide, lim_right, 2, 0, NULL);
        /* clash: y[a,c] with the inner a shadowing the row: every row Σ_a Σ_b x[2a, c+b] w[a,b];
         * right, valid: y[r,c] = Σ_a Σ_b x[r+a, c+b] w[a,b], a, b = 0..2 */
        double shadow[25], valid[25];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 5; c++) {
                double s1 = 0, s2 = 0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) {
                        s1 += px(x, 2 * a, c + b) * w[a * 3 + b];
                        s2 += px(x, r + a, c + b) * w[a * 3 + b];
                    }
                shadow[r * 5 + c] = s1, valid[r * 5 + c] = s2;
            }
        pin_slip(doc, "000-conv-index-clash", shadow, valid, 25, 1e-12, NULL);
        pin_slip(doc, "003-conv-programmers", NULL, valid, 25, 1e-12, "the left's column c does not occur on the right");
        cJSON_Delete(doc);
        assert_int_equal(run("convolution", argsets[k]), 0);
        pin_line("000-conv-index-order", "000, Convolutions: 2D and discrete (CS) definitions",
                 "the kernel's index w[a−r, b−c] (with x[a,b]) runs the kernel forwards");
        pin_line("000-conv-limits", "000, Convolutions: the finite-matrix definition",
                 "Σ_{a=−(H+1)/2}^{(H+1)/2} Σ_{b=−(W+1)/2}^{(W+1)/2} over an H×W kernel takes H + 2 values");
        pin_line("000-conv-index-clash", "000, Convolutions: what we actually implement (4)",
                 "y[a,c] = Σ_{a=0}^{k₁−1} Σ_b x[a+a, c+b] w[a,b] names the output's row a");
        pin_line("003-conv-programmers", "003, Convolutions for programmers",
                 "y[x,c] = Σ_a Σ_b x[(x+a), (y+b)] w[a,b]");
        assert_non_null(strstr(out, "    slide:     undefined here: the column index y + b"));
        assert_non_null(strstr(out, "    slide:     5 5\n    right:     3 3\n"));
    }
}

/* 5. sgd_variants: the data (seed 42: per example the noise, then its 5 features, N(0, 1) and
 * N(0, 0.1²), b_i = a_iᵀθ* + noise), the first epoch's permutation (Fisher–Yates from --seed); at
 * θ = 0, ∇F = −(2/N) Σ a_i b_i (the slide's SGD-like expectation) and the last step's
 * ∇f_σ(N) = −2 a_j b_j, j = σ(N), the one example the first N − 1 leave. */
static void test_sgd_last_step(void **state)
{
    (void)state;
    enum { N = 200, D = 5 };
    static double A[N * D], B[N];
    const double th[D] = {1, -2, 0.5, 3, -1};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    for (int i = 0; i < N; i++) {
        B[i] = gsl_ran_gaussian(rng, 0.1);
        for (int j = 0; j < D; j++) {
            A[i * D + j] = gsl_ran_gaussian(rng, 1.0);
            B[i] += A[i * D + j] * th[j];
        }
    }
    const unsigned long seeds[3] = {7, 1, 90210};
    for (int k = 0; k < 3; k++) {
        long perm[N];
        gsl_rng_set(rng, seeds[k]);
        for (long i = 0; i < N; i++) perm[i] = i;
        for (long i = N - 1; i > 0; i--) {
            long j = (long)gsl_rng_uniform_int(rng, (unsigned long)(i + 1)), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        long last = perm[N - 1];
        double gF[D] = {0}, gl[D];
        for (int j = 0; j < D; j++) {
            for (int i = 0; i < N; i++) gF[j] += -2.0 / N * A[i * D + j] * B[i];
            gl[j] = -2 * A[last * D + j] * B[last];
        }
        char args[128];
        snprintf(args, sizeof args, "--seed %lu --epochs 2", seeds[k]);
        cJSON *doc = run_json("sgd_variants", args);
        assert_int_equal((long)cJSON_GetObjectItemCaseSensitive(doc, "last_step_example")->valuedouble, last);
        pin_slip(doc, "001-shuffled-last-step", gF, gl, D, 1e-9, NULL);
        cJSON_Delete(doc);
        assert_int_equal(run("sgd_variants", args), 0);
        pin_line("001-shuffled-last-step", "001, Shuffled Cyclic (mini-batch) SGD, the second \"advantage\" list",
                 "the second list headed \"advantage\" lists disadvantages");
        char want[160];
        snprintf(want, sizeof want, "given its first %d examples, can take only example %ld (1 left)", N - 1, last + 1);
        if (!strstr(out, want)) fail_msg("sgd_variants %s: no '%s'", args, want);
    }
    gsl_rng_free(rng);
}

/* The catalog's slip table lists each of these ids (lessons/README.md, "Slips of the slides"). */
static void test_catalog_rows(void **state)
{
    (void)state;
    const char *path = getenv("LESSONS_README");
    if (!path) fail_msg("LESSONS_README is not set; run through meson test");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    const char *ids[] = {"004-case2-ranges", "000-conv-index-order", "000-conv-limits", "000-conv-index-clash",
                         "003-conv-programmers", "000-dLdW-last-row", "001-shuffled-last-step"};
    const char *table = strstr(out, "## Slips of the slides");
    assert_non_null(table);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char row[96];
        snprintf(row, sizeof row, "\n| `%s` |", ids[i]);
        if (!strstr(table, row)) fail_msg("lessons/README.md's slip table has no row for %s", ids[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_case2_ranges),
        cmocka_unit_test(test_convolution_formulas),
        cmocka_unit_test(test_sgd_last_step),
        cmocka_unit_test(test_catalog_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
