/* cnn_backprop: the conv layer's backward pass [lectures 000, 004]: for
 * y = x ⋆ w (cross-correlation), with upstream gradient g = ∂L/∂y,
 *   ∂L/∂x = the full convolution of g with the flipped kernel, and
 *   ∂L/∂w = the correlation of x with g.
 * The lesson computes ∂L/∂x and ∂L/∂w with the engine's backward pass, then
 * again with the engine's own forward conv2d used as those two formulas,
 * and checks both against gradcheck. */
#include <math.h>
#include <stdio.h>
#include "ad_gradcheck.h"
#include "lesson.h"

static void print_grid(const char *title, const double *v, int h, int w)
{
    printf("%s\n", title);
    for (int i = 0; i < h; i++) {
        printf("   ");
        for (int j = 0; j < w; j++) printf(" %6g", v[i * w + j]);
        printf("\n");
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
    lesson L = {.program = "cnn_backprop",
                .source = "000_b20c894f9e115dfe.txt: \"CNN - B-Pass\"; 004_586b0e2da8ef059d.txt: \"Training CNNs\", \"Backpropagation for CNNs\"",
                .code = "engine/core/backward.c (the sweep that calls each vjp), ops/conv2d.c (conv2d's forward and its vjp: dx, dw, db)", .title = "the conv layer's backward pass as two convolutions [lectures 000, 004]",
                .has_variant = true, .has_dot = true};
    lesson_parse(&L, argc, argv);
    double xv[16] = {1, 2, 0, 1, 3, 1, 2, 2, 0, 1, 3, 1, 2, 0, 1, 4}, wv[4] = {1, -1, 2, 0.5};
    double gv[9] = {1, 0, -1, 2, 1, 0, 0, 3, 1};
    int64_t sx[] = {1, 1, 4, 4}, sw[] = {1, 1, 2, 2}, sg[] = {1, 1, 3, 3};
    ad_context *ctx = lesson_context(&L);
    ad_node *x = ad_set_name(ad_variable(ctx, AD_FLOAT64, 4, sx, xv), "x"), *w = ad_set_name(ad_variable(ctx, AD_FLOAT64, 4, sw, wv), "w");
    ad_node *y = ad_set_name(ad_conv2d(ctx, x, w, NULL, 1, 0), "y");
    ad_tensor *g = ad_tensor_from(AD_FLOAT64, 4, sg, gv);
    if (!g) lesson_die(&L, "cotangent");
    lesson_backward(&L, ctx, y, g);
    double dx[16], dw[4], dx2[16], dw2[4];
    ad_grad_copy_out(x, dx, 16);
    ad_grad_copy_out(w, dw, 4);
    /* the formulas, with conv2d as the tool: full convolution = pad g by R-1, correlate with the flipped w */
    double wf[4] = {wv[3], wv[2], wv[1], wv[0]};
    bool was = ad_set_grad_enabled(ctx, false);
    ad_node *full = ad_conv2d(ctx, ad_constant(ctx, AD_FLOAT64, 4, sg, gv), ad_constant(ctx, AD_FLOAT64, 4, sw, wf), NULL, 1, 1);
    ad_node *corr = ad_conv2d(ctx, ad_constant(ctx, AD_FLOAT64, 4, sx, xv), ad_constant(ctx, AD_FLOAT64, 4, sg, gv), NULL, 1, 0);
    ad_set_grad_enabled(ctx, was);
    if (!full || !corr) lesson_die(&L, "conv2d");
    ad_value_copy_out(full, dx2, 16);
    ad_value_copy_out(corr, dw2, 4);
    double worst = 0;
    for (int i = 0; i < 20; i++) {
        double d = i < 16 ? fabs(dx[i] - dx2[i]) : fabs(dw[i - 16] - dw2[i - 16]);
        if (!(d <= worst)) worst = d;   /* NaN-propagating maximum */
    }
    ad_gc_options go;
    ad_gc_default_options(&go);
    ad_gc_report rep = {0};
    const ad_tensor xt = ad_value(x), wt = ad_value(w);
    const ad_tensor *ins[2] = {&xt, &wt};
    ad_gradcheck_fn("conv2d", "x (1,1,4,4), w (1,1,2,2)", conv_fn, NULL, 2, ins, 0, &go, &rep);
    if (!L.json) {
        printf("cnn_backprop — y = x ⋆ w (valid cross-correlation), L with upstream gradient g = ∂L/∂y\n"
               "(backward pass: Version %s)\n\n", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        print_grid("x:", xv, 4, 4);
        print_grid("w:", wv, 2, 2);
        print_grid("g = ∂L/∂y:", gv, 3, 3);
        print_grid("\n∂L/∂x from the engine's backward pass:", dx, 4, 4);
        print_grid("∂L/∂x as the full convolution of g with the flipped kernel (conv2d, pad 1, w flipped):", dx2, 4, 4);
        print_grid("\n∂L/∂w from the engine's backward pass:", dw, 2, 2);
        print_grid("∂L/∂w as the correlation of x with g (conv2d of x by g):", dw2, 2, 2);
        printf("\nLargest difference between the backward pass and the formulas: %.1e\n\n", worst);
        printf("gradcheck of conv2d here:\n");
        ad_gc_write(stdout, &rep, AD_GC_TEXT);
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "cnn_backprop");
        cJSON_AddNumberToObject(doc, "formula_max_diff", worst);
        lesson_json_array(doc, "x", xv, 16);
        lesson_json_array(doc, "w", wv, 4);
        lesson_json_array(doc, "g", gv, 9);
        double yv[9];
        ad_value_copy_out(y, yv, 9);
        lesson_json_array(doc, "y", yv, 9);
        lesson_json_array(doc, "dL_dx", dx, 16);
        lesson_json_array(doc, "dL_dx_full_convolution", dx2, 16);
        lesson_json_array(doc, "dL_dw", dw, 4);
        lesson_json_array(doc, "dL_dw_correlation", dw2, 4);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        cJSON_AddNumberToObject(doc, "gradcheck_failed", rep.n_fail);
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, y);
    lesson_write_html(&L, ctx, y);
    if (rep.n_fail) lesson_fail(&L, "gradcheck of conv2d failed");
    if (!(worst <= 1e-12)) lesson_fail(&L, "the backward pass and the two convolutions differ by %g", worst);
    int status = lesson_status();
    ad_gc_report_free(&rep);
    ad_tensor_free(g);
    ad_context_free(ctx);
    return status;
}
