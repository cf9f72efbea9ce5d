/* test_autograde_grading.c: what a grading is, beyond the corpus of hostile
 * submissions (test_autograde.c): fresh inputs at every grading unless
 * --seed repeats one, --check-assignment's verdicts, the time budget. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "autograde_test.h"

/* Grade `submission` (a path under the source tree) with `assignment` into
 * dir/name; returns report.txt, and results.json's seed in *seed. */
static char *grade_into(const char *dir, const char *name, const char *assignment, const char *submission,
                        const char *extra, double *seed)
{
    char args[4096], path[2048];
    snprintf(args, sizeof args, "--assignment %s --submission %s/%s --out %s/%s %s >/dev/null 2>&1", assignment,
             getenv("SOURCE_ROOT"), submission, dir, name, extra);
    assert_int_equal(run(args), 0);
    snprintf(path, sizeof path, "%s/%s/results.json", dir, name);
    char *js = slurp(path, NULL);
    cJSON *doc = cJSON_Parse(js);
    assert_non_null(doc);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(doc, "seed")));
    *seed = cJSON_GetObjectItem(doc, "seed")->valuedouble;
    cJSON_Delete(doc), free(js);
    snprintf(path, sizeof path, "%s/%s/report.txt", dir, name);
    char *txt = slurp(path, NULL);
    assert_non_null(txt);
    return txt;
}

/* The feedback of the test named `test` in report.txt: from its [PASS] or
 * [FAIL] line to the next test's (malloc'd). */
