/* test_lesson_structure.c: issue 31, each scalar lesson's structure (its
 * section titles, node and step labels in order, its slip lines) and its
 * numbers recomputed here from the math (never from a lesson's output or the
 * engine), at the defaults and at seeded random inputs inside the domain
 * (the seed is printed on failure; AD_TEST_SEED=N reruns one). The network
 * lessons are in test_lesson_structure_nn.c. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include "ad_test.h"
#include "ad_test_lesson.h"
#include "ad_test_structure.h"

enum { DRAWS = 4 };

/* chain_rule: f = y log x + √(y log x), a = log x, b = ya, c = √b, f = c + b. */
static void test_chain_rule(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double x = k ? st_draw(1.05, 9) : 3, y = k ? st_draw(0.1, 5) : 2;
        char args[160];
        snprintf(args, sizeof args, "--x %.17g --y %.17g%s", x, y, k % 2 ? " --variant A" : "");
        const char *o = st_run("chain_rule", args);
        const char *labels[] = {"The graph, one node per step", "1.  a    = log x", "2.  b    = y·a", "3.  c    = √b",
                                "4.  f    = c + b", "Forward mode: both tangent columns", "Reverse mode (backpropagation)",
                                k % 2 ? "Version A" : "Version B", "Result:", "Finite-difference check", "agree:",
                                "Where the lecture differs", "Slip 001-sqrt", "slide:", "right:", "finite differences:",
                                "-> the right version agrees", "-> the slide's version does not"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        assert_int_equal(st_steps(strstr(o, "Reverse mode"), strstr(o, "Result:")), 5);
        double a = log(x), b = y * a, c = sqrt(b), f = c + b, s = 1 + 1 / (2 * c);
        st_close(st_value(o, "a    = log x"), a, 1e-14, "a");
        st_close(st_value(o, "b    = y·a"), b, 1e-14, "b");
        st_close(st_value(o, "c    = √b"), c, 1e-14, "c");
        st_close(st_value(o, "f    = c + b"), f, 1e-14, "f");
        /* forward mode's row 3: c, ∂c/∂x = (y/x)/(2√b), ∂c/∂y = a/(2√b) */
        double r[3];
        assert_int_equal(st_row(strstr(o, "Forward mode"), "3.  c = √b", r, 3), 3);
        st_close(r[1], y / x / (2 * c), 1e-13, "forward mode ∂c/∂x");
        st_close(r[2], a / (2 * c), 1e-13, "forward mode ∂c/∂y");
        /* the slip's lines: the slide's 1/√b and the right 1/(2√b) */
        double sl[2], rt[2];
        const char *slip = strstr(o, "Slip 001-sqrt");
        assert_int_equal(st_row(slip, "slide:", sl, 2), 2);
        assert_int_equal(st_row(slip, "right:", rt, 2), 2);
        st_close(sl[0], y / x * (1 + 1 / c), 1e-9, "slip slide ∂f/∂x");
        st_close(sl[1], a * (1 + 1 / c), 1e-9, "slip slide ∂f/∂y");
        st_close(rt[0], y / x * s, 1e-9, "slip right ∂f/∂x");
        st_close(rt[1], a * s, 1e-9, "slip right ∂f/∂y");
        cJSON *d = st_json("chain_rule", args);
        st_close(st_num(d, "f"), f, 1e-14, "f");
        st_close(st_num(d, "df_dx"), y / x * s, 1e-13, "df_dx");
        st_close(st_num(d, "df_dy"), a * s, 1e-13, "df_dy");
        cJSON_Delete(d);
    }
}

