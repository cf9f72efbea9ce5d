/* ad_elementwise_math.h: every elementwise op's function and local
 * derivative, written once. The CPU forward, vjp and jvp (elementwise.c)
 * and the CUDA kernels (gpu/) all call these.
 *
 * Unary:  y = NAME_f(x, c);     dy/dx = NAME_d(x, y, c)   (c: the op's constant)
 *                               d²y/dx² = NAME_d2(x, y, c)
 * Binary: y = NAME_f(a, b);     dy/da = NAME_da(a, b, y), dy/db = NAME_db(a, b, y)
 *                               d²y/da² = NAME_daa, d²y/dadb = NAME_dab, d²y/db² = NAME_dbb
 *                               (each of (a, b, y))
 * The second derivatives are the ops' second-order rules (ad_hvp); at a
 * kink (relu, abs, max, min) they are those of the piece the first
 * derivative takes: 0.
 *
 * Subgradients at kinks, documented once here:
 *   relu'(0) = 0, abs'(0) = 0,
 *   max(a, b) at a tie a == b sends the whole gradient to a (dy/da = 1, dy/db = 0),
 *   min(a, b) likewise sends it to a (PyTorch splits a tie evenly: a
 *   documented convention, README "Conventions").
 * NaN, as in IEEE 754 and PyTorch: a NaN input gives a NaN output in every
 * op; a comparison never decides it (NaN compares false, so `a >= b ? a : b`
 * would drop a NaN in a and keep one in b). Where an input is NaN the local
 * derivatives are PyTorch's: max/min pass the gradient to both inputs,
 * relu passes it (relu' is 0 only where relu(x) <= 0), abs' is 0. */
#ifndef AD_ELEMENTWISE_MATH_H
#define AD_ELEMENTWISE_MATH_H

#include <math.h>

#if defined(__CUDACC__)
#define AD_HD __host__ __device__
#else
#define AD_HD
#endif

