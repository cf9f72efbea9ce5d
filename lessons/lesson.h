/* lesson.h: what every lesson program shares: its command line
 * (--NAME VALUE inputs, --json, --dot FILE, --variant A|B, --help, --version), the
 * finite-difference cross-check of a scalar function built with the
 * engine, and JSON output through cJSON. */
#ifndef LESSON_H
#define LESSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include "autodidact.h"

enum { LESSON_MAX_INPUTS = 8 };

/* One named scalar input, with its default and its domain (open bounds). */
typedef struct lesson_input {
    const char *name;      /* "x": set with --x 3 or --x=3 */
    double value;          /* default, replaced by the command line */
    double lo, hi;         /* allowed open interval; use -INFINITY/INFINITY */
    const char *why;       /* why the bounds: "log x needs x > 0" */
    const char *sym;       /* the lecture's symbol where it is not the option's name: "θ₀" for --theta0 */
} lesson_input;

typedef struct lesson {
    const char *program;   /* "chain_rule" */
    const char *title;     /* one line: the function and the lecture */
    const char *source;    /* the lecture file(s) and section(s) it reproduces, printed first */
    const char *code;      /* where the engine does what the lesson shows, printed second: files
                              from the repository root, the core's first (engine/README.md is
                              the reading guide); tests/lesson_code.py checks each exists */
    const char *usage_extra;
    lesson_input in[LESSON_MAX_INPUTS];
    int n_in;
    bool json;             /* --json: print only the JSON document */
    bool ascii;            /* --ascii: the text in ASCII (θ₀ → theta0, ∂ → d, ...), through lesson_ascii_filter */
    const char *dot_path;  /* --dot FILE */
    const char *html_path; /* --html FILE (offered with --dot) */
    ad_backward_variant variant;   /* --variant A (pull) | B (push, default) */
    /* Which of the shared options this lesson offers (an option it does not
     * use is neither advertised nor accepted): --variant where the lesson runs
     * a backward pass through lesson_backward, --dot where it writes a graph. */
    bool has_variant, has_dot;
    /* Inputs (bit i = in[i]) at a kink or tie of f, where the engine takes a
     * subgradient and finite differences legitimately see something else;
     * kink_why says which subgradient and why. Set before lesson_fd_report. */
    unsigned kink_mask;
    const char *kink_why;
} lesson;

/* Parse argv into L (defaults already in L) through the commands' shared
 * parser (ad_cli.h): --help, --version, --man exit 0; bad input prints a
 * one-line error and exits 2. */
void lesson_parse(lesson *L, int argc, char **argv);

/* Input i's symbol as the lecture writes it (in[i].sym, else its name). */
const char *lesson_symbol(const lesson *L, int i);

/* --ascii: from here on, everything written to stdout passes through a
 * filter process that writes the lecture's Unicode (θ₀, ∂, ′, ·, Σ, √, ...)
 * as ASCII (theta0, d, ', *, sum, sqrt, ...). The default output is the
 * lecture's notation; ASCII is only ever printed behind this option. */
void lesson_ascii_filter(void);
/* The transliteration itself, for one UTF-8 string (the test's): returns a
 * static buffer. */
const char *lesson_ascii_of(const char *utf8);

/* --variant's help in every command: Version B is the default everywhere,
 * and why. */
#define LESSON_VARIANT_HELP                                                                                            \
    "the backward pass: B, the default, as the library's ad_backward runs it\n"                                       \
    "for every program (each node, once, in reverse order, pushes its\n"                                              \
    "increments into its inputs' adjoints); or A, the same numbers in the\n"                                          \
    "order lecture 001 writes them (each adjoint the sum over its consumers)"

/* A context with the engine's finite checking on: an op that makes NaN/Inf
 * from finite inputs fails, naming the op and the node. Exits 1 on failure. */
ad_context *lesson_context(const lesson *L);

/* Backward from y with the lesson's --variant (cot NULL: y is a scalar, seed
 * 1). Exits 1 with the engine's message (naming the node) on failure. */
void lesson_backward(const lesson *L, ad_context *ctx, ad_node *y, const ad_tensor *cot);

/* Record a failed check: prints "FAILED: <what>" (to stderr under --json)
 * and makes lesson_status() 1. fmt is printf-style. */
