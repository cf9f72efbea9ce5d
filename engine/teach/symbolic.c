/* symbolic.c: symbolic differentiation of scalar graphs (see ad_symbolic.h).
 * Expressions are hash-consed: each distinct (kind, children, constant)
 * exists once, so equality is pointer equality and the simplifier's
 * "u − u = 0" and "u·u = u^2" are one comparison.
 *
 * Nothing here recurses over an expression: a graph 10^6 deep (which the
 * numeric engine handles) becomes an expression 10^6 deep, so
 * differentiation and evaluation walk it with an explicit stack (post_order),
 * as does the printer (symbolic_print.c). The simplifier's rules do call one
 * another, but only a bounded number of times: each looks at most two levels
 * into expressions that were themselves built by the rules, hence already in
 * their normal form. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"
#include "ad_op.h"
#include "symbolic_internal.h"
#include "text_hash.h"

ad_sym_ctx *ad_sym_ctx_new(void)
{
    ad_sym_ctx *s = calloc(1, sizeof *s);
    if (!s) ad_fail(AD_ERR_NOMEM, "symbolic: out of memory");
    return s;
}

void ad_sym_ctx_free(ad_sym_ctx *s)
{
    if (!s) return;
    for (int64_t i = 0; i < s->n; i++) free(s->nodes[i]);
    for (int i = 0; i < s->n_vars; i++) free(s->vars[i]);
    free(s->nodes);
    free(s->table);
    free(s->vars);
    free(s->var_slot);
    free(s);
}

/* The interning key's words through text_hash.h's hash (FNV-1a, then mixed: see there why). */
static uint64_t hash_of(s_kind k, const ad_sym *a, const ad_sym *b, double c, int var)
{
    uint64_t bits;
    memcpy(&bits, &c, sizeof bits);
    uint64_t parts[5] = {(uint64_t)k, a ? (uint64_t)a->id + 1 : 0, b ? (uint64_t)b->id + 1 : 0, bits, (uint64_t)var};
    return ad_hash_mix(ad_fnv1a(AD_FNV_BASIS, parts, sizeof parts));
}

static bool same(const ad_sym *x, s_kind k, const ad_sym *a, const ad_sym *b, double c, int var)
{
    return x->kind == k && x->a == a && x->b == b && x->var == var && memcmp(&x->c, &c, sizeof c) == 0;
}

static bool rehash(ad_sym_ctx *s)
{
    int64_t cap = s->table_cap ? 2 * s->table_cap : 1024;
    int64_t *t = malloc((size_t)cap * sizeof *t);
    if (!t) return false;
    for (int64_t i = 0; i < cap; i++) t[i] = -1;
    for (int64_t i = 0; i < s->n; i++) {
        const ad_sym *x = s->nodes[i];
        uint64_t h = hash_of(x->kind, x->a, x->b, x->c, x->var) & (uint64_t)(cap - 1);
        while (t[h] >= 0) h = (h + 1) & (uint64_t)(cap - 1);
        t[h] = i;
    }
    free(s->table);
    s->table = t;
    s->table_cap = cap;
    return true;
}

/* The one node (kind, a, b, c, var): found, or made. NULL (out of memory) propagates. */
static const ad_sym *node(ad_sym_ctx *s, s_kind k, const ad_sym *a, const ad_sym *b, double c, int var)
{
    if (!s) return NULL;
    if ((k >= S_ADD && !a) || ((k == S_ADD || k == S_SUB || k == S_MUL || k == S_DIV || k == S_MAX || k == S_MIN ||
                                k == S_GE || k == S_LE) && !b))
        return NULL;
    if (2 * (s->n + 1) > s->table_cap && !rehash(s)) goto nomem;
    uint64_t h = hash_of(k, a, b, c, var) & (uint64_t)(s->table_cap - 1);
    for (; s->table[h] >= 0; h = (h + 1) & (uint64_t)(s->table_cap - 1))
        if (same(s->nodes[s->table[h]], k, a, b, c, var)) return s->nodes[s->table[h]];
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        ad_sym **q = realloc(s->nodes, (size_t)cap * sizeof *q);
        if (!q) goto nomem;
        s->nodes = q;
        s->cap = cap;
    }
    ad_sym *x = malloc(sizeof *x);
    if (!x) goto nomem;
    *x = (ad_sym){k, a, b, c, var, s->n, 1 + (a ? a->tree : 0) + (b ? b->tree : 0)};
    if (x->tree > 1e300) x->tree = 1e300;
    s->nodes[s->n] = x;
    s->table[h] = s->n++;
    return x;
