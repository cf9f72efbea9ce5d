/* assignment.h: the instructor's assignment file (JSON), read and checked.
 *   {"name": "...", "tests": [{"name", "op", "part", "shape", "kernel",
 *     "stride", "padding", "window", "points", "visibility", "atol", "rtol",
 *     "ties", "scale", "seed"}...],
 *  "limits": {"cpu_seconds", "wall_seconds", "memory_mb", "compile_seconds", "total_seconds"}}
 * Every field is checked: an unknown op, a shape entry out of 1..4096, a
 * tensor over AG_MAX_TEST_VALUES, a negative tolerance or non-finite points
 * is an error naming the test, never a test that runs on nonsense.
 * A test's inputs are drawn afresh at every grading; "seed" pins them, for
 * a teaching case whose numbers the instructions quote, and only on a test
 * worth 0 points: an answer that can be known in advance must not score. */
#ifndef AD_ASSIGNMENT_H
#define AD_ASSIGNMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AG_MAX_TESTS 1000
#define AG_MAX_TEST_VALUES (1 << 22)      /* elements in one tensor of a test */
#define AG_MAX_ASSIGNMENT_BYTES (1 << 22)

/* One test: the op, its shapes and what is checked. */
typedef struct test_spec {
    char name[128], op[32], part[16], visibility[32];
    int64_t shape[4], kernel[3], stride, pad, window;
    int ndim;                                /* entries in shape */
    double points, atol, rtol;
    double scale;                            /* inputs drawn from [-2·scale, 2·scale] (default 1) */
    bool ties;
    bool pinned;                             /* "seed" given: fixed inputs, a teaching case worth 0 points */
    uint32_t seed;
} test_spec;

typedef struct assignment {
    test_spec *tests;
    int n_tests;
    double cpu_seconds, wall_seconds;        /* per test (default 2 s, 5 s) */
    size_t memory_bytes;                     /* per test (default 512 MiB) */
    double compile_seconds;                  /* wall clock for the compiler (default 60 s; CPU: half) */
    double total_seconds;                    /* wall clock for the whole grading, compiling included (default
                                                600 s): tests that would start later are not run */
} assignment;

/* Parse len bytes of JSON (need not be NUL-terminated). 0, or -1 with a
 * sentence in err. free with assignment_free. */
int assignment_parse(const char *json, size_t len, const char *name, assignment *a, char *err, size_t errlen);
/* Read and parse a file: a regular file of at most AG_MAX_ASSIGNMENT_BYTES. */
int assignment_load(const char *path, assignment *a, char *err, size_t errlen);
void assignment_free(assignment *a);
/* What an assignment misses: every function it asks for (each op it tests)
 * needs a forward test and a vjp test that score, or a wrong forward or
 * backward of that op gets full marks. One line per problem appended to
 * out; returns their number (0: the assignment is complete). */
int assignment_lint(const assignment *a, char *out, size_t outlen);

#endif
