/* test_lesson_fidelity.c: issue 31, the lessons read as their lectures:
 * step labels numbered as the lectures number them, the slide's route
 * reported undefined (never -nan) where it is, no "agree" at a kink, one
 * symbol per quantity, titled output, and the slips shown by computation.
 * Every number is recomputed here from the math, not copied from a lesson.
 * Program paths come from meson in the environment (NAME in upper case). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "ad_test.h"
#include "ad_test_lesson.h"

enum { OUT_MAX = 1 << 20 };
static char out[OUT_MAX];

static const char *path_of(const char *name) { return ad_test_lesson_path(name); }
/* Run NAME ARGS, stdout into out (stderr dropped); the exit status. */
static int run(const char *name, const char *args) { return ad_test_lesson_run(name, args, out, sizeof out); }
static cJSON *run_json(const char *name, const char *args) { return ad_test_lesson_json(name, args, out, sizeof out); }

static bool close_to(double got, double want, double tol) { return fabs(got - want) <= tol * fmax(1.0, fabs(want)); }

/* The number after the last "= " on the line that starts at p. */
static double last_value(const char *p)
{
    const char *eol = strchr(p, '\n'), *v = NULL;
    for (const char *q = p; (q = strstr(q, "= ")) && (!eol || q < eol); q += 2) v = q + 2;
    if (!v) fail_msg("no '= value' on the line: %.80s", p);
    return strtod(v, NULL);
}

static const cJSON *slip(const cJSON *doc, const char *id)
{
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "slips")->child; c; c = c->next)
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(c, "id")->valuestring, id)) return c;
    fail_msg("slip %s is not in the JSON", id);
    return NULL;
}

static double first_of(const cJSON *o, const char *key)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsArray(a) || !cJSON_IsNumber(cJSON_GetArrayItem(a, 0))) fail_msg("no number in %s", key);
    return cJSON_GetArrayItem(a, 0)->valuedouble;
}

static bool has_nan_text(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!strncasecmp(p, "nan", 3) && !isalpha((unsigned char)p[3]) && (p == s || !isalpha((unsigned char)p[-1])))
            return true;
    return false;
}

/* The quiz's y from its definition. */
static double quiz_y(double x, double z) { return exp(x * z) + x * z / log(x) + sin(log(x)) / (x * z); }

/* Step labels of one reverse-mode section (from `from` up to `to`): each k′
 * once, 0′, 1′, ... in order; returns the count, and where the last starts. */
static int steps_in(const char *from, const char *to, const char **last)
{
    int expect = 0;
    for (const char *p = from; p && p < to; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        int k, n = 0;
        if (sscanf(p, "  %d′.%n", &k, &n) == 1 && n > 0) {
            if (k != expect) fail_msg("step %d′ where %d′ was due:\n%.200s", k, expect, p);
            expect++;
            *last = p;
        }
    }
    return expect;
}

/* 1. quiz: where log(xz) is undefined (xz <= 0) the slide's route is said to be
 * undefined, with why; the quiz's y is still shown; --json exits 0. */
