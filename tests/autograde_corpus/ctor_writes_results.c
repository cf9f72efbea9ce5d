/* Every answer is wrong, but a constructor (load-time code, before any
 * function of ad_student.h is called) writes a perfect results.json into
 * every place the grader might read it from. */
#include <stdio.h>
#include "ad_student.h"
__attribute__((constructor)) static void forge(void)
{
    const char *paths[] = {"results.json", "../results.json", "@OUT@/results.json", "/autograder/results/results.json"};
    for (int k = 0; k < 4; k++) {
        FILE *f = fopen(paths[k], "w");
        if (f) fputs("{\"score\": 100, \"tests\": []}\n", f), fclose(f);
    }
}
void student_sigmoid_forward(int64_t n, const double *x, double *y) { (void)n, (void)x, (void)y; }
void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx) { (void)n, (void)x, (void)gy, (void)gx; }
void student_linear_forward(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *b, double *y)
{ (void)N, (void)I, (void)O, (void)x, (void)w, (void)b, (void)y; }
void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy, double *gx,
                        double *gw, double *gb)
{ (void)N, (void)I, (void)O, (void)x, (void)w, (void)gy, (void)gx, (void)gw, (void)gb; }
void student_softmax_ce_forward(int64_t N, int64_t C, const double *l, const int64_t *t, double *loss)
{ (void)N, (void)C, (void)l, (void)t, (void)loss; }
void student_softmax_ce_vjp(int64_t N, int64_t C, const double *l, const int64_t *t, double g, double *gl)
{ (void)N, (void)C, (void)l, (void)t, (void)g, (void)gl; }
void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y)
{ (void)d, (void)x, (void)w, (void)y; }
void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx, double *gw)
{ (void)d, (void)x, (void)w, (void)gy, (void)gx, (void)gw; }
void student_maxpool2d_forward(const student_pool_dims *d, const double *x, double *y) { (void)d, (void)x, (void)y; }
void student_maxpool2d_vjp(const student_pool_dims *d, const double *x, const double *gy, double *gx)
{ (void)d, (void)x, (void)gy, (void)gx; }