nomem:
    ad_fail(AD_ERR_NOMEM, "symbolic: out of memory after %lld subexpressions", (long long)s->n);
    return NULL;
}

/* ---- smart constructors: the simplifier ---- */
static const ad_sym *num(ad_sym_ctx *s, double c) { return node(s, S_NUM, NULL, NULL, c, 0); }
static bool is_num(const ad_sym *x, double c) { return x && x->kind == S_NUM && x->c == c; }
static bool is_const(const ad_sym *x) { return x && x->kind == S_NUM; }

static const ad_sym *neg(ad_sym_ctx *s, const ad_sym *a);
static const ad_sym *sub(ad_sym_ctx *s, const ad_sym *a, const ad_sym *b);
static const ad_sym *mul(ad_sym_ctx *s, const ad_sym *a, const ad_sym *b);
static const ad_sym *pw(ad_sym_ctx *s, const ad_sym *a, double c);
static const ad_sym *dv(ad_sym_ctx *s, const ad_sym *a, const ad_sym *b);

static const ad_sym *add(ad_sym_ctx *s, const ad_sym *a, const ad_sym *b)
{
    if (!a || !b) return NULL;
    if (is_num(a, 0)) return b;
    if (is_num(b, 0)) return a;
    if (is_const(a) && is_const(b)) return num(s, a->c + b->c);
    if (a == b) return mul(s, num(s, 2), a);
    if (b->kind == S_NEG) return sub(s, a, b->a);
    if (is_const(b) && b->c < 0) return node(s, S_SUB, a, num(s, -b->c), 0, 0);
    if (b->kind == S_MUL && is_const(b->a) && b->a->c < 0) return sub(s, a, mul(s, num(s, -b->a->c), b->b));
    if (is_const(a)) return node(s, S_ADD, b, a, 0, 0);   /* constants last in sums: x + 1 */
    return node(s, S_ADD, a, b, 0, 0);
}

static const ad_sym *sub(ad_sym_ctx *s, const ad_sym *a, const ad_sym *b)
{
    if (!a || !b) return NULL;
    if (is_num(b, 0)) return a;
    if (is_num(a, 0)) return neg(s, b);
    if (a == b) return num(s, 0);
    if (is_const(a) && is_const(b)) return num(s, a->c - b->c);
    if (b->kind == S_NEG) return add(s, a, b->a);
    if (a->kind == S_SUB && a->b == b) return sub(s, a->a, mul(s, num(s, 2), b));   /* (u − v) − v = u − 2v */
    if (b->kind == S_MUL && is_const(b->a) && b->a->c < 0) return add(s, a, mul(s, num(s, -b->a->c), b->b));
    return node(s, S_SUB, a, b, 0, 0);
}

static const ad_sym *neg(ad_sym_ctx *s, const ad_sym *a)
{
    if (!a) return NULL;
    if (a->kind == S_NEG) return a->a;
    if (is_const(a)) return num(s, -a->c);
    if (a->kind == S_SUB) return node(s, S_SUB, a->b, a->a, 0, 0);
    if (a->kind == S_MUL && is_const(a->a)) return mul(s, num(s, -a->a->c), a->b);
    return node(s, S_NEG, a, NULL, 0, 0);
}

static const ad_sym *mul(ad_sym_ctx *s, const ad_sym *a, const ad_sym *b)
{
    if (!a || !b) return NULL;
    if (is_num(a, 0) || is_num(b, 0)) return num(s, 0);
    if (is_num(a, 1)) return b;
    if (is_num(b, 1)) return a;
    if (is_const(a) && is_const(b)) return num(s, a->c * b->c);
    if (is_const(b)) return mul(s, b, a);                     /* constants first: 2*x */
    if (is_num(a, -1)) return neg(s, b);
    if (a->kind == S_NEG) return neg(s, mul(s, a->a, b));
    if (b->kind == S_NEG) return neg(s, mul(s, a, b->a));
    if (a->kind == S_MUL && is_const(a->a)) return mul(s, a->a, mul(s, a->b, b));   /* (c·u)·v = c·(u·v) */
    if (is_const(a) && b->kind == S_MUL && is_const(b->a)) return mul(s, num(s, a->c * b->a->c), b->b);
    if (!is_const(a) && b->kind == S_MUL && is_const(b->a)) return mul(s, b->a, mul(s, a, b->b));
    if (b->kind == S_DIV && is_num(b->a, 1)) return dv(s, a, b->b);   /* u·(1/v) = u/v */
    if (a->kind == S_DIV && is_num(a->a, 1)) return dv(s, b, a->b);
    if (a == b) return pw(s, a, 2);
    if (a->kind == S_POW && a->a == b) return pw(s, b, a->c + 1);
    if (b->kind == S_POW && b->a == a) return pw(s, a, b->c + 1);
    if (a->kind == S_POW && b->kind == S_POW && a->a == b->a) return pw(s, a->a, a->c + b->c);
    return node(s, S_MUL, a, b, 0, 0);
}

