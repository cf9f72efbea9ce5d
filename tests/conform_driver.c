/* conform_driver: runs op cases through the engine for tests/conformance.py,
 * which runs the same cases through PyTorch and compares.
 *
 * Why a driver and not the gradcheck library: gradcheck compares an op with
 * finite differences at inputs it draws itself, away from kinks, NaN and
 * infinities; the conformance test needs the engine's raw forward value,
 * vjp and jvp at inputs it chooses (NaN, ±inf, ties, negative axes), for
 * any registered op by name, through the same ad_apply path every call takes.
 *
 * Input, whitespace-separated tokens, one case after another until EOF:
 *   case OPNAME
 *   params AXIS KEEPDIM C REDUCTION IGNORE SH SW PH PW WH WW NDIM S0 S1 S2 S3 P0 P1 P2 P3
 *          (AXIS: an integer, or "all" for AD_ALL_AXES)
 *   inputs N
 *   then N times:  in ND D0 .. D(ND-1) DIFF V0 V1 ...   (DIFF 1: differentiable)
 *   cot ND D0 .. VALUES                                  (the output's cotangent)
 *   tan VALUES                                           (a tangent per DIFF input, in order)
 * Output per case: "case K", then "y ND D.. VALUES", "g SLOT VALUES" per
 * differentiable input, "t VALUES"; or "error MESSAGE" where the engine
 * refuses the case. Values print with %.17g (nan, inf as C prints them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "autodidact.h"

/* The next whitespace-separated token into buf (n bytes); 0 at EOF or when
 * the token does not fit. */
static int next_tok(char *buf, size_t n)
{
    char t[256];
    if (scanf("%255s", t) != 1 || strlen(t) >= n) return 0;
    memcpy(buf, t, strlen(t) + 1);
    return 1;
}

static double next_num(void)
{
    char t[256];
    if (!next_tok(t, sizeof t)) {
        fprintf(stderr, "conform_driver: input ends early\n");
        exit(2);
    }
    char *end;
    double v = strtod(t, &end);
    if (*end) {
        fprintf(stderr, "conform_driver: '%s' is not a number\n", t);
        exit(2);
    }
    return v;
}

static void expect(const char *word)
{
    char t[256];
    if (!next_tok(t, sizeof t) || strcmp(t, word)) {
        fprintf(stderr, "conform_driver: expected '%s'\n", word);
        exit(2);
    }
}

static ad_tensor *read_tensor(int *diff)
{
    int nd = (int)next_num();
    int64_t sh[AD_MAX_DIMS] = {1, 1, 1, 1};
    if (nd < 0 || nd > AD_MAX_DIMS) {
        fprintf(stderr, "conform_driver: %d dims\n", nd);
        exit(2);
    }
    for (int d = 0; d < nd; d++) sh[d] = (int64_t)next_num();
    if (diff) *diff = (int)next_num();
    ad_tensor *t = ad_tensor_new(AD_FLOAT64, nd, sh);
    if (!t) {
        fprintf(stderr, "conform_driver: %s\n", ad_last_error());
        exit(2);
    }
    for (int64_t i = 0; i < t->size; i++) ad_tensor_set(t, i, next_num());
    return t;
}

static void print_values(int64_t n, double (*get)(const ad_node *, int64_t), const ad_node *x)
{
    for (int64_t i = 0; i < n; i++) printf(" %.17g", get(x, i));
    printf("\n");
}

static double tangent0(const ad_node *n, int64_t i) { return ad_tangent_at(n, 0, i); }

static void one_line_error(void)
{
    const char *m = ad_last_error();
    printf("error ");
    for (; *m; m++) putchar(*m == '\n' ? ' ' : *m);
    printf("\n");
}