/* cos_sin: J = cos(sin(x²) + 3x²), t = x², u₁ = sin t, u₂ = 3t, u = u₁ + u₂. */
static void test_cos_sin(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double x = k ? st_draw(-3, 3) : 2;
        char args[96];
        snprintf(args, sizeof args, "--x %.17g%s", x, k % 2 ? " --variant A" : "");
        const char *o = st_run("cos_sin", args);
        const char *labels[] = {"Forward (each intermediate quantity", "1.  t    = x²", "2.  u₁   = sin t",
                                "3.  u₂   = 3·t", "4.  u    = u₁ + u₂", "5.  J    = cos u", "Forward mode, the same pass carrying ∂J/∂x",
                                k % 2 ? "Backward, Version A" : "Backward, Version B", "Result:", "∂J/∂x = ",
                                "Finite-difference check", "agree:", "By hand, as the lecture's column reads"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        assert_int_equal(st_steps(strstr(o, "Backward, Version"), strstr(o, "Result:")), 6);
        st_never(o, "dJ/dx");   /* one symbol for the quantity its steps write ∂J/∂x */
        double t = x * x, u1 = sin(t), u2 = 3 * t, u = u1 + u2, J = cos(u);
        double dJ = -sin(u) * (cos(t) + 3) * 2 * x;
        st_close(st_value(o, "t    = x²"), t, 1e-14, "t");
        st_close(st_value(o, "u₁   = sin t"), u1, 1e-14, "u₁");
        st_close(st_value(o, "u₂   = 3·t"), u2, 1e-14, "u₂");
        st_close(st_value(o, "u    = u₁ + u₂"), u, 1e-14, "u");
        st_close(st_value(o, "J    = cos u"), J, 1e-13, "J");
        st_close(st_value(o, "By hand"), dJ, 1e-12, "by hand dJ/dx");
        cJSON *d = st_json("cos_sin", args);
        st_close(st_num(d, "J"), J, 1e-13, "J");
        st_close(st_num(d, "dJ_dx"), dJ, 1e-12, "dJ_dx");
        cJSON_Delete(d);
    }
}

/* forward_vs_reverse: f = x₁x₂ + sin x₁: two forward passes, one reverse;
 * 3 ops (6 jvps over the two passes), 5 vjps, 5 stored values. */
static void test_forward_vs_reverse(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double x1 = k ? st_draw(-4, 4) : 2, x2 = k ? st_draw(-4, 4) : 3;
        char args[160];
        snprintf(args, sizeof args, "--x1 %.17g --x2 %.17g%s", x1, x2, k % 2 ? " --variant A" : "");
        const char *o = st_run("forward_vs_reverse", args);
        const char *labels[] = {"Forward-mode pass 1: seed ∂x₁ = 1, ∂x₂ = 0", "1.  w₁ = sin(x₁)", "2.  w₂ = x₁·x₂",
                                "3.  f = w₁ + w₂", "Forward-mode pass 2: seed ∂x₁ = 0, ∂x₂ = 1", "3.  f = w₁ + w₂",
                                "Reverse mode: one forward pass", k % 2 ? "(Version A)" : "(Version B)", "Result:",
                                "The cost, counted:", "forward mode: 2 passes", "reverse mode: 1 forward pass",
                                "Finite-difference check", "agree:"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        assert_int_equal(st_steps(strstr(o, "Reverse mode:"), strstr(o, "Result:")), 4);
        double r[3], g1 = x2 + cos(x1);
        assert_int_equal(st_row(strstr(o, "pass 1"), "3.  f = w₁ + w₂", r, 2), 2);
        st_close(r[0], x1 * x2 + sin(x1), 1e-13, "pass 1 f");
        st_close(r[1], g1, 1e-13, "pass 1 tangent ∂f/∂x₁");
        assert_int_equal(st_row(strstr(o, "pass 2"), "3.  f = w₁ + w₂", r, 2), 2);
        st_close(r[1], x1, 1e-13, "pass 2 tangent ∂f/∂x₂");
        cJSON *d = st_json("forward_vs_reverse", args);
        st_close(st_num(d, "f"), x1 * x2 + sin(x1), 1e-13, "f");
        st_close(st_num(d, "df_dx1"), g1, 1e-13, "df_dx1");
        st_close(st_num(d, "df_dx2"), x1, 1e-13, "df_dx2");
        const char *counts[] = {"forward_passes", "reverse_passes", "ops_per_pass", "jvps_forward_mode",
                                "vjps_reverse_mode", "values_stored_reverse"};
        const double want[] = {2, 1, 3, 6, 5, 5};   /* w₁ (1 input), w₂ (2), f (2): 5 vjps; x₁, x₂, w₁, w₂, f */
        for (int i = 0; i < 6; i++) st_close(st_num(d, counts[i]), want[i], 0, counts[i]);
        cJSON_Delete(d);
    }
}