static void test_quiz_slide_route_undefined(void **state)
{
    (void)state;
    srand(31);
    for (int k = 0; k < 6; k++) {
        double x = 0.2 + 4.0 * rand() / RAND_MAX, z = -(0.1 + 3.0 * rand() / RAND_MAX);
        if (fabs(x - 1) < 0.05) x += 0.1;
        char args[256];
        snprintf(args, sizeof args, "--x %.17g --z %.17g", x, z);
        cJSON *doc = run_json("quiz", args);
        double y = quiz_y(x, z);
        assert_true(close_to(cJSON_GetObjectItemCaseSensitive(doc, "y")->valuedouble, y, 1e-12));
        const char *ids[2] = {"004-quiz1-b", "004-quiz1-breakdown"};
        for (int i = 0; i < 2; i++) {
            const cJSON *s = slip(doc, ids[i]);
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(s, "slide_undefined");
            if (!cJSON_IsString(why) || !strstr(why->valuestring, "log needs a positive argument"))
                fail_msg("quiz %s: slip %s does not say why the slide's route is undefined", args, ids[i]);
            assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "slide")), 0);
            assert_true(close_to(first_of(s, "right"), y, 1e-9));
            assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "right_agrees")));
        }
        cJSON_Delete(doc);
        assert_int_equal(run("quiz", args), 0);
        if (has_nan_text(out)) fail_msg("quiz %s prints a NaN", args);
        if (!strstr(out, "undefined here: a = xz = ")) fail_msg("quiz %s: no 'undefined here' line", args);
    }
    /* log(xz) defined but c = sin(log(xz)) < 0: f = √c is undefined (xz = 30: log 30 = 3.40 > π) */
    cJSON *doc = run_json("quiz", "--x 2 --z 15");
    const cJSON *s = slip(doc, "004-quiz1-breakdown");
    assert_true(strstr(cJSON_GetObjectItemCaseSensitive(s, "slide_undefined")->valuestring, "√c needs c >= 0") != NULL);
    assert_true(close_to(first_of(slip(doc, "004-quiz1-b"), "slide"),
                         exp(30) + 30 / log(30) + sin(log(30)) / 30, 1e-12));
    cJSON_Delete(doc);
    /* at the defaults the route as written is defined and is not the quiz's y */
    doc = run_json("quiz", "");
    double b = log(6.0), route = b + sin(b) + sqrt(sin(b));
    s = slip(doc, "004-quiz1-breakdown");
    assert_true(close_to(first_of(s, "slide"), route, 1e-12));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "slide_agrees")));
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(doc, "slide_heading_y")->valuedouble,
                         sqrt(2.0) + exp(2.0) + sin(6.0) / log(2.0) + sin(log(2.0)) / 6, 1e-12));
    cJSON_Delete(doc);
}

/* 1. quiz: Versions A and B number their steps 0′ … 8′, each once; the last
 * step holds ∂y/∂x numbered and ∂y/∂z under it, unnumbered (lecture 001's 4′). */
static void test_quiz_step_numbers(void **state)
{
    (void)state;
    assert_int_equal(run("quiz", ""), 0);
    const char *a = strstr(out, "Version A"), *b = strstr(out, "Version B"), *end = strstr(out, "Both versions agree");
    assert_non_null(a), assert_non_null(b), assert_non_null(end);
    const char *last = NULL;
    for (int v = 0; v < 2; v++) {
        assert_int_equal(steps_in(v ? b : a, v ? end : b, &last), 9);   /* 0′ … 8′: 7 nodes a..(d+e), then the inputs */
        if (strncmp(last, "  8′.   ∂y/∂x", strlen("  8′.   ∂y/∂x")))
            fail_msg("version %c: 8′ is not ∂y/∂x:\n%.80s", "AB"[v], last);
        /* dy/dx = z·exp(xz) + z/log x − z/(log x)² + (cos log x − sin log x)/(x²z) at (2, 3);
         * Version A prints the value on the line after the sum */
        double L2 = log(2.0), dydx = 3 * exp(6.0) + 3 / L2 - 3 / (L2 * L2) + (cos(L2) - sin(L2)) / 12;
        assert_true(close_to(last_value(v ? last : strchr(last, '\n') + 1), dydx, 1e-12));
        const char *z = strstr(last, "∂y/∂z");
        assert_non_null(z);
        if (z[-1] != ' ' || strstr(last, "  9′.")) fail_msg("∂y/∂z is numbered");
    }
}

/* 4. chain_rule: the default (Version B) shows the lecture's 0′–4′, each
 * with the lecture's adjoint: 1′ ∂f/∂c = 1, 2′ ∂f/∂b = 1 + 1/(2√b),
 * 3′ ∂f/∂a = y·∂f/∂b, 4′ ∂f/∂x = ∂f/∂a/x and ∂f/∂y = a·∂f/∂b; Version A too. */