static const ad_sym *dv(ad_sym_ctx *s, const ad_sym *a, const ad_sym *b)
{
    if (!a || !b) return NULL;
    if (is_num(a, 0)) return num(s, 0);
    if (is_num(b, 1)) return a;
    if (a == b) return num(s, 1);
    if (is_const(a) && is_const(b)) return num(s, a->c / b->c);
    if (a->kind == S_NEG) return neg(s, dv(s, a->a, b));
    if (b->kind == S_POW && b->a == a) return pw(s, a, 1 - b->c);
    if (a->kind == S_POW && a->a == b) return pw(s, b, a->c - 1);
    if (a->kind == S_POW && b->kind == S_POW && a->a == b->a) return pw(s, a->a, a->c - b->c);
    if (a->kind == S_MUL && a->b == b) return a->a;                   /* (u·v)/v = u */
    if (a->kind == S_MUL && a->a == b) return a->b;
    return node(s, S_DIV, a, b, 0, 0);
}

static const ad_sym *pw(ad_sym_ctx *s, const ad_sym *a, double c)
{
    if (!a) return NULL;
    if (c == 0) return num(s, 1);
    if (c == 1) return a;
    if (is_const(a)) return num(s, pow(a->c, c));
    if (a->kind == S_POW && c == floor(c)) return pw(s, a->a, a->c * c);   /* (u^a)^n = u^(an) for whole n only */
    return node(s, S_POW, a, NULL, c, 0);
}

static double apply1(s_kind k, double a)
{
    switch (k) {
    case S_NEG: return -a;
    case S_EXP: return exp(a);
    case S_LOG: return log(a);
    case S_SQRT: return sqrt(a);
    case S_SIN: return sin(a);
    case S_COS: return cos(a);
    case S_TANH: return tanh(a);
    case S_SIGMOID: return 1 / (1 + exp(-a));
    case S_RELU: return a > 0 ? a : 0;
    case S_ABS: return fabs(a);
    case S_STEP: return a > 0;
    case S_SIGN: return (a > 0) - (a < 0);
    default: return NAN;
    }
}

static const ad_sym *fn1(ad_sym_ctx *s, s_kind k, const ad_sym *a)
{
    if (!a) return NULL;
    if (is_const(a)) return num(s, apply1(k, a->c));
    if (k == S_LOG && a->kind == S_EXP) return a->a;
    return node(s, k, a, NULL, 0, 0);
}

static const ad_sym *fn2(ad_sym_ctx *s, s_kind k, const ad_sym *a, const ad_sym *b)
{
    if (!a || !b) return NULL;
    if (is_const(a) && is_const(b)) {
        double x = a->c, y = b->c;
        return num(s, k == S_MAX ? (x >= y ? x : y) : k == S_MIN ? (x <= y ? x : y) : k == S_GE ? x >= y : x <= y);
    }
    return node(s, k, a, b, 0, 0);
}

/* ---- from a graph ---- */
static uint64_t name_hash(const char *name)
{
    return ad_hash_mix(ad_fnv1a(AD_FNV_BASIS, name, strlen(name)));
}

/* The slot of name in the variables' table: its index's, or the empty one where it would go. */
static int var_slot_of(const ad_sym_ctx *s, const char *name)
{
    int mask = s->var_slots - 1, k = (int)(name_hash(name) & (uint64_t)mask);
    while (s->var_slot[k] >= 0 && strcmp(s->vars[s->var_slot[k]], name)) k = (k + 1) & mask;
    return k;
}

