/* gradcheck: check registered ops' derivatives against finite differences.
 *   gradcheck --list
 *   gradcheck --op NAME [--shape S] [--stride N --padding N --kernel N] [options]
 *   gradcheck --all [options]
 * Each op's checks run in a child process (ad_gradcheck_op_isolated).
 * Exit status: 0 all checks pass, 1 a mismatch or a crash, 2 a usage error. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ad_cli.h"
#include "ad_gradcheck.h"

enum {
    O_LIST, O_OP, O_ALL, O_SHAPE, O_STRIDE, O_PADDING, O_KERNEL, O_WINDOW, O_AXIS, O_C, O_EPS, O_ATOL, O_RTOL,
    O_SEED, O_SEEDS, O_MODE, O_DTYPE, O_ORDER, O_FAST, O_RICHARDSON, O_PRINT_JACOBIAN, O_FORMAT, O_DEVICE, O_THREADS, O_TIME_LIMIT, O_IN_PROCESS, N_OPTIONS
};
static const ad_cli_option options[N_OPTIONS] = {
    [O_LIST] = {"list", NULL, "the registered ops, with their inputs and default cases, and\n"
                              "the conventions where they differ from PyTorch"},
    [O_OP] = {"op", "NAME", "check one op at its default cases (or at --shape)"},
    [O_ALL] = {"all", NULL, "check every registered op at its default cases"},
    [O_SHAPE] = {"shape", "S", "input shapes: '2x3x8x8' (input 0; the op derives the others)\n"
                               "or '2x3x8x8,4x3x3x3,4' (every input); 'scalar' for a 0-d input"},
    [O_STRIDE] = {"stride", "N", "conv2d / pooling stride (1..64)"},
    [O_PADDING] = {"padding", "N", "conv2d padding (0..64)"},
    [O_KERNEL] = {"kernel", "N", "conv2d kernel size R = S (1..64)"},
    [O_WINDOW] = {"window", "N", "pooling window (1..64)"},
    [O_AXIS] = {"axis", "N|all", "reduction / softmax axis, counted as in NumPy (-1 the last,\n"
                                 "-4..3); all: every axis"},
    [O_C] = {"c", "X", "the constant of pow and scale"},
    [O_EPS] = {"eps", "X", "finite-difference step (default 1e-6)"},
    [O_ATOL] = {"atol", "X", "absolute tolerance (default 1e-5)"},
    [O_RTOL] = {"rtol", "X", "relative tolerance (default 1e-3)"},
    [O_SEED] = {"seed", "N", "seed of the input and cotangent draws (default 1)"},
    [O_SEEDS] = {"seeds", "N", "repeat every check with N consecutive seeds"},
    [O_MODE] = {"mode", "fwd|rev|both", "which modes to check (default both)"},
    [O_DTYPE] = {"dtype", "float32|float64|both", "which dtypes to check (default both): float64 against finite\n"
                                                  "differences; float32's value and Jacobians against float64's at\n"
                                                  "the inputs rounded to float32, entry by entry, to\n"
                                                  "8(1+sqrt(K))·FLT_EPSILON·(|float64| + max(S, 1)): K the elements\n"
                                                  "of the inputs and output, S the largest |float64| of the array"},
    [O_ORDER] = {"order", "1|2|both", "which derivatives to check (default 1): 2 checks second derivatives:\n"
                                      "H·v by ad_hvp (forward-over-reverse) against the difference of the\n"
                                      "gradient along v (and along each input alone; with v on none of\n"
                                      "them it must be 0), <u, Hv> = <v, Hu>, and H·v of f(x) + f(x) =\n"
                                      "2·H·v of f (each rule adds), in float64; an op with no\n"
                                      "second-order rule is reported not checked, by name"},
    [O_FAST] = {"fast", NULL, "random projections u^T J v instead of full Jacobians"},
    [O_RICHARDSON] = {"richardson", NULL, "4-point finite-difference stencil instead of 2-point"},
    [O_PRINT_JACOBIAN] = {"print-jacobian", NULL, "print every Jacobian entry, numerical beside analytical"},
    [O_FORMAT] = {"format", "text|json|junit|tap", "report format (default text); junit is valid against Jenkins'\n"
                                                   "junit-10 schema, tap is TAP version 13"},
    [O_DEVICE] = {"device", "cpu|cuda", "where the op runs (default cpu); cuda runs every check on the GPU\n"
                                        "in float64 and adds a CPU-vs-GPU comparison of forward, vjp, jvp\n"
                                        "(the float32 checks run on the CPU)"},
    [O_THREADS] = {"threads", "N", "threads for the full Jacobians' columns and row blocks (1..64; default:\n"
                                   "the cores online, at most 8); the report is the same for any N"},
    [O_TIME_LIMIT] = {"time-limit", "S", "seconds one op's checks may take in their process (default 600;\n"
                                         "0: no limit); past it they are stopped and reported as failed"},
    [O_IN_PROCESS] = {"in-process", NULL, "run the checks in this process, not one child process per op (for\n"
                                          "a debugger: a crash then ends the run)"},
};

static ad_cli cli = {
    .program = "gradcheck",
    .summary = "check registered ops' derivatives against finite differences",
    .synopsis = "--list | --op NAME | --all [options]",
    .description = "Every check compares the engine's reverse-mode (vjp) and forward-mode (jvp) derivatives\n"
                   "with centered finite differences in float64, and the op's float32 kernels with its\n"
                   "float64 ones (--dtype). The reverse-mode Jacobian's rows come\n"
                   "from backward sweeps of a block of one-hot cotangents each (every vjp takes a block:\n"
                   "engine/core/ad_op.h); block-vs-one checks a block against one cotangent at a time, the path\n"
                   "training takes (the library's default, Version B: each node pushes its increments\n"
                   "into its inputs).",
    .options = options,
    .n_options = N_OPTIONS,
    .notes = "Each op's checks run in a child process of their own: a crash (SIGSEGV, SIGABRT, SIGFPE,\n"
             "SIGBUS, a sanitizer's exit) or a run past --time-limit is that op's failed record\n"
             "('FAIL  conv2d [float32] [case] crashed' and under it 'vjp crashed (SIGSEGV)'),\n"
             "beside every other op's results. OpenMP's idle threads wait passively\n"
             "(OMP_WAIT_POLICY=passive, unless the environment sets it).\n"
             "Exit status: 0 all checks pass, 1 a derivative mismatch or a crash, 2 a usage error.",
};

static _Noreturn void usage_error(const char *fmt, const char *arg) { ad_cli_usage_error(&cli, fmt, arg); }

/* "2x3x8x8,4x3x3x3,4" into c; returns the number of shapes given. */
static int parse_shapes(const char *s, ad_op_case *c)
{
    int k = 0;
    const char *p = s;
    while (*p) {
        if (k == AD_MAX_INPUTS) usage_error("--shape gives more than 3 inputs: '%s'", s);
        int nd = 0;
        if (!strncmp(p, "scalar", 6)) {
            p += 6;
        } else {
            while (1) {
                char *end;
                errno = 0;
                long d = strtol(p, &end, 10);
                if (end == p || d <= 0 || errno) usage_error("--shape: '%s' is not a list of shapes like 2x3x8x8,4x3x3x3", s);
                if (nd == AD_MAX_DIMS) usage_error("--shape: '%s' has more than 4 dimensions in one shape", s);
                c->shape[k][nd++] = d;
                p = end;
                if (*p != 'x') break;
                p++;
            }
        }
        for (int d = nd; d < AD_MAX_DIMS; d++) c->shape[k][d] = 1;
        c->ndim[k++] = nd;
        if (*p == ',') p++;
        else if (*p) usage_error("--shape: unexpected text in '%s'", s);
    }
    return k;
}