static void test_chain_rule_steps(void **state)
{
    (void)state;
    srand(4);
    for (int k = 0; k < 6; k++) {
        double x = k ? 1.2 + 6.0 * rand() / RAND_MAX : 3, y = k ? 0.2 + 4.0 * rand() / RAND_MAX : 2;
        char args[256];
        snprintf(args, sizeof args, "--x %.17g --y %.17g%s", x, y, k % 2 ? " --variant A" : "");
        assert_int_equal(run("chain_rule", args), 0);
        double a = log(x), b = y * a, fb = 1 + 1 / (2 * sqrt(b)), fa = y * fb;
        const char *from = strstr(out, "Reverse mode"), *to = strstr(out, "Result:"), *last = NULL;
        assert_non_null(from), assert_non_null(to);
        assert_int_equal(steps_in(from, to, &last), 5);
        const char *want[5] = {"  0′.   ∂f/∂f", "  1′.   ∂f/∂c", "  2′.   ∂f/∂b", "  3′.   ∂f/∂a", "  4′.   ∂f/∂x"};
        double val[5] = {1, 1, fb, fa, fa / x};
        for (int s = 0; s < 5; s++) {
            const char *p = strstr(from, want[s]);
            if (!p || p > to) fail_msg("chain_rule %s: no step '%s'", args, want[s]);
            /* B: the value on the step's line ("∂f/∂b = 1.337…, complete"); A: after its sum, on the next */
            const char *line = k % 2 && s > 0 ? strchr(p, '\n') + 1 : p;
            if (!close_to(last_value(line), val[s], 1e-12))
                fail_msg("chain_rule %s: step %d′ is not %.15g:\n%.200s", args, s, val[s], p);
        }
        const char *dy = strstr(last, "∂f/∂y");
        assert_non_null(dy);
        const char *dyline = k % 2 ? strchr(dy, '\n') + 1 : dy;
        assert_true(close_to(last_value(dyline), a * fb, 1e-12));
    }
}

/* 2. At a kink no derivative exists: no "agree" for it; the two one-sided
 * slopes are shown and which the engine takes. max(x, y) at x = y = 1:
 * ∂/∂x slopes (0, 1), the engine's 1 is the right-sided one; ∂/∂y (0, 1), its
 * 0 the left-sided one. gates at z = w = 2: f = 2(xy + max(z, w)), slopes (0, 2). */
static void test_kink_not_agree(void **state)
{
    (void)state;
    assert_int_equal(run("autodidact", "'max(x,y)' --at x=1,y=1"), 0);
    if (strstr(out, "agree:")) fail_msg("max(x, y) at a tie says agree:\n%s", out);
    assert_non_null(strstr(out, "∂f/∂x: no derivative, x is at a kink"));
    assert_non_null(strstr(out, "∂f/∂y: no derivative, y is at a kink"));
    assert_non_null(strstr(out, "nothing to agree on"));
    cJSON *doc = run_json("autodidact", "'max(x,y)' --at x=1,y=1");
    const cJSON *fd = cJSON_GetObjectItemCaseSensitive(doc, "finite_difference");
    assert_null(cJSON_GetObjectItemCaseSensitive(fd, "agree"));
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(fd, "one_sided");
    const char *var[2] = {"x", "y"}, *takes[2] = {"the right-sided derivative", "the left-sided derivative"};
    for (int i = 0; i < 2; i++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(one, var[i]);
        assert_true(close_to(cJSON_GetObjectItemCaseSensitive(o, "left")->valuedouble, 0, 1e-6));
        assert_true(close_to(cJSON_GetObjectItemCaseSensitive(o, "right")->valuedouble, 1, 1e-6));
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "engine_takes")->valuestring, takes[i]);
    }
    cJSON_Delete(doc);
    doc = run_json("gates", "--z 2 --w 2");
    fd = cJSON_GetObjectItemCaseSensitive(doc, "finite_difference");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(fd, "compared")->valuedouble, 2);   /* x and y only */
    const cJSON *z = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(fd, "one_sided"), "z");
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(z, "right")->valuedouble, 2, 1e-6));
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(z, "left")->valuedouble, 0, 1e-6));
    cJSON_Delete(doc);
    assert_int_equal(run("gates", "--z 2 --w 2"), 0);
    assert_non_null(strstr(out, "over the inputs away from the kink"));
    if (strstr(out, "∂f/∂z ≈")) fail_msg("gates at the tie compares ∂f/∂z, which does not exist");
}

