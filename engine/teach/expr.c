/* expr.c: the formula parser and graph builder (see ad_expr.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include "ad_expr.h"
#include "ad_op.h"
#include "text_hash.h"

/* E_POW: x^c, c a constant; E_POWV: a^b with a variable exponent b, built
 * as exp(b·log a) (a > 0 at the point, else a domain error). */
typedef enum { E_NUM, E_VAR, E_UNARY, E_BINARY, E_POW, E_POWV } e_kind;

/* One DAG node. Equal nodes are interned, so each subexpression exists once. */
typedef struct e_node {
    e_kind kind;
    const char *fn;      /* unary function or binary op name ("add", "max"...) */
    int a, b;            /* children (indices), -1 if none */
    double num;          /* E_NUM value, E_POW exponent */
    int var;             /* E_VAR index */
    int start, end;      /* source span, 0-based [start, end) */
} e_node;

struct ad_expr {
    char *src;
    e_node *n;
    int n_nodes, cap;
    char **vars;
    int n_vars, cap_vars;
    int *var_slot;       /* open-addressing table of variable indices by name, -1 empty */
    int n_var_slots;     /* a power of two, at least twice n_vars */
    int root;
};

typedef struct parser {
    ad_expr *e;
    const char *s;
    int pos;
    int err_col;
    bool failed;
    int depth;           /* current nesting, bounded by AD_EXPR_MAX_DEPTH */
    int *node_slot;      /* open-addressing table of node indices (interning), -1 empty */
    int n_node_slots;    /* a power of two, at least twice n_nodes */
} parser;

static const char *const unary_fns[] = {"exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg"};

static int perror_at(parser *p, int col0, const char *fmt, const char *arg)
{
    if (!p->failed) {
        char msg[400];
        snprintf(msg, sizeof msg, fmt, arg);
        ad_fail(AD_ERR_ARG, "%s at column %d", msg, col0 + 1);
        p->err_col = col0 + 1;
        p->failed = true;
    }
    return -1;
}

static void skip_space(parser *p)
{
    while (isspace((unsigned char)p->s[p->pos])) p->pos++;
}


