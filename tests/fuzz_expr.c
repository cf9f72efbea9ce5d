/* fuzz_expr.c: the parser's fuzz target. With clang it links against
 * libFuzzer (-fsanitize=fuzzer); the test suite drives the same function
 * through test_expr_fuzz.c with seeded mutations of tests/expr_corpus/.
 * Properties: parsing never crashes; it returns a formula, or an error
 * whose column lies within the input (1 .. length + 1); a parsed formula
 * builds at a point or fails with a message, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "autodidact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);   /* the formula ends at the first NUL */
    int col = -1;
    ad_expr *e = ad_expr_parse(s, &col);
    if (!e) {
        if (col < 1 || (size_t)col > len + 1 || ad_last_status() == AD_OK) abort();
    } else {
        int nv = ad_expr_var_count(e);
        if (nv <= 64) {
            ad_context *ctx = ad_context_new();
            ad_node *vars[64];
            for (int i = 0; i < nv; i++) vars[i] = ad_scalar(ctx, 0.5 + 0.25 * i);
            ad_node *f = ad_expr_build(e, ctx, vars);
            if (f && ad_requires_grad(f)) ad_backward(ctx, f);
            ad_context_free(ctx);
        }
        ad_expr_free(e);
    }
    free(s);
    return 0;
}
