/* lenet_model.c: LeNet-5's parameters and forward pass (lenet_model.h). */
#include <gsl/gsl_randist.h>
#include <math.h>
#include "lenet_model.h"

static ad_node *param(ad_context *ctx, gsl_rng *rng, int ndim, const int64_t *shape, int64_t fan_in, const char *name)
{
    ad_node *n = ad_variable(ctx, AD_FLOAT32, ndim, shape, NULL);
    if (!n) return NULL;
    /* He initialisation for weights (ReLU follows), zeros for biases */
    double sd = ndim > 1 ? sqrt(2.0 / (double)fan_in) : 0;
    for (int64_t i = 0, size = ad_value(n).size; i < size; i++) ad_set_value_at(n, i, sd * gsl_ran_gaussian(rng, 1.0));
    return ad_set_name(n, name);
}

bool lenet_init(lenet *m, ad_context *ctx, gsl_rng *rng)
{
    int64_t c1[] = {6, 1, 5, 5}, b1[] = {6}, c2[] = {16, 6, 5, 5}, b2[] = {16}, f1[] = {120, 400}, fb1[] = {120},
            f2[] = {84, 120}, fb2[] = {84}, f3[] = {10, 84}, fb3[] = {10};
    m->p[0] = param(ctx, rng, 4, c1, 25, "conv1.w");
    m->p[1] = param(ctx, rng, 1, b1, 25, "conv1.b");
    m->p[2] = param(ctx, rng, 4, c2, 150, "conv2.w");
    m->p[3] = param(ctx, rng, 1, b2, 150, "conv2.b");
    m->p[4] = param(ctx, rng, 2, f1, 400, "fc1.w");
    m->p[5] = param(ctx, rng, 1, fb1, 400, "fc1.b");
    m->p[6] = param(ctx, rng, 2, f2, 120, "fc2.w");
    m->p[7] = param(ctx, rng, 1, fb2, 120, "fc2.b");
    m->p[8] = param(ctx, rng, 2, f3, 84, "fc3.w");
    m->p[9] = param(ctx, rng, 1, fb3, 84, "fc3.b");
    for (int i = 0; i < N_PARAMS; i++)
        if (!m->p[i]) return false;
    return true;
}

/* x (B,1,28,28) -> logits (B,10). Each conv and its ReLU are one op,
 * ad_conv2d_relu: the same numbers as ad_relu(ad_conv2d(...)), bit for bit,
 * with two passes fewer over the conv's output. */
ad_node *lenet_forward(const lenet *m, ad_context *ctx, ad_node *x)
{
    ad_node *h = ad_maxpool2d(ctx, ad_conv2d_relu(ctx, x, m->p[0], m->p[1], 1, 2), 2, 2);   /* (B,6,14,14) */
    h = ad_maxpool2d(ctx, ad_conv2d_relu(ctx, h, m->p[2], m->p[3], 1, 0), 2, 2);           /* (B,16,5,5) */
    h = ad_flatten(ctx, h);                                                                         /* (B,400) */
    h = ad_relu(ctx, ad_linear(ctx, h, m->p[4], m->p[5]));                                          /* (B,120) */
    h = ad_relu(ctx, ad_linear(ctx, h, m->p[6], m->p[7]));                                          /* (B,84) */
    return ad_linear(ctx, h, m->p[8], m->p[9]);                                                     /* (B,10) */
}

