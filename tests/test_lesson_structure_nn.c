/* test_lesson_structure_nn.c: issue 31, test_lesson_structure.c's checks for
 * the network lessons: section titles in order, slip lines, and numbers
 * recomputed here from the math (from the lecture's inputs, or the inputs a
 * lesson's --json reports, never from its results or the engine), at the
 * defaults and, where a lesson takes inputs, at seeded random ones.
 * softmax, pooling and cnn_backprop take no inputs: their defaults only. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include "ad_test.h"
#include "ad_test_lesson.h"
#include "ad_test_structure.h"

enum { DRAWS = 4 };

static double sigm(double a) { return 1 / (1 + exp(-a)); }

/* jacobian_chain: Df_i is n_{i−1}×n_i; forward order Df₁(Df₂(⋯(Df₄Df₅))) costs
 * Σ_{i=1..4} n_{i−1}n_i n₅, reverse ((Df₁Df₂)⋯)Df₅ Σ_{i=2..5} n₀n_{i−1}n_i, the
 * optimum the matrix-chain DP's. The widths given are chains[3]. */
static double chain_optimal(const double *n)
{
    double m[6][6] = {{0}};
    for (int len = 1; len < 5; len++)
        for (int i = 1; i + len <= 5; i++) {
            int j = i + len;
            m[i][j] = INFINITY;
            for (int k = i; k < j; k++) m[i][j] = fmin(m[i][j], m[i][k] + m[k + 1][j] + n[i - 1] * n[k] * n[j]);
        }
    return m[1][5];
}
static void test_jacobian_chain(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double n[6] = {1, 10, 256, 1024, 1024, 4096};
        char args[256] = "";
        if (k) {
            int len = 0;
            for (int i = 0; i < 6; i++) n[i] = 1 + rand() % 2000, len += snprintf(args + len, sizeof args - len, "--n%d %g ", i, n[i]);
        }
        const char *o = st_run("jacobian_chain", args);
        const char *labels[] = {"widths n₀ … n₅", "forward order", "reverse order", "optimal (DP)", "many inputs, one output (a loss)",
                                "one input, many outputs", "wide in the middle", "the widths given (--n0 … --n5)",
                                "Lecture 001: reverse order is \"optimal if n₀ ≤ n₁ ≤ ⋯ ≤ n_N\"", "Over 2000 random",
                                "On the engine, a chain x (4)", "ReLU's Jacobian is diagonal", "An FC layer y = xWᵀ has ∂y/∂x = W"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        st_in_order(o, (const char *[]){"f_i: ℝ^{n_i} → ℝ^{n_{i−1}}", "ℝ^{n₅}, the output in ℝ^{n₀}"}, 2);
        st_never(o, "R^{");
        double fwd = 0, rev = 0;
        for (int i = 1; i <= 4; i++) fwd += n[i - 1] * n[i] * n[5];
        for (int i = 2; i <= 5; i++) rev += n[0] * n[i - 1] * n[i];
        cJSON *d = st_json("jacobian_chain", args);
        const cJSON *c = cJSON_GetArrayItem(st_obj(d, "chains"), 3);
        st_close(st_num(c, "forward"), fwd, 1e-15, "forward order cost");
        st_close(st_num(c, "reverse"), rev, 1e-15, "reverse order cost");
        st_close(st_num(c, "optimal"), chain_optimal(n), 1e-15, "optimal cost");
        bool sorted = true;
        for (int i = 1; i < 6; i++) sorted = sorted && n[i - 1] <= n[i];
        assert_int_equal(cJSON_IsTrue(st_obj(d, "given_non_decreasing")), sorted);
        assert_int_equal(cJSON_IsTrue(st_obj(d, "given_reverse_optimal")), rev == chain_optimal(n));
        st_close(st_num(d, "claim_holds"), st_num(d, "claim_trials"), 0, "the claim over sorted widths");
        cJSON_Delete(d);
    }
}