/* gates: f = 2(xy + max(z, w)): add distributes 2, max routes it to the
 * larger, mul switches. Draws keep z ≠ w (the tie is test_lesson_fidelity's). */
static void test_gates(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double x = k ? st_draw(-5, 5) : 3, y = k ? st_draw(-5, 5) : -4, z = k ? st_draw(-5, 5) : 2, w = k ? st_draw(-5, 5) : -1;
        if (fabs(z - w) < 0.1) w = z + 0.5;
        char args[200];
        snprintf(args, sizeof args, "--x %.17g --y %.17g --z %.17g --w %.17g%s", x, y, z, w, k % 2 ? " --variant A" : "");
        const char *o = st_run("gates", args);
        const char *labels[] = {"1.  w₁   = x·y", "2.  w₂   = max(z, w)", "3.  w₃   = w₁ + w₂", "4.  f    = 2·w₃",
                                k % 2 ? "Backward pass (Version A)" : "Backward pass (Version B)",
                                "The gates, read off the engine's gradients:", "add gate w₃ = w₁ + w₂: distributor",
                                "max gate w₂ = max{z, w}: router", "mul gate w₁ = x·y: switcher", "gradient (∂f/∂x, ∂f/∂y, ∂f/∂z, ∂f/∂w)",
                                "Finite-difference check", "agree:", "ReLU = max(0, x) at x = 0"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        assert_int_equal(st_steps(strstr(o, "Backward pass"), strstr(o, "The gates")), 5);
        double m = fmax(z, w), f = 2 * (x * y + m), g[4] = {2 * y, 2 * x, z > w ? 2 : 0, w > z ? 2 : 0};
        st_close(st_value(o, "w₁   = x·y"), x * y, 1e-14, "w₁");
        st_close(st_value(o, "w₂   = max(z, w)"), m, 1e-14, "w₂");
        st_close(st_value(o, "f    = 2·w₃"), f, 1e-14, "f");
        cJSON *d = st_json("gates", args);
        st_close(st_num(d, "f"), f, 1e-14, "f");
        for (int i = 0; i < 4; i++) st_close(st_at(d, "grad", i), g[i], 1e-14, "grad");
        cJSON_Delete(d);
    }
}

/* quiz: y = exp(xz) + xz/log x + sin(log x)/(xz), broken as a..f, 0′ … 8′ in
 * both versions, the answer E at the defaults, the three slips. */