/* The index of variable name, added if new: a hash lookup, so a graph of 10^6 variables stays linear. */
static int var_of(ad_sym_ctx *s, const char *name)
{
    if (s->var_slots) {
        int k = var_slot_of(s, name);
        if (s->var_slot[k] >= 0) return s->var_slot[k];
    }
    if (s->n_vars == s->cap_vars) {
        if (s->cap_vars > INT32_MAX / 4) return -1;
        int cap = s->cap_vars ? 2 * s->cap_vars : 8;
        char **v = realloc(s->vars, (size_t)cap * sizeof *v);
        if (!v) return -1;
        s->vars = v;
        s->cap_vars = cap;
    }
    if (2 * (s->n_vars + 1) > s->var_slots) {
        int n = s->var_slots ? 2 * s->var_slots : 16;
        int *t = malloc((size_t)n * sizeof *t);
        if (!t) return -1;
        memset(t, 0xff, (size_t)n * sizeof *t);   /* all -1 */
        free(s->var_slot);
        s->var_slot = t;
        s->var_slots = n;
        for (int i = 0; i < s->n_vars; i++) s->var_slot[var_slot_of(s, s->vars[i])] = i;
    }
    if (!(s->vars[s->n_vars] = strdup(name))) return -1;
    s->var_slot[var_slot_of(s, name)] = s->n_vars;
    return s->n_vars++;
}

int ad_sym_var_count(const ad_sym_ctx *s) { return s ? s->n_vars : 0; }
const char *ad_sym_var_name(const ad_sym_ctx *s, int i) { return s && i >= 0 && i < s->n_vars ? s->vars[i] : NULL; }
int ad_sym_var_index(const ad_sym_ctx *s, const char *name)
{
    if (!s || !name || !s->var_slots) return -1;
    return s->var_slot[var_slot_of(s, name)];
}

ad_sym *ad_sym_from_graph(ad_sym_ctx *s, const ad_context *ctx, const ad_node *root_handle)
{
    if (!s || ad_check_context(ctx, "sym_from_graph") != AD_OK) return NULL;
    const ad_node *root = own_node(ctx, root_handle);
    if (!root) {
        ad_not_own_node(ctx, root_handle, AD_ERR_ARG, "sym_from_graph", "the root");
        return NULL;
    }
    const ad_sym **map = calloc((size_t)root->id + 1, sizeof *map);
    unsigned char *need = NULL;
    if (!map) {
        ad_fail(AD_ERR_NOMEM, "sym_from_graph: out of memory");
        return NULL;
    }
    const ad_sym *out = NULL;
    /* only the nodes root depends on: inputs have smaller ids, so one sweep down marks them */
    need = calloc((size_t)root->id + 1, 1);
    if (!need) {
        ad_fail(AD_ERR_NOMEM, "sym_from_graph: out of memory");
        goto done;
    }
    need[root->id] = 1;
    for (uint32_t id = root->id + 1; id-- > 0;) {
        const ad_node *n = node_at(ctx, id);
        for (int k = 0; need[id] && k < n->n_in; k++) need[n->in[k]->id] = 1;
    }
    for (uint32_t id = 0; id <= root->id; id++) {
        const ad_node *n = node_at(ctx, id);
        if (!need[id]) continue;
        if (n->value.size != 1) {
            if (id == root->id || n->op) {
                ad_fail(AD_ERR_SHAPE, "sym_from_graph: node #%u is not a scalar: symbolic differentiation here is of "
                                      "scalar formulas", id);
                goto done;
            }
            continue;
        }
        if (!n->op) {
            if (n->flags & AD_NODE_REQUIRES_GRAD) {
                char nm[32];
                snprintf(nm, sizeof nm, "x%u", id);
                int v = var_of(s, n->name ? n->name : nm);
                if (v < 0) {
                    ad_fail(AD_ERR_NOMEM, "sym_from_graph: out of memory for the variables' names");
                    goto done;
                }
                map[id] = node(s, S_VAR, NULL, NULL, 0, v);
            } else {
                map[id] = num(s, ad_value_scalar(n));
            }
            continue;
        }
        const char *op = n->op->name;
        for (int k = 0; k < n->n_in; k++)
            if (!map[n->in[k]->id]) {
                ad_fail(AD_ERR_SHAPE, "sym_from_graph: %s (node #%u) reads node #%u, which is not a scalar: symbolic "
                                      "differentiation here is of scalar formulas", op, id, n->in[k]->id);
                goto done;
            }
        const ad_sym *a = n->n_in > 0 ? map[n->in[0]->id] : NULL, *b = n->n_in > 1 ? map[n->in[1]->id] : NULL;
        const ad_sym *r = NULL;
        switch (n->op->math) {   /* the op says which function it is (ad_op.h) */
        case AD_MATH_add: r = add(s, a, b); break;
        case AD_MATH_sub: r = sub(s, a, b); break;
        case AD_MATH_mul: r = mul(s, a, b); break;
        case AD_MATH_div: r = dv(s, a, b); break;
        case AD_MATH_neg: r = neg(s, a); break;
        case AD_MATH_pow: r = pw(s, a, n->params->c); break;
        case AD_MATH_scale: r = mul(s, num(s, n->params->c), a); break;
        case AD_MATH_max: r = fn2(s, S_MAX, a, b); break;
        case AD_MATH_min: r = fn2(s, S_MIN, a, b); break;
        case AD_MATH_exp: r = fn1(s, S_EXP, a); break;
        case AD_MATH_log: r = fn1(s, S_LOG, a); break;
        case AD_MATH_sqrt: r = fn1(s, S_SQRT, a); break;
        case AD_MATH_sin: r = fn1(s, S_SIN, a); break;
        case AD_MATH_cos: r = fn1(s, S_COS, a); break;
        case AD_MATH_tanh: r = fn1(s, S_TANH, a); break;
        case AD_MATH_sigmoid: r = fn1(s, S_SIGMOID, a); break;
        case AD_MATH_relu: r = fn1(s, S_RELU, a); break;
        case AD_MATH_abs: r = fn1(s, S_ABS, a); break;
        case AD_MATH_NONE:
        default:   /* a tensor op, or a registered op that is none of the functions */
            ad_fail(AD_ERR_ARG, "sym_from_graph: op '%s' (node #%u) has no symbolic rule here", op, id);
            goto done;
        }
        if (!r) goto done;   /* out of memory, reported by node() */
        map[id] = r;
    }
    out = map[root->id];
done:
    free(need);
    free(map);
    return (ad_sym *)out;
}