/* mlp: Case 2 from its x, α, β (the JSON's inputs): a = αx, z = σ(a), b = βz,
 * y = σ(b), J, and every factor of the lecture's backward column; lecture
 * 000's layer from W, h⁰: h¹ = Wh⁰, L = Σ tᵢ tanh h¹ᵢ, t = (1, −2, 0.5). */
static void test_mlp(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        double ys = k ? rand() % 2 : 0;
        char args[200] = "";
        if (k)
            snprintf(args, sizeof args, "--x1 %.17g --x2 %.17g --ystar %g --seed %d%s", st_draw(-2, 2), st_draw(-2, 2), ys,
                     rand() % 1000, k % 2 ? " --variant A" : "");
        const char *o = st_run("mlp", args);
        const char *labels[] = {"Case 2 [004, Backpropagation, Case 2: Neural Network]", "Forward", "x_i", "a_j = Σ_i α_ji x_i",
                                "z_j = 1/(1 + exp(−a_j))", "b = Σ_j β_j z_j", "y = 1/(1 + exp(−b))", "J = y* log y",
                                "Backward (the lecture's formulas", "dJ/dy = y*/y − (1 − y*)/(1 − y)", "dy/db", "dJ/db",
                                "dJ/dβ_j", "dJ/dz_j", "dJ/da_j", "dJ/dα_1i", "dJ/dα_4i", "dJ/dx_i", "gradcheck of J(α, β)",
                                "Slip 004-case2-dJdy", "Slip 004-case2-ranges",
                                "Quiz #2 [004, Differentiation Quiz #2]", "Slip 004-quiz2-shapes", "Worked through",
                                "Lecture 001's exercise", "(i) The layer Jacobians", "∂y_ℓ/∂y_{ℓ−1} = diag σ′(z_ℓ) W_ℓ",
                                "(ii) ∂y_L/∂b_1 = (∂y_3/∂y_2)(∂y_2/∂y_1)(∂y_1/∂b_1)", "6 + 9 = 15 multiply-adds",
                                "18 + 6 = 24", "from the left (backpropagation)", "from the right", "the engine's ∂y_L/∂b_1",
                                "(iii) ∂y_L/∂W_1",
                                "Slip 001-dyL-dWl", "Lecture 000's fully-connected layer", "Slip 000-dLdW-rows",
                                "Slip 000-dLdW-last-row"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        st_never(o, "y_prev");   /* the lecture's y_{ℓ−1} */
        cJSON *d = st_json("mlp", args);
        const cJSON *c = st_obj(d, "case2");
        double x[3], a[4], z[4], b = 0;
        for (int i = 0; i < 3; i++) x[i] = st_at(c, "x", i);
        for (int j = 0; j < 4; j++) {
            a[j] = 0;
            for (int i = 0; i < 3; i++) a[j] += st_at(c, "alpha", j * 3 + i) * x[i];
            z[j] = sigm(a[j]), b += st_at(c, "beta", j) * z[j];
            st_close(st_at(c, "a", j), a[j], 1e-13, "a_j");
            st_close(st_at(c, "z", j), z[j], 1e-13, "z_j");
        }
        double y = sigm(b), J = ys * log(y) + (1 - ys) * log(1 - y), dJdy = ys / y - (1 - ys) / (1 - y);
        double dJdb = dJdy * y * (1 - y), dJdx[3] = {0, 0, 0};
        st_close(st_num(c, "y"), y, 1e-13, "y");
        st_close(st_num(c, "J"), J, 1e-13, "J");
        st_close(st_num(c, "dJ_dy"), dJdy, 1e-12, "dJ/dy");
        st_close(st_num(d, "lecture_dJ_dy"), ys / y + (1 - ys) / (1 - y), 1e-12, "the slide's dJ/dy");
        st_close(st_num(c, "dJ_db"), dJdb, 1e-12, "dJ/db");
        for (int j = 0; j < 4; j++) {
            double beta = st_at(c, "beta", j), dJda = dJdb * beta * z[j] * (1 - z[j]);
            st_close(st_at(c, "dJ_dbeta", j), dJdb * z[j], 1e-12, "dJ/dβ_j");
            st_close(st_at(c, "dJ_dz", j), dJdb * beta, 1e-12, "dJ/dz_j");
            st_close(st_at(c, "dJ_da", j), dJda, 1e-12, "dJ/da_j");
            for (int i = 0; i < 3; i++) {
                st_close(st_at(c, "dJ_dalpha", j * 3 + i), dJda * x[i], 1e-12, "dJ/dα_ji");
                dJdx[i] += dJda * st_at(c, "alpha", j * 3 + i);
            }
        }
        for (int i = 0; i < 3; i++) st_close(st_at(c, "dJ_dx", i), dJdx[i], 1e-12, "dJ/dx_i");
        /* lecture 001's exercise, 3 → 3 → 2 → 1: y_ℓ = σ(W_ℓ y_{ℓ−1} + b_ℓ); (ii) ∂y_L/∂b_1 by the chain rule
         * back from y_L: δ_3 = σ′, δ_ℓ = σ′(z_ℓ) ⊙ W_{ℓ+1}ᵀ δ_{ℓ+1}; (iii) ∂y_L/∂W_1 = δ_1 y_0ᵀ */
        const cJSON *e = st_obj(d, "mlp001");
        const int wd[4] = {3, 3, 2, 1};
        const char *Wk[4] = {NULL, "W1", "W2", "W3"}, *bk[4] = {NULL, "b1", "b2", "b3"};
        double yl[4][3], dl[4][3];
        for (int i = 0; i < 3; i++) yl[0][i] = st_at(e, "y0", i);
        for (int l = 1; l <= 3; l++)
            for (int i = 0; i < wd[l]; i++) {
                double zz = st_at(e, bk[l], i);
                for (int j = 0; j < wd[l - 1]; j++) zz += st_at(e, Wk[l], i * wd[l - 1] + j) * yl[l - 1][j];
                yl[l][i] = sigm(zz);
            }
        st_close(st_num(e, "yL"), yl[3][0], 1e-13, "y_L");
        dl[3][0] = yl[3][0] * (1 - yl[3][0]);
        for (int l = 2; l >= 1; l--)
            for (int i = 0; i < wd[l]; i++) {
                double s = 0;
                for (int j = 0; j < wd[l + 1]; j++) s += st_at(e, Wk[l + 1], j * wd[l] + i) * dl[l + 1][j];
                dl[l][i] = yl[l][i] * (1 - yl[l][i]) * s;
            }
        for (int i = 0; i < 3; i++) {
            st_close(st_at(e, "dyL_db1", i), dl[1][i], 1e-12, "(ii) ∂y_L/∂b_1, the engine");
            st_close(st_at(e, "dyL_db1_left", i), dl[1][i], 1e-12, "(ii) ∂y_L/∂b_1 from the left");
            st_close(st_at(e, "dyL_db1_right", i), dl[1][i], 1e-12, "(ii) ∂y_L/∂b_1 from the right");
            for (int j = 0; j < 3; j++) st_close(st_at(e, "dyL_dW1", i * 3 + j), dl[1][i] * yl[0][j], 1e-12, "(iii) ∂y_L/∂W_1");
        }
        const cJSON *f = st_obj(d, "fc000");
        const double t[3] = {1, -2, 0.5};
        double L = 0, g1[3];
        for (int i = 0; i < 3; i++) {
            double h1 = 0;
            for (int j = 0; j < 3; j++) h1 += st_at(f, "W", i * 3 + j) * st_at(f, "h0", j);
            L += t[i] * tanh(h1), g1[i] = t[i] * (1 - tanh(h1) * tanh(h1));
            st_close(st_at(f, "h1", i), h1, 1e-13, "h¹");
        }
        st_close(st_num(f, "L"), L, 1e-13, "L");
        for (int j = 0; j < 3; j++) {
            double g0 = 0;
            for (int i = 0; i < 3; i++) {
                g0 += g1[i] * st_at(f, "W", i * 3 + j);
                st_close(st_at(f, "W_grad", i * 3 + j), g1[i] * st_at(f, "h0", j), 1e-12, "∂L/∂W");
            }
            st_close(st_at(f, "h0_grad", j), g0, 1e-12, "∂L/∂h⁽ˡ⁻¹⁾");
        }
        cJSON_Delete(d);
    }
}

