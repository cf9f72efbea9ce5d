/* fuzz_assignment.c: the fuzz target of the assignment reader
 * (gradcheck/autograde/assignment.c), which reads the instructor's JSON.
 * With clang it links against libFuzzer (-fsanitize=fuzzer); the test suite
 * drives the same function with seeded mutations of tests/assignment_corpus/.
 * Properties: parsing never crashes; it fails with a message, or succeeds
 * with 1..AG_MAX_TESTS tests, each with a known op, shape entries within
 * 1..4096, finite non-negative points and tolerances, NUL-terminated names,
 * and finite positive limits. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "assignment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    assignment a;
    char err[512] = "";
    if (assignment_parse((const char *)data, size, "fuzz.json", &a, err, sizeof err) != 0) {
        if (!err[0] || !memchr(err, '\0', sizeof err)) abort();
        return 0;
    }
    if (a.n_tests < 1 || a.n_tests > AG_MAX_TESTS || !(a.cpu_seconds > 0) || !(a.wall_seconds > 0) ||
        !(a.compile_seconds > 0) || a.memory_bytes == 0)
        abort();
    static const char *const ops[] = {"sigmoid", "linear", "softmax_ce", "conv2d", "maxpool2d"};
    for (int i = 0; i < a.n_tests; i++) {
        const test_spec *t = &a.tests[i];
        int known = 0;
        for (int k = 0; k < 5; k++) known |= !strcmp(t->op, ops[k]);
        if (!known || t->ndim < 1 || t->ndim > 4 || !memchr(t->name, '\0', sizeof t->name)) abort();
        for (int k = 0; k < t->ndim; k++)
            if (t->shape[k] < 1 || t->shape[k] > 4096) abort();
        if (!isfinite(t->points) || t->points < 0 || !(t->atol >= 0) || !(t->rtol >= 0) || t->stride < 1) abort();
    }
    assignment_free(&a);
    return 0;
}
