/* symbolic_print.c: an expression as text in the formula language (see
 * ad_sym_print in ad_symbolic.h).
 *
 * The text is the parser's inverse: ad_expr_parse reads it back as the same
 * function. It is written complete or not at all: a text longer than the
 * buffer, or a constant the language cannot spell (inf, nan), is an error,
 * never a prefix with unbalanced parentheses; so is a variable whose name
 * would not read back as that variable ("x[0]", "e"). Expressions can be 10^6 deep,
 * so the printer keeps its own stack of what is left to write instead of
 * recursing. */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ad_internal.h"
#include "symbolic_internal.h"

typedef struct out {
    char *buf;
    size_t len, at;     /* at < len: the text so far and its NUL fit */
    bool full;          /* a piece did not fit: stop */
    bool bad;           /* something the language cannot spell: stop */
    double bad_value;   /* a constant that is not finite, */
    const char *bad_name;   /* or a variable's name that would not read back as it */
} out;

static void put(out *o, const char *str)
{
    size_t k = strlen(str);
    if (o->full || k >= o->len - o->at) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->at, str, k);
    o->at += k;
}

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double: the printed
 * formula is the same function, not one rounded to 15 digits. */
static void put_number(out *o, double c)
{
    char tmp[40];
    if (!isfinite(c)) {
        o->bad = true;
        o->bad_value = c;
        return;
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(tmp, sizeof tmp, "%.*g", digits, c);
        if (strtod(tmp, NULL) == c) break;
    }
    put(o, tmp);
}

/* A name the parser reads back as a variable: letters, digits and _, not starting with a digit,
 * and not pi or e (its constants). ad_set_name takes any string. */
static bool readable_name(const char *v)
{
    if (!(isalpha((unsigned char)v[0]) || v[0] == '_') || !strcmp(v, "pi") || !strcmp(v, "e")) return false;
    for (const char *p = v; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_')) return false;
    return true;
}

static void put_name(out *o, const char *v)
{
    if (!readable_name(v)) {
        o->bad = true;
        o->bad_name = v;
        return;
    }
    put(o, v);
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

/* What is left to write, last first: a subexpression in a place that needs a binding of at
 * least need, a piece of text (e NULL), or the constant exponent of the power e (need -1). */
typedef struct item {
    const ad_sym *e;
    int need;
    const char *text;
} item;
enum { EXPONENT_OF = -1 };

typedef struct todo {
    item *items;
    size_t n, cap;
} todo;

static void push(todo *t, const ad_sym *e, int need, const char *text) { t->items[t->n++] = (item){e, need, text}; }

/* Writes what it can of e now (an atom, an opening) and pushes the rest, right to left. */
static void expand(const ad_sym_ctx *s, const ad_sym *e, int need, out *o, todo *t)
{
    if (prec(e) < need) {
        put(o, "(");
        push(t, NULL, 0, ")");
    }
    switch (e->kind) {
    case S_NUM: put_number(o, e->c); break;
    case S_VAR: put_name(o, s->vars[e->var]); break;
    case S_ADD: push(t, e->b, 1, NULL); push(t, NULL, 0, " + "); push(t, e->a, 1, NULL); break;
    case S_SUB: push(t, e->b, 2, NULL); push(t, NULL, 0, " - "); push(t, e->a, 1, NULL); break;
    case S_MUL:   /* associative: a*(b*c) prints as a*b*c */
        push(t, e->b, e->b->kind == S_MUL ? 2 : 3, NULL);
        push(t, NULL, 0, "*");
        push(t, e->a, 2, NULL);
        break;
    case S_DIV: push(t, e->b, 3, NULL); push(t, NULL, 0, "/"); push(t, e->a, 2, NULL); break;
    case S_NEG: put(o, "-"); push(t, e->a, 3, NULL); break;
    case S_POW: push(t, e, EXPONENT_OF, NULL); push(t, e->a, NEED_BASE, NULL); break;
    case S_EXP:
        if (is_power_form(e)) {   /* exp(b·log a): a^b */
            push(t, e->a->a, NEED_EXPONENT, NULL);
            push(t, NULL, 0, "^");
            push(t, e->a->b->a, NEED_BASE, NULL);
            break;
        }
        /* fall through */
    default:
        put(o, sym_fn_name[e->kind]);
        put(o, "(");
        push(t, NULL, 0, ")");
        if (e->b) {
            push(t, e->b, 0, NULL);
            push(t, NULL, 0, ", ");
        }
        push(t, e->a, 0, NULL);
        break;
    }
}

size_t ad_sym_print(const ad_sym_ctx *s, const ad_sym *e, char *buf, size_t len)
{
    if (!buf || !len) {
        ad_fail(AD_ERR_ARG, "sym_print: no buffer to write to");
        return len;
    }
    buf[0] = '\0';
    if (!s || !e) return 0;
    out o = {buf, len, 0, false, false, 0, NULL};
    todo t = {malloc(64 * sizeof(item)), 0, 64};
    bool nomem = !t.items;
    if (!nomem) push(&t, e, 0, NULL);
    while (!nomem && t.n && !o.full && !o.bad) {
        if (t.cap - t.n < 8) {   /* an expansion pushes at most 6 */
            item *q = realloc(t.items, 2 * t.cap * sizeof *q);
            if (!q) {
                nomem = true;
                break;
            }
            t.items = q;
            t.cap *= 2;
        }
        item it = t.items[--t.n];
        if (!it.e) {
            put(&o, it.text);
        } else if (it.need == EXPONENT_OF) {   /* x^2, x^(-2) */
            put(&o, it.e->c < 0 ? "^(" : "^");
            put_number(&o, it.e->c);
            if (it.e->c < 0) put(&o, ")");
        } else {
            expand(s, it.e, it.need, &o, &t);
        }
    }
    free(t.items);
    if (nomem || o.full || o.bad) {
        buf[0] = '\0';
        if (nomem) ad_fail(AD_ERR_NOMEM, "sym_print: out of memory");
        else if (o.bad && o.bad_name)
            ad_fail(AD_ERR_ARG, "sym_print: the variable '%.60s%s' has a name that the formula language would not "
                                "read back as it (letters, digits and _, not first a digit; not pi or e)",
                    o.bad_name, strlen(o.bad_name) > 60 ? "..." : "");
        else if (o.bad)
            ad_fail(AD_ERR_ARG, "sym_print: the expression holds the constant %g, which is not finite and has no "
                                "spelling in the formula language", o.bad_value);
        else
            ad_fail(AD_ERR_ARG, "sym_print: output exceeds %zu characters (written out as a tree, the expression "
                                "has %.3g subexpressions)", len - 1, ad_sym_tree_size(e));
        return len;
    }
    buf[o.at] = '\0';
    return o.at;
}