/* sgd_variants: steps per method over E epochs of n = 200 (GD E, SGD and the
 * cyclic ones nE, the minibatch ones nE/B); a permutation repeats nothing. */
static void test_sgd_variants(void **state)
{
    (void)state;
    st_seed_init();
    const int batches[] = {1, 2, 4, 5, 8, 10, 20, 25, 40, 50};
    for (int k = 0; k <= DRAWS; k++) {
        int E = k ? 1 + rand() % 6 : 10, B = k ? batches[rand() % 10] : 20;
        char args[160];
        snprintf(args, sizeof args, "--epochs %d --batch %d --seed %d --lr %.17g", E, B, k ? rand() % 1000 : 1, k ? st_draw(0.005, 0.03) : 0.02);
        if (!k) snprintf(args, sizeof args, "%s", "");
        const char *o = st_run("sgd_variants", args);
        const char *labels[] = {"sgd_variants — F(θ) = (1/n) Σᵢ (aᵢᵀθ − bᵢ)², n = 200, d = 5",
                                "F(θ) at the end of each epoch (epoch 0: the start), by method:", "epoch", "GD", "SGD",
                                "minibatch SGD", "cyclic SGD", "shuffled cyclic SGD", "shuffled minibatch", "One epoch costs",
                                "Minibatch SGD is lecture 001's", "Where the lecture differs", "Slip 001-shuffled-sigma-k", "slide:",
                                "right:", "Slip 001-shuffled-last-step"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        cJSON *d = st_json("sgd_variants", args);
        const cJSON *s = st_obj(d, "steps"), *r = st_obj(d, "repeated_examples"), *loss = st_obj(d, "loss");
        const char *m[] = {"GD", "SGD", "minibatch SGD", "cyclic SGD", "shuffled cyclic SGD", "shuffled minibatch"};
        const double want[] = {E, 200.0 * E, 200.0 * E / B, 200.0 * E, 200.0 * E, 200.0 * E / B};
        for (int i = 0; i < 6; i++) {
            st_close(st_num(s, m[i]), want[i], 0, m[i]);
            if (i != 1 && i != 2) st_close(st_num(r, m[i]), 0, 0, "repeats without IID draws");
            const cJSON *l = st_obj(loss, m[i]);
            assert_int_equal(cJSON_GetArraySize(l), E + 1);   /* epoch 0 … E */
            st_close(st_at(loss, m[i], 0), st_at(loss, "GD", 0), 1e-15, "F(0), the same start");
        }
        cJSON_Delete(d);
    }
}

/* softmax: μ(x) = exp(x − max x)/Σ exp(x − max x); the Jacobian y_i(δ_ij − y_j). */
static void test_softmax(void **state)
{
    (void)state;
    st_seed_init();
    const char *o = st_run("softmax", "");
    const char *labels[] = {"μ([1, 2, 3]) =", "μ([999, 0, -2]) =", "μ([-2, -2, -99]) =", "subtracting the max first",
                            "The Jacobian ∂μ_i/∂x_j at [1,2,3]", "largest difference", "Cross-entropy, 4 samples", "engine",
                            "by hand", "gradcheck of softmax", "5 passed, 0 failed", "Slip 001-onehot", "slide:", "right:"};
    st_in_order(o, labels, sizeof labels / sizeof *labels);
    /* the naive formula's inf/inf is said undefined, not printed as a NaN; the matrix has titled columns; ℝ */
    st_in_order(o, (const char *[]){"naive formula: (undefined: exp(999)/Σ = inf/inf, 0, 0)", "backward passes, row i",
                                     "the formula", "𝒫(y) ∈ ℝⁿ (n features)", "∈ ℝᵏ (k classes)"}, 5);
    const char *nan_spellings[] = {"nan", "NaN", "-nan", "R^"};
    for (int i = 0; i < 4; i++) st_never(o, nan_spellings[i]);
    cJSON *d = st_json("softmax", "");
    const double xs[3][3] = {{1, 2, 3}, {999, 0, -2}, {-2, -2, -99}};
    const char *keys[3] = {"mu1", "mu2", "mu3"};
    for (int v = 0; v < 3; v++) {
        double mx = fmax(xs[v][0], fmax(xs[v][1], xs[v][2])), s = 0, mu[3];
        for (int i = 0; i < 3; i++) s += exp(xs[v][i] - mx);
        for (int i = 0; i < 3; i++) mu[i] = exp(xs[v][i] - mx) / s, st_close(st_at(d, keys[v], i), mu[i], 1e-14, keys[v]);
        if (v) continue;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) st_close(st_at(d, "jacobian", i * 3 + j), mu[i] * ((i == j) - mu[j]), 1e-14, "jacobian");
    }
    cJSON_Delete(d);
}

