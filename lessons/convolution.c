/* convolution: lecture 004's image-processing examples (../shared/lectures/
 * 004_*): its 7×7 image with the custom, identity and blur kernels,
 * stride-2 downsampling, average- and max-pooling of the 6×6 image; the
 * output size (W − F + 2P)/S + 1 and the parameter count F²D₁K + K of
 * lecture 001; convolution vs cross-correlation, valid vs same [000, 003].
 * Every image is computed by the engine's conv2d / pooling ops. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ad_gradcheck.h"
#include "lesson.h"

static const double image7[49] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1,
                                  0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static const double custom[9] = {0, 0, 0, 0, 1, 1, 0, 1, 0};
static const double identity[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
static const double blur[9] = {.1, .1, .1, .1, .2, .1, .1, .1, .1};
/* What the slides print for the custom kernel (the identity's result: a slip) and for the blur. */
static const double slide_custom[25] = {1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0};
static const double slide_blur[25] = {.4, .5, .5, .5, .4, .4, .2, .3, .6, .3, .5, .4, .4, .2, .1,
                                      .5, .6, .2, .1, 0, .4, .3, .1, 0, 0};

static void print_image(const char *title, const ad_node *n)
{
    int64_t H = ad_value(n).shape[2], W = ad_value(n).shape[3];
    printf("%s (%lldx%lld):\n", title, (long long)H, (long long)W);
    for (int64_t i = 0; i < H; i++) {
        printf("   ");
        for (int64_t j = 0; j < W; j++) {
            double v = ad_value_at(n, i * W + j);
            printf(v == floor(v) ? " %4.0f" : " %4.2g", v);
        }
        printf("\n");
    }
}

static ad_node *img(ad_context *ctx, const double *v, int64_t h, int64_t w)
{
    int64_t s[] = {1, 1, h, w};
    return ad_variable(ctx, AD_FLOAT64, 4, s, v);
}

static int max_abs_diff_index(const ad_node *n, const double *ref, int64_t count, double tol)
{
    for (int64_t i = 0; i < count; i++)
        if (!(fabs(ad_value_at(n, i) - ref[i]) <= tol)) return (int)i;
    return -1;
}

/* The definitions, evaluated directly by loops (independent of conv2d), on
 * the 7×7 image x with a 3×3 kernel w, indices outside x read as 0:
 *   programmer's (cross-correlation), valid: y[r,c] = Σ_a Σ_b x[r+a, c+b] w[a,b]   (5×5)
 *   mathematician's convolution, same, kernel centred at (1,1):
 *       y[r,c] = Σ_a Σ_b x[r−a, c−b] w[a+1, b+1], a, b ∈ {−1, 0, 1}             (7×7) */
static double px(const double *x, int r, int c) { return r < 0 || r > 6 || c < 0 || c > 6 ? 0 : x[r * 7 + c]; }

static void correlate_valid(const double *x, const double *w, double *y)
{
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            double s = 0;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) s += px(x, r + a, c + b) * w[a * 3 + b];
            y[r * 5 + c] = s;
        }
}

static void convolve_same(const double *x, const double *w, double *y)
{
    for (int r = 0; r < 7; r++)
        for (int c = 0; c < 7; c++) {
            double s = 0;
            for (int a = -1; a <= 1; a++)
                for (int b = -1; b <= 1; b++) s += px(x, r - a, c - b) * w[(a + 1) * 3 + b + 1];
            y[r * 7 + c] = s;
        }
}

/* Lecture 000's three readings of its 2-D formulas, evaluated as written on the 7×7 image x and a
 * 3×3 kernel w (w read as 0 outside its 3×3, x as 0 outside the image):
 *   correlate_same: Σ_a Σ_b x[a,b] w[a−r, b−c] (the slide's index order, with x at the summation
 *     index), = Σ x[r+a, c+b] w[a,b] over a, b ∈ {−1, 0, 1}: the kernel is not flipped;
 *   shadowed_valid: "y[a,c] = Σ_{a=0}^{k₁−1} Σ_b x[a+a, c+b] w[a,b]": the output's row index and the
 *     summation index are both a, so inside the sum a is the summation's: every output row gets
 *     Σ_a Σ_b x[2a, c+b] w[a,b], the same for all rows. */