/* ---- walking an expression without recursion ---- */

/* Calls visit(user, e) for each distinct subexpression e of root, children before parents, each
 * once (done[id], of root->id + 1 entries, marks the visited). An explicit stack instead of the
 * call stack: the stack only ever holds a path down from root, ids strictly decreasing, so
 * root->id + 1 entries suffice. False when visit fails or memory runs out (reported). */
static bool post_order(const ad_sym *root, unsigned char *done, bool (*visit)(void *, const ad_sym *), void *user)
{
    const ad_sym **stack = malloc(((size_t)root->id + 1) * sizeof *stack);
    if (!stack) {
        ad_fail(AD_ERR_NOMEM, "symbolic: out of memory for a stack of %lld", (long long)root->id + 1);
        return false;
    }
    int64_t top = 0;
    stack[top++] = root;
    while (top) {
        const ad_sym *e = stack[top - 1];
        if (e->a && !done[e->a->id]) stack[top++] = e->a;
        else if (e->b && !done[e->b->id]) stack[top++] = e->b;
        else {
            top--;
            if (done[e->id]) continue;
            if (!visit(user, e)) break;
            done[e->id] = 1;
        }
    }
    free(stack);
    return top == 0;
}

/* ---- differentiation: the rules, memoised per subexpression (a DAG is differentiated once per node) ---- */
typedef struct diff_state {
    ad_sym_ctx *s;
    int var;
    const ad_sym **memo;   /* by id: ∂e/∂var of each subexpression e, once visited */
} diff_state;