static void test_quiz(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double x = k ? st_draw(1.2, 3) : 2, z = k ? st_draw(0.3, 2) : 3;
        char args[160];
        snprintf(args, sizeof args, "--x %.17g --z %.17g", x, z);
        const char *o = st_run("quiz", args);
        const char *labels[] = {"Forward computation", "1.  a    = x·z", "2.  b    = log x", "3.  c    = sin b",
                                "4.  d    = exp a", "5.  e    = a / b", "6.  f    = c / a", "7.  (d+e) = d + e",
                                "8.  y    = (d+e) + f", "Backward computation, Version A (∂y/∂v = Σ over consumers u of ∂y/∂u · ∂u/∂v)", "Backward computation, Version B",
                                "Both versions agree: ∂y/∂x = ", "∂y/∂z = ", "Finite-difference check", "agree:",
                                k ? "Where the lecture's breakdown differs" : "Rounded to the nearest integer",
                                "Slip 004-quiz1-b", "Slip 004-quiz1-y", "Slip 004-quiz1-breakdown",
                                "The slide heads its breakdown with"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        const char *A = strstr(o, "Version A"), *B = strstr(o, "Version B"), *E = strstr(o, "Both versions agree");
        assert_int_equal(st_steps(A, B), 9);
        assert_int_equal(st_steps(B, E), 9);
        st_never(o, "dy/d");   /* its steps write ∂y/∂x: one symbol */
        double a = x * z, b = log(x), c = sin(b), dd = exp(a), e = a / b, f = c / a, y = dd + e + f;
        double dx = z * dd + z / b - z / (b * b) + (cos(b) - sin(b)) / (x * x * z);
        double dz = x * dd + x / b - sin(b) / (x * z * z);
        const char *nodes[] = {"a    = x·z", "b    = log x", "c    = sin b", "d    = exp a", "e    = a / b", "f    = c / a",
                               "y    = (d+e) + f"};
        const double want[] = {a, b, c, dd, e, f, y};
        for (int i = 0; i < 7; i++) st_close(st_value(o, nodes[i]), want[i], 1e-13, nodes[i]);
        /* the slip 004-quiz1-y's slide: y = b + c + f */
        double v;
        assert_int_equal(st_row(strstr(o, "Slip 004-quiz1-y"), "slide:", &v, 1), 1);
        st_close(v, b + c + f, 1e-9, "slip 004-quiz1-y slide");
        cJSON *d = st_json("quiz", args);   /* st_json reuses o's buffer: the text's checks come first */
        st_close(st_num(d, "y"), y, 1e-13, "y");
        st_close(st_num(d, "dy_dx"), dx, 1e-12, "dy_dx");
        st_close(st_num(d, "dy_dz"), dz, 1e-12, "dy_dz");
        st_close(st_num(d, "version_a_dy_dx"), dx, 1e-12, "version_a_dy_dx");
        st_close(st_num(d, "version_a_dy_dz"), dz, 1e-12, "version_a_dy_dz");
        if (!k) assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "answer")->valuestring, "E");
        cJSON_Delete(d);
    }
}

/* finite_differences: the error of each difference quotient of J = cos(sin(x²)
 * + 3x²) against the exact dJ/dx; at ε = 1e-1 … 1e-3 truncation dominates, so
 * the test's own quotients in double agree with the table's to 1e-6. */
static double fd_J(double x) { return cos(sin(x * x) + 3 * x * x); }
static void test_finite_differences(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double x = k ? st_draw(-2.5, 2.5) : 2;
        char args[64];
        snprintf(args, sizeof args, "--x %.17g", x);
        const char *o = st_run("finite_differences", args);
        const char *labels[] = {"finite_differences — J = cos(sin(x²) + 3x²)", "The error |quotient − dJ/dx| at each step ε", "ε", "double fwd", "double ctr", "float fwd",
                                "float ctr", "1e-1", "1e-2", "1e-3", "1e-4", "1e-5", "1e-6", "1e-7", "1e-8", "1e-9",
                                "1e-10", "1e-11", "1e-12", "1e-13", "Best ε: double forward", "double centered",
                                "float forward", "float centered", "Theory:"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        double exact = -sin(sin(x * x) + 3 * x * x) * (cos(x * x) + 3) * 2 * x;
        cJSON *d = st_json("finite_differences", args);
        st_close(st_num(d, "exact"), exact, 1e-12, "exact");
        const cJSON *errs = st_obj(d, "errors");
        assert_int_equal(cJSON_GetArraySize(errs), 13);
        for (int i = 0; i < 3; i++) {
            const cJSON *row = cJSON_GetArrayItem(errs, i);
            double h = pow(10, -(i + 1)), hf = (x + h) - x, hc = (x + h) - (x - h);
            st_close(st_num(row, "eps"), h, 1e-15, "eps");
            st_close(st_num(row, "double_forward"), fabs((fd_J(x + h) - fd_J(x)) / hf - exact), 1e-6, "double forward error");
            st_close(st_num(row, "double_centered"), fabs((fd_J(x + h) - fd_J(x - h)) / hc - exact), 1e-6, "double centered error");
        }
        cJSON_Delete(d);
    }
}