static bool same_fn(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* The interning key: everything intern() compares (not the source span). */
static uint64_t node_hash(const e_node *x)
{
    int key[4] = {(int)x->kind, x->a, x->b, x->var};
    uint64_t h = ad_fnv1a(AD_FNV_BASIS, key, sizeof key);
    if (x->fn) h = ad_fnv1a(h, x->fn, strlen(x->fn));
    if (x->kind == E_NUM || x->kind == E_POW) h = ad_fnv1a(h, &x->num, sizeof x->num);
    return ad_hash_mix(h);   /* (text_hash.h: why FNV alone is not enough for a table) */
}

static bool node_equal(const e_node *y, const e_node *x)
{
    return y->kind == x->kind && y->a == x->a && y->b == x->b && y->var == x->var && same_fn(y->fn, x->fn) &&
           (x->kind != E_NUM && x->kind != E_POW ? true : memcmp(&y->num, &x->num, sizeof x->num) == 0);
}

/* Put index i into an open-addressing table of n_slots (a power of two). */
static void slot_put(int *slot, int n_slots, uint64_t h, int i)
{
    size_t k = (size_t)h & (size_t)(n_slots - 1);
    while (slot[k] >= 0) k = (k + 1) & (size_t)(n_slots - 1);
    slot[k] = i;
}

/* A table of at least 2 * need slots, refilled from hash(i) for i < count. */
static int *slots_rebuild(int need, int *n_slots, int count, uint64_t (*hash)(const void *, int), const void *ctx)
{
    int n = 16;
    while (n < 2 * need) n *= 2;
    int *slot = malloc((size_t)n * sizeof *slot);
    if (!slot) return NULL;
    memset(slot, 0xff, (size_t)n * sizeof *slot);   /* all -1 */
    for (int i = 0; i < count; i++) slot_put(slot, n, hash(ctx, i), i);
    *n_slots = n;
    return slot;
}

static uint64_t node_hash_at(const void *e, int i) { return node_hash(&((const ad_expr *)e)->n[i]); }

/* Intern a node: return the existing index of an equal node, or add it.
 * A hash table keeps this O(1), so a formula of 10^6 terms parses in linear time. */
static int intern(parser *p, e_node x)
{
    ad_expr *e = p->e;
    uint64_t h = node_hash(&x);
    if (p->node_slot) {
        for (size_t k = (size_t)h & (size_t)(p->n_node_slots - 1); p->node_slot[k] >= 0;
             k = (k + 1) & (size_t)(p->n_node_slots - 1))
            if (node_equal(&e->n[p->node_slot[k]], &x)) return p->node_slot[k];
    }
    if (e->n_nodes == INT32_MAX / 4) return perror_at(p, x.start, "%s", "the formula has too many operations");
    if (e->n_nodes == e->cap) {
        int cap = e->cap ? 2 * e->cap : 16;
        e_node *q = realloc(e->n, (size_t)cap * sizeof *q);
        if (!q) return perror_at(p, x.start, "%s", "out of memory parsing the formula");
        e->n = q;
        e->cap = cap;
    }
    if (2 * (e->n_nodes + 1) > p->n_node_slots) {
        int *slot = slots_rebuild(e->n_nodes + 1, &p->n_node_slots, e->n_nodes, node_hash_at, e);
        if (!slot) return perror_at(p, x.start, "%s", "out of memory parsing the formula");
        free(p->node_slot);
        p->node_slot = slot;
    }
    e->n[e->n_nodes] = x;
    slot_put(p->node_slot, p->n_node_slots, h, e->n_nodes);
    return e->n_nodes++;
}

static e_node mk(e_kind k, const char *fn, int a, int b, int start, int end)
{
    e_node x = {k, fn, a, b, 0, -1, start, end};
    return x;
}

static int parse_expr(parser *p);
static int parse_unary(parser *p);

static bool is_const(const parser *p, int i) { return i >= 0 && p->e->n[i].kind == E_NUM; }

static int number(parser *p, double v, int start, int end)
{
    e_node x = mk(E_NUM, NULL, -1, -1, start, end);
    x.num = v;
    return intern(p, x);
}

static uint64_t name_hash(const char *name, size_t len) { return ad_hash_mix(ad_fnv1a(AD_FNV_BASIS, name, len)); }
static uint64_t var_hash_at(const void *e, int i)
{
    const char *v = ((const ad_expr *)e)->vars[i];
    return name_hash(v, strlen(v));
}

/* The index of variable name[0..len), or -1: a hash lookup, so formulas of
 * 10^5 variables stay linear. */
static int var_find(const ad_expr *e, const char *name, size_t len)
{
    if (!e->var_slot) return -1;
    size_t mask = (size_t)(e->n_var_slots - 1);
    for (size_t k = (size_t)name_hash(name, len) & mask; e->var_slot[k] >= 0; k = (k + 1) & mask) {
        const char *v = e->vars[e->var_slot[k]];
        if (strlen(v) == len && !memcmp(v, name, len)) return e->var_slot[k];
    }
    return -1;
}

static int variable(parser *p, const char *name, size_t len, int start)
{
    ad_expr *e = p->e;
    int k = var_find(e, name, len);
    if (k < 0) {
        if (e->n_vars == e->cap_vars) {
            int cap = e->cap_vars ? 2 * e->cap_vars : 8;
            char **v = realloc(e->vars, (size_t)cap * sizeof *v);
            if (!v) return perror_at(p, start, "%s", "out of memory");
            e->vars = v;
            e->cap_vars = cap;
        }
        if (!(e->vars[e->n_vars] = strndup(name, len))) return perror_at(p, start, "%s", "out of memory");
        k = e->n_vars++;
        if (2 * e->n_vars > e->n_var_slots) {
            int *slot = slots_rebuild(e->n_vars, &e->n_var_slots, e->n_vars, var_hash_at, e);
            if (!slot) return perror_at(p, start, "%s", "out of memory");
            free(e->var_slot);
            e->var_slot = slot;
        } else {
            slot_put(e->var_slot, e->n_var_slots, name_hash(name, len), k);
        }
    }
    e_node x = mk(E_VAR, NULL, -1, -1, start, start + (int)len);
    x.var = k;
    return intern(p, x);
}

static double fold1(const char *fn, double a)
{
    if (!strcmp(fn, "exp")) return exp(a);
    if (!strcmp(fn, "log")) return log(a);
    if (!strcmp(fn, "sqrt")) return sqrt(a);
    if (!strcmp(fn, "sin")) return sin(a);
    if (!strcmp(fn, "cos")) return cos(a);
    if (!strcmp(fn, "tanh")) return tanh(a);
    if (!strcmp(fn, "sigmoid")) return 1 / (1 + exp(-a));
    if (!strcmp(fn, "relu")) return a > 0 ? a : 0;
    if (!strcmp(fn, "abs")) return fabs(a);
    return -a;   /* neg */
}

static double fold2(const char *fn, double a, double b)
{
    if (!strcmp(fn, "add")) return a + b;
    if (!strcmp(fn, "sub")) return a - b;
    if (!strcmp(fn, "mul")) return a * b;
    if (!strcmp(fn, "div")) return a / b;
    if (!strcmp(fn, "max")) return a >= b ? a : b;
    return a <= b ? a : b;   /* min */
}

/* Why operation x is undefined at argument a (b: a binary op's second), or
 * NULL; *bad is the offending argument. With differentiating false only
 * undefined values count (a folded constant is never differentiated), with
 * it true also the points where the derivative does not exist. One rule for
 * constant folding and for ad_expr_build's checks at a point. */
static const char *domain_problem(const e_node *x, double a, double b, bool differentiating, double *bad)
{
    *bad = a;
    if (x->kind == E_UNARY && !strcmp(x->fn, "log") && !(a > 0)) return "log needs > 0";
    if (x->kind == E_UNARY && !strcmp(x->fn, "sqrt") && !(a > 0)) {
        if (!(a >= 0)) return "sqrt needs >= 0";
        if (differentiating) return "sqrt is not differentiable at 0";
    }
    if (x->kind == E_BINARY && !strcmp(x->fn, "div") && !(b != 0)) {
        *bad = b;
        return "division by zero";
    }
    if (x->kind == E_POW) {
        if (a < 0 && x->num != floor(x->num)) return "a negative number to a fractional power is undefined";
        if (a == 0 && x->num < 0) return "0 to a negative power is infinite";
        if (differentiating && a == 0 && x->num < 1 && x->num != 0 && x->num != floor(x->num))
            return "not differentiable at 0";
    }
    return NULL;
}

/* Constant subexpressions fold into one number ("pi/2" is one constant),
 * after the domain checks evaluation would make: "x + log(0)" is an error
 * naming log(0), not -inf. */
static int fold(parser *p, const e_node *x, double v, double a, double b, int start)
{
    double bad;
    const char *why = domain_problem(x, a, b, false, &bad);
    char msg[256];
    if (why && x->kind == E_BINARY) {
        snprintf(msg, sizeof msg, "'%.*s': division by zero", p->pos - start < 80 ? p->pos - start : 80, p->s + start);
        return perror_at(p, start, "%s", msg);
    }
    if (why) {
        snprintf(msg, sizeof msg, "'%.*s': its argument is %g (%s)", p->pos - start < 80 ? p->pos - start : 80,
                 p->s + start, bad, why);
        return perror_at(p, start, "%s", msg);
    }
    if (!isfinite(v)) {
        snprintf(msg, sizeof msg, "'%.*s' is %g, not a finite number", p->pos - start < 80 ? p->pos - start : 80,
                 p->s + start, v);
        return perror_at(p, start, "%s", msg);
    }
    return number(p, v, start, p->pos);
}

static int unary_node(parser *p, const char *fn, int a, int start)
{
    if (a < 0) return -1;
    e_node x = mk(E_UNARY, fn, a, -1, start, p->pos);
    if (is_const(p, a)) return fold(p, &x, fold1(fn, p->e->n[a].num), p->e->n[a].num, 0, start);
    return intern(p, x);
}

static int binary_node(parser *p, const char *fn, int a, int b, int start)
{
    if (a < 0 || b < 0) return -1;
    e_node x = mk(E_BINARY, fn, a, b, start, p->pos);
    if (is_const(p, a) && is_const(p, b)) {
        double va = p->e->n[a].num, vb = p->e->n[b].num;
        return fold(p, &x, fold2(fn, va, vb), va, vb, start);
    }
    return intern(p, x);
}

static int pow_node(parser *p, int base, int expo, int start, int expo_col)
{
    if (base < 0 || expo < 0) return -1;
    (void)expo_col;
    if (!is_const(p, expo)) return intern(p, mk(E_POWV, "powv", base, expo, start, p->pos));
    double c = p->e->n[expo].num;
    e_node x = mk(E_POW, "pow", base, -1, start, p->pos);
    x.num = c;
    if (is_const(p, base)) return fold(p, &x, pow(p->e->n[base].num, c), p->e->n[base].num, 0, start);
    return intern(p, x);
}

static int parse_primary(parser *p)
{
    skip_space(p);
    int start = p->pos;
    char ch = p->s[p->pos];
    if (isdigit((unsigned char)ch) || (ch == '.' && isdigit((unsigned char)p->s[p->pos + 1]))) {
        char *end;
        errno = 0;
        double v = strtod(p->s + p->pos, &end);
        if (end == p->s + p->pos || !isfinite(v)) return perror_at(p, start, "%s", "bad number");
        p->pos = (int)(end - p->s);
        return number(p, v, start, p->pos);
    }
    if (isalpha((unsigned char)ch) || ch == '_') {
        while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_') p->pos++;
        size_t len = (size_t)(p->pos - start);
        const char *name = p->s + start;
        skip_space(p);
        if (p->s[p->pos] != '(') {
            if (len == 2 && !strncmp(name, "pi", 2)) return number(p, M_PI, start, p->pos);
            if (len == 1 && name[0] == 'e') return number(p, M_E, start, p->pos);
            return variable(p, name, len, start);
        }
        /* a call */
        const char *fn = NULL;
        int arity = 0;
        for (size_t k = 0; k < sizeof unary_fns / sizeof *unary_fns; k++)
            if (strlen(unary_fns[k]) == len && !strncmp(unary_fns[k], name, len)) fn = unary_fns[k], arity = 1;
        if (len == 3 && !strncmp(name, "max", 3)) fn = "max", arity = 2;
        if (len == 3 && !strncmp(name, "min", 3)) fn = "min", arity = 2;
        if (len == 3 && !strncmp(name, "pow", 3)) fn = "pow", arity = 2;
        if (!fn) {
            char nm[64];
            snprintf(nm, sizeof nm, "%.*s", (int)(len < 60 ? len : 60), name);
            return perror_at(p, start, "unknown function '%s' (known: exp log sqrt sin cos tanh sigmoid relu abs neg "
                                       "max min pow)", nm);
        }
        p->pos++;   /* '(' */
        int args[2] = {-1, -1}, n = 0, expo_col = 0;
        skip_space(p);
        if (p->s[p->pos] != ')') {
            while (1) {
                skip_space(p);
                if (n == 1) expo_col = p->pos;
                int a = parse_expr(p);
                if (a < 0) return -1;
                if (n < 2) args[n] = a;
                n++;
                skip_space(p);
                if (p->s[p->pos] == ',') {
                    p->pos++;
                    continue;
                }
                break;
            }
        }
        if (p->s[p->pos] != ')') {
            if (!p->s[p->pos]) return perror_at(p, p->pos, "%s", "expected ')' but the formula ended");
            char c[2] = {p->s[p->pos], 0};
            return perror_at(p, p->pos, "expected ',' or ')', found '%s'", c);
        }
        p->pos++;
        if (n != arity) {
            char msg[64];
            snprintf(msg, sizeof msg, "%s takes %d argument%s, %d given", fn, arity, arity > 1 ? "s" : "", n);
            return perror_at(p, start, "%s", msg);
        }
        if (!strcmp(fn, "pow")) return pow_node(p, args[0], args[1], start, expo_col);
        if (arity == 1) return unary_node(p, fn, args[0], start);
        return binary_node(p, fn, args[0], args[1], start);
    }
    if (ch == '(') {
        p->pos++;
        int a = parse_expr(p);
        if (a < 0) return -1;
        skip_space(p);
        if (p->s[p->pos] != ')') {
            if (!p->s[p->pos]) return perror_at(p, p->pos, "%s", "expected ')' but the formula ended");
            char c[2] = {p->s[p->pos], 0};
            return perror_at(p, p->pos, "expected ')', found '%s'", c);
        }
        p->pos++;
        return a;
    }
    if (!ch) return perror_at(p, p->pos, "%s", "unexpected end of formula");
    char c[2] = {ch, 0};
    return perror_at(p, p->pos, "unexpected '%s'", c);
}

static int parse_power(parser *p)
{
    skip_space(p);
    int start = p->pos;
    int base = parse_primary(p);
    if (base < 0) return -1;
    skip_space(p);
    if (p->s[p->pos] == '^' || (p->s[p->pos] == '*' && p->s[p->pos + 1] == '*')) {
        p->pos += p->s[p->pos] == '^' ? 1 : 2;
        skip_space(p);
        int expo_col = p->pos;
        int expo = parse_unary(p);   /* right-associative; x^-2 allowed */
        return pow_node(p, base, expo, start, expo_col);
    }
    return base;
}

/* Every recursion of the grammar (parentheses, calls, signs, exponents)
 * passes through here, so this one counter bounds the parser's stack. */
static int parse_unary(parser *p)
{
    skip_space(p);
    int start = p->pos;
    if (p->depth >= AD_EXPR_MAX_DEPTH) {
        char msg[160];
        snprintf(msg, sizeof msg, "the formula nests more than %d levels deep (parentheses, calls, signs, powers)",
                 AD_EXPR_MAX_DEPTH);
        return perror_at(p, start, "%s", msg);
    }
    p->depth++;
    int r;
    if (p->s[p->pos] == '-') {
        p->pos++;
        r = unary_node(p, "neg", parse_unary(p), start);
    } else if (p->s[p->pos] == '+') {
        p->pos++;
        r = parse_unary(p);
    } else {
        r = parse_power(p);
    }
    p->depth--;
    return r;
}

static int parse_term(parser *p)
{
    skip_space(p);
    int start = p->pos;
    int a = parse_unary(p);
    while (a >= 0) {
        skip_space(p);
        char c = p->s[p->pos];
        if (!(c == '*' && p->s[p->pos + 1] != '*') && c != '/') break;
        p->pos++;
        a = binary_node(p, c == '*' ? "mul" : "div", a, parse_unary(p), start);
    }
    return a;
}

static int parse_expr(parser *p)
{
    skip_space(p);
    int start = p->pos;
    int a = parse_term(p);
    while (a >= 0) {
        skip_space(p);
        char c = p->s[p->pos];
        if (c != '+' && c != '-') break;
        p->pos++;
        a = binary_node(p, c == '+' ? "add" : "sub", a, parse_term(p), start);
    }
    return a;
}

typedef struct named_var {
    const char *name;
    int old;
} named_var;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_var *)a)->name, ((const named_var *)b)->name);
}