int main(void)
{
    char tok[256];
    int k = 0;
    while (next_tok(tok, sizeof tok)) {
        if (strcmp(tok, "case")) {
            fprintf(stderr, "conform_driver: expected 'case', got '%s'\n", tok);
            return 2;
        }
        char name[64];
        if (!next_tok(name, sizeof name)) return 2;
        const ad_op *op = ad_op_find(name);
        if (!op) {
            fprintf(stderr, "conform_driver: no op '%s'\n", name);
            return 2;
        }
        expect("params");
        ad_params p = {0};
        if (!next_tok(tok, sizeof tok)) return 2;
        p.axis = strcmp(tok, "all") ? atoi(tok) : AD_ALL_AXES;
        p.keepdim = (int)next_num();
        p.c = next_num();
        p.reduction = (int)next_num();
        p.ignore_index = (int64_t)next_num();
        for (int i = 0; i < 2; i++) p.stride[i] = (int64_t)next_num();
        for (int i = 0; i < 2; i++) p.pad[i] = (int64_t)next_num();
        for (int i = 0; i < 2; i++) p.window[i] = (int64_t)next_num();
        p.ndim = (int)next_num();
        for (int i = 0; i < AD_MAX_DIMS; i++) p.shape[i] = (int64_t)next_num();
        for (int i = 0; i < AD_MAX_DIMS; i++) p.perm[i] = (int)next_num();
        expect("inputs");
        int n_in = (int)next_num(), diff[AD_MAX_INPUTS] = {0};
        if (n_in < 1 || n_in > AD_MAX_INPUTS) return 2;
        ad_tensor *x[AD_MAX_INPUTS] = {0}, *tan[AD_MAX_INPUTS] = {0};
        for (int s = 0; s < n_in; s++) {
            expect("in");
            x[s] = read_tensor(&diff[s]);
        }
        expect("cot");
        ad_tensor *cot = read_tensor(NULL);
        expect("tan");
        for (int s = 0; s < n_in; s++) {
            if (!diff[s]) continue;
            tan[s] = ad_tensor_new(AD_FLOAT64, x[s]->ndim, x[s]->shape);
            for (int64_t i = 0; i < x[s]->size; i++) ad_tensor_set(tan[s], i, next_num());
        }
        printf("case %d\n", k++);

        /* Forward and reverse: differentiable inputs are variables. */
        ad_context *ctx = ad_context_new();
        ad_node *in[AD_MAX_INPUTS];
        for (int s = 0; s < n_in; s++) in[s] = ad_from_tensor(ctx, x[s], diff[s] != 0);
        ad_node *y = ad_apply(ctx, op, in, n_in, &p);
        if (!y) {
            one_line_error();
        } else {
            printf("y %d", ad_value(y).ndim);
            for (int d = 0; d < ad_value(y).ndim; d++) printf(" %lld", (long long)ad_value(y).shape[d]);
            print_values(ad_value(y).size, ad_value_at, y);
            ad_backward_opts o = {AD_BACKWARD_PUSH, cot, NULL, NULL};
            if (ad_backward_ex(ctx, y, &o) != AD_OK) {
                one_line_error();
            } else {
                for (int s = 0; s < n_in; s++)
                    if (diff[s]) {
                        printf("g %d", s);
                        print_values(x[s]->size, ad_grad_at, in[s]);
                    }
                /* Forward mode: constants carrying one tangent each. */
                ad_context *fctx = ad_context_new();
                ad_forward_dirs(fctx, 1);
                for (int s = 0; s < n_in; s++) {
                    in[s] = ad_from_tensor(fctx, x[s], false);
                    if (diff[s]) ad_set_tangent(in[s], 0, (const double *)tan[s]->data, -1);
                }
                ad_node *yf = ad_apply(fctx, op, in, n_in, &p);
                if (!yf) one_line_error();
                else {
                    printf("t");
                    print_values(ad_value(yf).size, tangent0, yf);
                }
                ad_context_free(fctx);
            }
        }
        ad_context_free(ctx);
        for (int s = 0; s < n_in; s++) {
            ad_tensor_free(x[s]);
            ad_tensor_free(tan[s]);
        }
        ad_tensor_free(cot);
    }
    return 0;
}