/* four_ways: the four functions headed in the lecture's notation (·, √, ², x₁), each way against
 * the closed form; the
 * swell's d l_n/dx by the recursion l′_{k+1} = 4(1 − 2l_k)l′_k at --x0. */
static void test_four_ways(void **state)
{
    (void)state;
    st_seed_init();
    double L2 = log(2.0), s3 = 1 + 1 / (2 * sqrt(2 * log(3.0)));
    const double grad[4][2] = {{2.0 / 3 * s3, log(3.0) * s3},
                               {3 + cos(2.0), 2},
                               {-sin(sin(4.0) + 12) * (cos(4.0) + 3) * 4, 0},
                               {3 * exp(6.0) + 3 / L2 - 3 / (L2 * L2) + (cos(L2) - sin(L2)) / 12, 2 * exp(6.0) + 2 / L2 - sin(L2) / 18}};
    const int nvar[4] = {2, 2, 1, 2};
    for (int k = 0; k <= DRAWS; k++) {
        double x0 = k ? st_draw(0.05, 0.95) : 0.3;
        int depth = k ? 2 + rand() % 9 : 10;
        char args[128];
        snprintf(args, sizeof args, "--x0 %.17g --depth %d%s", x0, depth, k % 2 ? " --variant A" : "");
        const char *o = st_run("four_ways", args);
        const char *labels[] = {"[001] f = y·log(x) + √(y·log(x)) at x = 3, y = 2", "manual", "symbolic",
                                "numerical (centered)", "forward mode", "reverse mode", "[003] f = x₁·x₂ + sin(x₁) at x₁ = 2, x₂ = 3",
                                "[004] f = cos(sin(x²) + 3·x²) at x = 2",
                                "[004] f = exp(x·z) + x·z/log(x) + sin(log(x))/(x·z) at x = 2, z = 3", "Expression swell:",
                                "depth  graph nodes  symbolic, as tree  symbolic, DAG"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        st_in_order(o, (const char *[]){"[004] f = cos", "manual (by hand): ∂f/∂x = ", "[004] f = exp",
                                         "manual (by hand): ∂f/∂x = ", "∂f/∂z = "}, 5);
        st_never(o, "dJ/dx"), st_never(o, "dy/dx");   /* each function is f, its derivatives ∂f/∂· */
        cJSON *d = st_json("four_ways", args);
        const cJSON *fs = st_obj(d, "functions");
        assert_int_equal(cJSON_GetArraySize(fs), 4);
        const char *ways[] = {"manual", "symbolic", "forward_mode", "reverse_mode", "numerical"};
        for (int f = 0; f < 4; f++)
            for (int w = 0; w < 5; w++)
                for (int v = 0; v < nvar[f]; v++)
                    st_close(st_at(cJSON_GetArrayItem(fs, f), ways[w], v), grad[f][v], w == 4 ? 1e-7 : 1e-12, ways[w]);
        const cJSON *sw = st_obj(d, "swell");
        assert_int_equal(cJSON_GetArraySize(sw), depth);
        double l = x0, dl = 1;
        for (int n = 1; n <= depth; n++) {
            dl = 4 * (1 - 2 * l) * dl;
            l = 4 * l * (1 - l);
            const cJSON *row = cJSON_GetArrayItem(sw, n - 1);
            st_close(st_num(row, "depth"), n, 0, "swell depth");
            st_close(st_num(row, "graph_nodes"), 1 + 4 * n, 0, "swell graph nodes");   /* x, then 4 nodes a step */
            st_close(st_num(row, "reverse_mode"), dl, 1e-9, "swell d l_n/dx");
            st_close(st_num(row, "symbolic_value"), dl, 1e-9, "swell symbolic value");
        }
        cJSON_Delete(d);
    }
}

/* logistic_regression (its table; --epochs 0 skips the data): a = θ·x with
 * x₀ = 1, y = σ(a), J = y* log y + (1 − y*) log(1 − y), dJ/dθ = (y* − y)x, the
 * L2 gradient −(y* − y)x + λθ. */
static void test_logistic_regression(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double th[3] = {0.1, -0.5, 0.3}, x[3] = {1, 2, -1}, ys = 1, lam = 0.1;
        if (k) {
            for (int i = 0; i < 3; i++) th[i] = st_draw(-1, 1);
            x[1] = st_draw(-2, 2), x[2] = st_draw(-2, 2), ys = rand() % 2, lam = st_draw(0.01, 1);
        }
        char args[320];
        snprintf(args, sizeof args, "--epochs 0 --theta0 %.17g --theta1 %.17g --theta2 %.17g --x1 %.17g --x2 %.17g "
                 "--ystar %g --lambda %.17g%s", th[0], th[1], th[2], x[1], x[2], ys, lam, k % 2 ? " --variant A" : "");
        const char *o = st_run("logistic_regression", args);
        const char *labels[] = {"Forward: a = Σⱼ θⱼxⱼ, y = 1/(1 + exp(−a))", "5.  a    = s + u₂", "6.  y    = sigmoid a",
                                "12.  J    = p + r", k % 2 ? "Backward (Version A)" : "Backward (Version B)",
                                "The lecture's Backward column, factor by factor:", "dJ/dy = ", "dy/da = ", "dJ/dθⱼ = dJ/da · xⱼ",
                                "engine dJ/dθⱼ   closed form (y*−y)xⱼ", "θ₀", "θ₁", "θ₂", "largest difference",
                                "Finite-difference check", "agree:", "L2 regularisation [004, Backprop Objectives]",
                                "dℓ/dθ₀: engine", "dℓ/dθ₁: engine", "dℓ/dθ₂: engine", "Finite-difference check", "agree:"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        assert_int_equal(st_steps(strstr(o, "Backward ("), strstr(o, "The lecture's Backward")), 13);
        double a = th[0] * x[0] + th[1] * x[1] + th[2] * x[2], y = 1 / (1 + exp(-a));
        double J = ys * log(y) + (1 - ys) * log(1 - y);
        st_close(st_value(o, "a    = s + u₂"), a, 1e-14, "a");
        st_close(st_value(o, "y    = sigmoid a"), y, 1e-14, "y");
        st_close(st_value(o, "J    = p + r"), J, 1e-13, "J");
        cJSON *d = st_json("logistic_regression", args);
        st_close(st_num(d, "J"), J, 1e-13, "J");
        st_close(st_num(d, "y"), y, 1e-14, "y");
        st_close(st_num(d, "dJ_dy"), ys / y - (1 - ys) / (1 - y), 1e-12, "dJ/dy");
        st_close(st_num(d, "dy_da"), y * (1 - y), 1e-13, "dy/da");
        st_close(st_num(d, "dJ_da"), ys - y, 1e-13, "dJ/da");
        const cJSON *l2 = st_obj(d, "l2");
        for (int j = 0; j < 3; j++) {
            st_close(st_at(d, "dJ_dtheta", j), (ys - y) * x[j], 1e-13, "dJ/dθ");
            st_close(st_at(d, "dJ_dx", j), (ys - y) * th[j], 1e-13, "dJ/dx");
            st_close(st_at(l2, "grad", j), -(ys - y) * x[j] + lam * th[j], 1e-13, "L2 gradient");
        }
        cJSON_Delete(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_rule),        cmocka_unit_test(test_cos_sin),
        cmocka_unit_test(test_forward_vs_reverse), cmocka_unit_test(test_gates),
        cmocka_unit_test(test_quiz),              cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_four_ways),         cmocka_unit_test(test_logistic_regression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