/* Variables in alphabetical order (x before y), whatever the order they
 * appear in: tables and --at read the same way every time. O(v log v + nodes). */
static ad_status sort_vars(ad_expr *e)
{
    int nv = e->n_vars;
    named_var *order = malloc((size_t)(nv ? nv : 1) * sizeof *order);
    int *rank = malloc((size_t)(nv ? nv : 1) * sizeof *rank);
    if (!order || !rank) {
        free(order);
        free(rank);
        return ad_fail(AD_ERR_NOMEM, "out of memory sorting the formula's variables");
    }
    for (int i = 0; i < nv; i++) order[i] = (named_var){e->vars[i], i};
    qsort(order, (size_t)nv, sizeof *order, cmp_named);
    for (int i = 0; i < nv; i++) {
        rank[order[i].old] = i;
        e->vars[i] = (char *)order[i].name;
    }
    for (int k = 0; k < e->n_nodes; k++)
        if (e->n[k].kind == E_VAR) e->n[k].var = rank[e->n[k].var];
    free(order);
    free(rank);
    /* the name table now points at the new indices */
    int *slot = slots_rebuild(nv, &e->n_var_slots, nv, var_hash_at, e);
    if (!slot) return ad_fail(AD_ERR_NOMEM, "out of memory sorting the formula's variables");
    free(e->var_slot);
    e->var_slot = slot;
    return AD_OK;
}

