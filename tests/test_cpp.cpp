// test_cpp.cpp: the public headers from C++ (extern "C", nothing C-only in
// them): a gradient through the engine, a gradcheck of a registered op, and
// the version macros against ad_version(). Built in the suite when a C++
// compiler is there, and by tests/install_test.sh against the installed
// headers and libraries through pkg-config.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include "autodidact.h"
#include "ad_gradcheck.h"
#include "ad_kernel.h"

static int failures = 0;
static void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "test_cpp: FAILED: %s\n", what);
        failures++;
    }
}

int main()
{
    // the version: compile time (macros) and run time (the library) agree
    std::string v = std::to_string(AD_VERSION_MAJOR) + "." + std::to_string(AD_VERSION_MINOR) + "." +
                    std::to_string(AD_VERSION_PATCH);
    check(v == AD_VERSION_STRING, "AD_VERSION_MAJOR.MINOR.PATCH == AD_VERSION_STRING");
    check(std::strcmp(ad_version(), AD_VERSION_STRING) == 0, "ad_version() == AD_VERSION_STRING");
    check(AD_VERSION == AD_VERSION_MAJOR * 10000 + AD_VERSION_MINOR * 100 + AD_VERSION_PATCH, "AD_VERSION");

    // f(x, y) = y log x + sqrt(y log x) at (3, 2), lecture 001's example:
    // df/dx = (y/x)(1 + 1/(2 sqrt(y log x))), df/dy = log x (1 + 1/(2 sqrt(y log x)))
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3.0), *y = ad_scalar(ctx, 2.0);
    ad_node *b = ad_mul(ctx, y, ad_log(ctx, x));
    ad_node *f = ad_add(ctx, ad_sqrt(ctx, b), b);
    check(f != nullptr && ad_backward(ctx, f) == AD_OK, "backward");
    double s = 1 + 1 / (2 * std::sqrt(2 * std::log(3.0)));
    check(std::fabs(ad_value_scalar(f) - (2 * std::log(3.0) + std::sqrt(2 * std::log(3.0)))) < 1e-12, "f");
    check(std::fabs(ad_grad_scalar(x) - 2.0 / 3.0 * s) < 1e-12, "df/dx");
    check(std::fabs(ad_grad_scalar(y) - std::log(3.0) * s) < 1e-12, "df/dy");
    // the accessors from C++; and the node behind the handle through
    // ad_kernel.h, as an op's kernels read it: the header's layout is the library's
    const ad_node *n = ad_node_of(f);
    check(f && ad_node_input_count(f) == 2 && ad_node_input(f, 1) == b && ad_handle_of(n) == f && n->n_in == 2 &&
              ad_handle_of(n->in[1]) == b && n->value.ndim == 0 && n->value.data == &n->inline_value &&
              n->grad == &n->inline_grad && n->ctx == ctx && (n->flags & AD_NODE_REQUIRES_GRAD) &&
              n->inline_value.f64 == ad_value_scalar(f),
          "the node's fields (layout)");
    ad_context_free(ctx);

    // a registered op's derivatives, checked by the gradcheck library
    const ad_op *op = ad_op_find("tanh");
    check(op != nullptr, "ad_op_find(\"tanh\")");
    if (op) {
        ad_gc_options o;
        ad_gc_default_options(&o);
        ad_gc_report r = {};
        check(ad_gradcheck_op(op, &o, &r) == AD_OK, "ad_gradcheck_op(tanh) ran");
        check(r.n > 0 && r.n_fail == 0, "tanh's derivatives pass");
        ad_gc_report_free(&r);
    }
    // an error comes back as a status and a message, not a crash
    ad_context *c2 = ad_context_new();
    check(ad_log(c2, nullptr) == nullptr && std::strlen(ad_last_error()) > 0, "ad_log(NULL) fails with a message");
    ad_context_free(c2);

    if (failures == 0) std::printf("test_cpp: ok (autodidact %s from C++)\n", ad_version());
    return failures ? 1 : 0;
}
