/* symbolic_internal.h: what symbolic.c (expressions, the simplifier,
 * differentiation, evaluation) and symbolic_print.c (the printer) share.
 * Not installed. */
#ifndef AD_SYMBOLIC_INTERNAL_H
#define AD_SYMBOLIC_INTERNAL_H

#include <stdint.h>
#include "ad_symbolic.h"

typedef enum {
    S_NUM, S_VAR, S_ADD, S_SUB, S_MUL, S_DIV, S_NEG, S_POW, S_EXP, S_LOG, S_SQRT, S_SIN, S_COS, S_TANH,
    S_SIGMOID, S_RELU, S_ABS, S_MAX, S_MIN, S_STEP, S_SIGN, S_GE, S_LE
} s_kind;

/* Function names as the formula language (and the printer) spell them. */
static const char *const sym_fn_name[] = {
    [S_EXP] = "exp", [S_LOG] = "log", [S_SQRT] = "sqrt", [S_SIN] = "sin", [S_COS] = "cos", [S_TANH] = "tanh",
    [S_SIGMOID] = "sigmoid", [S_RELU] = "relu", [S_ABS] = "abs", [S_MAX] = "max", [S_MIN] = "min",
    [S_STEP] = "step", [S_SIGN] = "sign", [S_GE] = "ge", [S_LE] = "le",
};

struct ad_sym {
    s_kind kind;
    const ad_sym *a, *b;   /* children, NULL if none */
    double c;              /* S_NUM value, S_POW exponent */
    int var;               /* S_VAR index */
    int64_t id;            /* creation index: children have smaller ids */
    double tree;           /* size written out as a tree */
};

struct ad_sym_ctx {
    ad_sym **nodes;
    int64_t n, cap;
    int64_t *table;        /* open-addressing hash of node ids, -1 empty */
    int64_t table_cap;
    char **vars;
    int n_vars, cap_vars;
    int *var_slot;         /* open-addressing hash of variable indices by name, -1 empty */
    int var_slots;         /* a power of two, at least twice n_vars */
};

#endif