/* What --order 2 has to check of an op: its second-order rule (ad_op.h's vjp_tangent), or why it needs none. */
static const char *second_order_of(const ad_op *op)
{
    if (!ad_op_second_order(op)) return "first-order only";
    if (op->cpu.vjp_tangent) return (op->flags & AD_OP_PIECEWISE_LINEAR) ? "rule, 0 at kinks" : "rule";
    return (op->flags & AD_OP_LINEAR) ? "0 (linear)" : "0 between kinks";
}

static void list_ops(void)
{
    printf("%-14s %-7s %-6s %-17s %s\n", "op", "inputs", "cases", "second order", "what it computes");
    for (int i = 0; i < ad_op_count(); i++) {
        const ad_op *op = ad_op_at(i);
        char in[16];
        if (op->n_in_min == op->n_in) snprintf(in, sizeof in, "%d", op->n_in);
        else snprintf(in, sizeof in, "%d-%d", op->n_in_min, op->n_in);
        printf("%-14s %-7s %-6d %-17s %s\n", op->name, in, op->n_cases, second_order_of(op),
               op->summary ? op->summary : "");
    }
    printf("\nSecond order (--order 2): \"rule\" is the op's own (vjp_tangent); a linear op's second derivatives\n"
           "are 0, and a piecewise-linear op's (relu, abs, max, min, maxpool2d) are 0 between its kinks and\n"
           "do not exist at them (relu's 0, max's ties): gradcheck draws its inputs clear of them.\n");
    printf("\nConventions: where the engine and PyTorch differ on purpose (tests/conformance.py checks each):\n");
    for (int i = 0; i < ad_n_conventions; i++)
        printf("convention %s: %s: %s\n", ad_conventions[i].name, ad_conventions[i].ops, ad_conventions[i].text);
    printf("\nCode paths: where a kernel switches path by size, threads or layout (--all checks each at its probe):\n");
    for (int i = 0; i < ad_op_count(); i++)
        for (int k = 0; k < ad_op_at(i)->n_paths; k++) {
            const ad_op_path *p = &ad_op_at(i)->paths[k];
            printf("path %s %s: %s; probe %s\n", ad_op_at(i)->name, p->name, p->when ? p->when : "",
                   p->probe.label ? p->probe.label : "");
        }
}