void lesson_fail(const lesson *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A check of a computed value against a reference that treats NaN/Inf as a
 * failure: |got - want| <= tol·max(1, |want|), both finite. Records a
 * failure naming `what` when it does not hold. Returns whether it held. */
bool lesson_check_close(const lesson *L, const char *what, double got, double want, double tol);
/* The exit status: 0, or 1 if any check failed (main returns it, last:
 * it also frees the cotangents kept for --dot and --html). */
int lesson_status(void);

/* Add "nodes": [{id, name, op, expr, value, grad[, tangent][, local_partials]}]
 * for every node of a scalar graph up to root (what ad_explain_nodes,
 * _forward and _reverse print; local_partials[s] = ∂node/∂(input s)). */
void lesson_json_nodes(cJSON *doc, const ad_context *ctx, const ad_node *root);
/* Zero the grads and run the backward pass again (variant), adding key: [{consumer, input,
 * contribution, adjoint_after}] — every step ad_explain_reverse prints. Scalar graphs only. */
void lesson_json_backward_steps(const lesson *L, cJSON *doc, const char *key, ad_context *ctx, ad_node *root,
                                ad_backward_variant variant);

/* Add key: text, a string in memory of its own (ad_explain_name_alloc's,
 * ad_explain_expr_alloc's), and free it. NULL (they ran out of memory) exits
 * 1 with the engine's message: a document without the text would be cut. */
void lesson_json_text(cJSON *o, const char *key, char *text);
/* Add key: the node's values (an array, row-major) and key_grad: its grads
 * (when it has them). */
void lesson_json_tensor(cJSON *doc, const char *key, const ad_node *n);
/* Add an array of n doubles. */
void lesson_json_array(cJSON *doc, const char *key, const double *v, int n);

/* A slip of a slide, shown by computation: the slide's version and the
 * right one evaluated on the example (n values each), against a reference
 * computed independently (finite differences, or the definition evaluated
 * directly: `reference` says which). Prints the three side by side and which
 * agrees with the reference; adds {id, lecture, what, slide, right,
 * reference, reference_is, slide_agrees, right_agrees} to doc's "slips"
 * array. The right version disagreeing is a failed check. Returns whether
 * the slide's version disagrees (is really a slip at this input). */
bool lesson_slip(const lesson *L, cJSON *doc, const char *id, const char *lecture, const char *what,
                 const double *slide, const double *right, const double *ref, int n, const char *reference);
/* The same slip at an input where the slide's own route is undefined (a log
 * of a negative number, a square root of one): prints "slide: undefined
 * here: <why>" beside the right version and the reference; the JSON entry
 * has "slide": [] and "slide_undefined": why (never a NaN). */
void lesson_slip_undefined(const lesson *L, cJSON *doc, const char *id, const char *lecture, const char *what,
                           const char *why, const double *right, const double *ref, int n, const char *reference);

/* The backward pass from the scalar root with `variant`, printed (unless
 * --json; recorded for --html, lesson_trace.h) as the
 * lectures number its steps: 0′ the seed, one k′ per intermediate node in
 * reverse topological order, and the inputs' adjoints in one last step
 * (numbered once, the inputs in the order they were made). Version A: each
 * adjoint as its sum over consumers; B: each complete adjoint and the
 * increments it pushes. Exits 1 with the engine's message on failure. */
void lesson_explain_reverse(const lesson *L, ad_context *ctx, ad_node *root, ad_backward_variant variant);

/* f built from scalar leaves (one per input, in order) in ctx. */
typedef ad_node *(*lesson_fn)(ad_context *ctx, ad_node *const *x, void *user);

/* Seconds on the monotonic clock, for the lessons that time the engine. */
double lesson_now(void);

/* f at x (constants, a fresh graph with check-finite on): NaN (with
 * ad_last_error) if building f fails or overflows. */
double lesson_eval(lesson_fn f, void *user, const double *x, int n);

/* ∂f/∂x_i by centered differences D(h) = (f(x+h e_i) - f(x-h e_i)) / 2h at
 * h = 1e-6·max(1,|x_i|) and h/2, extrapolated: (4·D(h/2) - D(h))/3, so the
 * h²f‴/6 error of D(h) cancels. Each evaluation a fresh graph. Returns NAN
 * (with ad_last_error) if f fails. */
double lesson_central_difference(lesson_fn f, void *user, const double *x, int n, int i);

/* Print "finite differences: ∂f/∂x ≈ ... (engine ... , |diff| ...)" lines
 * for every input and return the largest |engine - FD| / max(1, |engine|)
 * over the inputs not in L->kink_mask (NaN if any side is not finite: a
 * failed check, recorded). grads[i] are the engine's. Adds a
 * "finite_difference" object to json when not NULL. A disagreement away
 * from a kink is a failed check too. */
double lesson_fd_report(const lesson *L, lesson_fn f, void *user, const double *grads, const char *fname,
                        cJSON *json);

/* Row i of y's Jacobian: zero the grads, then backward from y with the
 * cotangent e_i (y any shape, float64); the grads then hold ∂y_i/∂·. */
ad_status lesson_backward_unit(ad_context *ctx, ad_node *y, int64_t i);

/* Print the JSON document (and free it). A non-finite number anywhere in it
 * is a failed check naming its path (cJSON would print it as null). */
void lesson_print_json(cJSON *doc);

/* A usage error found after parsing (a value the parser cannot judge alone):
 * "program: <message> (see program --help)", exit 2, worded as the shared
 * parser's own (ad_cli_usage_error). fmt takes one %s, arg. */
_Noreturn void lesson_usage_error(const char *program, const char *fmt, const char *arg);

/* Exit 1 with the engine's message: "chain_rule: <message>". */
_Noreturn void lesson_die(const lesson *L, const char *what);

/* Write the DOT file if --dot was given; exits 1 on failure. */
void lesson_write_dot(const lesson *L, ad_context *ctx, ad_node *root);

/* The engine's node table and forward-mode table (ad_explain_nodes,
 * ad_explain_forward), printed unless --json and recorded for --html
 * (lesson_trace.h); exit 1 with the engine's message on failure. */
void lesson_show_nodes(const lesson *L, const ad_context *ctx, const ad_node *root);
void lesson_show_forward(const lesson *L, const ad_context *ctx, const ad_node *root, const char *const *dir_names);

/* Write the --html page if --html was given: the graph up to root and every
 * step recorded (the parts the lesson did not print, from the graph, in
 * the lesson's --variant); exits 1 naming --html and the file on failure.
 * It runs root's backward pass again first (the grads shown are root's), so
 * call it after the lesson's last use of the grads. */
void lesson_write_html(const lesson *L, ad_context *ctx, ad_node *root);
/* Free what the pictures kept (lesson_status calls it). */
void lesson_pictures_done(void);

#endif
