/* pooling: lecture 001's 4×4 example (../shared/lectures/001_*): max-pool
 * and average-pool, 2×2 windows, stride 2, and their backward passes: max
 * routes each window's gradient to its arg-max, average spreads it evenly.
 * At a tie (two maxima in a window) any split of the gradient between them
 * is a valid subgradient; the engine gives all of it to the first maximum
 * in row-major order. */
#include <math.h>
#include <stdio.h>
#include "ad_gradcheck.h"
#include "lesson.h"

static const double x4[16] = {1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4};

/* An H×W grid of numbers, row-major. */
static void print_numbers(const char *title, int64_t H, int64_t W, const double *v)
{
    printf("%s\n", title);
    for (int64_t i = 0; i < H; i++) {
        printf("   ");
        for (int64_t j = 0; j < W; j++) printf(" %5g", v[i * W + j]);
        printf("\n");
    }
}

/* A 1×1×H×W node's values or grad as a grid (the lesson's grids are 4×4 at most). */
static void print_grid(const char *title, const ad_node *n, bool grad)
{
    ad_tensor t = ad_value(n);
    double v[16];
    if (t.size > 16 || (grad ? ad_grad_copy_out(n, v, 16) : ad_value_copy_out(n, v, 16)) != AD_OK) return;
    print_numbers(title, t.shape[2], t.shape[3], v);
}

static ad_node *pool_fn(ad_context *ctx, ad_node *const *in, int n, void *user)
{
    (void)n;
    return *(const int *)user ? ad_maxpool2d(ctx, in[0], 2, 2) : ad_avgpool2d(ctx, in[0], 2, 2);
}

int main(int argc, char **argv)
{
    lesson L = {.program = "pooling",
                .source = "001_5b955eed8dfe07dd.txt: \"Pooling\" (Max Pool, Average Pool)",
                .code = "engine/core/backward.c (the sweep), ops/pool.c (max and average pooling: forward, vjp, jvp)", .title = "max- and average-pooling of lecture 001's 4x4 example, forward and backward",
                .has_variant = true, .has_dot = true};
    lesson_parse(&L, argc, argv);
    ad_context *ctx = lesson_context(&L);
    int64_t s[] = {1, 1, 4, 4}, s2[] = {1, 1, 2, 2};
    ad_node *x = ad_set_name(ad_variable(ctx, AD_FLOAT64, 4, s, x4), "x");
    ad_node *mp = ad_set_name(ad_maxpool2d(ctx, x, 2, 2), "max-pool"), *ap = ad_set_name(ad_avgpool2d(ctx, x, 2, 2), "avg-pool");
    if (!mp || !ap) lesson_die(&L, "pooling");
    /* upstream gradient dL/dy = (1 2 / 3 4), so each routed value is visible */
    double up[4] = {1, 2, 3, 4};
    ad_tensor *cot = ad_tensor_from(AD_FLOAT64, 4, s2, up);
    if (!cot) lesson_die(&L, "cotangent");
    lesson_backward(&L, ctx, mp, cot);
    double gmax[16], gavg[16];
    ad_grad_copy_out(x, gmax, 16);
    ad_zero_grad(ctx);
    lesson_backward(&L, ctx, ap, cot);
    ad_grad_copy_out(x, gavg, 16);
    /* a tie: two 9s in one window */
    double tie[16] = {9, 1, 2, 4, 5, 9, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4};
    ad_node *xt = ad_variable(ctx, AD_FLOAT64, 4, s, tie);
    ad_node *mt = ad_maxpool2d(ctx, xt, 2, 2);
    lesson_backward(&L, ctx, mt, cot);
    /* gradcheck both, away from ties */
    ad_gc_options go;
    ad_gc_default_options(&go);
    ad_gc_report rep = {0};
    ad_tensor xv = ad_value(x);
    const ad_tensor *ins[1] = {&xv};
    int is_max = 1, is_avg = 0;
    ad_gradcheck_fn("maxpool2d", "lecture 001's 4x4 example", pool_fn, &is_max, 1, ins, 0, &go, &rep);
    ad_gradcheck_fn("avgpool2d", "lecture 001's 4x4 example", pool_fn, &is_avg, 1, ins, 0, &go, &rep);
    if (!L.json) {
        printf("pooling — lecture 001's 4x4 example, 2x2 windows, stride 2\n\n");
        print_grid("x:", x, false);
        print_grid("\nmax-pool (each window's largest value):", mp, false);
        print_grid("average-pool (each window's mean):", ap, false);
        printf("\nBackward (Version %s), with the upstream gradient dL/dy = (1 2 / 3 4):\n",
               L.variant == AD_BACKWARD_PULL ? "A" : "B");
        print_numbers("max-pool: each window's gradient goes to its arg-max, the rest get 0", 4, 4, gmax);
        print_numbers("average-pool: each window's gradient is shared by its 4 inputs (/4)", 4, 4, gavg);
        print_grid("\nA tie: the top-left window holds two 9s", xt, false);
        print_grid("max-pool's backward gives all of that window's gradient to the first 9 (row-major); any\n"
                   "split between the two 9s is an equally valid subgradient:", xt, true);
        printf("\ngradcheck (inputs without ties):\n");
        ad_gc_write(stdout, &rep, AD_GC_TEXT);
    } else {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "lesson", "pooling");
        cJSON *a = cJSON_AddArrayToObject(doc, "max_pool"), *b = cJSON_AddArrayToObject(doc, "avg_pool");
        for (int i = 0; i < 4; i++) {
            cJSON_AddItemToArray(a, cJSON_CreateNumber(ad_value_at(mp, i)));
            cJSON_AddItemToArray(b, cJSON_CreateNumber(ad_value_at(ap, i)));
        }
        lesson_json_array(doc, "x", x4, 16);
        lesson_json_array(doc, "upstream_grad", up, 4);
        lesson_json_array(doc, "max_pool_grad", gmax, 16);
        lesson_json_array(doc, "avg_pool_grad", gavg, 16);
        lesson_json_array(doc, "tie_x", tie, 16);
        double gt[16];
        ad_grad_copy_out(xt, gt, 16);
        lesson_json_array(doc, "tie_max_pool_grad", gt, 16);
        cJSON_AddStringToObject(doc, "variant", L.variant == AD_BACKWARD_PULL ? "A" : "B");
        cJSON_AddNumberToObject(doc, "gradcheck_failed", rep.n_fail);
        lesson_print_json(doc);
    }
    lesson_write_dot(&L, ctx, mp);
    lesson_write_html(&L, ctx, mp);
    if (rep.n_fail) lesson_fail(&L, "gradcheck of pooling failed");
    int status = lesson_status();
    ad_gc_report_free(&rep);
    ad_tensor_free(cot);
    ad_context_free(ctx);
    return status;
}