static void print_accepted(const ad_op *op)
{
    char sh[64];
    fprintf(stderr, "gradcheck: %s takes %d to %d inputs; its default cases are:\n", op->name, op->n_in_min, op->n_in);
    for (int k = 0; k < op->n_cases; k++) {
        const ad_op_case *c = &op->cases[k];
        fprintf(stderr, "  %-40s --shape ", c->label);
        for (int s = 0; s < c->n_in; s++) {
            ad_shape_str_n(c->ndim[s], c->shape[s], sh, sizeof sh);
            for (char *p = sh; *p; p++)
                if (*p == ',') *p = 'x';
            sh[strlen(sh) - 1] = '\0';
            fprintf(stderr, "%s%s", s ? "," : "", c->ndim[s] ? sh + 1 : "scalar");
        }
        fputc('\n', stderr);
    }
}

/* OpenMP's idle threads sleep while gradcheck works between the kernels'
 * threaded passes, unless the user chose otherwise: spinning, they take the
 * cores that work needs (on a loaded 2-core machine `--all` took 13.6 s of
 * wall time spinning, 1.9 s passive; the results are the same bits either
 * way). libgomp reads OMP_WAIT_POLICY when it is loaded, before main, so
 * the program starts itself again with it set; if that fails it goes on. */
static void wait_passively(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    wait_passively(argv);
    ad_gc_options o;
    ad_gc_default_options(&o);
    o.dtypes = AD_GC_ALL_DTYPES;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);   /* the registered ops are safe to call from several threads */
    o.threads = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores;
    const char *op_name = NULL, *shape = NULL;
    bool all = false, list = false, print_jac = false, in_process = false;
    double time_limit = 600;
    long stride = -1, padding = -1, kernel = -1, window = -1, axis = -100, seeds = 1;   /* axis -100: not given */
    double cval = NAN;
    ad_gc_format fmt = AD_GC_TEXT;
    static const char *const modes[] = {"fwd", "rev", "both", NULL}, *const dtypes[] = {"float32", "float64", "both", NULL},
                             *const orders[] = {"1", "2", "both", NULL},
                             *const formats[] = {"text", "json", "junit", "tap", NULL},
                             *const devices[] = {"cpu", "cuda", NULL};
    ad_cli_start(&cli, argc, argv);
    const char *v;
    for (int k; (k = ad_cli_next(&cli, &v)) != AD_CLI_END;) {
        switch (k) {
        case AD_CLI_ARG: usage_error("unexpected argument '%s'", v);
        case O_LIST: list = true; break;
        case O_ALL: all = true; break;
        case O_FAST: o.fast = true; break;
        case O_RICHARDSON: o.richardson = true; break;
        case O_PRINT_JACOBIAN: print_jac = true; break;
        case O_IN_PROCESS: in_process = true; break;
        case O_TIME_LIMIT: time_limit = ad_cli_double(&cli, v, 0, 1e9); break;
        case O_OP: op_name = v; break;
        case O_SHAPE: shape = v; break;
        case O_STRIDE: stride = ad_cli_long(&cli, v, 1, 64); break;
        case O_PADDING: padding = ad_cli_long(&cli, v, 0, 64); break;
        case O_KERNEL: kernel = ad_cli_long(&cli, v, 1, 64); break;
        case O_WINDOW: window = ad_cli_long(&cli, v, 1, 64); break;
        case O_AXIS: axis = !strcmp(v, "all") ? AD_ALL_AXES : ad_cli_long(&cli, v, -4, 3); break;
        case O_C: cval = ad_cli_double(&cli, v, -INFINITY, INFINITY); break;
        case O_EPS: o.eps = ad_cli_double(&cli, v, -INFINITY, INFINITY); break;
        case O_ATOL: o.atol = ad_cli_double(&cli, v, -INFINITY, INFINITY); break;
        case O_RTOL: o.rtol = ad_cli_double(&cli, v, -INFINITY, INFINITY); break;
        case O_SEED: o.seed = (unsigned long)ad_cli_long(&cli, v, 0, 2147483647L); break;
        case O_SEEDS: seeds = ad_cli_long(&cli, v, 1, 100000); break;
        case O_THREADS: o.threads = (int)ad_cli_long(&cli, v, 1, 64); break;
        case O_ORDER: o.orders = (int[]){AD_GC_ORDER1, AD_GC_ORDER2, AD_GC_BOTH_ORDERS}[ad_cli_choice(&cli, v, orders)]; break;
        case O_MODE: o.mode = (int[]){AD_GC_FWD, AD_GC_REV, AD_GC_BOTH}[ad_cli_choice(&cli, v, modes)]; break;
        case O_DTYPE:
            o.dtypes = (int[]){AD_GC_FLOAT32, AD_GC_FLOAT64, AD_GC_ALL_DTYPES}[ad_cli_choice(&cli, v, dtypes)];
            break;
        case O_FORMAT:
            fmt = (ad_gc_format[]){AD_GC_TEXT, AD_GC_JSON, AD_GC_JUNIT, AD_GC_TAP}[ad_cli_choice(&cli, v, formats)];
            break;
        case O_DEVICE:
            if (ad_cli_choice(&cli, v, devices) == 1) {
                char why[256];
                if (!ad_gpu_available()) {
                    fprintf(stderr, "gradcheck: --device cuda: %s\n", ad_last_error());
                    return 2;
                }
                o.device = AD_CUDA;
                fprintf(stderr, "gradcheck: on %s\n", ad_gpu_describe(why, sizeof why));
            }
            break;
        }
    }
    if (list) {
        list_ops();
        return 0;
    }
    if (!!op_name + all != 1) usage_error("%s", "give exactly one of --op NAME, --all or --list");
    if (!(o.eps > 0) || !(o.atol >= 0) || !(o.rtol >= 0)) usage_error("%s", "--eps must be > 0, --atol and --rtol >= 0");
    bool custom = shape || stride >= 0 || padding >= 0 || kernel >= 0 || window >= 0 || axis != -100 || !isnan(cval);
    if (all && custom) usage_error("%s", "--shape and op parameters go with --op NAME, not --all");
    const ad_op *one = NULL;
    if (op_name && !(one = ad_op_find(op_name))) {
        fprintf(stderr, "gradcheck: unknown op '%s'; the registered ops are:", op_name);
        for (int i = 0; i < ad_op_count(); i++) fprintf(stderr, " %s", ad_op_at(i)->name);
        fputs("\n", stderr);
        return 2;
    }
    ad_op_case custom_case;
    if (one && custom) {
        if (one->n_cases == 0) usage_error("op %s has no default case to start from", one->name);
        custom_case = one->cases[0];
        custom_case.label = "command line";
        if (stride >= 0) custom_case.params.stride[0] = custom_case.params.stride[1] = stride;
        if (padding >= 0) custom_case.params.pad[0] = custom_case.params.pad[1] = padding;
        if (window >= 0) custom_case.params.window[0] = custom_case.params.window[1] = window;
        if (axis != -100) custom_case.params.axis = (int)axis;
        if (!isnan(cval)) custom_case.params.c = cval;
        int given = shape ? parse_shapes(shape, &custom_case) : 0;
        if (kernel >= 0) {
            if (custom_case.n_in < 2 || custom_case.ndim[1] != 4)
                usage_error("--kernel sets the (R,S) of a 4-d weight; op %s has none", one->name);
            custom_case.shape[1][2] = custom_case.shape[1][3] = kernel;
        }
        if (given > 1 || (given == 1 && one->n_in == 1)) {
            custom_case.n_in = given;
        } else if (one->complete_case) {
            if (one->complete_case(&custom_case) != AD_OK) {
                fprintf(stderr, "gradcheck: %s\n", ad_last_error());
                print_accepted(one);
                return 2;
            }
        } else if (given == 1) {
            for (int s = 1; s < custom_case.n_in; s++) {
                custom_case.ndim[s] = custom_case.ndim[0];
                memcpy(custom_case.shape[s], custom_case.shape[0], sizeof custom_case.shape[0]);
            }
        }
    }
    if (print_jac) o.jacobian_out = stdout;

    ad_gc_report r = {0};
    int status = 0;
    unsigned long seed0 = o.seed;
    for (long k = 0; k < seeds; k++) {
        o.seed = seed0 + (unsigned long)k;
        for (int i = 0; i < ad_op_count(); i++) {
            const ad_op *op = ad_op_at(i);
            if (one && op != one) continue;
            const ad_op_case *c = (one && custom) ? &custom_case : NULL;
            ad_status st = !in_process ? ad_gradcheck_op_isolated(op, c, &o, time_limit, &r)
                           : c        ? ad_gradcheck_op_case(op, c, &o, &r)
                                      : ad_gradcheck_op(op, &o, &r);
            if (in_process && st == AD_OK)   /* what the child runs after them (gc_units) */
                st = c ? ad_gradcheck_case_threads(op, c, &o, &r) : ad_gradcheck_op_paths(op, &o, &r);
            if (st != AD_OK) {
                fprintf(stderr, "gradcheck: %s\n", ad_last_error());
                if (one && custom) {
                    print_accepted(op);
                    ad_gc_report_free(&r);
                    return 2;
                }
                status = 1;
            }
        }
    }
    if (ad_gc_write(stdout, &r, fmt) != AD_OK) {
        fprintf(stderr, "gradcheck: %s\n", ad_last_error());
        status = 1;
    }
    if (r.n_fail > 0) status = 1;
    ad_gc_report_free(&r);
    return status;
}