/* ∂e/∂var from the derivatives of e's children (already in the memo). NULL: out of memory (reported). */
static bool diff_rule(void *user, const ad_sym *e)
{
    diff_state *st = user;
    ad_sym_ctx *s = st->s;
    const ad_sym *a = e->a, *b = e->b, *r = NULL;
    const ad_sym *da = a ? st->memo[a->id] : NULL, *db = b ? st->memo[b->id] : NULL;
    switch (e->kind) {
    case S_NUM: r = num(s, 0); break;
    case S_VAR: r = num(s, e->var == st->var); break;
    case S_ADD: r = add(s, da, db); break;
    case S_SUB: r = sub(s, da, db); break;
    case S_MUL: r = add(s, mul(s, da, b), mul(s, a, db)); break;
    case S_DIV: r = sub(s, dv(s, da, b), dv(s, mul(s, a, db), pw(s, b, 2))); break;
    case S_NEG: r = neg(s, da); break;
    case S_POW: r = mul(s, mul(s, num(s, e->c), pw(s, a, e->c - 1)), da); break;
    case S_EXP: r = mul(s, e, da); break;
    case S_LOG: r = dv(s, da, a); break;
    case S_SQRT: r = dv(s, da, mul(s, num(s, 2), e)); break;
    case S_SIN: r = mul(s, fn1(s, S_COS, a), da); break;
    case S_COS: r = neg(s, mul(s, fn1(s, S_SIN, a), da)); break;
    case S_TANH: r = mul(s, sub(s, num(s, 1), pw(s, e, 2)), da); break;
    case S_SIGMOID: r = mul(s, mul(s, e, sub(s, num(s, 1), e)), da); break;
    case S_RELU: r = mul(s, fn1(s, S_STEP, a), da); break;      /* relu′(0) = 0, as the engine */
    case S_ABS: r = mul(s, fn1(s, S_SIGN, a), da); break;       /* abs′(0) = 0 */
    case S_MAX: {                                               /* a tie sends all to a, as the engine */
        const ad_sym *g = fn2(s, S_GE, a, b);
        r = add(s, mul(s, g, da), mul(s, sub(s, num(s, 1), g), db));
        break;
    }
    case S_MIN: {
        const ad_sym *g = fn2(s, S_LE, a, b);
        r = add(s, mul(s, g, da), mul(s, sub(s, num(s, 1), g), db));
        break;
    }
    case S_STEP: case S_SIGN: case S_GE: case S_LE: r = num(s, 0); break;   /* piecewise constant */
    }
    st->memo[e->id] = r;
    return r != NULL;
}

ad_sym *ad_sym_diff(ad_sym_ctx *s, const ad_sym *e, int var)
{
    if (!s || !e) {
        ad_fail(AD_ERR_ARG, "sym_diff: NULL argument");
        return NULL;
    }
    if (var < 0 || var >= s->n_vars) {
        ad_fail(AD_ERR_ARG, "sym_diff: variable %d of %d", var, s->n_vars);
        return NULL;
    }
    diff_state st = {s, var, calloc((size_t)e->id + 1, sizeof(ad_sym *))};
    unsigned char *done = calloc((size_t)e->id + 1, 1);
    const ad_sym *r = NULL;
    if (!st.memo || !done) ad_fail(AD_ERR_NOMEM, "sym_diff: out of memory");
    else if (post_order(e, done, diff_rule, &st)) r = st.memo[e->id];
    free(st.memo);
    free(done);
    return (ad_sym *)r;
}

/* ---- evaluation, memoised by id ---- */
typedef struct eval_state {
    const double *x;
    int n;
    double *value;   /* by id */
} eval_state;

static bool eval_rule(void *user, const ad_sym *e)
{
    eval_state *st = user;
    double a = e->a ? st->value[e->a->id] : 0, b = e->b ? st->value[e->b->id] : 0, r;
    switch (e->kind) {
    case S_NUM: r = e->c; break;
    case S_VAR: r = e->var < st->n ? st->x[e->var] : NAN; break;
    case S_ADD: r = a + b; break;
    case S_SUB: r = a - b; break;
    case S_MUL: r = a * b; break;
    case S_DIV: r = a / b; break;
    case S_POW: r = pow(a, e->c); break;
    case S_MAX: r = a >= b ? a : b; break;
    case S_MIN: r = a <= b ? a : b; break;
    case S_GE: r = a >= b; break;
    case S_LE: r = a <= b; break;
    default: r = apply1(e->kind, a); break;
    }
    st->value[e->id] = r;
    return true;
}

double ad_sym_eval(const ad_sym_ctx *s, const ad_sym *e, const double *x, int n)
{
    if (!s || !e) return NAN;
    eval_state st = {x, x ? n : 0, calloc((size_t)e->id + 1, sizeof(double))};
    unsigned char *done = calloc((size_t)e->id + 1, 1);
    double r = st.value && done && post_order(e, done, eval_rule, &st) ? st.value[e->id] : NAN;
    free(st.value);
    free(done);
    return r;
}

double ad_sym_tree_size(const ad_sym *e) { return e ? e->tree : 0; }

static bool count_one(void *count, const ad_sym *e)
{
    (void)e;
    ++*(int64_t *)count;
    return true;
}

int64_t ad_sym_dag_size(const ad_sym_ctx *s, const ad_sym *e)
{
    if (!s || !e) return 0;
    unsigned char *done = calloc((size_t)e->id + 1, 1);
    int64_t count = 0;
    bool ok = done && post_order(e, done, count_one, &count);
    free(done);
    return ok ? count : -1;
}