/* Near x = 1 with a small y, f = y log x + √(y log x) bends fast: the
 * centered difference's h²f‴/6 error alone is about 2e-5 at h = 1e-6, so a
 * check on D(h) says the (right) engine disagrees. The check extrapolates
 * (4·D(h/2) − D(h))/3; ∂f/∂x here is y/x·(1 + 1/(2√(y log x))). */
static void test_fd_where_f_bends_fast(void **state)
{
    (void)state;
    double x = 1.0001, y = 0.001, b = y * log(x), want = y / x * (1 + 1 / (2 * sqrt(b)));
    assert_int_equal(run("chain_rule", "--x 1.0001 --y 0.001"), 0);
    if (strstr(out, "FAILED") || strstr(out, "DISAGREES")) fail_msg("a false disagreement:\n%s", out);
    assert_non_null(strstr(out, "the right version agrees with finite differences"));
    cJSON *doc = run_json("chain_rule", "--x 1.0001 --y 0.001");
    const cJSON *fd = cJSON_GetObjectItemCaseSensitive(doc, "finite_difference");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fd, "agree")));
    double got = cJSON_GetObjectItemCaseSensitive(fd, "x")->valuedouble;
    if (!close_to(got, want, 1e-8)) fail_msg("∂f/∂x by differences %.12g, the math %.12g", got, want);
    cJSON_Delete(doc);
    assert_int_equal(run("quiz", "--x 1.0001 --z 1"), 0);
    if (strstr(out, "FAILED")) fail_msg("quiz near x = 1 fails:\n%s", out);
}

/* At y* = 1, r = (1 − y*)·l₂ is 0·l₂ = −0 in IEEE arithmetic: the table
 * prints 0 (equal to −0), never a "−0" a student would read a sign into. */
static void test_no_negative_zero(void **state)
{
    (void)state;
    assert_int_equal(run("logistic_regression", "--ystar 1 --epochs 0"), 0);
    const char *r = strstr(out, "r    = (1-y*)·l₂");
    if (!r) fail_msg("no r row:\n%s", out);
    const char *eol = strchr(r, '\n');
    if (!eol || eol - r < 3 || strncmp(eol - 3, "= 0\n", 4)) fail_msg("r is not printed as 0: %.80s", r);
    for (const char *p = out; (p = strstr(p, "-0")); p += 2)
        if (!isdigit((unsigned char)p[2]) && p[2] != '.' && p[2] != 'e') fail_msg("a -0 is printed: %.60s", p - 20);
}

/* 3. One symbol per quantity, as the lecture writes it: θ₀ (not theta0) and
 * x₁ (not x1) everywhere in the text; ASCII only behind --ascii; no "1 = 1"
 * node; no untitled matrix; no fractional output size. */
