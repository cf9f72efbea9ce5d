/* symbolic.c: symbolic differentiation of scalar graphs (see ad_symbolic.h).
 * Expressions are hash-consed: each distinct (kind, children, constant)
 * exists once, so equality is pointer equality and the simplifier's
 * "u − u = 0" and "u·u = u^2" are one comparison. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"
#include "ad_op.h"
#include "ad_symbolic.h"

typedef enum {
    S_NUM, S_VAR, S_ADD, S_SUB, S_MUL, S_DIV, S_NEG, S_POW, S_EXP, S_LOG, S_SQRT, S_SIN, S_COS, S_TANH,
    S_SIGMOID, S_RELU, S_ABS, S_MAX, S_MIN, S_STEP, S_SIGN, S_GE, S_LE
} s_kind;

/* Function names as the formula language (and the printer) spell them. */
static const char *const fn_name[] = {
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

/* splitmix64's finalizer: every output bit depends on every input bit. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* FNV-1a over the key's words, then mixed. FNV alone leaves the low k bits of the hash (all that
 * the table's mask keeps) a function of the low k bits of each word, and a double's low bits are
 * zero for every small whole number: the constants 1, 2, ..., n of a sum of n terms all fell in one
 * probe chain, and 40,000 terms took 26.6 s. */
static uint64_t hash_of(s_kind k, const ad_sym *a, const ad_sym *b, double c, int var)
{
    uint64_t bits;
    memcpy(&bits, &c, sizeof bits);
    uint64_t h = 1469598103934665603ULL;
    uint64_t parts[5] = {(uint64_t)k, a ? (uint64_t)a->id + 1 : 0, b ? (uint64_t)b->id + 1 : 0, bits, (uint64_t)var};
    for (int i = 0; i < 5; i++) h = (h ^ parts[i]) * 1099511628211ULL;
    return mix64(h);
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
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    return mix64(h);
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
        if (!strcmp(op, "add")) r = add(s, a, b);
        else if (!strcmp(op, "sub")) r = sub(s, a, b);
        else if (!strcmp(op, "mul")) r = mul(s, a, b);
        else if (!strcmp(op, "div")) r = dv(s, a, b);
        else if (!strcmp(op, "neg")) r = neg(s, a);
        else if (!strcmp(op, "pow")) r = pw(s, a, n->params->c);
        else if (!strcmp(op, "scale")) r = mul(s, num(s, n->params->c), a);
        else if (!strcmp(op, "max")) r = fn2(s, S_MAX, a, b);
        else if (!strcmp(op, "min")) r = fn2(s, S_MIN, a, b);
        else {
            for (int k = S_EXP; k <= S_ABS; k++)
                if (fn_name[k] && !strcmp(op, fn_name[k])) r = fn1(s, (s_kind)k, a);
            if (!r) {
                if (ad_last_status() != AD_ERR_NOMEM)
                    ad_fail(AD_ERR_ARG, "sym_from_graph: op '%s' (node #%u) has no symbolic rule here", op, id);
                goto done;
            }
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

/* ---- differentiation: the rules, memoised per subexpression (a DAG is differentiated once per node) ---- */
typedef struct diff_state {
    ad_sym_ctx *s;
    int var;
    const ad_sym **memo;   /* by id; the ids present when diff began */
    int64_t n;
} diff_state;

static const ad_sym *d(diff_state *st, const ad_sym *e)
{
    if (!e) return NULL;
    if (e->id < st->n && st->memo[e->id]) return st->memo[e->id];
    ad_sym_ctx *s = st->s;
    const ad_sym *a = e->a, *b = e->b, *r = NULL;
    const ad_sym *da = a ? d(st, a) : NULL, *db = b ? d(st, b) : NULL;
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
    if (r && e->id < st->n) st->memo[e->id] = r;
    return r;
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
    diff_state st = {s, var, calloc((size_t)s->n + 1, sizeof(ad_sym *)), s->n};
    if (!st.memo) {
        ad_fail(AD_ERR_NOMEM, "sym_diff: out of memory");
        return NULL;
    }
    const ad_sym *r = d(&st, e);
    free(st.memo);
    return (ad_sym *)r;
}

/* ---- evaluation, memoised by id ---- */
static double ev(const ad_sym *e, const double *x, int n, double *memo, unsigned char *done)
{
    if (done[e->id]) return memo[e->id];
    double a = e->a ? ev(e->a, x, n, memo, done) : 0, b = e->b ? ev(e->b, x, n, memo, done) : 0, r;
    switch (e->kind) {
    case S_NUM: r = e->c; break;
    case S_VAR: r = e->var < n ? x[e->var] : NAN; break;
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
    memo[e->id] = r;
    done[e->id] = 1;
    return r;
}

double ad_sym_eval(const ad_sym_ctx *s, const ad_sym *e, const double *x, int n)
{
    if (!s || !e) return NAN;
    double *memo = calloc((size_t)s->n, sizeof *memo);   /* calloc: GCC cannot see that done[] guards each read */
    unsigned char *done = calloc((size_t)s->n, 1);
    double r = memo && done ? ev(e, x, n, memo, done) : NAN;
    free(memo);
    free(done);
    return r;
}

/* ---- printing ---- */
typedef struct out { char *buf; size_t len, at; } out;

static void put(out *o, const char *str)
{
    size_t k = strlen(str);
    if (o->at < o->len) {
        size_t room = o->len - o->at - 1;
        memcpy(o->buf + o->at, str, k < room ? k : room);
        o->buf[o->at + (k < room ? k : room)] = '\0';
    }
    o->at += k;
}

/* exp(b·log a) is how the parser builds a^b with a variable exponent; the printer writes it back as a^b. */
static bool is_power_form(const ad_sym *e)
{
    return e->kind == S_EXP && e->a->kind == S_MUL && e->a->b->kind == S_LOG;
}

/* Binding strength, the parser's grammar read backwards (ad_expr.h): sums 1, products 2, unary
 * minus 3, powers 4, atoms and calls 5. An operand is parenthesised when it binds less tightly
 * than its place needs:
 *   a + b: both >= 1;  a - b: a >= 1, b >= 2 (a - (b - c));  a*b, a/b: a >= 2, b >= 3;
 *   -a: a >= 3 (-x^2 is -(x^2), so a power needs none; (-x)^2 does);
 *   a^b: the base is a primary, >= 5 ((x^y)^2; x^y^2 is x^(y^2)); the exponent is a unary,
 *   >= 3 would do (x^y^z, x^-2), >= 4 also brackets a negative exponent for the reader: x^(-2). */
enum { NEED_BASE = 5, NEED_EXPONENT = 4 };
static int prec(const ad_sym *e)
{
    switch (e->kind) {
    case S_ADD: case S_SUB: return 1;
    case S_MUL: case S_DIV: return 2;
    case S_NEG: return 3;
    case S_POW: return 4;
    case S_EXP: return is_power_form(e) ? 4 : 5;
    case S_NUM: return e->c < 0 || (e->c == 0 && signbit(e->c)) ? 3 : 5;
    default: return 5;
    }
}

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double: the printed
 * formula is the same function, not one rounded to 15 digits. */
static void put_number(out *o, double c)
{
    char tmp[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, c);
        if (strtod(tmp, NULL) == c) break;
    }
    put(o, tmp);
}

static void pr(const ad_sym_ctx *s, const ad_sym *e, out *o, int need)
{
    if (o->at >= o->len && o->len) return;   /* full: stop (the caller sees the truncation) */
    bool paren = prec(e) < need;
    if (paren) put(o, "(");
    switch (e->kind) {
    case S_NUM: put_number(o, e->c); break;
    case S_VAR: put(o, s->vars[e->var]); break;
    case S_ADD: pr(s, e->a, o, 1); put(o, " + "); pr(s, e->b, o, 1); break;
    case S_SUB: pr(s, e->a, o, 1); put(o, " - "); pr(s, e->b, o, 2); break;
    case S_MUL: pr(s, e->a, o, 2); put(o, "*"); pr(s, e->b, o, e->b->kind == S_MUL ? 2 : 3); break;   /* associative */
    case S_DIV: pr(s, e->a, o, 2); put(o, "/"); pr(s, e->b, o, 3); break;
    case S_NEG: put(o, "-"); pr(s, e->a, o, 3); break;
    case S_POW:
        pr(s, e->a, o, NEED_BASE);
        put(o, "^");
        if (e->c < 0) put(o, "(");
        put_number(o, e->c);
        if (e->c < 0) put(o, ")");
        break;
    case S_EXP:
        if (is_power_form(e)) {   /* exp(b·log a): a^b */
            pr(s, e->a->b->a, o, NEED_BASE);
            put(o, "^");
            pr(s, e->a->a, o, NEED_EXPONENT);
            break;
        }
        /* fall through */
    default:
        put(o, fn_name[e->kind]);
        put(o, "(");
        pr(s, e->a, o, 0);
        if (e->b) {
            put(o, ", ");
            pr(s, e->b, o, 0);
        }
        put(o, ")");
        break;
    }
    if (paren) put(o, ")");
}

size_t ad_sym_print(const ad_sym_ctx *s, const ad_sym *e, char *buf, size_t len)
{
    if (buf && len) buf[0] = '\0';
    if (!s || !e) return 0;
    out o = {buf, buf ? len : 0, 0};
    pr(s, e, &o, 0);
    return o.at;
}

double ad_sym_tree_size(const ad_sym *e) { return e ? e->tree : 0; }

int64_t ad_sym_dag_size(const ad_sym_ctx *s, const ad_sym *e)
{
    if (!s || !e) return 0;
    unsigned char *seen = calloc((size_t)e->id + 1, 1);
    const ad_sym **stack = malloc(((size_t)e->id + 1) * sizeof *stack);
    int64_t count = 0, top = 0;
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return -1;
    }
    stack[top++] = e;
    seen[e->id] = 1;
    while (top) {
        const ad_sym *x = stack[--top];
        count++;
        const ad_sym *ch[2] = {x->a, x->b};
        for (int k = 0; k < 2; k++)
            if (ch[k] && !seen[ch[k]->id]) seen[ch[k]->id] = 1, stack[top++] = ch[k];
    }
    free(seen);
    free(stack);
    return count;
}