/* convolution: the lecture's 7×7 image (the JSON's input) through the custom,
 * identity and blur kernels, valid; stride 2; pooling of the 6×6; and at random
 * W, D, K, F, S, P the output size ⌊(W − F + 2P)/S⌋ + 1, depth K, F²DK + K. */
static void corr(const double *x, int n, const double *w, int f, int stride, double *y)
{
    int m = (n - f) / stride + 1;
    for (int r = 0; r < m; r++)
        for (int c = 0; c < m; c++) {
            y[r * m + c] = 0;
            for (int a = 0; a < f; a++)
                for (int b = 0; b < f; b++) y[r * m + c] += x[(r * stride + a) * n + c * stride + b] * w[a * f + b];
        }
}
static void test_convolution(void **state)
{
    (void)state;
    st_seed_init();
    for (int k = 0; k <= DRAWS; k++) {
        int W = 32, D = 3, K = 10, F = 5, S = 1, P = 2;
        char args[160] = "";
        if (k) {
            W = 8 + rand() % 60, D = 1 + rand() % 8, K = 1 + rand() % 20, F = 1 + 2 * (rand() % 3), S = 1 + rand() % 3, P = rand() % 3;
            snprintf(args, sizeof args, "--W %d --D %d --K %d --F %d --S %d --P %d", W, D, K, F, S, P);
        }
        const char *o = st_run("convolution", args);
        const char *labels[] = {"Input image (7x7):", "Custom kernel (3x3):", "Convolved image (valid: (7 − 3)/1 + 1 = 5) (5x5):",
                                "Identity kernel: the image's inner 5x5 (5x5):", "Blurred image, the blur kernel (.1 around a .2 centre) applied (5x5):",
                                "Downsampling: lecture 004's 6x6 image (6x6):", "2x2 kernel of ones with stride 2",
                                "Average-pooling 2x2, stride 2 (3x3):", "Max-pooling 2x2, stride 2 (3x3):",
                                "Output size (W − F + 2P)/S + 1 and parameters F²·D₁·K + K", "Convolution vs cross-correlation",
                                "The custom kernel flipped", "Valid vs same", "gradcheck of conv2d", "7 passed, 0 failed",
                                "Where the lectures differ", "Slip 004-custom-image", "Slip 004-blur-image",
                                "Slip 000-conv-definition", "Slip 001-conv-depth"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        cJSON *d = st_json("convolution", args);
        int num = W - F + 2 * P;
        st_close(st_num(d, "output_size"), num / S + 1, 0, "output size");
        st_close(st_num(d, "output_depth"), K, 0, "output depth");
        st_close(st_num(d, "parameters"), (double)F * F * D * K + K, 0, "parameters");
        double img[49], ker[9], y[25];
        for (int i = 0; i < 49; i++) img[i] = st_at(d, "image", i);
        for (int i = 0; i < 9; i++) ker[i] = st_at(d, "custom_kernel", i);
        const double id[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, blur[9] = {.1, .1, .1, .1, .2, .1, .1, .1, .1};
        const double *kers[3] = {ker, id, blur};
        const char *keys[3] = {"custom", "identity", "blur"};
        for (int v = 0; v < 3; v++) {
            corr(img, 7, kers[v], 3, 1, y);
            for (int i = 0; i < 25; i++) st_close(st_at(d, keys[v], i), y[i], 1e-14, keys[v]);
        }
        double flip[9];
        for (int i = 0; i < 9; i++) flip[i] = ker[8 - i];
        corr(img, 7, flip, 3, 1, y);
        for (int i = 0; i < 25; i++) st_close(st_at(d, "convolution_flipped", i), y[i], 1e-14, "convolution_flipped");
        cJSON_Delete(d);
    }
}

/* pooling: lecture 001's 4×4 example (the lecture's input), 2×2 windows, stride
 * 2: max and mean of each window; backward with upstream (1 2 / 3 4): max-pool
 * to the arg-max (the first of a tie), average-pool g/4 to each. */
static void test_pooling(void **state)
{
    (void)state;
    st_seed_init();
    for (int v = 0; v < 2; v++) {
        const char *args = v ? "--variant A" : "";
        const char *o = st_run("pooling", args);
        const char *labels[] = {"x:", "max-pool (each window's largest value):", "average-pool (each window's mean):",
                                v ? "Backward (Version A)" : "Backward (Version B)", "max-pool: each window's gradient goes to its arg-max",
                                "average-pool: each window's gradient is shared by its 4 inputs", "A tie: the top-left window holds two 9s",
                                "to the first 9 (row-major)", "gradcheck (inputs without ties):", "10 passed, 0 failed"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        const double x[16] = {1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4}, g[4] = {1, 2, 3, 4};
        double tie[16];
        memcpy(tie, x, sizeof tie), tie[0] = tie[5] = 9;
        double gmax[16] = {0}, gtie[16] = {0};
        cJSON *d = st_json("pooling", args);
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++) {
                double mx = -INFINITY, mt = -INFINITY, s = 0;
                int am = 0, at = 0;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        int i = (2 * r + a) * 4 + 2 * c + b;
                        s += x[i];
                        if (x[i] > mx) mx = x[i], am = i;
                        if (tie[i] > mt) mt = tie[i], at = i;
                        st_close(st_at(d, "avg_pool_grad", i), g[r * 2 + c] / 4, 0, "average-pool backward");
                    }
                gmax[am] = g[r * 2 + c], gtie[at] = g[r * 2 + c];
                st_close(st_at(d, "max_pool", r * 2 + c), mx, 0, "max-pool");
                st_close(st_at(d, "avg_pool", r * 2 + c), s / 4, 0, "average-pool");
            }
        for (int i = 0; i < 16; i++) {
            st_close(st_at(d, "max_pool_grad", i), gmax[i], 0, "max-pool backward");
            st_close(st_at(d, "tie_max_pool_grad", i), gtie[i], 0, "max-pool backward at the tie");
        }
        cJSON_Delete(d);
    }
}

/* cnn_backprop: y = x ⋆ w valid (4×4 by 2×2: 3×3), ∂L/∂w[a,b] = Σ g[p,q] x[p+a, q+b],
 * ∂L/∂x[i,j] = Σ g[p,q] w[i−p, j−q] over the valid (p, q): a full convolution. */
static void test_cnn_backprop(void **state)
{
    (void)state;
    st_seed_init();
    for (int v = 0; v < 2; v++) {
        const char *args = v ? "--variant A" : "";
        const char *o = st_run("cnn_backprop", args);
        const char *labels[] = {"x:", "w:", "g = ∂L/∂y:", "∂L/∂x from the engine's backward pass:",
                                "∂L/∂x as the full convolution of g with the flipped kernel", "∂L/∂w from the engine's backward pass:",
                                "∂L/∂w as the correlation of x with g", "Largest difference between the backward pass and the formulas",
                                "gradcheck of conv2d here:", "7 passed, 0 failed"};
        st_in_order(o, labels, sizeof labels / sizeof *labels);
        cJSON *d = st_json("cnn_backprop", args);
        double x[16], w[4], g[9];
        for (int i = 0; i < 16; i++) x[i] = st_at(d, "x", i);
        for (int i = 0; i < 4; i++) w[i] = st_at(d, "w", i);
        for (int i = 0; i < 9; i++) g[i] = st_at(d, "g", i);
        double dx[16] = {0}, dw[4] = {0};
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < 3; q++) {
                double y = 0;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        y += x[(p + a) * 4 + q + b] * w[a * 2 + b];
                        dw[a * 2 + b] += g[p * 3 + q] * x[(p + a) * 4 + q + b];
                        dx[(p + a) * 4 + q + b] += g[p * 3 + q] * w[a * 2 + b];
                    }
                st_close(st_at(d, "y", p * 3 + q), y, 1e-14, "y");
            }
        for (int i = 0; i < 16; i++) {
            st_close(st_at(d, "dL_dx", i), dx[i], 1e-14, "∂L/∂x");
            st_close(st_at(d, "dL_dx_full_convolution", i), dx[i], 1e-14, "∂L/∂x as a full convolution");
        }
        for (int i = 0; i < 4; i++) {
            st_close(st_at(d, "dL_dw", i), dw[i], 1e-14, "∂L/∂w");
            st_close(st_at(d, "dL_dw_correlation", i), dw[i], 1e-14, "∂L/∂w as a correlation");
        }
        cJSON_Delete(d);
    }
}

