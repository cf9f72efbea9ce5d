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
    int64_t H = n->value.shape[2], W = n->value.shape[3];
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
        if (fabs(ad_value_at(n, i) - ref[i]) > tol) return (int)i;
    return -1;
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
                .title = "convolution, stride, pooling, output sizes, cross-correlation [lectures 004, 001, 000, 003]"};
    lesson_parse(&L, argc, argv);
    ad_context *ctx = ad_context_new();
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
    /* lecture 001: a 32×32×3 input, ten 5×5 filters, stride 1, pad 2 */
    int64_t s32[] = {1, 3, 32, 32}, sk[] = {10, 3, 5, 5}, sbias[] = {10};
    ad_node *big = ad_conv2d(ctx, ad_constant(ctx, AD_FLOAT64, 4, s32, NULL), ad_variable(ctx, AD_FLOAT64, 4, sk, NULL),
                             ad_variable(ctx, AD_FLOAT64, 1, sbias, NULL), 1, 2);
    int64_t params = 5 * 5 * 3 * 10 + 10;
    int custom_slip = max_abs_diff_index(yc, slide_custom, 25, 0), blur_diff = max_abs_diff_index(yb, slide_blur, 25, 0.051);
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
        if (custom_slip >= 0)
            printf("   The slide prints the identity kernel's result here (1 1 1 1 1 / 1 0 0 1 0 / ...); the custom\n"
                   "   kernel sums the centre, its right and its lower neighbour, which gives the rows above.\n");
        print_image("\nIdentity kernel: the image's inner 5x5", yi);
        print_image("\nBlur kernel (.1 around a .2 centre)", yb);
        if (blur_diff < 0) printf("   Matches the slide's values, which are rounded to one decimal.\n");
        else
            printf("   Where the slide differs: at row %d, column %d it prints %.1f, the engine gets %.2f (the 3x3\n"
                   "   neighbourhood there holds %.0f ones around a centre of %.0f: .1 × %.0f + .2 × %.0f). The slide's\n"
                   "   blurred image is not the blur of its input image in its second and third rows.\n",
                   blur_diff / 5 + 1, blur_diff % 5 + 1, slide_blur[blur_diff], ad_value_at(yb, blur_diff),
                   round((ad_value_at(yb, blur_diff) - 0.2 * image7[(blur_diff / 5 + 1) * 7 + blur_diff % 5 + 1]) / 0.1),
                   image7[(blur_diff / 5 + 1) * 7 + blur_diff % 5 + 1],
                   round((ad_value_at(yb, blur_diff) - 0.2 * image7[(blur_diff / 5 + 1) * 7 + blur_diff % 5 + 1]) / 0.1),
                   image7[(blur_diff / 5 + 1) * 7 + blur_diff % 5 + 1]);
        print_image("\nDownsampling: lecture 004's 6x6 image", x6);
        print_image("2x2 kernel of ones with stride 2: (6 − 2)/2 + 1 = 3, only 9 patches visited", down);
        print_image("Average-pooling 2x2, stride 2", avg);
        print_image("Max-pooling 2x2, stride 2", mx);
        printf("\nOutput size (W − F + 2P)/S + 1 and parameters F²·D₁·K + K [lecture 001]:\n");
        printf("   32x32x3 input, K = 10 filters of 5x5, stride 1, pad 2: (32 − 5 + 4)/1 + 1 = %lld; the engine's\n"
               "   conv2d gives (%lld,%lld,%lld,%lld); parameters 5²·3·10 + 10 = %lld\n",
               (long long)((32 - 5 + 4) / 1 + 1), (long long)big->value.shape[0], (long long)big->value.shape[1],
               (long long)big->value.shape[2], (long long)big->value.shape[3], (long long)params);
        printf("\nConvolution vs cross-correlation [000, 003]: deep-learning \"convolution\" (conv2d here, as in\n"
               "PyTorch) does not flip the kernel; the mathematician's convolution does. With the kernel flipped:\n");
        print_image("", yconv);
        printf("Valid vs same: no padding gives %lldx%lld; padding 1 keeps %lldx%lld.\n\n", (long long)yc->value.shape[2],
               (long long)yc->value.shape[3], (long long)same->value.shape[2], (long long)same->value.shape[3]);
        printf("gradcheck of conv2d on the 7x7 image and the custom kernel (both Jacobians, both modes):\n");
        ad_gc_write(stdout, &rep, AD_GC_TEXT);
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "convolution");
        cJSON *a = cJSON_AddArrayToObject(doc, "custom");
        for (int i = 0; i < 25; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ad_value_at(yc, i)));
        cJSON *b = cJSON_AddArrayToObject(doc, "blur");
        for (int i = 0; i < 25; i++) cJSON_AddItemToArray(b, cJSON_CreateNumber(ad_value_at(yb, i)));
        cJSON *d = cJSON_AddArrayToObject(doc, "stride2");
        for (int i = 0; i < 9; i++) cJSON_AddItemToArray(d, cJSON_CreateNumber(ad_value_at(down, i)));
        cJSON_AddBoolToObject(doc, "slide_custom_differs", custom_slip >= 0);
        cJSON_AddNumberToObject(doc, "output_size_32", (double)big->value.shape[2]);
        cJSON_AddNumberToObject(doc, "parameters", (double)params);
        cJSON_AddNumberToObject(doc, "gradcheck_failed", rep.n_fail);
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, yc);
    int status = rep.n_fail ? 1 : 0;
    ad_gc_report_free(&rep);
    ad_context_free(ctx);
    return status;
}