static void correlate_same(const double *x, const double *w, double *y)
{
    for (int r = 0; r < 7; r++)
        for (int c = 0; c < 7; c++) {
            double s = 0;
            for (int a = -1; a <= 1; a++)
                for (int b = -1; b <= 1; b++) s += px(x, r + a, c + b) * w[(a + 1) * 3 + b + 1];
            y[r * 7 + c] = s;
        }
}

static void shadowed_valid(const double *x, const double *w, double *y)
{
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 5; c++) {
            double s = 0;
            for (int a = 0; a < 3; a++)   /* this a is also the output's row: r never enters */
                for (int b = 0; b < 3; b++) s += px(x, a + a, c + b) * w[a * 3 + b];
            y[r * 5 + c] = s;
        }
}

static ad_node *conv_fn(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n;
    (void)user;
    return ad_conv2d(ctx, in[0], in[1], NULL, 1, 0);
}

int main(int argc, char **argv)
{
    lesson L = {.program = "convolution",
                .source = "004_586b0e2da8ef059d.txt: \"Background: Image Processing\", \"Downsampling\", \"Max-Pooling\"; 001_5b955eed8dfe07dd.txt: \"Convolutional Layer\", \"Summary\"; 000_b20c894f9e115dfe.txt: \"Convolutions\"; 003_2b494b62304cfecb.txt: \"Convolutions for mathematicians / computer scientists / programmers\"",
                .code = "engine/core/apply.c (an op call), ops/conv2d.c (conv2d: im2col and a GEMM, forward, vjp and jvp)",
                .title = "convolution, stride, pooling, output sizes, cross-correlation [lectures 004, 001, 000, 003]",
                /* lecture 001's conv layer summary: input D₁×W₁×H₁ (square here), K filters F×F, stride S, pad P */
                .in = {{"W", 32, 0, 4097, "the input's width and height W₁ = H₁, 1..4096"},
                       {"D", 3, 0, 65, "the input depth D₁, 1..64"},
                       {"K", 10, 0, 65, "the number of filters K, 1..64"},
                       {"F", 5, 0, 33, "the filter size F, 1..32 (at most W + 2P)"},
                       {"S", 1, 0, 33, "the stride S, 1..32"},
                       {"P", 2, -1, 33, "the padding P, 0..32"}},
                .n_in = 6,
                .has_dot = true};
    lesson_parse(&L, argc, argv);
    int cW = (int)L.in[0].value, cD = (int)L.in[1].value, cK = (int)L.in[2].value, cF = (int)L.in[3].value,
        cS = (int)L.in[4].value, cP = (int)L.in[5].value;
    for (int i = 0; i < 6; i++)
        if (L.in[i].value != floor(L.in[i].value))
            lesson_usage_error(L.program, "--%s takes a whole number", L.in[i].name);
    if (cF > cW + 2 * cP) lesson_usage_error(L.program, "%s: the filter is larger than the padded input", "--F");
    ad_context *ctx = lesson_context(&L);
    ad_node *x = ad_set_name(img(ctx, image7, 7, 7), "image");
    ad_node *kc = ad_set_name(img(ctx, custom, 3, 3), "custom"), *ki = img(ctx, identity, 3, 3), *kb = img(ctx, blur, 3, 3);
    ad_node *yc = ad_set_name(ad_conv2d(ctx, x, kc, NULL, 1, 0), "convolved"), *yi = ad_conv2d(ctx, x, ki, NULL, 1, 0);
    ad_node *yb = ad_conv2d(ctx, x, kb, NULL, 1, 0);
    if (!yc || !yi || !yb) lesson_die(&L, "conv2d");
    /* lecture 004's downsampling image: 6×6, then stride 2 with a 2×2 kernel of ones */
    double image6[36] = {1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0,
                         1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    double ones[4] = {1, 1, 1, 1};
    ad_node *x6 = img(ctx, image6, 6, 6), *k1 = img(ctx, ones, 2, 2);
    ad_node *down = ad_conv2d(ctx, x6, k1, NULL, 2, 0), *avg = ad_avgpool2d(ctx, x6, 2, 2), *mx = ad_maxpool2d(ctx, x6, 2, 2);
    /* convolution proper = cross-correlation with the kernel flipped both ways */
    double flipped[9];
    for (int i = 0; i < 9; i++) flipped[i] = custom[8 - i];
    ad_node *yconv = ad_conv2d(ctx, x, img(ctx, flipped, 3, 3), NULL, 1, 0);
    ad_node *same = ad_conv2d(ctx, x, kc, NULL, 1, 1);
    /* lecture 001: a W×W×D input, K filters of F×F, stride S, pad P (default 32×32×3, ten 5×5, 1, 2) */
    int64_t s32[] = {1, cD, cW, cW}, sk[] = {cK, cD, cF, cF}, sbias[] = {cK};
    ad_node *wbig = ad_variable(ctx, AD_FLOAT64, 4, sk, NULL), *bbig = ad_variable(ctx, AD_FLOAT64, 1, sbias, NULL);
    ad_node *big = ad_conv2d(ctx, ad_constant(ctx, AD_FLOAT64, 4, s32, NULL), wbig, bbig, cS, cP);
    if (!yconv || !same || !down || !avg || !mx || !big) lesson_die(&L, "conv2d");
    int64_t params = (int64_t)cF * cF * cD * cK + cK, engine_params = ad_value(wbig).size + ad_value(bbig).size;
    bool exact = (cW - cF + 2 * cP) % cS == 0;   /* lecture 001: "Should be integers" */
    int custom_slip = max_abs_diff_index(yc, slide_custom, 25, 0), blur_diff = max_abs_diff_index(yb, slide_blur, 25, 0.051);
    (void)custom_slip;
    (void)blur_diff;
    /* The slips, by computation: each against the definition evaluated directly. */
    double def_custom[25], def_blur[25], eng_custom[25], eng_blur[25], slide_blur_r[25];
    correlate_valid(image7, custom, def_custom);
    correlate_valid(image7, blur, def_blur);
    ad_value_copy_out(yc, eng_custom, 25);
    ad_value_copy_out(yb, eng_blur, 25);
    /* the slide rounds the blur to one decimal: compare it with the engine's values rounded alike */
    double eng_blur_r[25], def_blur_r[25];
    for (int i = 0; i < 25; i++) {
        eng_blur_r[i] = round(eng_blur[i] * 10) / 10;
        def_blur_r[i] = round(def_blur[i] * 10) / 10;
        slide_blur_r[i] = slide_blur[i];
    }
    /* Lecture 000's discrete definition y[r,c] = Σ_a Σ_b x[r,c] w[a−r, b−c] has x at the output's own
     * index: each term is x[r,c] times one kernel entry, so y[r,c] = x[r,c]·Σw. The right one is
     * Σ_a Σ_b x[a,b] w[r−a, c−b] (= Σ x[r−a, c−b] w[a,b]); its reference is conv2d with the kernel
     * flipped ('same', pad 1). */
    double wsum = 0, def000_slide[49], def000_right[49], def000_ref[49];
    for (int i = 0; i < 9; i++) wsum += custom[i];
    for (int i = 0; i < 49; i++) def000_slide[i] = image7[i] * wsum;
    convolve_same(image7, custom, def000_right);
    ad_node *conv_same = ad_conv2d(ctx, x, img(ctx, flipped, 3, 3), NULL, 1, 1);
    if (!conv_same) lesson_die(&L, "conv2d");
    ad_value_copy_out(conv_same, def000_ref, 49);
    /* Lecture 000's index order: w[a−r, b−c] (even with x at the summation index) reads the kernel
     * unflipped, a cross-correlation; the convolution is w[r−a, c−b]. Same image, kernel, 'same'. */
    double order_slide[49];
    correlate_same(image7, custom, order_slide);
    /* Lecture 000's limits Σ_{a=−(H+1)/2}^{(H+1)/2} for an H×W kernel: H + 2 values of a (a 3x3 kernel
     * read at a = −2..2); a centred H×W kernel (H, W odd) has a = −(H−1)/2..(H−1)/2, H values, as
     * lecture 003 writes with K₁, K₂. Counted per axis, against the kernel's shape in the engine. */
    const ad_tensor kct = ad_value(kc);
    int kH = (int)kct.shape[2], kW = (int)kct.shape[3];
    double lim_slide[2], lim_right[2], lim_ref[2] = {(double)kct.shape[2], (double)kct.shape[3]};
    lim_slide[0] = 0, lim_slide[1] = 0, lim_right[0] = 0, lim_right[1] = 0;
    for (int a = -(kH + 1) / 2; a <= (kH + 1) / 2; a++) lim_slide[0]++;
    for (int b = -(kW + 1) / 2; b <= (kW + 1) / 2; b++) lim_slide[1]++;
    for (int a = -(kH - 1) / 2; a <= (kH - 1) / 2; a++) lim_right[0]++;
    for (int b = -(kW - 1) / 2; b <= (kW - 1) / 2; b++) lim_right[1]++;
    /* Lecture 000's "what we actually implement", y[a,c] = Σ_a Σ_b x[a+a, c+b] w[a,b]: evaluated as
     * written (the inner a shadows the row), against the programmer's formula and the engine. */
    double clash_slide[25];
    shadowed_valid(image7, custom, clash_slide);
    /* Lecture 001's conv layer summary: output depth D₁ (the slide) or D₂ = K (the next line)? */
    const ad_tensor bigv = ad_value(big), ycv = ad_value(yc), samev = ad_value(same);   /* their shapes */
    double depth_slide = cD, depth_right = cK, depth_engine = (double)bigv.shape[1];
    /* the engine's gradients of the 7×7 case against finite differences */
    ad_gc_options go;
    ad_gc_default_options(&go);
    ad_gc_report rep = {0};
    const ad_tensor xt = ad_value(x), kt = ad_value(kc);
    const ad_tensor *ins[2] = {&xt, &kt};
    ad_gradcheck_fn("conv2d", "lecture 004's 7x7 image, custom kernel", conv_fn, NULL, 2, ins, 0, &go, &rep);
    if (!L.json) {
        printf("convolution — lecture 004's image-processing examples, computed by the engine's conv2d\n\n");
        print_image("Input image", x);
        print_image("\nCustom kernel", kc);
        print_image("Convolved image (valid: (7 − 3)/1 + 1 = 5)", yc);
        printf("   (the custom kernel sums the centre, its right and its lower neighbour)\n");
        print_image("\nIdentity kernel: the image's inner 5x5", yi);
        print_image("\nBlurred image, the blur kernel (.1 around a .2 centre) applied", yb);
        print_image("\nDownsampling: lecture 004's 6x6 image", x6);
        print_image("2x2 kernel of ones with stride 2: (6 − 2)/2 + 1 = 3, only 9 patches visited", down);
        print_image("Average-pooling 2x2, stride 2", avg);
        print_image("Max-pooling 2x2, stride 2", mx);
        printf("\nOutput size (W − F + 2P)/S + 1 and parameters F²·D₁·K + K [lecture 001, Summary]:\n");
        /* A size is an integer: where S does not divide W − F + 2P the
         * formula gives none (lecture 001: "Should be integers"). Shown as
         * the fraction it is, and what conv2d does instead: ⌊(W − F + 2P)/S⌋ + 1. */
        int num = cW - cF + 2 * cP;
        printf("   %dx%dx%d input, K = %d filters of %dx%d, stride %d, pad %d: (%d − %d + %d)/%d + 1 = ", cW, cW, cD, cK,
               cF, cF, cS, cP, cW, cF, 2 * cP, cS);
        if (exact)
            printf("%d\n", num / cS + 1);
        else
            printf("%d/%d + 1, not an integer:\n"
                   "   no output size (the lecture: sizes \"should be integers\"; S = %d does not divide W − F + 2P = %d,\n"
                   "   so the filter does not tile the padded input). conv2d, as PyTorch, takes ⌊%d/%d⌋ + 1 = %d,\n"
                   "   leaving the last %d column(s) and row(s) of the padded input unread\n",
                   num, cS, cS, num, num, cS, num / cS + 1, num % cS);
        printf("   the engine's conv2d gives (%lld,%lld,%lld,%lld); parameters %d²·%d·%d + %d = %lld (the engine holds %lld)\n",
               (long long)bigv.shape[0], (long long)bigv.shape[1], (long long)bigv.shape[2], (long long)bigv.shape[3], cF,
               cD, cK, cK, (long long)params, (long long)engine_params);
        printf("\nConvolution vs cross-correlation [000, 003]: deep-learning \"convolution\" (conv2d here, as in\n"
               "PyTorch) does not flip the kernel; the mathematician's convolution does. With the kernel flipped:\n");
        print_image("The custom kernel flipped (rows and columns reversed), convolved with the 7x7 image, valid", yconv);
        printf("Valid vs same: no padding gives %lldx%lld; padding 1 keeps %lldx%lld.\n\n", (long long)ycv.shape[2],
               (long long)ycv.shape[3], (long long)samev.shape[2], (long long)samev.shape[3]);
        printf("gradcheck of conv2d on the 7x7 image and the custom kernel (both Jacobians, both modes):\n");
        ad_gc_write(stdout, &rep, AD_GC_TEXT);
        printf("\nWhere the lectures differ (by computation):\n");
    }
    cJSON *doc = L.json ? cJSON_CreateObject() : NULL;
    lesson_slip(&L, doc, "004-custom-image", "004, Background: Image Processing (first 'Convolution' slide)",
                "the first slide's convolved image for the custom kernel (0 0 0 / 0 1 1 / 0 1 0) is the identity "
                "kernel's result; the later slides print the right one",
                slide_custom, eng_custom, def_custom, 25, "the definition Σ x[r+a,c+b] w[a,b]");
    lesson_slip(&L, doc, "004-blur-image", "004, Background: Image Processing (Blurring Convolution)",
                "the blurred image is not the blur of the input image in several cells (compared rounded to one "
                "decimal, as the slide prints it)",
                slide_blur_r, eng_blur_r, def_blur_r, 25, "the definition, rounded to .1");
    lesson_slip(&L, doc, "000-conv-definition", "000, Convolutions: 2D and discrete (CS) definitions",
                "y[r,c] = Σ_a Σ_b x[r,c] w[a−r, b−c] reads x at the output's index, giving x[r,c]·Σw; the "
                "convolution is Σ_a Σ_b x[a,b] w[r−a, c−b] (here: the 7x7 image, custom kernel, 'same')",
                def000_slide, def000_right, def000_ref, 49, "conv2d with the flipped kernel");
    lesson_slip(&L, doc, "000-conv-index-order", "000, Convolutions: 2D and discrete (CS) definitions",
                "the kernel's index w[a−r, b−c] (with x[a,b]) runs the kernel forwards: Σ x[r+a, c+b] w[a,b], a "
                "cross-correlation; the convolution flips it, w[r−a, c−b] (here: the 7x7 image, custom kernel, 'same')",
                order_slide, def000_right, def000_ref, 49, "conv2d with the flipped kernel");
    lesson_slip(&L, doc, "000-conv-limits", "000, Convolutions: the finite-matrix definition",
                "Σ_{a=−(H+1)/2}^{(H+1)/2} Σ_{b=−(W+1)/2}^{(W+1)/2} over an H×W kernel takes H + 2 values of a and "
                "W + 2 of b; a centred kernel has a = −(H−1)/2..(H−1)/2 (lecture 003's (K₁−1)/2): the values each "
                "index takes, for the 3x3 kernel (read as 0 outside it, the extra terms add nothing: the range is off, "
                "not the sum)",
                lim_slide, lim_right, lim_ref, 2, "the kernel's height and width in the engine");
    lesson_slip(&L, doc, "000-conv-index-clash", "000, Convolutions: what we actually implement (4)",
                "y[a,c] = Σ_{a=0}^{k₁−1} Σ_b x[a+a, c+b] w[a,b] names the output's row a, as it names the summation "
                "index: as written every row is Σ_a Σ_b x[2a, c+b] w[a,b]; it is y[r,c] = Σ_a Σ_b x[r+a, c+b] w[a,b] "
                "(the 7x7 image, custom kernel, valid; the CNN F-pass's h[a+a, c+b] is the same clash)",
                clash_slide, def_custom, eng_custom, 25, "the engine's conv2d");
    /* Lecture 003's programmer's formula y[x,c] = Σ_a Σ_b x[(x+a), (y+b)] w[a,b]: the row index is
     * named x, the input's own name, and the column offset is added to y, the output's name, while
     * the left binds the column as c, which the right never reads. No value of y makes it one: as
     * written it is not a formula for y[·,c]. The right one: x[r+a, c+b]. */
    lesson_slip_undefined(&L, doc, "003-conv-programmers", "003, Convolutions for programmers",
                          "y[x,c] = Σ_a Σ_b x[(x+a), (y+b)] w[a,b] names the row x (the input) and reads the column "
                          "y + b (y is the output); it is y[r,c] = Σ_a Σ_b x[r+a, c+b] w[a,b] (the 7x7 image, "
                          "custom kernel, valid)",
                          "the column index y + b adds b to the output array y, not to an index, and the left's "
                          "column c does not occur on the right: no y[x,c] to compute",
                          def_custom, eng_custom, 25, "the engine's conv2d");
    lesson_slip(&L, doc, "001-conv-depth", "001, Convolutional layer Summary",
                "the output is written D₁ × W₂ × H₂; its depth is D₂ = K (one activation map per filter)",
                &depth_slide, &depth_right, &depth_engine, 1, "the engine's conv2d output depth");
    if (doc) {
        cJSON_AddStringToObject(doc, "lesson", "convolution");
        lesson_json_array(doc, "image", image7, 49);      /* lecture 004's 7×7 image and custom kernel, */
        lesson_json_array(doc, "custom_kernel", custom, 9);   /* the inputs of the slips' computations */
        cJSON *in = cJSON_AddObjectToObject(doc, "inputs");
        for (int i = 0; i < L.n_in; i++) cJSON_AddNumberToObject(in, L.in[i].name, L.in[i].value);
        cJSON *a = cJSON_AddArrayToObject(doc, "custom");
        for (int i = 0; i < 25; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ad_value_at(yc, i)));
        cJSON *b = cJSON_AddArrayToObject(doc, "blur");
        for (int i = 0; i < 25; i++) cJSON_AddItemToArray(b, cJSON_CreateNumber(ad_value_at(yb, i)));
        cJSON *d = cJSON_AddArrayToObject(doc, "stride2");
        for (int i = 0; i < 9; i++) cJSON_AddItemToArray(d, cJSON_CreateNumber(ad_value_at(down, i)));
        cJSON_AddBoolToObject(doc, "slide_custom_differs", custom_slip >= 0);
        cJSON_AddNumberToObject(doc, "output_size", (double)bigv.shape[2]);
        /* the formula's size where it is one; else its fraction and why there is none */
        cJSON_AddBoolToObject(doc, "output_size_is_integer", exact);
        if (exact) {
            cJSON_AddNumberToObject(doc, "output_size_formula", (double)((cW - cF + 2 * cP) / cS + 1));
        } else {
            cJSON *fr = cJSON_AddObjectToObject(doc, "output_size_fraction");   /* (W − F + 2P)/S + 1 as num/S + 1 */
            cJSON_AddNumberToObject(fr, "numerator", cW - cF + 2 * cP);
            cJSON_AddNumberToObject(fr, "denominator", cS);
            cJSON_AddStringToObject(doc, "output_size_none", "S does not divide W - F + 2P: no integer size; conv2d floors");
        }
        cJSON_AddNumberToObject(doc, "output_depth", (double)bigv.shape[1]);
        cJSON_AddNumberToObject(doc, "parameters", (double)params);
        cJSON_AddNumberToObject(doc, "engine_parameters", (double)engine_params);
        double tmp[49];
        ad_value_copy_out(yi, tmp, 25);
        lesson_json_array(doc, "identity", tmp, 25);
        ad_value_copy_out(avg, tmp, 9);
        lesson_json_array(doc, "avg_pool", tmp, 9);
        ad_value_copy_out(mx, tmp, 9);
        lesson_json_array(doc, "max_pool", tmp, 9);
        ad_value_copy_out(yconv, tmp, 25);
        lesson_json_array(doc, "convolution_flipped", tmp, 25);
        cJSON_AddNumberToObject(doc, "same_size", (double)samev.shape[2]);
        cJSON_AddNumberToObject(doc, "gradcheck_failed", rep.n_fail);
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, yc);
    lesson_write_html(&L, ctx, yc);
    if (rep.n_fail) lesson_fail(&L, "gradcheck of conv2d failed");
    if (params != engine_params) lesson_fail(&L, "F²D₁K + K = %lld but the engine holds %lld", (long long)params, (long long)engine_params);
    int status = lesson_status();
    ad_gc_report_free(&rep);
    ad_context_free(ctx);
    return status;
}
