/* gradcheck: check registered ops' derivatives against finite differences.
 *   gradcheck --list
 *   gradcheck --op NAME [--shape S] [--stride N --padding N --kernel N] [options]
 *   gradcheck --all [options]
 * Exit status: 0 all checks pass, 1 a mismatch, 2 a usage error. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ad_gradcheck.h"

static const char *usage_text =
    "usage: gradcheck --list | --op NAME | --all [options]\n"
    "\n"
    "  --list              the registered ops, with their inputs and default cases, and\n"
    "                      the conventions where they differ from PyTorch\n"
    "  --op NAME           check one op at its default cases (or at --shape)\n"
    "  --all               check every registered op at its default cases\n"
    "  --shape S           input shapes: '2x3x8x8' (input 0; the op derives the others)\n"
    "                      or '2x3x8x8,4x3x3x3,4' (every input); 'scalar' for a 0-d input\n"
    "  --stride N, --padding N, --kernel N, --window N, --axis N|all, --c X\n"
    "                      the op's own parameters (conv2d, pooling, reductions, pow/scale);\n"
    "                      --axis counts as in NumPy (-1 the last), all: every axis\n"
    "  --eps X --atol X --rtol X   finite-difference step and tolerances (1e-6, 1e-5, 1e-3)\n"
    "  --seed N            seed of the input and cotangent draws (default 1)\n"
    "  --seeds N           repeat every check with N consecutive seeds\n"
    "  --mode fwd|rev|both which modes to check (default both)\n"
    "  --fast              random projections u^T J v instead of full Jacobians\n"
    "  --richardson        4-point finite-difference stencil instead of 2-point\n"
    "  --print-jacobian    print every Jacobian entry, numerical beside analytical\n"
    "  --format text|json|junit|tap   report format (default text)\n"
    "  --device cpu|cuda   where the op runs (default cpu); cuda runs every check on the GPU\n"
    "                      in float64 and adds a CPU-vs-GPU comparison of forward, vjp, jvp\n"
    "\n"
    "Exit status: 0 all checks pass, 1 a derivative mismatch, 2 a usage error.\n";

static _Noreturn void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "gradcheck: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see gradcheck --help)\n");
    exit(2);
}

static double parse_double(const char *opt, const char *v)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno) usage_error("%s needs a number", opt);
    return x;
}

static long parse_long(const char *opt, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "gradcheck: %s needs a whole number from %ld to %ld, not '%s'\n", opt, lo, hi, v);
        exit(2);
    }
    return x;
}

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

static void list_ops(void)
{
    printf("%-14s %-7s %-6s %s\n", "op", "inputs", "cases", "what it computes");
    for (int i = 0; i < ad_op_count(); i++) {
        const ad_op *op = ad_op_at(i);
        char in[16];
        if (op->n_in_min == op->n_in) snprintf(in, sizeof in, "%d", op->n_in);
        else snprintf(in, sizeof in, "%d-%d", op->n_in_min, op->n_in);
        printf("%-14s %-7s %-6d %s\n", op->name, in, op->n_cases, op->summary ? op->summary : "");
    }
    printf("\nConventions: where the engine and PyTorch differ on purpose (tests/conformance.py checks each):\n");
    for (int i = 0; i < ad_n_conventions; i++)
        printf("convention %s: %s: %s\n", ad_conventions[i].name, ad_conventions[i].ops, ad_conventions[i].text);
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

int main(int argc, char **argv)
{
    ad_gc_options o;
    ad_gc_default_options(&o);
    const char *op_name = NULL, *shape = NULL;
    bool all = false, list = false, print_jac = false;
    long stride = -1, padding = -1, kernel = -1, window = -1, axis = -100, seeds = 1;   /* axis -100: not given */
    double cval = NAN;
    ad_gc_format fmt = AD_GC_TEXT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                                                                   \
    do {                                                                                                               \
        if (!v) usage_error("%s needs a value", a);                                                                    \
        i++;                                                                                                           \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--list")) list = true;
        else if (!strcmp(a, "--all")) all = true;
        else if (!strcmp(a, "--fast")) o.fast = true;
        else if (!strcmp(a, "--richardson")) o.richardson = true;
        else if (!strcmp(a, "--print-jacobian")) print_jac = true;
        else if (!strcmp(a, "--op")) { NEED_VALUE(); op_name = v; }
        else if (!strcmp(a, "--shape")) { NEED_VALUE(); shape = v; }
        else if (!strcmp(a, "--stride")) { NEED_VALUE(); stride = parse_long(a, v, 1, 64); }
        else if (!strcmp(a, "--padding")) { NEED_VALUE(); padding = parse_long(a, v, 0, 64); }
        else if (!strcmp(a, "--kernel")) { NEED_VALUE(); kernel = parse_long(a, v, 1, 64); }
        else if (!strcmp(a, "--window")) { NEED_VALUE(); window = parse_long(a, v, 1, 64); }
        else if (!strcmp(a, "--axis")) { NEED_VALUE(); axis = !strcmp(v, "all") ? AD_ALL_AXES : parse_long(a, v, -4, 3); }
        else if (!strcmp(a, "--c")) { NEED_VALUE(); cval = parse_double(a, v); }
        else if (!strcmp(a, "--eps")) { NEED_VALUE(); o.eps = parse_double(a, v); }
        else if (!strcmp(a, "--atol")) { NEED_VALUE(); o.atol = parse_double(a, v); }
        else if (!strcmp(a, "--rtol")) { NEED_VALUE(); o.rtol = parse_double(a, v); }
        else if (!strcmp(a, "--seed")) { NEED_VALUE(); o.seed = (unsigned long)parse_long(a, v, 0, 2147483647L); }
        else if (!strcmp(a, "--seeds")) { NEED_VALUE(); seeds = parse_long(a, v, 1, 100000); }
        else if (!strcmp(a, "--mode")) {
            NEED_VALUE();
            if (!strcmp(v, "fwd")) o.mode = AD_GC_FWD;
            else if (!strcmp(v, "rev")) o.mode = AD_GC_REV;
            else if (!strcmp(v, "both")) o.mode = AD_GC_BOTH;
            else usage_error("--mode takes fwd, rev or both, not '%s'", v);
        } else if (!strcmp(a, "--format")) {
            NEED_VALUE();
            if (!strcmp(v, "text")) fmt = AD_GC_TEXT;
            else if (!strcmp(v, "json")) fmt = AD_GC_JSON;
            else if (!strcmp(v, "junit")) fmt = AD_GC_JUNIT;
            else if (!strcmp(v, "tap")) fmt = AD_GC_TAP;
            else usage_error("--format takes text, json, junit or tap, not '%s'", v);
        } else if (!strcmp(a, "--device")) {
            NEED_VALUE();
            if (!strcmp(v, "cuda")) {
                char why[256];
                if (!ad_gpu_available()) {
                    fprintf(stderr, "gradcheck: --device cuda: %s\n", ad_last_error());
                    return 2;
                }
                o.device = AD_CUDA;
                fprintf(stderr, "gradcheck: on %s\n", ad_gpu_describe(why, sizeof why));
            } else if (strcmp(v, "cpu")) {
                usage_error("--device takes cpu or cuda, not '%s'", v);
            }
        } else usage_error("unknown option '%s'", a);
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
            ad_status st = (one && custom) ? ad_gradcheck_op_case(op, &custom_case, &o, &r) : ad_gradcheck_op(op, &o, &r);
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
    ad_gc_write(stdout, &r, fmt);
    if (r.n_fail > 0) status = 1;
    ad_gc_report_free(&r);
    return status;
}
