/* expr.c: the formula parser and graph builder (see ad_expr.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_expr.h"
#include "ad_ops.h"

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
    int n_vars;
    int root;
};

typedef struct parser {
    ad_expr *e;
    const char *s;
    int pos;
    int err_col;
    bool failed;
} parser;

static const char *const unary_fns[] = {"exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "neg"};

static int perror_at(parser *p, int col0, const char *fmt, const char *arg)
{
    if (!p->failed) {
        char msg[200];
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

/* Intern a node: return the existing index of an equal node, or add it. */
static int intern(parser *p, e_node x)
{
    ad_expr *e = p->e;
    for (int i = 0; i < e->n_nodes; i++) {
        e_node *y = &e->n[i];
        if (y->kind == x.kind && y->a == x.a && y->b == x.b && y->var == x.var &&
            ((y->fn == NULL && x.fn == NULL) || (y->fn && x.fn && !strcmp(y->fn, x.fn))) &&
            (x.kind != E_NUM && x.kind != E_POW ? true : memcmp(&y->num, &x.num, sizeof x.num) == 0))
            return i;
    }
    if (e->n_nodes == e->cap) {
        int cap = e->cap ? 2 * e->cap : 16;
        e_node *q = realloc(e->n, (size_t)cap * sizeof *q);
        if (!q) {
            ad_fail(AD_ERR_NOMEM, "out of memory parsing the formula");
            p->failed = true;
            return -1;
        }
        e->n = q;
        e->cap = cap;
    }
    e->n[e->n_nodes] = x;
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

static int variable(parser *p, const char *name, size_t len, int start)
{
    ad_expr *e = p->e;
    int k = -1;
    for (int i = 0; i < e->n_vars; i++)
        if (strlen(e->vars[i]) == len && !strncmp(e->vars[i], name, len)) k = i;
    if (k < 0) {
        char **v = realloc(e->vars, (size_t)(e->n_vars + 1) * sizeof *v);
        if (!v) return perror_at(p, start, "%s", "out of memory");
        e->vars = v;
        e->vars[e->n_vars] = strndup(name, len);
        k = e->n_vars++;
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

/* Constant subexpressions fold into one number ("pi/2" is one constant). */
static int unary_node(parser *p, const char *fn, int a, int start)
{
    if (a < 0) return -1;
    if (is_const(p, a)) return number(p, fold1(fn, p->e->n[a].num), start, p->pos);
    return intern(p, mk(E_UNARY, fn, a, -1, start, p->pos));
}

static int binary_node(parser *p, const char *fn, int a, int b, int start)
{
    if (a < 0 || b < 0) return -1;
    if (is_const(p, a) && is_const(p, b)) return number(p, fold2(fn, p->e->n[a].num, p->e->n[b].num), start, p->pos);
    return intern(p, mk(E_BINARY, fn, a, b, start, p->pos));
}

static int pow_node(parser *p, int base, int expo, int start, int expo_col)
{
    if (base < 0 || expo < 0) return -1;
    (void)expo_col;
    if (!is_const(p, expo)) return intern(p, mk(E_POWV, "powv", base, expo, start, p->pos));
    double c = p->e->n[expo].num;
    if (is_const(p, base)) return number(p, pow(p->e->n[base].num, c), start, p->pos);
    e_node x = mk(E_POW, "pow", base, -1, start, p->pos);
    x.num = c;
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

static int parse_unary(parser *p)
{
    skip_space(p);
    int start = p->pos;
    if (p->s[p->pos] == '-') {
        p->pos++;
        return unary_node(p, "neg", parse_unary(p), start);
    }
    if (p->s[p->pos] == '+') {
        p->pos++;
        return parse_unary(p);
    }
    return parse_power(p);
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

void ad_expr_free(ad_expr *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_vars; i++) free(e->vars[i]);
    free(e->vars);
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
    parser p = {e, e->src, 0, 0, false};
    e->root = parse_expr(&p);
    skip_space(&p);
    if (e->root >= 0 && p.s[p.pos]) {
        char c[2] = {p.s[p.pos], 0};
        perror_at(&p, p.pos, "unexpected '%s'", c);
    }
    if (!p.failed && e->root >= 0) {
        /* Variables in alphabetical order (x before y), whatever the order
         * they appear in: tables and --at read the same way every time. */
        for (int i = 1; i < e->n_vars; i++)
            for (int j = i; j > 0 && strcmp(e->vars[j - 1], e->vars[j]) > 0; j--) {
                char *t = e->vars[j];
                e->vars[j] = e->vars[j - 1];
                e->vars[j - 1] = t;
                for (int k = 0; k < e->n_nodes; k++)
                    if (e->n[k].kind == E_VAR) {
                        if (e->n[k].var == j) e->n[k].var = j - 1;
                        else if (e->n[k].var == j - 1) e->n[k].var = j;
                    }
            }
    }
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
    for (int i = 0; e && name && i < e->n_vars; i++)
        if (!strcmp(e->vars[i], name)) return i;
    return -1;
}

/* Domain checks at the point, naming the subexpression by its source. */
static ad_status check_domain(const ad_expr *e, const e_node *x, ad_node *const *nodes)
{
    const char *what = NULL;
    double v = 0;
    if (x->kind == E_UNARY && !strcmp(x->fn, "log") && !((v = ad_value_scalar(nodes[x->a])) > 0))
        what = "log needs > 0";
    else if (x->kind == E_UNARY && !strcmp(x->fn, "sqrt") && !((v = ad_value_scalar(nodes[x->a])) > 0))
        what = v == 0 ? "sqrt is not differentiable at 0" : "sqrt needs >= 0";
    else if (x->kind == E_BINARY && !strcmp(x->fn, "div") && (v = ad_value_scalar(nodes[x->b])) == 0)
        return ad_fail(AD_ERR_DOMAIN, "division by zero: the denominator of '%.*s' is 0 at this point",
                       x->end - x->start, e->src + x->start);
    else if (x->kind == E_POW && (v = ad_value_scalar(nodes[x->a])) < 0 && x->num != floor(x->num))
        what = "a negative number to a fractional power is undefined";
    else if (x->kind == E_POW && v == 0 && x->num < 1 && x->num != 0 && x->num != floor(x->num))
        what = "not differentiable at 0";
    else if (x->kind == E_POW && v == 0 && x->num < 0)
        what = "0 to a negative power is infinite";
    else if (x->kind == E_POWV && !((v = ad_value_scalar(nodes[x->a])) > 0)) {
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
    if (!what) return AD_OK;
    return ad_fail(AD_ERR_DOMAIN, "'%.*s': its argument is %g at this point (%s)", x->end - x->start, e->src + x->start,
                   v, what);
}

ad_node *ad_expr_build(const ad_expr *e, ad_context *ctx, ad_node *const *vars)
{
    if (!e || !vars) {
        ad_fail(AD_ERR_ARG, "expr_build: NULL argument");
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
            n = ad_pow(ctx, nodes[x->a], x->num);
            break;
        case E_UNARY: {
            if (check_domain(e, x, nodes) != AD_OK) goto done;
            const ad_op *op = ad_op_find(x->fn);
            ad_node *in[1] = {nodes[x->a]};
            n = ad_apply(ctx, op, in, 1, NULL);
            break;
        }
        case E_BINARY: {
            if (check_domain(e, x, nodes) != AD_OK) goto done;
            ad_node *in[2] = {nodes[x->a], nodes[x->b]};
            n = ad_apply(ctx, ad_op_find(x->fn), in, 2, NULL);
            break;
        }
        case E_POWV:
            if (check_domain(e, x, nodes) != AD_OK) goto done;
            if (e->n[x->a].kind == E_NUM) {   /* c^b = exp(log(c)·b); e^b = exp(b) */
                double lc = log(e->n[x->a].num);
                aux[0] = NULL;
                aux[1] = lc == 1 ? nodes[x->b] : ad_scale(ctx, nodes[x->b], lc);
            } else {
                aux[0] = ad_log(ctx, nodes[x->a]);
                aux[1] = aux[0] ? ad_mul(ctx, nodes[x->b], aux[0]) : NULL;
            }
            n = aux[1] ? ad_exp(ctx, aux[1]) : NULL;
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
            if (aux[k] && aux[k] != nodes[x->b] && !aux[k]->name) {
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
