/* solution.c: the reference solution of the example assignment (ad_student.h). */
#include <math.h>
#include "ad_student.h"

void student_sigmoid_forward(int64_t n, const double *x, double *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = 1 / (1 + exp(-x[i]));
}

void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx)
{
    for (int64_t i = 0; i < n; i++) {
        double y = 1 / (1 + exp(-x[i]));
        gx[i] += gy[i] * y * (1 - y);
    }
}

void student_linear_forward(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *b,
                            double *y)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) {
            double s = b[o];
            for (int64_t i = 0; i < I; i++) s += x[n * I + i] * w[o * I + i];
            y[n * O + o] = s;
        }
}

void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy,
                        double *gx, double *gw, double *gb)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++) {
            double g = gy[n * O + o];
            gb[o] += g;
            for (int64_t i = 0; i < I; i++) {
                gx[n * I + i] += g * w[o * I + i];   /* dx = dy · w */
                gw[o * I + i] += g * x[n * I + i];   /* dw = dyᵀ · x */
            }
        }
}

static double logsumexp(int64_t C, const double *z)
{
    double m = z[0], s = 0;
    for (int64_t c = 1; c < C; c++) m = z[c] > m ? z[c] : m;
    for (int64_t c = 0; c < C; c++) s += exp(z[c] - m);
    return m + log(s);
}

void student_softmax_ce_forward(int64_t N, int64_t C, const double *logits, const int64_t *t, double *loss)
{
    double s = 0;
    for (int64_t n = 0; n < N; n++) s += logsumexp(C, logits + n * C) - logits[n * C + t[n]];
    *loss = s / (double)N;
}

void student_softmax_ce_vjp(int64_t N, int64_t C, const double *logits, const int64_t *t, double gloss,
                            double *glogits)
{
    for (int64_t n = 0; n < N; n++) {
        double lse = logsumexp(C, logits + n * C);
        for (int64_t c = 0; c < C; c++)
            glogits[n * C + c] += gloss / (double)N * (exp(logits[n * C + c] - lse) - (c == t[n]));
    }
}

void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y)
{
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t p = 0; p < d->P; p++)
                for (int64_t q = 0; q < d->Q; q++) {
                    double s = 0;
                    for (int64_t c = 0; c < d->C; c++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t u = 0; u < d->S; u++) {
                                int64_t h = p * d->stride - d->pad + r, v = q * d->stride - d->pad + u;
                                if (h >= 0 && h < d->H && v >= 0 && v < d->W)
                                    s += x[((n * d->C + c) * d->H + h) * d->W + v] * w[((k * d->C + c) * d->R + r) * d->S + u];
                            }
                    y[((n * d->K + k) * d->P + p) * d->Q + q] = s;
                }
}

void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx,
                        double *gw)
{
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t k = 0; k < d->K; k++)
            for (int64_t p = 0; p < d->P; p++)
                for (int64_t q = 0; q < d->Q; q++) {
                    double g = gy[((n * d->K + k) * d->P + p) * d->Q + q];
                    for (int64_t c = 0; c < d->C; c++)
                        for (int64_t r = 0; r < d->R; r++)
                            for (int64_t u = 0; u < d->S; u++) {
                                int64_t h = p * d->stride - d->pad + r, v = q * d->stride - d->pad + u;
                                if (h < 0 || h >= d->H || v < 0 || v >= d->W) continue;
                                gx[((n * d->C + c) * d->H + h) * d->W + v] += g * w[((k * d->C + c) * d->R + r) * d->S + u];
                                gw[((k * d->C + c) * d->R + r) * d->S + u] += g * x[((n * d->C + c) * d->H + h) * d->W + v];
                            }
                }
}

/* index of the first maximum of the window at (plane, p, q) */
static int64_t argmax(const student_pool_dims *d, const double *x, int64_t plane, int64_t p, int64_t q)
{
    int64_t best = plane * d->H * d->W + p * d->stride * d->W + q * d->stride;
    for (int64_t r = 0; r < d->window; r++)
        for (int64_t s = 0; s < d->window; s++) {
            int64_t i = plane * d->H * d->W + (p * d->stride + r) * d->W + q * d->stride + s;
            if (x[i] > x[best]) best = i;
        }
    return best;
}

void student_maxpool2d_forward(const student_pool_dims *d, const double *x, double *y)
{
    for (int64_t plane = 0; plane < d->N * d->C; plane++)
        for (int64_t p = 0; p < d->P; p++)
            for (int64_t q = 0; q < d->Q; q++) y[(plane * d->P + p) * d->Q + q] = x[argmax(d, x, plane, p, q)];
}

void student_maxpool2d_vjp(const student_pool_dims *d, const double *x, const double *gy, double *gx)
{
    for (int64_t plane = 0; plane < d->N * d->C; plane++)
        for (int64_t p = 0; p < d->P; p++)
            for (int64_t q = 0; q < d->Q; q++) gx[argmax(d, x, plane, p, q)] += gy[(plane * d->P + p) * d->Q + q];
}