void ad_expr_free(ad_expr *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_vars; i++) free(e->vars[i]);
    free(e->vars);
    free(e->var_slot);
    free(e->n);
    free(e->src);
    free(e);
}

ad_expr *ad_expr_parse(const char *formula, int *err_col)
{
    if (err_col) *err_col = 0;
    if (!formula) {
        ad_fail(AD_ERR_ARG, "formula is NULL");
        return NULL;
    }
    ad_expr *e = calloc(1, sizeof *e);
    if (!e || !(e->src = strdup(formula))) {
        free(e);
        ad_fail(AD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    parser p = {e, e->src, 0, 0, false, 0, NULL, 0};
    if (strlen(formula) > AD_EXPR_MAX_LENGTH) {
        perror_at(&p, AD_EXPR_MAX_LENGTH, "%s", "the formula is longer than the parser takes (2^30 characters)");
    } else {
        e->root = parse_expr(&p);
        skip_space(&p);
        if (e->root >= 0 && p.s[p.pos]) {
            char c[2] = {p.s[p.pos], 0};
            perror_at(&p, p.pos, "unexpected '%s'", c);
        }
    }
    free(p.node_slot);
    if (!p.failed && e->root >= 0 && sort_vars(e) != AD_OK) p.failed = true;
    if (p.failed || e->root < 0) {
        if (!p.failed) perror_at(&p, p.pos, "%s", "cannot parse");
        if (err_col) *err_col = p.err_col;
        ad_expr_free(e);
        return NULL;
    }
    return e;
}

int ad_expr_var_count(const ad_expr *e) { return e ? e->n_vars : 0; }
const char *ad_expr_var_name(const ad_expr *e, int i) { return e && i >= 0 && i < e->n_vars ? e->vars[i] : NULL; }
int ad_expr_node_count(const ad_expr *e) { return e ? e->n_nodes : 0; }

int ad_expr_var_index(const ad_expr *e, const char *name)
{
    return e && name ? var_find(e, name, strlen(name)) : -1;
}

/* Domain checks at the point (domain_problem's rule), naming the subexpression by its source. */
static ad_status check_domain(const ad_expr *e, const e_node *x, ad_node *const *nodes)
{
    if (x->kind == E_POWV) {
        double v = ad_value_scalar(nodes[x->a]);
        if (v > 0) return AD_OK;
        /* a^b = exp(b·log a): a ≤ 0 has no real power for a non-integer b, and even at an integer b
         * the derivative in the exponent, a^b·log a, does not exist */
        double b = ad_value_scalar(nodes[x->b]);
        return ad_fail(AD_ERR_DOMAIN,
                       "'%.*s': the base is %g and the exponent %g at this point (%s)", x->end - x->start,
                       e->src + x->start, v, b,
                       b != floor(b) ? "a base <= 0 to a non-integer power is undefined"
                                     : "a variable exponent needs a base > 0: the derivative in the exponent, "
                                       "a^b·log a, is undefined for a <= 0");
    }
    if (x->kind != E_UNARY && x->kind != E_BINARY && x->kind != E_POW) return AD_OK;
    double a = ad_value_scalar(nodes[x->a]), b = x->kind == E_BINARY ? ad_value_scalar(nodes[x->b]) : 0, v;
    const char *what = domain_problem(x, a, b, true, &v);
    if (!what) return AD_OK;
    if (x->kind == E_BINARY)   /* division */
        return ad_fail(AD_ERR_DOMAIN, "division by zero: the denominator of '%.*s' is %g at this point",
                       x->end - x->start, e->src + x->start, v);
    return ad_fail(AD_ERR_DOMAIN, "'%.*s': its argument is %g at this point (%s)", x->end - x->start, e->src + x->start,
                   v, what);
}

/* Apply the registered op `name` (one of the parser's function and operator
 * names, which are the ops' own) with the constant c (pow's exponent,
 * scale's factor; unused by the other ops). The parser stands beside the
 * core and reaches the ops through the registry only. */
static ad_node *apply_named(ad_context *ctx, const char *name, ad_node *a, ad_node *b, double c)
{
    const ad_op *op = ad_op_find(name);
    if (!op) {
        ad_fail(AD_ERR_STATE, "expr_build: no op named '%s' is registered", name);
        return NULL;
    }
    ad_node *in[2] = {a, b};
    ad_params p = {.c = c};
    return ad_apply(ctx, op, in, b ? 2 : 1, (op->flags & AD_OP_PARAMS) ? &p : NULL);
}

ad_node *ad_expr_build(const ad_expr *e, ad_context *ctx, ad_node *const *vars)
{
    if (!e || !vars) {
        ad_fail(AD_ERR_ARG, "expr_build: %s is NULL", !e ? "the formula" : "the array of variables");
        return NULL;
    }
    for (int i = 0; i < e->n_vars; i++)
        if (!vars[i]) {
            ad_fail(AD_ERR_ARG, "expr_build: the node for variable %d ('%s') is NULL", i, e->vars[i]);
            return NULL;
        }
    ad_node **nodes = calloc((size_t)e->n_nodes, sizeof *nodes);
    if (!nodes) {
        ad_fail(AD_ERR_NOMEM, "expr_build: out of memory");
        return NULL;
    }
    /* Children always have smaller indices, so index order is topological. */
    char name[16];
    int next_name = 0;
    ad_node *out = NULL;
    ad_node *aux[2] = {NULL, NULL};   /* E_POWV's log a and b·log a, named like the rest */
    for (int i = 0; i < e->n_nodes; i++) {
        const e_node *x = &e->n[i];
        ad_node *n = NULL;
        switch (x->kind) {
        case E_NUM: n = ad_scalar_const(ctx, x->num); break;
        case E_VAR: n = vars[x->var]; break;
        case E_POW:
            if (check_domain(e, x, nodes) != AD_OK) goto done;
            n = apply_named(ctx, "pow", nodes[x->a], NULL, x->num);
            break;
        case E_UNARY: {
            if (check_domain(e, x, nodes) != AD_OK) goto done;
            n = apply_named(ctx, x->fn, nodes[x->a], NULL, 0);
            break;
        }
        case E_BINARY: {
            if (check_domain(e, x, nodes) != AD_OK) goto done;
            n = apply_named(ctx, x->fn, nodes[x->a], nodes[x->b], 0);
            break;
        }
        case E_POWV:
            if (check_domain(e, x, nodes) != AD_OK) goto done;
            if (e->n[x->a].kind == E_NUM) {   /* c^b = exp(log(c)·b); e^b = exp(b) */
                double lc = log(e->n[x->a].num);
                aux[0] = NULL;
                aux[1] = lc == 1 ? nodes[x->b] : apply_named(ctx, "scale", nodes[x->b], NULL, lc);
            } else {
                aux[0] = apply_named(ctx, "log", nodes[x->a], NULL, 0);
                aux[1] = aux[0] ? apply_named(ctx, "mul", nodes[x->b], aux[0], 0) : NULL;
            }
            n = aux[1] ? apply_named(ctx, "exp", aux[1], NULL, 0) : NULL;
            break;
        }
        if (!n && ad_last_status() == AD_ERR_NONFINITE) {
            /* an overflow (check-finite mode): name the subexpression, as domain errors do */
            char why[400];
            snprintf(why, sizeof why, "%s", ad_last_error());
            ad_fail(AD_ERR_NONFINITE, "'%.*s' is not finite at this point (overflow): %s", x->end - x->start,
                    e->src + x->start, why);
            goto done;
        }
        if (!n) goto done;
        for (int k = 0; x->kind == E_POWV && k < 2; k++)
            if (aux[k] && aux[k] != nodes[x->b] && !ad_node_name(aux[k])) {
                while (1) {
                    if (next_name < 24) snprintf(name, sizeof name, "%c", 'a' + next_name + (next_name >= 4 ? 2 : 0));
                    else snprintf(name, sizeof name, "t%d", next_name - 23);
                    next_name++;
                    if (ad_expr_var_index(e, name) < 0) break;
                }
                ad_set_name(aux[k], name);
            }
        if (x->kind != E_NUM && x->kind != E_VAR) {
            if (i == e->root) {
                snprintf(name, sizeof name, "f");
            } else {
                /* a, b, c, d, g, h, ... skipping e (Euler's number), f (the
                 * result) and the variables' names */
                while (1) {
                    if (next_name < 24) snprintf(name, sizeof name, "%c", 'a' + next_name + (next_name >= 4 ? 2 : 0));
                    else snprintf(name, sizeof name, "t%d", next_name - 23);
                    next_name++;
                    if (ad_expr_var_index(e, name) < 0) break;
                }
            }
            ad_set_name(n, name);
        }
        nodes[i] = n;
    }
    out = nodes[e->root];
done:
    free(nodes);
    return out;
}