/* cheap_gradient: timings vary; its structure and its counted quantities do
 * not: the MLP 784-256-128-10 does 234752 multiply-adds forward per example,
 * 268800 backward; its tape keeps, at batch 64, each layer's output and each
 * ReLU's (256, 256, 128, 128, 10 per example) and the loss. */
static void test_cheap_gradient(void **state)
{
    (void)state;
    st_seed_init();
    const char *o = st_run("cheap_gradient", "");
    const char *labels[] = {"model", "forward", "fwd + bwd", "ratio", "scalar graph Σ relu(xᵢ·wᵢ), n = 10⁵",
                            "MLP 784-256-128-10, batch 64", "LeNet-5 CNN, batch 64", "Why these are not the lecture's 5x:",
                            "MLP: forward 234752 multiply-adds per example, backward 268800", "scalar graph: 3 ops forward, 5 backward",
                            "Values one forward pass keeps for the backward pass (the tape):", "MLP 784-256-128-10, batch 64",
                            "LeNet-5 CNN, batch 64", "With grad mode off nothing is recorded"};
    st_in_order(o, labels, sizeof labels / sizeof *labels);
    double fwd = 784 * 256 + 256 * 128 + 128 * 10, bwd = fwd + 256 * 128 + 128 * 10;
    char want[96];
    snprintf(want, sizeof want, "forward %.0f multiply-adds per example, backward %.0f", fwd, bwd);
    if (!strstr(o, want)) fail_msg("%s: no '%s'", st_what, want);
    cJSON *d = st_json("cheap_gradient", "");
    st_close(st_num(st_obj(d, "counted_ratio"), "mlp"), (fwd + bwd) / fwd, 1e-14, "the MLP's counted ratio");
    st_close(st_num(st_obj(d, "counted_ratio"), "scalar"), 8.0 / 3, 1e-14, "the scalar graph's counted ratio");
    const cJSON *mlp = cJSON_GetArrayItem(st_obj(d, "models"), 1);
    st_close(st_num(mlp, "recorded_values_grad"), 64.0 * (256 + 256 + 128 + 128 + 10) + 1, 0, "the MLP's tape");
    st_close(st_num(mlp, "recorded_values_nograd"), 0, 0, "the MLP's tape in no-grad mode");
    cJSON_Delete(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobian_chain), cmocka_unit_test(test_mlp),     cmocka_unit_test(test_sgd_variants),
        cmocka_unit_test(test_softmax),        cmocka_unit_test(test_convolution), cmocka_unit_test(test_pooling),
        cmocka_unit_test(test_cnn_backprop),   cmocka_unit_test(test_cheap_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
