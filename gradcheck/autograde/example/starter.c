/* starter.c: the example assignment. Implement each function as ad_student.h
 * describes; every *_vjp ADDS into its gradient arrays (+=).
 * Check your work locally:  student_check starter.c   (runs gradcheck on your
 * functions), then  autograde --assignment assignment.json --submission starter.c --out out/ */
#include <math.h>
#include "ad_student.h"

void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    /* TODO: your code here */
    (void)n; (void)x; (void)y;
}

void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx)
{
    /* TODO: your code here */
    (void)n; (void)x; (void)gy; (void)gx;
}

void student_linear_forward(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *b,
                            double *y)
{
    /* TODO: your code here */
    (void)N; (void)I; (void)O; (void)x; (void)w; (void)b; (void)y;
}

void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy,
                        double *gx, double *gw, double *gb)
{
    /* TODO: your code here */
    (void)N; (void)I; (void)O; (void)x; (void)w; (void)gy; (void)gx; (void)gw; (void)gb;
}

void student_softmax_ce_forward(int64_t N, int64_t C, const double *logits, const int64_t *t, double *loss)
{
    /* TODO: your code here */
    (void)N; (void)C; (void)logits; (void)t; (void)loss;
}

void student_softmax_ce_vjp(int64_t N, int64_t C, const double *logits, const int64_t *t, double gloss,
                            double *glogits)
{
    /* TODO: your code here */
    (void)N; (void)C; (void)logits; (void)t; (void)gloss; (void)glogits;
}

void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y)
{
    /* TODO: your code here */
    (void)d; (void)x; (void)w; (void)y;
}

void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx,
                        double *gw)
{
    /* TODO: your code here */
    (void)d; (void)x; (void)w; (void)gy; (void)gx; (void)gw;
}

void student_maxpool2d_forward(const student_pool_dims *d, const double *x, double *y)
{
    /* TODO: your code here */
    (void)d; (void)x; (void)y;
}

void student_maxpool2d_vjp(const student_pool_dims *d, const double *x, const double *gy, double *gx)
{
    /* TODO: your code here */
    (void)d; (void)x; (void)gy; (void)gx;
}
