/* grade.h: one test of an assignment: its random arrays, the request the
 * runner gets, and the comparison of what the runner returns with the
 * engine's own ops (the reference), written as feedback a student can act
 * on: which op, which input, which element, yours and expected. */
#ifndef AD_GRADE_H
#define AD_GRADE_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include "assignment.h"
#include "runner_protocol.h"

typedef struct test_data {
    const test_spec *t;
    int n_in;                          /* array inputs */
    double *in[AG_MAX_IN];
    int64_t in_len[AG_MAX_IN];
    const char *in_name[AG_MAX_IN];
    int64_t *targets;                  /* softmax_ce: class indices */
    double *gy;                        /* upstream gradient (vjp) */
    int64_t y_len;                     /* values in the forward output */
    double *pre[AG_MAX_IN];            /* values the gradient arrays start from (vjp) */
    ag_request req;
} test_data;

typedef struct test_result {
    double score, max_score, seconds;
    char output[4096];
    bool passed;
} test_result;

/* Draw the test's arrays (seeded by r). 0, or -1 with a sentence in err. */
int test_data_setup(test_data *d, const test_spec *t, gsl_rng *r, char *err, size_t errlen);
void test_data_free(test_data *d);
/* The bytes of the runner's answer: the forward output, or every gradient. */
size_t test_data_answer_bytes(const test_data *d);
/* A descriptor (a memory file at offset 0) holding the request, or -1. */
int test_data_request_fd(const test_data *d);
/* Compare the answer (got[k]: output k) with the reference; partial credit
 * per gradient. */
void grade(test_data *d, double *const *got, test_result *r);
/* The seed of test i's arrays: the test's pinned seed when it has one
 * (a teaching case that scores nothing), else a mix of the grading's seed
 * and i, so that no two tests and no two gradings share inputs. */
unsigned long test_seed(const test_spec *t, uint64_t grading_seed, int i);
/* The feedback for a memory error the runner reported (an ag_reply with
 * status AG_REPLY_FAULT): which array, by its name in ad_student.h, which
 * element, read or written. */
void say_fault(test_result *r, const test_data *d, const ag_reply *rep);
/* Append a line of feedback to r->output. */
void say(test_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