/* ---- binary ---- */
AD_HD static inline double add_f(double a, double b) { return a + b; }
AD_HD static inline double add_da(double a, double b, double y) { (void)a; (void)b; (void)y; return 1.0; }
AD_HD static inline double add_db(double a, double b, double y) { (void)a; (void)b; (void)y; return 1.0; }
AD_HD static inline double add_daa(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double add_dab(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double add_dbb(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }

AD_HD static inline double sub_f(double a, double b) { return a - b; }
AD_HD static inline double sub_da(double a, double b, double y) { (void)a; (void)b; (void)y; return 1.0; }
AD_HD static inline double sub_db(double a, double b, double y) { (void)a; (void)b; (void)y; return -1.0; }
AD_HD static inline double sub_daa(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double sub_dab(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double sub_dbb(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }

AD_HD static inline double mul_f(double a, double b) { return a * b; }
AD_HD static inline double mul_da(double a, double b, double y) { (void)a; (void)y; return b; }
AD_HD static inline double mul_db(double a, double b, double y) { (void)b; (void)y; return a; }
AD_HD static inline double mul_daa(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double mul_dab(double a, double b, double y) { (void)a; (void)b; (void)y; return 1.0; }
AD_HD static inline double mul_dbb(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }

AD_HD static inline double div_f(double a, double b) { return a / b; }
AD_HD static inline double div_da(double a, double b, double y) { (void)a; (void)y; return 1.0 / b; }
AD_HD static inline double div_db(double a, double b, double y) { (void)a; return -y / b; }   /* -a/b^2 */
AD_HD static inline double div_daa(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double div_dab(double a, double b, double y) { (void)a; (void)y; return -1.0 / (b * b); }
AD_HD static inline double div_dbb(double a, double b, double y) { (void)a; return 2.0 * y / (b * b); }   /* 2a/b^3 */

/* A NaN in either argument, in either order, gives NaN (unlike fmax). */
AD_HD static inline double max_f(double a, double b) { return (a >= b || isnan(a)) ? a : b; }
AD_HD static inline double max_da(double a, double b, double y) { (void)y; return a < b ? 0.0 : 1.0; }
AD_HD static inline double max_db(double a, double b, double y) { (void)y; return a >= b ? 0.0 : 1.0; }
AD_HD static inline double max_daa(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double max_dab(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double max_dbb(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }

AD_HD static inline double min_f(double a, double b) { return (a <= b || isnan(a)) ? a : b; }
AD_HD static inline double min_da(double a, double b, double y) { (void)y; return a > b ? 0.0 : 1.0; }
AD_HD static inline double min_db(double a, double b, double y) { (void)y; return a <= b ? 0.0 : 1.0; }
AD_HD static inline double min_daa(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double min_dab(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }
AD_HD static inline double min_dbb(double a, double b, double y) { (void)a; (void)b; (void)y; return 0.0; }

/* ---- unary ---- */
AD_HD static inline double neg_f(double x, double c) { (void)c; return -x; }
AD_HD static inline double neg_d(double x, double y, double c) { (void)x; (void)y; (void)c; return -1.0; }
AD_HD static inline double neg_d2(double x, double y, double c) { (void)x; (void)y; (void)c; return 0.0; }

AD_HD static inline double scale_f(double x, double c) { return c * x; }
AD_HD static inline double scale_d(double x, double y, double c) { (void)x; (void)y; return c; }
AD_HD static inline double scale_d2(double x, double y, double c) { (void)x; (void)y; (void)c; return 0.0; }

AD_HD static inline double pow_f(double x, double c) { return pow(x, c); }
AD_HD static inline double pow_d(double x, double y, double c)
{
    (void)y;
    return c == 0.0 ? 0.0 : c * pow(x, c - 1.0);
}
AD_HD static inline double pow_d2(double x, double y, double c)
{
    (void)y;
    return c == 0.0 || c == 1.0 ? 0.0 : c * (c - 1.0) * pow(x, c - 2.0);
}

AD_HD static inline double exp_f(double x, double c) { (void)c; return exp(x); }
AD_HD static inline double exp_d(double x, double y, double c) { (void)x; (void)c; return y; }
AD_HD static inline double exp_d2(double x, double y, double c) { (void)x; (void)c; return y; }

AD_HD static inline double log_f(double x, double c) { (void)c; return log(x); }
AD_HD static inline double log_d(double x, double y, double c) { (void)y; (void)c; return 1.0 / x; }
AD_HD static inline double log_d2(double x, double y, double c) { (void)y; (void)c; return -1.0 / (x * x); }

AD_HD static inline double sqrt_f(double x, double c) { (void)c; return sqrt(x); }
AD_HD static inline double sqrt_d(double x, double y, double c) { (void)x; (void)c; return 0.5 / y; }
AD_HD static inline double sqrt_d2(double x, double y, double c) { (void)c; return -0.25 / (x * y); }

AD_HD static inline double sin_f(double x, double c) { (void)c; return sin(x); }
AD_HD static inline double sin_d(double x, double y, double c) { (void)y; (void)c; return cos(x); }
AD_HD static inline double sin_d2(double x, double y, double c) { (void)x; (void)c; return -y; }

AD_HD static inline double cos_f(double x, double c) { (void)c; return cos(x); }
AD_HD static inline double cos_d(double x, double y, double c) { (void)y; (void)c; return -sin(x); }
AD_HD static inline double cos_d2(double x, double y, double c) { (void)x; (void)c; return -y; }

AD_HD static inline double tanh_f(double x, double c) { (void)c; return tanh(x); }
/* sech²x from x, not 1 - y²: for |x| ≳ 10, y rounds to ±(1 - 2⁻⁵³·k) and
 * 1 - y² keeps no correct digit; 1/cosh² is exact to rounding (0 where cosh
 * overflows, which is sech²'s value to double precision). */
AD_HD static inline double tanh_d(double x, double y, double c)
{
    (void)y;
    (void)c;
    double ch = cosh(x);
    return 1.0 / (ch * ch);
}
/* d/dx sech²x = -2·tanh x·sech²x. */
AD_HD static inline double tanh_d2(double x, double y, double c) { return -2.0 * y * tanh_d(x, y, c); }


/* Stable for large |x|: never exp of a large positive number. */
AD_HD static inline double sigmoid_f(double x, double c)
{
    (void)c;
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
AD_HD static inline double sigmoid_d(double x, double y, double c) { (void)x; (void)c; return y * (1.0 - y); }
AD_HD static inline double sigmoid_d2(double x, double y, double c) { (void)x; (void)c; return y * (1.0 - y) * (1.0 - 2.0 * y); }

AD_HD static inline double relu_f(double x, double c) { (void)c; return x <= 0 ? 0.0 : x; }   /* NaN stays NaN */
AD_HD static inline double relu_d(double x, double y, double c) { (void)y; (void)c; return x <= 0 ? 0.0 : 1.0; }
AD_HD static inline double relu_d2(double x, double y, double c) { (void)x; (void)y; (void)c; return 0.0; }

AD_HD static inline double abs_f(double x, double c) { (void)c; return fabs(x); }
AD_HD static inline double abs_d(double x, double y, double c)
{
    (void)y;
    (void)c;
    return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
}
AD_HD static inline double abs_d2(double x, double y, double c) { (void)x; (void)y; (void)c; return 0.0; }

#endif