static char *test_feedback(const char *report, const char *test)
{
    char head[256];
    snprintf(head, sizeof head, "] %s  ", test);
    const char *p = strstr(report, head);
    assert_non_null(p);
    const char *end = strstr(p + 1, "\n[");
    return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

/* Inputs are fresh at every grading unless --seed repeats one: the starter
 * (which answers nothing) fails with "expected <a value of the inputs>". */
static void test_fresh_inputs(void **state)
{
    (void)state;
    char dir[] = "/tmp/ag-seed.XXXXXX", path[512], args[1024];
    assert_non_null(mkdtemp(dir));
    /* the example's tests and a pinned teaching case */
    snprintf(path, sizeof path, "%s/gradcheck/autograde/example/assignment.json", getenv("SOURCE_ROOT"));
    char *js = slurp(path, NULL);
    cJSON *doc = cJSON_Parse(js);
    free(js);
    cJSON *pinned = cJSON_Parse("{\"name\": \"pinned sigmoid\", \"op\": \"sigmoid\", \"part\": \"forward\", "
                                "\"shape\": [5], \"seed\": 11, \"points\": 0}");
    cJSON_AddItemToArray(cJSON_GetObjectItem(doc, "tests"), pinned);
    js = cJSON_Print(doc);
    cJSON_Delete(doc);
    snprintf(path, sizeof path, "%s/a.json", dir);
    spit(path, js, 0644);
    free(js);
    const char *starter = "gradcheck/autograde/example/starter.c";
    double s1, s2, s3, s4;
    char *a = grade_into(dir, "a", path, starter, "--seed 12345", &s1);
    char *b = grade_into(dir, "b", path, starter, "--seed 12345", &s2);
    assert_true(s1 == 12345 && s2 == 12345);
    if (strcmp(a, b)) fail_msg("two gradings with --seed 12345 differ:\n%s\n----\n%s", a, b);
    assert_non_null(strstr(a, "Seed: 12345"));
    char *c = grade_into(dir, "c", path, starter, "", &s3);
    char *d = grade_into(dir, "d", path, starter, "", &s4);
    if (s3 == s4) fail_msg("two gradings without --seed drew the same seed %g", s3);
    const char *tests[] = {"sigmoid forward", "conv2d forward, stride 2, padding 1", "linear backward (dx, dw, db)"};
    for (int i = 0; i < 3; i++) {
        char *fc = test_feedback(c, tests[i]), *fd = test_feedback(d, tests[i]), *fa = test_feedback(a, tests[i]);
        if (!strcmp(fc, fd) || !strcmp(fc, fa)) fail_msg("'%s' got the same inputs twice:\n%s", tests[i], fc);
        free(fc), free(fd), free(fa);
    }
    /* the pinned case keeps its inputs */
    char *pc = test_feedback(c, "pinned sigmoid"), *pd = test_feedback(d, "pinned sigmoid");
    assert_string_equal(pc, pd);
    assert_non_null(strstr(pc, "expected"));
    free(pc), free(pd);
    /* a regrade of a fresh grading with its reported seed is that grading */
    char extra[64];
    snprintf(extra, sizeof extra, "--seed %.0f", s3);
    char *e = grade_into(dir, "e", path, starter, extra, &s1);
    if (strcmp(c, e)) fail_msg("a regrade with the reported seed differs:\n%s\n----\n%s", c, e);
    free(a), free(b), free(c), free(d), free(e);
    assert_int_equal(run("--seed 4294967296 --assignment a --submission b --out c >/dev/null 2>&1"), 2);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    assert_int_equal(system(args), 0);
}

static void spit_append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The time budget: a submission whose every test loops until its CPU
 * limit holds the grader for the budget, not for tests x limit; the test
 * that finished first keeps its credit, the rest are not run. */
static void test_time_budget(void **state)
{
    (void)state;
    char dir[] = "/tmp/ag-budget.XXXXXX", path[512], args[1024];
    assert_non_null(mkdtemp(dir));
    size_t cap = 8192, n = 0;
    char *js = malloc(cap);
    assert_non_null(js);
    n += (size_t)snprintf(js + n, cap - n, "{\"tests\": [{\"name\": \"quick\", \"op\": \"sigmoid\", \"part\": \"vjp\", "
                                           "\"shape\": [3], \"points\": 1}");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(js + n, cap - n, ", {\"name\": \"loops %d\", \"op\": \"sigmoid\", \"part\": \"forward\", "
                                               "\"shape\": [3], \"points\": 1}", i);
    snprintf(js + n, cap - n, "], \"limits\": {\"cpu_seconds\": 1, \"wall_seconds\": 30, \"total_seconds\": 12}}");
    snprintf(path, sizeof path, "%s/a.json", dir);
    spit(path, js, 0644);
    free(js);
    /* the starter (every function, doing nothing) with sigmoid's two replaced */
    snprintf(path, sizeof path, "%s/gradcheck/autograde/example/starter.c", getenv("SOURCE_ROOT"));
    char *starter = slurp(path, NULL), *sub = NULL;
    assert_non_null(starter);
    size_t len = strlen(starter) + 1024;
    sub = malloc(len);
    assert_non_null(sub);
    snprintf(sub, len,
             "#define student_sigmoid_forward starter_sigmoid_forward\n#define student_sigmoid_vjp starter_sigmoid_vjp\n"
             "%s\n#undef student_sigmoid_forward\n#undef student_sigmoid_vjp\n", starter);
    free(starter);
    snprintf(path, sizeof path, "%s/loops.c", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(sub, f);
    free(sub);
    assert_int_equal(fclose(f), 0);
    spit_append(path,
         "#include <math.h>\n"
         "void student_sigmoid_forward(int64_t n, const double *x, double *y)\n"
         "{ for (volatile int i = 1; i; i |= 1) ; (void)n, (void)x, (void)y; }\n"
         "void student_sigmoid_vjp(int64_t n, const double *x, const double *gy, double *gx)\n"
         "{ for (int64_t i = 0; i < n; i++) { double s = 1 / (1 + exp(-x[i])); gx[i] += gy[i] * s * (1 - s); } }\n");
    double t0 = now_seconds();
    snprintf(args, sizeof args, "--assignment %s/a.json --submission %s --out %s/o --seed 1 >/dev/null 2>&1", dir, path, dir);
    assert_int_equal(run(args), 0);
    double took = now_seconds() - t0;
    /* 41 tests of 1 s CPU each would take 40 s; the budget is 12 s */
    if (took > 30) fail_msg("the grading took %.1f s with a budget of 12 s", took);
    snprintf(path, sizeof path, "%s/o/report.txt", dir);
    char *rep = slurp(path, NULL);
    assert_non_null(rep);
    if (!strstr(rep, "The time budget for the whole grading (12 s) was spent:"))
        fail_msg("the report does not say that the budget was spent:\n%s", rep);
    if (!strstr(rep, "not run: the time budget for the whole grading (12 s) was spent"))
        fail_msg("no test is marked not run:\n%s", rep);
    /* the first loop hit its own CPU limit, not the budget */
    char *first = test_feedback(rep, "loops 0");
    if (strstr(first, "time budget")) fail_msg("'loops 0' blames the budget, not its CPU limit:\n%s", first);
    free(first);
    /* the test that finished keeps its point */
    if (!strstr(rep, "Score: 1 / 41")) fail_msg("the quick test lost its credit:\n%s", rep);
    free(rep);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    assert_int_equal(system(args), 0);
}

/* --check-assignment: the example has a scoring forward and vjp test of
 * every function it asks for; an assignment without one is named. */
static void test_check_assignment(void **state)
{
    (void)state;
    char dir[] = "/tmp/ag-check.XXXXXX", path[512], args[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(args, sizeof args, "--check-assignment %s/gradcheck/autograde/example/assignment.json >/dev/null 2>&1",
             getenv("SOURCE_ROOT"));
    assert_int_equal(run(args), 0);
    snprintf(path, sizeof path, "%s/a.json", dir);
    spit(path,
         "{\"tests\": [{\"op\": \"sigmoid\", \"part\": \"forward\", \"shape\": [3]},"
         " {\"op\": \"sigmoid\", \"part\": \"vjp\", \"shape\": [3], \"points\": 0},"
         " {\"op\": \"linear\", \"part\": \"vjp\", \"shape\": [2, 3, 4]}]}",
         0644);
    snprintf(args, sizeof args, "--check-assignment %s >/dev/null 2>&1", path);
    assert_int_equal(run(args), 1);
    const char *missing[] = {"sigmoid: no vjp test that scores", "linear: no forward test that scores"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "--check-assignment %s 2>&1 | grep -qF '%s'", path, missing[i]);
        if (run(args) != 0) fail_msg("--check-assignment does not say '%s'", missing[i]);
    }
    snprintf(args, sizeof args, "--check-assignment %s 2>&1 | grep -q softmax", path);
    assert_int_equal(run(args), 1);   /* an op it does not ask for is not missing */
    spit(path, "{\"tests\": 3}", 0644);
    snprintf(args, sizeof args, "--check-assignment %s >/dev/null 2>&1", path);
    assert_int_equal(run(args), 2);
    snprintf(args, sizeof args, "--check-assignment %s --out %s/o >/dev/null 2>&1", path, dir);
    assert_int_equal(run(args), 2);
    snprintf(args, sizeof args, "rm -rf %s", dir);
    assert_int_equal(system(args), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fresh_inputs), cmocka_unit_test(test_check_assignment),
                                       cmocka_unit_test(test_time_budget)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