static void test_naming(void **state)
{
    (void)state;
    const struct { const char *lesson, *args, *must, *never; } cases[] = {
        {"logistic_regression", "--epochs 0", "∂J/∂θ₀ ≈", "theta"},
        {"logistic_regression", "--epochs 0", "∂ℓ/∂θ₂ ≈", "  0.  1 "},
        {"forward_vs_reverse", "", "∂f/∂x₁ ≈", "x1"},
        {"mlp", "", "x = (1, 0.5, -1.5)", "x1"},
        {"four_ways", "", "at x₁ = 2, x₂ = 3", "x1"},
        {"convolution", "", "The custom kernel flipped", "\n (5x5)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(run(cases[i].lesson, cases[i].args), 0);
        if (!strstr(out, cases[i].must)) fail_msg("%s %s: no '%s'", cases[i].lesson, cases[i].args, cases[i].must);
        if (strstr(out, cases[i].never)) fail_msg("%s %s: prints '%s'", cases[i].lesson, cases[i].args, cases[i].never);
    }
    /* every matrix the convolution lesson prints has a title: no line opens with " (HxW):" */
    assert_int_equal(run("convolution", ""), 0);
    for (const char *p = out; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, " (", 2)) fail_msg("convolution prints an untitled matrix:\n%.60s", p);
    /* --ascii spells θ₀ as theta0 and ∂ as d, and only there */
    assert_int_equal(run("logistic_regression", "--epochs 0 --ascii"), 0);
    assert_non_null(strstr(out, "dJ/dtheta0 ~="));
    /* an output size is an integer: (W − F + 2P)/S + 1 with S not dividing W − F + 2P is refused as a size */
    srand(3);
    for (int k = 0; k < 6; k++) {
        int W = 20 + rand() % 20, F = 3 + 2 * (rand() % 2), P = rand() % 3, S = 2 + rand() % 2;
        char args[128];
        snprintf(args, sizeof args, "--W %d --F %d --P %d --S %d", W, F, P, S);
        cJSON *doc = run_json("convolution", args);
        int num = W - F + 2 * P;
        bool exact = num % S == 0;
        assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(doc, "output_size_is_integer")));
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "output_size_is_integer")), exact);
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(doc, "output_size")->valuedouble, num / S + 1);
        if (exact) {
            assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(doc, "output_size_formula")->valuedouble, num / S + 1);
        } else {
            assert_null(cJSON_GetObjectItemCaseSensitive(doc, "output_size_formula"));
            const cJSON *fr = cJSON_GetObjectItemCaseSensitive(doc, "output_size_fraction");
            assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(fr, "numerator")->valuedouble, num);
            assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(fr, "denominator")->valuedouble, S);
        }
        cJSON_Delete(doc);
        assert_int_equal(run("convolution", args), 0);
        char frac[64];
        snprintf(frac, sizeof frac, "= %d/%d + 1, not an integer", num, S);
        if (!exact && !strstr(out, frac)) fail_msg("convolution %s: no '%s'", args, frac);
        snprintf(frac, sizeof frac, "%g", (double)num / S + 1);
        if (!exact && strstr(out, frac)) fail_msg("convolution %s prints the size %s", args, frac);
    }
}

/* 5. cheap_gradient says why its ratios are not the lecture's 5x: the bound
 * counts operations; the MLP's count, (fwd + bwd)/fwd with fwd = Σ in·out
 * and bwd = Σ in·out (dW) + Σ over layers 2.. of in·out (dX), is printed. */
static void test_cheap_gradient_why(void **state)
{
    (void)state;
    cJSON *doc = run_json("cheap_gradient", "");
    double fwd = 784 * 256 + 256 * 128 + 128 * 10, bwd = fwd + 256 * 128 + 128 * 10;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "counted_ratio");
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(c, "mlp")->valuedouble, (fwd + bwd) / fwd, 1e-12));
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(c, "scalar")->valuedouble, 8.0 / 3, 1e-12));
    cJSON_Delete(doc);
    assert_int_equal(run("cheap_gradient", ""), 0);
    const char *why = strstr(out, "Why these are not the lecture's 5x:");
    assert_non_null(why);
    char want[96];
    snprintf(want, sizeof want, "(fwd + bwd)/fwd = %.3f", (fwd + bwd) / fwd);
    assert_non_null(strstr(why, want));
    assert_non_null(strstr(why, "cheap-gradient bound"));
}

/* 6. sgd_variants names which count is the slide's and why: with E epochs
 * the slide's σ(k) names an example in N = 200 of the E·N steps; σ(i) in all. */
