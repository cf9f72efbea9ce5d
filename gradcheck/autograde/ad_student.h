/* ad_student.h: what a student's C file implements for the example
 * assignment. Plain arrays of doubles, row-major, and the shapes: no engine
 * internals to learn. Every *_vjp ADDS its result into the gradient arrays
 * (gx += ...), as backpropagation accumulates over a node's consumers; the
 * grader fills them with other values first, so "=" instead of "+=" shows.
 *
 * Test your file locally (no sandbox) with:
 *   autograde --assignment assignment.json --submission yours.c --out results/ */
#ifndef AD_STUDENT_H
#define AD_STUDENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y = 1 / (1 + exp(-x)), elementwise over n values */
void student_sigmoid_forward(int64_t n, const double *x, double *y);
void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx);

/* y = x·wᵀ + b: x (N,I), w (O,I), b (O) -> y (N,O) */
void student_linear_forward(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *b,
                            double *y);
void student_linear_vjp(int64_t N, int64_t I, int64_t O, const double *x, const double *w, const double *gy,
                        double *gx, double *gw, double *gb);

/* loss = mean over n of −log softmax(logits[n])[t[n]]: logits (N,C), t (N) class indices */
void student_softmax_ce_forward(int64_t N, int64_t C, const double *logits, const int64_t *t, double *loss);
void student_softmax_ce_vjp(int64_t N, int64_t C, const double *logits, const int64_t *t, double gloss,
                            double *glogits);

/* 2-d cross-correlation, zero padding: x (N,C,H,W), w (K,C,R,S) -> y (N,K,P,Q),
 * P = (H + 2·pad - R)/stride + 1, Q = (W + 2·pad - S)/stride + 1 */
typedef struct student_conv2d_dims {
    int64_t N, C, H, W, K, R, S, stride, pad, P, Q;
} student_conv2d_dims;
void student_conv2d_forward(const student_conv2d_dims *d, const double *x, const double *w, double *y);
void student_conv2d_vjp(const student_conv2d_dims *d, const double *x, const double *w, const double *gy, double *gx,
                        double *gw);

/* max over window × window patches taken every stride: x (N,C,H,W) -> y (N,C,P,Q),
 * P = (H - window)/stride + 1. At a tie, any split of the gradient among the
 * tied maxima is a valid subgradient and gets full marks. */
typedef struct student_pool_dims {
    int64_t N, C, H, W, window, stride, P, Q;
} student_pool_dims;
void student_maxpool2d_forward(const student_pool_dims *d, const double *x, double *y);
void student_maxpool2d_vjp(const student_pool_dims *d, const double *x, const double *gy, double *gx);

#ifdef __cplusplus
}
#endif
#endif
