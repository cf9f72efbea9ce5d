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
} lesson_input;

typedef struct lesson {
    const char *program;   /* "chain_rule" */
    const char *title;     /* one line: the function and the lecture */
    const char *usage_extra;
    lesson_input in[LESSON_MAX_INPUTS];
    int n_in;
    bool json;             /* --json: print only the JSON document */
    const char *dot_path;  /* --dot FILE */
    ad_backward_variant variant;   /* --variant A (pull) | B (push, default) */
} lesson;

/* Parse argv into L (defaults already in L) through the commands' shared
 * parser (ad_cli.h): --help, --version, --man exit 0; bad input prints a
 * one-line error and exits 2. */
void lesson_parse(lesson *L, int argc, char **argv);

/* --variant's help in every command: Version B is the default everywhere,
 * and why. */
#define LESSON_VARIANT_HELP                                                                                            \
    "the backward pass: B, the default, as the library's ad_backward runs it\n"                                       \
    "for every program (each node, once, in reverse order, pushes its\n"                                              \
    "increments into its inputs' adjoints); or A, the same numbers in the\n"                                          \
    "order lecture 001 writes them (each adjoint the sum over its consumers)"

/* f built from scalar leaves (one per input, in order) in ctx. */
typedef ad_node *(*lesson_fn)(ad_context *ctx, ad_node *const *x, void *user);

/* Centered difference (f(x+h e_i) - f(x-h e_i)) / 2h, h = 1e-6·max(1,|x_i|),
 * each evaluation a fresh graph. Returns NAN (with ad_last_error) if f fails. */
double lesson_central_difference(lesson_fn f, void *user, const double *x, int n, int i);

/* Print "finite differences: ∂f/∂x ≈ ... (engine ... , |diff| ...)" lines
 * for every input and return the largest |engine - FD| / max(1, |engine|). grads[i] are the
 * engine's. Adds a "finite_difference" object to json when not NULL. */
double lesson_fd_report(const lesson *L, lesson_fn f, void *user, const double *grads, const char *fname,
                        cJSON *json);

/* Row i of y's Jacobian: zero the grads, then backward from y with the
 * cotangent e_i (y any shape, float64); the grads then hold ∂y_i/∂·. */
ad_status lesson_backward_unit(ad_context *ctx, ad_node *y, int64_t i);

/* Print the JSON document (and free it). */
void lesson_print_json(cJSON *doc);

/* Exit 1 with the engine's message: "chain_rule: <message>". */
_Noreturn void lesson_die(const lesson *L, const char *what);

/* Write the DOT file if --dot was given; exits 1 on failure. */
void lesson_write_dot(const lesson *L, ad_context *ctx, const ad_node *root);

#endif