static void test_sgd_which_is_the_slides(void **state)
{
    (void)state;
    const int epochs[3] = {10, 3, 7};
    for (int k = 0; k < 3; k++) {
        char args[64], want[160];
        snprintf(args, sizeof args, "--epochs %d", epochs[k]);
        assert_int_equal(run("sgd_variants", args), 0);
        snprintf(want, sizeof want, "The slide's 200: its pseudocode's ∇f_σ(k)");
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof want, "so 200 of the %d steps use one. The right %d:", 200 * epochs[k], 200 * epochs[k]);
        if (!strstr(out, want)) fail_msg("sgd_variants %s: no '%s'", args, want);
        snprintf(want, sizeof want, "They differ by the %d steps after the first epoch.", 200 * (epochs[k] - 1));
        if (!strstr(out, want)) fail_msg("sgd_variants %s: no '%s'", args, want);
    }
}

/* 8. ReLU′(0), computed in a gradient: L = ReLU(w·x + b) at w = 2, x = 1,
 * b = −2 (pre-activation 0): ∂L/∂w = 1{0 >= 0}·x = 1 (lecture 000), 1{0 > 0}·x
 * = 0 (lecture 004), the one-sided slopes 0 and x = 1; the engine takes 004's. */
static void test_relu_at_exact_zero(void **state)
{
    (void)state;
    cJSON *doc = run_json("gates", "");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "relu_gradient_at_exact_zero");
    const double x = 1;
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(g, "lecture_000")->valuedouble, (0 >= 0) * x, 0));
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(g, "lecture_004")->valuedouble, (0 > 0) * x, 0));
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(g, "engine")->valuedouble, 0, 0));
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(g, "left_slope")->valuedouble, 0, 1e-6));
    assert_true(close_to(cJSON_GetObjectItemCaseSensitive(g, "right_slope")->valuedouble, x, 1e-6));
    cJSON_Delete(doc);
    assert_int_equal(run("gates", ""), 0);
    assert_non_null(strstr(out, "∂L/∂w = ReLU′(0)·x: lecture 000 gives 1, lecture 004 gives 0, the engine 0"));
}

/* 7. The catalog lists every lesson: each name `autodidact lesson` runs is a
 * row of lessons/README.md's table, four_ways among them. */
static void test_catalog(void **state)
{
    (void)state;
    const char *path = getenv("LESSONS_README");
    if (!path) fail_msg("LESSONS_README is not set; run through meson test");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char readme[1 << 17];
    size_t n = fread(readme, 1, sizeof readme - 1, f);
    readme[n] = '\0';
    fclose(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s lesson 2>&1", path_of("autodidact"));
    ad_test_popen(cmd, out, sizeof out);
    const char *list = strstr(out, "lessons: ");
    assert_non_null(list);
    int count = 0;
    bool four_ways = false;
    for (const char *q = list + 9; *q && *q != '\n';) {
        size_t k = strcspn(q, " \n");
        char row[96];
        snprintf(row, sizeof row, "| `%.*s` |", (int)k, q);
        if (!strstr(readme, row)) fail_msg("lessons/README.md has no row %s", row);
        four_ways = four_ways || (k == 9 && !strncmp(q, "four_ways", 9));
        count++;
        q += k;
        while (*q == ' ') q++;
    }
    assert_true(four_ways);
    assert_true(count >= 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiz_slide_route_undefined),
        cmocka_unit_test(test_quiz_step_numbers),
        cmocka_unit_test(test_chain_rule_steps),
        cmocka_unit_test(test_kink_not_agree),
        cmocka_unit_test(test_naming),
        cmocka_unit_test(test_cheap_gradient_why),
        cmocka_unit_test(test_sgd_which_is_the_slides),
        cmocka_unit_test(test_relu_at_exact_zero),
        cmocka_unit_test(test_fd_where_f_bends_fast),
        cmocka_unit_test(test_no_negative_zero),
        cmocka_unit_test(test_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
